// Tokenizer and StreamDecoder are public: include/llm/tokenizer.hpp. VocabSpec, VocabKind: vocab.hpp.
#pragma once
#include "core/status.hpp"
#include "llm/tokenizer.hpp"
#include "tokenizer/vocab.hpp"
