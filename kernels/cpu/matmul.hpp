// y = W x for weights of every supported type: the engine's hot op. Activations are quantized once per
// call (8-bit blocks for quantized weights), then per-type, per-ISA vec_dot kernels run over rows.
#pragma once
#include <cstdint>

#include "core/tensor.hpp"

namespace llm {

enum class Isa { Scalar, Avx2, Avx512 };

// The best ISA level with kernels on this CPU (respects LLM_CPU=scalar|avx2, see core/cpu_features.hpp).
// Avx512 means F/BW/VL/DQ + VNNI (BF16 weights use vdpbf16ps only where the CPU also has AVX512-BF16).
Isa best_isa();
bool isa_supported(Isa isa);
const char* isa_name(Isa isa);  // "scalar", "avx2", "avx512"

// x: [n_tokens x n_in] float32 row-major; w: ne[0] = n_in (a multiple of the type's block size),
// ne[1] = n_out rows of w.type; y: [n_tokens x n_out] float32 row-major (must not alias x).
// Threads: OpenMP with n_threads threads (<= 1 runs inline). Results do not depend on n_threads.
// Aborts with a message on a weight type without kernels or an ISA the CPU lacks (engine invariants).
void matmul(const TensorView& w, const float* x, int64_t n_tokens, float* y, int n_threads);
void matmul_isa(Isa isa, const TensorView& w, const float* x, int64_t n_tokens, float* y, int n_threads);

// Whether matmul supports weights of this type.
bool matmul_supports(DType type);

// Reference: each weight row dequantized to float (dequantize_row), dot products accumulated in double.
void matmul_reference(const TensorView& w, const float* x, int64_t n_tokens, float* y);

}  // namespace llm
