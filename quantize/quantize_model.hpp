// Model quantization behind llm-quantize: a GGUF file or a Hugging Face safetensors folder in, a GGUF file out.
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

namespace llm {

class GgufWriter;

// llama.cpp's llama_ftype ids, written as `general.file_type`.
enum class FileType : uint32_t {
    ALL_F32 = 0, MOSTLY_F16 = 1, MOSTLY_Q4_0 = 2, MOSTLY_Q4_1 = 3, MOSTLY_Q8_0 = 7, MOSTLY_Q5_0 = 8,
    MOSTLY_Q5_1 = 9, MOSTLY_Q2_K = 10, MOSTLY_Q3_K_S = 11, MOSTLY_Q3_K_M = 12, MOSTLY_Q3_K_L = 13,
    MOSTLY_Q4_K_S = 14, MOSTLY_Q4_K_M = 15, MOSTLY_Q5_K_S = 16, MOSTLY_Q5_K_M = 17, MOSTLY_Q6_K = 18,
    MOSTLY_IQ4_NL = 25, MOSTLY_IQ4_XS = 30, MOSTLY_BF16 = 32,
};

struct FileTypeInfo {
    FileType ftype;
    std::string_view name;  // as llama-quantize spells it: "Q4_K_M"
    DType base;             // the type most tensors get
    std::string_view description;
};

// Every supported file type, in llama-quantize's listing order.
std::span<const FileTypeInfo> file_types();
const FileTypeInfo& file_type_info(FileType t);
// Case-insensitive; also accepts llama-quantize's aliases Q3_K (= Q3_K_M), Q4_K (= Q4_K_M), Q5_K (= Q5_K_M).
std::optional<FileType> file_type_from_name(std::string_view name);

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

struct QuantizeOptions {
    FileType ftype = FileType::MOSTLY_Q8_0;
    bool pure = false;              // base type for every quantizable tensor (llama-quantize --pure)
    bool allow_requantize = false;  // accept already-quantized input tensors (dequantized to F32 first)
    int n_threads = 0;              // 0 = physical cores
    // Progress lines ("[ 3/201] blk.0.attn_q.weight ..."); null = silent.
    std::function<void(const std::string&)> log;
};

struct QuantizeResult {
    size_t in_bytes = 0, out_bytes = 0;  // tensor data only
    int n_tensors = 0, n_quantized = 0, n_fallback = 0;
};

// Reads `in_path` (GGUF file, or a folder / .safetensors file), writes `out_path` as GGUF v3.
Expected<QuantizeResult> quantize_model(const std::string& in_path, const std::string& out_path,
                                        const QuantizeOptions& opts);

// Converts n rows of a tensor to float32 (any input type; HF q/k rows permuted when permute_heads > 0).
void source_rows_to_f32(const QuantSource::Tensor& t, int64_t row0, int64_t n_rows, float* dst);

}  // namespace llm
