// The models in the Hugging Face cache as llm-models shows them (one entry per GGUF model file or safetensors
// folder per snapshot), described from their own files, and removal of one entry.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "core/status.hpp"
#include "llm/hub.hpp"  // the public part
#include "hub/hub_cache.hpp"
#include "hub/model_ref.hpp"

namespace llm::hub {


// llama.cpp's general.file_type names ("Q4_K_M" for 15); empty when unknown.
std::string gguf_file_type_name(int64_t ftype);

}  // namespace llm::hub
