// y = W x for weights of every supported type: the engine's hot op. Activations are quantized once per
// call (8-bit blocks for quantized weights), then per-type, per-ISA vec_dot kernels run over rows.
#pragma once
#include <cstdint>

#include "core/numerics.hpp"
#include "core/tensor.hpp"

namespace llm {

// Kernel levels: x86-64 (Avx2, Avx512) and aarch64 (Neon, Dotprod); a build has the kernels of its target only,
// and isa_supported is false for the other architecture's levels.
enum class Isa { Scalar, Avx2, Avx512, Neon, Dotprod };
constexpr Isa kAllIsas[] = {Isa::Scalar, Isa::Avx2, Isa::Avx512, Isa::Neon, Isa::Dotprod};

// The best ISA level with kernels on this CPU (respects LLM_CPU, see core/cpu_features.hpp).
// Avx512 means F/BW/VL/DQ + VNNI (BF16 weights use vdpbf16ps only where the CPU also has AVX512-BF16).
// Dotprod means NEON + sdot (and, where the CPU has I8MM, the smmla prompt GEMM).
Isa best_isa();
bool isa_supported(Isa isa);
const char* isa_name(Isa isa);  // "scalar", "avx2", "avx512", "neon", "dotprod"
bool isa_is_x86(Isa isa);       // Avx2, Avx512
bool isa_is_arm(Isa isa);       // Neon, Dotprod

// x: [n_tokens x n_in] float32 row-major; w: ne[0] = n_in (a multiple of the type's block size),
// ne[1] = n_out rows of w.type; y: [n_tokens x n_out] float32 row-major (must not alias x).
// Threads: OpenMP with n_threads threads (<= 1 runs inline). Results do not depend on n_threads.
// Aborts with a message on a weight type without kernels or an ISA the CPU lacks (engine invariants).
// The kernel per shape follows the numerics mode (core/numerics.hpp):
//   Exact      vec_dot (multi-row gemv kernels, bit-identical to it) for few tokens; from a per-type threshold
//              the int8 GEMM (quantized; never Q4_1/Q5_1, whose batches llama.cpp runs through vec_dot) or, for
//              float weights, our float GEMM on x86 (float_chain.hpp) and OpenBLAS on aarch64.
//   Fast       the same with the GEMM also for Q4_1/Q5_1 prompts.
//   Invariant  one accumulation order per output whatever n_tokens: the int8 GEMM for every quantized
//              type at every token count (its per-element arithmetic does not depend on the tile it sits in,
//              nor on the ISA), except Q4_0 / IQ4_NL / Q4_K on AVX2 / AVX-512 whose vec_dot / gemv kernels
//              compute the GEMM's very operations (so decode keeps llama.cpp's GEMV there, and batches of 2 to
//              a few dozen tokens run a GEMV over several tokens per weight load; the K-quants and Q4_1 also
//              have GEMVs in the GEMM's order for one and several tokens); for float weights with panels
//              (TensorView::panels, interleaved at load on x86) the float GEMM's one chain per output at every
//              token count, without them the per-row vec_dot (never OpenBLAS, whose result depends on the matrix
//              shape). Row t of y is bit-identical whether x has 1 token or n.
//   Panels     float weights with panels take the float GEMM in fast and invariant for every token count (few
//              tokens straight from the panels), in exact from its threshold (below it llama.cpp's vec_dot).
//              Q4_K / Q5_K with panels (8-row interleaved, kquant_x8.hpp) on AVX2: their GEMV for few tokens, the GEMM
//              packed from them for more, the same bits as invariant's kernels on the rows (exact: Q4_K up to 3 tokens,
//              the vec_dot's bits; its batches and Q5_K on the rows).
void matmul(const TensorView& w, const float* x, int64_t n_tokens, float* y, int n_threads,
            Numerics mode = Numerics::Exact);
void matmul_isa(Isa isa, const TensorView& w, const float* x, int64_t n_tokens, float* y, int n_threads,
                Numerics mode = Numerics::Exact);
// The kernel matmul_isa picks for this shape ("gemv", "vec_dot", "gemm-avx512", "gemm-float", "openblas", ...), for
// --list-devices and llm-bench; panels: whether the weights have TensorView::panels.
const char* matmul_kernel_name(Isa isa, DType type, int64_t n_tokens, Numerics mode, bool panels = false);

// Whether the exact mode's tile kernels run (matmul's VecDotTile and ggml_attention's tiled loops): true
// unless LLM_VEC_DOT_TILE=0 is in the environment (A/B timing; the results are the same bits either way).
bool vec_dot_tile_enabled();

// Whether matmul supports weights of this type.
bool matmul_supports(DType type);

// Reference: each weight row dequantized to float (dequantize_row), dot products accumulated in double.
void matmul_reference(const TensorView& w, const float* x, int64_t n_tokens, float* y);

}  // namespace llm
