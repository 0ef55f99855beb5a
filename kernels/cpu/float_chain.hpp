// Float weights (F32, F16, BF16) on x86: prompts in `exact` / `fast` and, for matrices interleaved at load, every token
// count in `invariant` / `fast`: our own GEMM, in which every output is ONE fused multiply-add chain over the row,
//
//     acc = 0;  for i = 0 .. n_in-1:  acc = fma(float(w[r][i]), x[t][i], acc);   y[t][r] = acc
//
// (fp16 / bf16 weights converted exactly to float, the activations as given: float). That order lets the chains of
// 16 rows live in the lanes of two registers: the BLAS micro-kernel (one weight vector of 8 rows times one broadcast
// activation per FMA; 16 rows x 6 tokens), measured 1.09-1.11x OpenBLAS's sgemm on TinyLlama's shapes (2 threads,
// 512 tokens; docs/PERFORMANCE.md), which it replaces on x86 (OpenBLAS stays for aarch64). The order does not depend on
// the token count, the thread count or the tile shape: float_chain_reference is the specification
// (tests/cpu/float_chain_test.cpp memcmps the kernel against a std::fma loop).
//
// Interleaved panels: a matrix whose rows were interleaved 16 at a time at load (float_panels_pack; TensorView::panels)
// is read from them, with no per-call transposes: then every token count takes this order (decode through a kernel
// that streams the panels: one vector load per 8 rows' element), so `invariant` and `fast` use it for all batches.
// Without panels (the file's rows only) only `exact` / `fast` prompts from float_chain_min_tokens do: from
// row-major weights one token would need in-register transposes (decode measured 2.5x slower than the vec_dot
// kernels), so `invariant` then keeps ggml's vec_dot order for float weights (vec_dot_float_simd.hpp).
// Rounding: one chain of n_in FMAs, error <= gamma_n sum |w||x| as any recursive sum.
//
// Kernel (float_chain_avx2.cpp, AVX2 + FMA + F16C; the AVX-512 level runs it too: Zen 4 splits 512-bit FMAs): blocks
// of 16 rows x 512 columns transposed once per call into a float panel (32 KiB, L1) and reused across all the
// tokens; activations packed 6 tokens at a time; the partial sums go through y between column blocks (a float stored
// and reloaded is the same float). Rows are shared out among OpenMP threads by 16-row panels. Memory per thread,
// kept for reuse: the 32 KiB panel and the packed activations (n_tokens x 512 floats: 1 MiB for 512 tokens).
#pragma once
#include <cstdint>

#include "core/tensor.hpp"
#include "kernels/cpu/matmul.hpp"

namespace llm::cpu {

// Whether float_chain_matmul runs this weight type on this ISA level (F32 / F16 / BF16 on AVX2 and AVX-512).
bool float_chain_supports(Isa isa, DType type);

// Smallest token count from which matmul_isa takes float_chain_matmul in `exact` / `fast` for weights without panels,
// in `exact` for weights with them (INT64_MAX: never). LLM_FLOAT_GEMM=0 in the environment: never, in exact and fast
// (then OpenBLAS from its own threshold, for A/B runs); `invariant` with panels takes it regardless.
int64_t float_chain_min_tokens(Isa isa, DType type);

// y = W x like matmul (x: [n_tokens x n_in] row-major, y: [n_tokens x n_out]), each output one FMA chain as above,
// from w.panels when set (else from the rows). Any n_tokens >= 1. Results do not depend on n_threads, n_tokens or
// whether w has panels.
void float_chain_matmul(const TensorView& w, const float* x, int64_t n_tokens, float* y, int n_threads);

// Up to this many tokens a matrix with panels is read from them directly ("gemv-float"); from more, through the
// packed GEMM ("gemm-float"), which copies each 16 x 512 block to float once per call.
constexpr int64_t kFloatPanelsDirectMaxTokens = 15;

// The panel layout: panel p holds rows 16p .. 16p + 15 column by column, in the weight type (element i of row
// 16p + r at element ((p * n_in) + i) * 16 + r; rows past n_out are zeros). float_panels_bytes(w) bytes in all.
size_t float_panels_bytes(const TensorView& w);
// Writes w's panels (from its rows) to dst, 32-byte aligned; threads over panels. Only where float_chain_supports.
void float_panels_pack(const TensorView& w, void* dst, int n_threads);

// The specification, one output at a time (scalar; for the tests).
void float_chain_reference(const TensorView& w, const float* x, int64_t n_tokens, float* y);

// The AVX2 kernels (float_chain_avx2.cpp); absent_x86_kernels.cpp stands in on aarch64.
void float_chain_matmul_avx2(const TensorView& w, const float* x, int64_t n_tokens, float* y, int n_threads);
void float_panels_pack_avx2(const TensorView& w, void* dst, int n_threads);

}  // namespace llm::cpu
