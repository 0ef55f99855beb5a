// AVX-512 row kernels of the non-matmul ops (see ops_simd.hpp).
#pragma GCC diagnostic ignored "-Wuninitialized"
#ifndef __clang__  // clang has no -Wmaybe-uninitialized (and would warn about the unknown group)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <cmath>

#include "kernels/cpu/ops_simd.hpp"

namespace llm::cpu {
namespace {

// ggml_v_silu (x / (1 + ggml_v_expf(-x))) times up: llama.cpp's swiglu on AVX-512, bit for bit.
inline __m512 silu_mul16(__m512 g, __m512 u) {
    const __m512 e = ggml_expf_avx512(_mm512_sub_ps(_mm512_setzero_ps(), g));
    return _mm512_mul_ps(_mm512_div_ps(g, _mm512_add_ps(_mm512_set1_ps(1.0f), e)), u);
}

}  // namespace

void silu_mul_avx512(const float* gate, const float* up, float* out, int64_t n) {
    int64_t i = 0;
    for (; i + 16 <= n; i += 16)
        _mm512_storeu_ps(out + i, silu_mul16(_mm512_loadu_ps(gate + i), _mm512_loadu_ps(up + i)));
    for (; i < n; ++i) out[i] = gate[i] / (1.0f + std::exp(-gate[i])) * up[i];  // ggml's scalar tail
}

void rms_norm_row_avx512(const float* x, const float* w, float* y, int64_t d, float eps) {
    __m512d s0 = _mm512_setzero_pd(), s1 = _mm512_setzero_pd();
    int64_t i = 0;
    for (; i + 16 <= d; i += 16) {
        const __m512 v = _mm512_loadu_ps(x + i), p = _mm512_mul_ps(v, v);  // float products, as ggml
        s0 = _mm512_add_pd(s0, _mm512_cvtps_pd(_mm512_castps512_ps256(p)));
        s1 = _mm512_add_pd(s1, _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(p), 1))));
    }
    double sum = _mm512_reduce_add_pd(_mm512_add_pd(s0, s1));
    for (; i < d; ++i) sum += (double)(x[i] * x[i]);
    const float scale = 1.0f / std::sqrt((float)(sum / d) + eps);
    const __m512 vs = _mm512_set1_ps(scale);
    for (i = 0; i + 16 <= d; i += 16)
        _mm512_storeu_ps(y + i, _mm512_mul_ps(_mm512_mul_ps(_mm512_loadu_ps(x + i), vs), _mm512_loadu_ps(w + i)));
    for (; i < d; ++i) y[i] = x[i] * scale * w[i];
}

}  // namespace llm::cpu
