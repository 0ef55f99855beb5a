// Model quantization internals (the entry point is public: include/llm/quantize.hpp): llama.cpp's per-tensor type
// rules and the sources a model is read from.
// File types and per-tensor type choices follow llama.cpp's llama-quantize (without an importance matrix), so the
// same input and type give the same tensor bytes as llama-quantize and the output loads in llama.cpp.
#pragma once
#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/dtype.hpp"
#include "core/status.hpp"
#include "core/tensor.hpp"
#include "llm/quantize.hpp"  // FileType, file_types, QuantizeOptions, quantize_model

namespace llm {

class GgufWriter;

// What llama.cpp's per-tensor rules read from the model besides the tensor itself.
struct QuantModelInfo {
    std::string arch;  // GGUF architecture name ("llama", "phi3")
    int n_layers = 0;
    int n_heads = 0;
    int n_kv_heads = 0;
};

struct QuantTensorDesc {
    std::string name;
    int n_dims = 0;
    std::array<int64_t, 4> ne{1, 1, 1, 1};
    DType type = DType::F32;  // type in the input
};

struct TensorPlan {
    DType type;        // type in the output
    bool fallback;     // the rule's type did not fit the row length; a fallback type was used
};

// The output type of every tensor (same order as `tensors`), as llama_model_quantize picks it: 2-D+ tensors other
// than norms get the file type's base type, adjusted per tensor (output/token_embd, attn_v, ffn_down, attn_qkv,
// ...) unless `pure`; rows that are not a multiple of the block fall back (Q4_K -> Q5_0, Q6_K -> Q8_0, ... -> F16).
std::vector<TensorPlan> plan_tensor_types(const QuantModelInfo& info, const std::vector<QuantTensorDesc>& tensors,
                                          FileType ftype, bool pure);

// A model opened for quantization: metadata to copy, tensors (views into mapped files) and the info the rules need.
struct QuantSource {
    struct Tensor {
        QuantTensorDesc desc;
        const void* data = nullptr;  // input rows of desc.type
        size_t nbytes = 0;
        int permute_heads = 0;       // > 0: HF q/k rows to permute into GGUF's interleaved-RoPE order (n_heads)
    };
    QuantModelInfo info;
    uint32_t alignment = 32;
    std::vector<Tensor> tensors;
    // Writes the input's metadata (all but general.alignment / file_type / quantization_version).
    std::function<void(GgufWriter&)> write_metadata;
    std::vector<std::string> warnings;       // e.g. "no tokenizer metadata written"
    std::vector<std::shared_ptr<const void>> owners;  // keep mappings and converted buffers alive
};

Expected<QuantSource> open_gguf_source(const std::string& path);
// Llama / Mistral folders (config.json + safetensors): llama.cpp names and `llama.*` metadata, Q/K permuted.
Expected<QuantSource> open_hf_source(const std::string& dir);

// Converts n rows of a tensor to float32 (any input type; HF q/k rows permuted when permute_heads > 0).
void source_rows_to_f32(const QuantSource::Tensor& t, int64_t row0, int64_t n_rows, float* dst);

}  // namespace llm
