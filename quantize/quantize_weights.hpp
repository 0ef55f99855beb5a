// Load-time quantization (llm-run --quantize): F32/F16/BF16 matrices of a loaded model are requantized in
// memory with llama-quantize's per-tensor rules, e.g. a safetensors folder run as Q4_0 without a GGUF file.
#pragma once
#include <string>

#include "core/status.hpp"
#include "models/model_loader.hpp"

namespace llm {

// type: a llama-quantize file type name ("q4_0", "q8_0", "q4_k" = Q4_K_M, "q4_k_m", "q5_k_m", ...).
// Already-quantized tensors are left as they are.
Status quantize_weights(LoadedModel& m, const std::string& type, int n_threads);

}  // namespace llm
