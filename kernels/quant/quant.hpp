// Scalar (reference) row dequantizers and quantizers for every block type, bit-exact with ggml.
// n is the number of elements and must be a multiple of the type's block size.
#pragma once
#include <cstdint>

#include "core/dtype.hpp"

namespace llm {

void dequantize_row(DType type, const void* src, float* dst, int64_t n);
// Reference quantizer (no importance matrix); aborts for types without one.
void quantize_row(DType type, const float* src, void* dst, int64_t n);

// Per-type entry points (also referenced by the traits table).
#define LLM_DECLARE_QUANT_FNS(T)                                  \
    void dequantize_row_##T(const void* src, float* dst, int64_t n); \
    void quantize_row_##T(const float* src, void* dst, int64_t n);
LLM_DECLARE_QUANT_FNS(f32)
LLM_DECLARE_QUANT_FNS(f16)
LLM_DECLARE_QUANT_FNS(bf16)
LLM_DECLARE_QUANT_FNS(q4_0)
LLM_DECLARE_QUANT_FNS(q4_1)
LLM_DECLARE_QUANT_FNS(q5_0)
LLM_DECLARE_QUANT_FNS(q5_1)
LLM_DECLARE_QUANT_FNS(q8_0)
LLM_DECLARE_QUANT_FNS(q8_1)
LLM_DECLARE_QUANT_FNS(q2_k)
LLM_DECLARE_QUANT_FNS(q3_k)
LLM_DECLARE_QUANT_FNS(q4_k)
LLM_DECLARE_QUANT_FNS(q5_k)
LLM_DECLARE_QUANT_FNS(q6_k)
LLM_DECLARE_QUANT_FNS(q8_k)
LLM_DECLARE_QUANT_FNS(iq4_nl)
LLM_DECLARE_QUANT_FNS(iq4_xs)
#undef LLM_DECLARE_QUANT_FNS

}  // namespace llm
