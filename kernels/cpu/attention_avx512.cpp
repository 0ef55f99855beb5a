// AVX-512 instantiations of the flash-attention tile kernel: 16 query rows per zmm, and 8 per ymm (with
// the 32 registers of AVX-512) for tiles of at most 8 rows.
#pragma GCC diagnostic ignored "-Wuninitialized"
#ifndef __clang__  // clang has no -Wmaybe-uninitialized (and would warn about the unknown group)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <immintrin.h>

#include "kernels/cpu/attention_impl.hpp"
#include "kernels/cpu/attention_vec256.hpp"
#include "kernels/cpu/ops_simd.hpp"

namespace llm::cpu {
namespace {

struct Avx512Vec {
    static constexpr int W = kAttnLanesAvx512;
    using vec = __m512;
    static vec zero() { return _mm512_setzero_ps(); }
    static vec set1(float x) { return _mm512_set1_ps(x); }
    static vec load(const float* p) { return _mm512_loadu_ps(p); }
    static void store(float* p, vec a) { _mm512_storeu_ps(p, a); }
    static vec fma(vec a, vec b, vec c) { return _mm512_fmadd_ps(a, b, c); }
    static vec mul(vec a, vec b) { return _mm512_mul_ps(a, b); }
    static vec add(vec a, vec b) { return _mm512_add_ps(a, b); }
    static vec sub(vec a, vec b) { return _mm512_sub_ps(a, b); }
    static vec max(vec a, vec b) { return _mm512_max_ps(a, b); }
    static vec exp(vec x) { return exp_avx512(x); }
    static vec round_f16(vec a) {
        return _mm512_cvtph_ps(_mm512_cvtps_ph(a, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
    }
    static vec mask_range(vec s, float j, vec lo, vec hi) {
        const vec jv = _mm512_set1_ps(j);
        const __mmask16 in = _mm512_cmp_ps_mask(jv, lo, _CMP_GE_OQ) & _mm512_cmp_ps_mask(jv, hi, _CMP_LE_OQ);
        return _mm512_mask_blend_ps(in, _mm512_set1_ps(-std::numeric_limits<float>::infinity()), s);
    }
    static vec finite_or_zero(vec a) {
        const __mmask16 ninf =
            _mm512_cmp_ps_mask(a, _mm512_set1_ps(-std::numeric_limits<float>::infinity()), _CMP_EQ_OQ);
        return _mm512_mask_blend_ps(ninf, a, _mm512_setzero_ps());
    }
    static void cvt_f16(const uint16_t* src, float* dst, int n) {
        int i = 0;
        for (; i + 16 <= n; i += 16)
            _mm512_storeu_ps(dst + i, _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(src + i))));
        for (; i < n; ++i) dst[i] = fp16_to_fp32(src[i]);
    }
};

}  // namespace

void attention_tile_avx512(LLM_ATTN_TILE_ARGS) {
    attention_tile<Avx512Vec>(a, kvh, f0, k_begin, k_end, partial, s);
}

}  // namespace llm::cpu

namespace llm::cpu {

void attention_tile_avx512_8(LLM_ATTN_TILE_ARGS) {
    attention_tile<Vec256>(a, kvh, f0, k_begin, k_end, partial, s);
}

}  // namespace llm::cpu
