// Traits of the element types (DType: include/llm/types.hpp). Each type has one traits row
// (kernels/quant/type_traits.cpp): block geometry and row (de)quantizers.
#pragma once
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

#include "llm/types.hpp"  // DType, dtype_name, dtype_from_name

namespace llm {

// Dequantize n elements (n a multiple of block_size) from packed blocks to float.
using ToFloatFn = void (*)(const void* src, float* dst, int64_t n);
// Quantize n elements (n a multiple of block_size) with the reference quantizer (no importance matrix).
using FromFloatFn = void (*)(const float* src, void* dst, int64_t n);

struct TypeTraits {
    DType type;
    std::string_view name;     // "Q4_K", as ggml names it
    int64_t block_size;        // elements per block (1 for float types)
    size_t type_size;          // bytes per block
    bool is_quantized;
    ToFloatFn to_float;        // never null for a known type
    FromFloatFn from_float;    // null where no reference quantizer exists (Q8_1 activations only)
};

// Traits of a known type; aborts on an unknown one (validate with dtype_from_u32 first).
const TypeTraits& type_traits(DType t);
// Maps a raw GGML type id to a known DType, or nullopt for ids this engine does not know.
std::optional<DType> dtype_from_u32(uint32_t id);
inline int64_t block_size(DType t) { return type_traits(t).block_size; }
// Bytes of a row of n elements; n must be a multiple of the block size.
inline size_t row_bytes(DType t, int64_t n) {
    const TypeTraits& tt = type_traits(t);
    return (size_t)(n / tt.block_size) * tt.type_size;
}

}  // namespace llm
