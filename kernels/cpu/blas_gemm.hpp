// Prompt-sized matmuls with float weights (F32, F16, BF16) through OpenBLAS's cblas_sgemm: on aarch64, and on x86 only
// with LLM_FLOAT_GEMM=0 (our float GEMM, float_chain.hpp, measured faster there, takes x86 float prompts).
//
// y = W x for n_tokens rows of x at once. The output rows (weight rows) are cut into fixed panels of
// blas_panel_rows(n_out) rows (64-256). Per panel an F16/BF16 weight panel is converted exactly to float into a
// thread-local buffer (F32 weights are used in place), then one single-threaded sgemm computes that panel's
// columns of y for every token. Converting per call costs ~2% of a 512-token matmul (measured against F32
// weights), so no float copy of the model is made at load.
// Threads: OpenMP threads (n_threads, the engine's own pool) share out the panels; OpenBLAS itself runs with one
// thread (openblas_set_num_threads(1), process-wide, set at the first call), so its pthreads pool never wakes and
// cannot oversubscribe the cores. OpenBLAS's result for an output depends on how the matrix is cut into calls
// (0.3.21: its Haswell kernels change the last bit of 3-10% of the outputs when N or M is split differently, the
// Cooperlake small-matrix kernel more), so its own threading would make results depend on the thread count.
// Here the panel boundaries do not depend on n_threads and every panel is one identical sgemm call whichever
// thread runs it: results do not depend on n_threads (matmul's contract).
// Memory: one panel buffer per OpenMP thread, kept for reuse (<= 256 * n_in floats: 2 MiB for n_in = 2048,
// 5.5 MiB for 5632).
#pragma once
#include <cstdint>

#include "core/tensor.hpp"
#include "kernels/cpu/matmul.hpp"

namespace llm::cpu {

// Whether the library was built with OpenBLAS (CMake found pkg-config's openblas).
bool blas_available();
// Whether blas_matmul handles this weight type (F32, F16, BF16; false without OpenBLAS).
bool blas_supports(DType type);
// Smallest token count for which matmul_isa(isa, ...) uses blas_matmul for this type (INT64_MAX: never; always
// never for Isa::Scalar). The environment variable LLM_BLAS overrides it for A/B measurements: LLM_BLAS=0 never,
// LLM_BLAS=N (N >= 2) from N tokens.
int64_t blas_min_tokens(Isa isa, DType type);
// Output rows per panel (a function of n_out only, never of the thread count).
int64_t blas_panel_rows(int64_t n_out);

// y = W x like matmul (x: [n_tokens x n_in] row-major, y: [n_tokens x n_out] row-major, no aliasing).
// Needs a CPU with AVX2 + F16C or NEON (the F16/BF16 panel conversion). Aborts on an unsupported type.
void blas_matmul(const TensorView& w, const float* x, int64_t n_tokens, float* y, int n_threads);

// n F16 or BF16 weights to float (blas_convert_avx2.cpp: AVX2 + F16C; blas_convert_neon.cpp: NEON).
void blas_to_f32_avx2(DType type, const void* src, float* dst, int64_t n);
void blas_to_f32_neon(DType type, const void* src, float* dst, int64_t n);

}  // namespace llm::cpu
