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

#include "core/dtype.hpp"
#include "kernels/cpu/matmul.hpp"

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
