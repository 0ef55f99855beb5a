// The sampler chain is public: include/llm/sampler.hpp.
#pragma once
#include "core/status.hpp"
#include "llm/sampler.hpp"
