// Internal: 256-bit SIMD traits of the flash-attention tile kernel (8 query rows per ymm), shared by
// attention_avx2.cpp and attention_avx512.cpp (there for tiles of at most 8 rows, e.g. decoding with a
// GQA group <= 8, where 16-lane tiles would leave half of each zmm idle; the AVX-512 build also gives
// the kernel 32 vector registers). Include only from *_avx2.cpp / *_avx512.cpp.
#pragma once
#include <immintrin.h>

#include <limits>

#include "core/fp16.hpp"
#include "kernels/cpu/ops_simd.hpp"

namespace llm::cpu {
namespace {

struct Vec256 {
    static constexpr int W = 8;
    using vec = __m256;
    static vec zero() { return _mm256_setzero_ps(); }
    static vec set1(float x) { return _mm256_set1_ps(x); }
    static vec load(const float* p) { return _mm256_loadu_ps(p); }
    static void store(float* p, vec a) { _mm256_storeu_ps(p, a); }
    static vec fma(vec a, vec b, vec c) { return _mm256_fmadd_ps(a, b, c); }
    static vec mul(vec a, vec b) { return _mm256_mul_ps(a, b); }
    static vec add(vec a, vec b) { return _mm256_add_ps(a, b); }
    static vec sub(vec a, vec b) { return _mm256_sub_ps(a, b); }
    static vec max(vec a, vec b) { return _mm256_max_ps(a, b); }
    static vec exp(vec x) { return exp_avx2(x); }
    static vec round_f16(vec a) { return _mm256_cvtph_ps(_mm256_cvtps_ph(a, _MM_FROUND_TO_NEAREST_INT)); }
    static vec mask_range(vec s, float j, vec lo, vec hi) {
        const vec jv = _mm256_set1_ps(j);
        const vec in = _mm256_and_ps(_mm256_cmp_ps(jv, lo, _CMP_GE_OQ), _mm256_cmp_ps(jv, hi, _CMP_LE_OQ));
        return _mm256_blendv_ps(_mm256_set1_ps(-std::numeric_limits<float>::infinity()), s, in);
    }
    static vec finite_or_zero(vec a) {
        const vec ninf = _mm256_cmp_ps(a, _mm256_set1_ps(-std::numeric_limits<float>::infinity()), _CMP_EQ_OQ);
        return _mm256_andnot_ps(ninf, a);
    }
    static void cvt_f16(const uint16_t* src, float* dst, int n) {
        int i = 0;
        for (; i + 8 <= n; i += 8)
            _mm256_storeu_ps(dst + i, _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(src + i))));
        for (; i < n; ++i) dst[i] = fp16_to_fp32(src[i]);
    }
};

}  // namespace
}  // namespace llm::cpu
