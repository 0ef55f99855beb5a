// Model quantization behind llm-quantize: a GGUF file or a Hugging Face safetensors folder in, a GGUF file out.
// File types and per-tensor type choices follow llama.cpp's llama-quantize (without an importance matrix), so the
// same input and type give the same tensor bytes as llama-quantize and the output loads in llama.cpp.
#pragma once
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "llm/export.hpp"
#include "llm/status.hpp"
#include "llm/types.hpp"

namespace llm {

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
LLM_API std::span<const FileTypeInfo> file_types();
LLM_API const FileTypeInfo& file_type_info(FileType t);
// Case-insensitive; also accepts llama-quantize's aliases Q3_K (= Q3_K_M), Q4_K (= Q4_K_M), Q5_K (= Q5_K_M).
LLM_API std::optional<FileType> file_type_from_name(std::string_view name);

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
LLM_API Expected<QuantizeResult> quantize_model(const std::string& in_path, const std::string& out_path,
                                                const QuantizeOptions& opts);

}  // namespace llm
