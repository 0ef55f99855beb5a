// ChatSession is public: include/llm/chat.hpp.
#pragma once
#include "llm/chat.hpp"
#include "runtime/generate.hpp"
#include "tokenizer/chat/chat_template.hpp"
