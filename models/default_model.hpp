// Where tools look for a model when no -m is given: $LLM_MODEL, else the SmolLM2-135M-Instruct GGUF that
// scripts/fetch-smollm2.sh puts under ${LLM_CACHE:-~/.cache/llm}/smollm2.
#pragma once
#include <optional>
#include <string>

namespace llm {

std::string model_cache_dir();
std::optional<std::string> find_default_model();

}  // namespace llm
