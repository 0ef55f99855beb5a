// Row kernels of ops.cpp per ISA (ops_avx2.cpp, ops_avx512.cpp, ops_neon.cpp); same maths as the scalar
// reference. Declarations only: a build defines its architecture's (the others are kernels/cpu/absent_*_kernels.cpp).
#pragma once
#include <cstdint>

namespace llm::cpu {

void silu_mul_avx2(const float* gate, const float* up, float* out, int64_t n);
void silu_mul_avx512(const float* gate, const float* up, float* out, int64_t n);
void silu_mul_neon(const float* gate, const float* up, float* out, int64_t n);
void rms_norm_row_avx2(const float* x, const float* w, float* y, int64_t d, float eps);
void rms_norm_row_avx512(const float* x, const float* w, float* y, int64_t d, float eps);
void rms_norm_row_neon(const float* x, const float* w, float* y, int64_t d, float eps);

}  // namespace llm::cpu
