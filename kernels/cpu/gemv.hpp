// Multi-row decode kernels (matrix x one activation row): a group of consecutive weight rows per pass, so
// the activation loads, the horizontal reductions (a transpose-and-add of the group's integer lane sums
// instead of one horizontal sum per row per block) and the FMA latency chains are shared by the group.
//
// Contract: for every row i of the group, y[i] is BIT-IDENTICAL to the same ISA's vec_dot of that type
// (vec_dot.hpp IsaKernels) on that row: same integer sums (exact), same float operations in the same
// order per output. Rows are therefore computed identically whatever the grouping or the thread count.
// tests/cpu/gemv_test.cpp holds every kernel to that (memcmp) over odd shapes.
#pragma once
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <algorithm>
#include <type_traits>

#include "core/dtype.hpp"
#include "kernels/cpu/matmul.hpp"
#include "kernels/cpu/vec_dot.hpp"

namespace llm::cpu {

// y[i] = vec_dot(n, w + i * w_stride, act) for i in [0, rows of the kernel). act: the prepared activation
// row of the type's ActType (vec_dot.hpp). w_stride * rows must fit in an int32 (offsets are gathered).
using GemvFn = void (*)(int64_t n, const uint8_t* w, size_t w_stride, const void* act, float* y);

struct GemvKernel {
    GemvFn fn = nullptr;  // null: no multi-row kernel for this (type, ISA); use vec_dot
    int64_t rows = 0;     // rows per call
    bool dispatch = false;  // matmul uses it (measured faster than vec_dot); else only tested / LLM_GEMV=all
};

// The AVX-512 (F/BW/VL/DQ + VNNI) kernels (gemv_avx512.cpp); call only on a CPU that has them.
GemvKernel gemv_avx512(DType type);
// The AVX2 (+FMA, F16C) kernels (gemv_avx2.cpp), bit-identical to the AVX2 vec_dot; call only on a CPU with AVX2.
GemvKernel gemv_avx2(DType type);
// Kernels with the same interface whose outputs are bit-identical to the int8 GEMM's instead (gemm.hpp's
// per-element operations; Numerics::Invariant decode), AVX-512 VNNI: Q4_1, Q8_0, Q4_K, Q5_K, Q6_K. No per-row fallback:
// matmul runs the rows past the last full group through the GEMM.
GemvKernel gemv_gemm_order_avx512(DType type);
GemvKernel gemv_gemm_order_avx2(DType type);  // AVX2 (+FMA, F16C): the same types

// Several activation rows per pass (batched decode): for t < n_tok and the kernel's rows i,
// y[t * ldy + i] is bit-identical to the single-row kernel above (so to vec_dot) on token t. The weights of a
// block are loaded and unpacked once for up to `tokens` tokens (more are run in passes of that many), which is
// what a step decoding 8-16 sequences spends its time on. act: n_tok prepared rows act_stride bytes apart;
// off[t * (n / 32) + b] = -offset * (sum of token t's block-b activation quants), the integer sum's start
// (filled by gemv_multi_offsets).
using GemvMultiFn = void (*)(int64_t n, const uint8_t* w, size_t ws, const uint8_t* act, size_t act_stride,
                             const int32_t* off, int n_tok, float* y, int64_t ldy);
struct GemvMultiKernel {
    GemvMultiFn fn = nullptr;  // null: none for this (type, ISA)
    int64_t rows = 0;          // rows per call
    int tokens = 0;            // tokens per pass
    int offset = 0;            // the weights' integer offset (Q4_0: 8)
    int64_t gemm_from = 0;     // token count from which the GEMM (gemm.hpp) is faster: matmul's switch
};
// Q4_0 and Q4_1 (AVX-512 VNNI: 16 rows x 16 tokens; AVX2: 8 rows x 8 tokens), Q4_K, Q5_K and Q6_K in the GEMM's
// order (16 / 8 rows x 8 tokens); call only on a CPU with the ISA.
GemvMultiKernel gemv_multi_avx512(DType type);
GemvMultiKernel gemv_multi_avx2(DType type);
// The several-token kernels' pass loop: passes of up to 8 tokens (16 when with16 and 16 remain), each run as
// pass(std::integral_constant<int, T>{}, t0) so the kernel's token count is a compile-time constant.
template <typename Pass>
inline void for_token_passes(int n_tok, int max_tokens, Pass&& pass) {
    for (int t0 = 0; t0 < n_tok;) {
        const int left = n_tok - t0, m = max_tokens >= 16 && left >= 16 ? 16 : std::min({8, max_tokens, left});
        switch (m) {
            case 1: pass(std::integral_constant<int, 1>{}, t0); break;
            case 2: pass(std::integral_constant<int, 2>{}, t0); break;
            case 3: pass(std::integral_constant<int, 3>{}, t0); break;
            case 4: pass(std::integral_constant<int, 4>{}, t0); break;
            case 5: pass(std::integral_constant<int, 5>{}, t0); break;
            case 6: pass(std::integral_constant<int, 6>{}, t0); break;
            case 7: pass(std::integral_constant<int, 7>{}, t0); break;
            case 8: pass(std::integral_constant<int, 8>{}, t0); break;
            default: pass(std::integral_constant<int, 16>{}, t0); break;
        }
        t0 += m;
    }
}

// off for n_tok prepared ActQ8 rows (see GemvMultiFn).
inline void gemv_multi_offsets(int64_t n, const uint8_t* act, size_t act_stride, int n_tok, int offset, int32_t* off) {
    const int64_t nb = n / 32;
    for (int t = 0; t < n_tok; ++t) {
        const auto* a = reinterpret_cast<const ActQ8*>(act + (size_t)t * act_stride);
        for (int64_t b = 0; b < nb; ++b) {
            int32_t s = 0;
            for (int i = 0; i < 32; ++i) s += a[b].qs[i];
            off[(size_t)t * nb + b] = -offset * s;
        }
    }
}

// The multi-row kernel matmul uses for (isa, type) and weight rows of row_bytes bytes, if any.
// LLM_GEMV=0 in the environment disables them (A/B timing against the per-row vec_dot); LLM_GEMV=all
// also uses the kernels not dispatched by default (GemvKernel::dispatch false: no faster than vec_dot).
inline GemvKernel gemv_kernel(Isa isa, DType type, size_t row_bytes) {
    static const int mode = [] {  // 0 off, 1 default, 2 all
        const char* e = std::getenv("LLM_GEMV");
        if (!e) return 1;
        return e[0] == '0' ? 0 : e[0] == 'a' ? 2 : 1;
    }();
    if (mode == 0 || (isa != Isa::Avx512 && isa != Isa::Avx2)) return {};
    const GemvKernel k = isa == Isa::Avx512 ? gemv_avx512(type) : gemv_avx2(type);
    if (!k.fn || (!k.dispatch && mode < 2) || row_bytes * (size_t)k.rows >= ((size_t)1 << 31)) return {};
    return k;
}

}  // namespace llm::cpu
