// The batched benchmark is public: include/llm/bench.hpp.
#pragma once
#include "llm/bench.hpp"
