// The generation loop is public: include/llm/generate.hpp.
#pragma once
#include "core/status.hpp"
#include "llm/generate.hpp"
