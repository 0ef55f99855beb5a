// AVX2 + FMA row kernels of the non-matmul ops (see ops_simd.hpp).
#include <cmath>

#include "kernels/cpu/ops_simd.hpp"

namespace llm::cpu {

// ggml_v_silu (x / (1 + ggml_v_expf(-x))) times up: llama.cpp's swiglu on AVX2, bit for bit.
void silu_mul_avx2(const float* gate, const float* up, float* out, int64_t n) {
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        const __m256 g = _mm256_loadu_ps(gate + i);
        const __m256 e = ggml_expf_avx2(_mm256_sub_ps(_mm256_setzero_ps(), g));
        _mm256_storeu_ps(out + i,
                         _mm256_mul_ps(_mm256_div_ps(g, _mm256_add_ps(_mm256_set1_ps(1.0f), e)), _mm256_loadu_ps(up + i)));
    }
    for (; i < n; ++i) out[i] = gate[i] / (1.0f + std::exp(-gate[i])) * up[i];  // ggml's scalar tail
}

void rms_norm_row_avx2(const float* x, const float* w, float* y, int64_t d, float eps) {
    __m256d s0 = _mm256_setzero_pd(), s1 = _mm256_setzero_pd();
    int64_t i = 0;
    for (; i + 8 <= d; i += 8) {
        const __m256 v = _mm256_loadu_ps(x + i), p = _mm256_mul_ps(v, v);  // float products, as ggml
        s0 = _mm256_add_pd(s0, _mm256_cvtps_pd(_mm256_castps256_ps128(p)));
        s1 = _mm256_add_pd(s1, _mm256_cvtps_pd(_mm256_extractf128_ps(p, 1)));
    }
    double lanes[4];
    _mm256_storeu_pd(lanes, _mm256_add_pd(s0, s1));
    double sum = (lanes[0] + lanes[1]) + (lanes[2] + lanes[3]);
    for (; i < d; ++i) sum += (double)(x[i] * x[i]);
    const float scale = 1.0f / std::sqrt((float)(sum / d) + eps);
    const __m256 vs = _mm256_set1_ps(scale);
    for (i = 0; i + 8 <= d; i += 8)
        _mm256_storeu_ps(y + i, _mm256_mul_ps(_mm256_mul_ps(_mm256_loadu_ps(x + i), vs), _mm256_loadu_ps(w + i)));
    for (; i < d; ++i) y[i] = x[i] * scale * w[i];
}

}  // namespace llm::cpu
