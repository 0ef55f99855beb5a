// Turns a GGUF file or a Hugging Face safetensors folder into a ModelConfig + ModelWeights.
// Thin per-format adapters: names and metadata map onto the one config the decoder reads.
#pragma once
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "core/status.hpp"
#include "models/model_config.hpp"
#include "models/model_weights.hpp"

namespace llm {

class GgufFile;

struct LoadedModel {
    ModelConfig config;
    ModelWeights weights;
    std::shared_ptr<const GgufFile> gguf;  // set for GGUF models (the tokenizer reads its metadata)
    std::string hf_dir;                    // set for safetensors folders
    bool packed_weights = false;           // safetensors with MLX / GPTQ packed linears (converted at load)
};

Expected<LoadedModel> load_gguf_model(const std::string& path);
Expected<LoadedModel> load_hf_model(const std::string& dir);
// config.json's text -> ModelConfig (checked with validate_config); `name` prefixes messages.
Expected<ModelConfig> parse_hf_config(std::string_view text, const std::string& name);
// Dispatches on the path: a directory is a HF folder (or a .safetensors file's folder), else GGUF.
Expected<LoadedModel> load_model(const std::string& path);

// Shared by the adapters: checks a matrix view against the expected (n_in, n_out) and type support.
Status check_matrix(const TensorView& t, int64_t n_in, int64_t n_out);
// Converts a 1-D norm weight of any float type to float32, checking its length.
Expected<std::vector<float>> to_float_vector(const TensorView& t, int64_t n);
// Llama-3 rope scaling: per-dim frequency divisors (as llama.cpp's converter computes rope_freqs).
std::vector<float> llama3_rope_factors(int n_rot, float theta, float factor, float low_freq_factor,
                                       float high_freq_factor, int original_ctx);
// Checks the hyper-parameters for consistency (positive sizes, GQA divisibility, ...).
Status validate_config(const ModelConfig& c);

}  // namespace llm
