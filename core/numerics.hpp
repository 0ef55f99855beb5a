// The CPU numerics modes (Numerics, numerics_name, parse_numerics) are public: include/llm/types.hpp.
#pragma once
#include "llm/types.hpp"
