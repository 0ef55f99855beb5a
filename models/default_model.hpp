// find_default_model and model_cache_dir are public: include/llm/system.hpp.
#pragma once
#include "llm/system.hpp"
