// AVX-512 VNNI K-quant and IQ4_XS vec_dot kernels: Q6_K and IQ4_XS instantiate vec_dot_kquants_simd.hpp
// (whose lanes already match ggml's); Q2_K..Q5_K below reproduce llama.cpp's arithmetic bit for bit
// (its repacked gemv for Q4_K/Q2_K, ggml's x86 vec_dot for Q3_K/Q5_K).
// GCC 12 flags the self-initialized variable inside _mm512_undefined_*() (a false positive).
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include "kernels/cpu/vec_dot_kquants_simd.hpp"

namespace llm::cpu {
namespace {

struct AccVnni {
    static __m256i add(__m256i acc, __m256i u, __m256i s, __m256i scales16) {
        return _mm256_dpwssd_epi32(acc, _mm256_maddubs_epi16(u, s), scales16);
    }
};

inline int hsum_epi32(__m256i v) {
    __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4E));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xB1));
    return _mm_cvtsi128_si32(s);
}
inline int hsum_epi32(__m128i s) {
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4E));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xB1));
    return _mm_cvtsi128_si32(s);
}

// Q4_K and Q2_K as llama.cpp computes them on an AVX-512 CPU: it repacks these weights
// (ggml-cpu/repack.cpp q4_K_8x8_q8_K with AVX2, q2_K_8x8_q8_K with AVX-512; matrices with a multiple of 8
// rows) and runs ggml_gemv_q4_K_8x8_q8_K / ggml_gemv_q2_K_8x8_q8_K for one token and the matching gemm
// for batches (arch/x86/repack.cpp). Per output and per super-block: the exact integer totals
// isum = sum_s scale_s * dot(q_s, a_s) and imin = sum_s min_s * bsum_s, then
// acc = fma((float)isum, d * da, acc), acc_min = fma((float)imin, dmin * da, acc_min); result acc - acc_min.
float dot_q4_k_repacked(int64_t n, const void* w, const void* a) {
    const auto* x = static_cast<const BlockQ4_K*>(w);
    const auto* y = static_cast<const ActQ8K*>(a);
    const __m256i m4 = _mm256_set1_epi8(0xF);
    float acc = 0.0f, acc_m = 0.0f;
    for (int64_t b = 0; b < n / QK_K; ++b) {
        const __m256i sm16 = _mm256_cvtepu8_epi16(unpack_scales_mins_k4(x[b].scales));  // 8 scales, 8 mins
        const __m256i scales = _mm256_permute2x128_si256(sm16, sm16, 0x00);
        const __m128i bs = _mm_hadd_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(y[b].bsums)),
                                          _mm_loadu_si128(reinterpret_cast<const __m128i*>(y[b].bsums + 8)));
        const int imin = hsum_epi32(_mm_madd_epi16(_mm256_extracti128_si256(sm16, 1), bs));
        __m256i sumi = _mm256_setzero_si256();
        for (int j = 0; j < 4; ++j) {
            const __m256i bits = load256(x[b].qs + 32 * j);
            const __m256i lo = _mm256_and_si256(bits, m4), hi = _mm256_and_si256(_mm256_srli_epi16(bits, 4), m4);
            sumi = AccVnni::add(sumi, lo, load256(y[b].qs + 64 * j), one_scale(scales, 2 * j));
            sumi = AccVnni::add(sumi, hi, load256(y[b].qs + 64 * j + 32), one_scale(scales, 2 * j + 1));
        }
        const float dy = y[b].d;
        acc = __builtin_fmaf((float)hsum_epi32(sumi), _cvtsh_ss(x[b].d) * dy, acc);
        acc_m = __builtin_fmaf((float)imin, _cvtsh_ss(x[b].dmin) * dy, acc_m);
    }
    return acc - acc_m;
}

float dot_q2_k_repacked(int64_t n, const void* w, const void* a) {
    const auto* x = static_cast<const BlockQ2_K*>(w);
    const auto* y = static_cast<const ActQ8K*>(a);
    const __m256i m3 = _mm256_set1_epi8(3);
    const __m128i m4 = _mm_set1_epi8(0xF);
    float acc = 0.0f, acc_m = 0.0f;
    for (int64_t b = 0; b < n / QK_K; ++b) {
        const __m128i raw = _mm_loadu_si128(reinterpret_cast<const __m128i*>(x[b].scales));
        const Scales16 sc(_mm256_cvtepu8_epi16(_mm_and_si128(raw, m4)));
        const __m256i mins = _mm256_cvtepu8_epi16(_mm_and_si128(_mm_srli_epi16(raw, 4), m4));
        const int imin = hsum_epi32(_mm256_madd_epi16(mins, bsums16(y[b])));
        __m256i sumi = _mm256_setzero_si256();
        for (int h = 0; h < 2; ++h) {
            const __m256i bits = load256(x[b].qs + 32 * h);
            for (int j = 0; j < 4; ++j) {
                const __m256i q = _mm256_and_si256(_mm256_srli_epi16(bits, 2 * j), m3);
                sumi = AccVnni::add(sumi, q, load256(y[b].qs + 128 * h + 32 * j), pair_scales(sc, h, j));
            }
        }
        const float dy = y[b].d;
        acc = __builtin_fmaf((float)hsum_epi32(sumi), _cvtsh_ss(x[b].d) * dy, acc);
        acc_m = __builtin_fmaf((float)imin, _cvtsh_ss(x[b].dmin) * dy, acc_m);
    }
    return acc - acc_m;
}

// Q5_K as ggml_vec_dot_q5_K_q8_K (arch/x86/quants.c, AVX2 branch): the 8-lane integer sums FMA'd with
// d = da * dw into one accumulator, the mins as one exact integer per super-block added to a scalar
// `summs = fma(-da * dmin, imin, summs)`; result hsum_float_8(acc) + summs.
float dot_q5_k_ggml(int64_t n, const void* w, const void* a) {
    const auto* x = static_cast<const BlockQ5_K*>(w);
    const auto* y = static_cast<const ActQ8K*>(a);
    const __m256i m4 = _mm256_set1_epi8(0xF), m1 = _mm256_set1_epi8(1);
    __m256 acc = _mm256_setzero_ps();
    float summs = 0.0f;
    for (int64_t b = 0; b < n / QK_K; ++b) {
        const __m256i sm16 = _mm256_cvtepu8_epi16(unpack_scales_mins_k4(x[b].scales));  // 8 scales, 8 mins
        const __m256i scales = _mm256_permute2x128_si256(sm16, sm16, 0x00);
        const __m128i bs = _mm_hadd_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(y[b].bsums)),
                                          _mm_loadu_si128(reinterpret_cast<const __m128i*>(y[b].bsums + 8)));
        const int imin = hsum_epi32(_mm_madd_epi16(_mm256_extracti128_si256(sm16, 1), bs));
        const float d = y[b].d * _cvtsh_ss(x[b].d);
        const float dmin = -y[b].d * _cvtsh_ss(x[b].dmin);
        summs = __builtin_fmaf(dmin, (float)imin, summs);
        const __m256i qh = load256(x[b].qh);
        __m256i sumi = _mm256_setzero_si256();
        for (int j = 0; j < 4; ++j) {
            const __m256i bits = load256(x[b].qs + 32 * j);
            __m256i lo = _mm256_and_si256(bits, m4), hi = _mm256_and_si256(_mm256_srli_epi16(bits, 4), m4);
            lo = _mm256_or_si256(lo, _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 2 * j), m1), 4));
            hi = _mm256_or_si256(hi, _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 2 * j + 1), m1), 4));
            sumi = AccVnni::add(sumi, lo, load256(y[b].qs + 64 * j), one_scale(scales, 2 * j));
            sumi = AccVnni::add(sumi, hi, load256(y[b].qs + 64 * j + 32), one_scale(scales, 2 * j + 1));
        }
        acc = _mm256_fmadd_ps(_mm256_set1_ps(d), _mm256_cvtepi32_ps(sumi), acc);
    }
    return hsum_ps(acc) + summs;
}

// Q3_K as ggml_vec_dot_q3_K_q8_K: the -4 offset stays inside each lane (signed weights q - 4, via
// |w| x sign(a, w)), so the 8 integer lanes are ggml's; d = da * dw; one accumulator; hsum_float_8.
float dot_q3_k_ggml(int64_t n, const void* w, const void* a) {
    const auto* x = static_cast<const BlockQ3_K*>(w);
    const auto* y = static_cast<const ActQ8K*>(a);
    const __m256i m3 = _mm256_set1_epi8(3), m1 = _mm256_set1_epi8(1), four = _mm256_set1_epi8(4);
    __m256 acc = _mm256_setzero_ps();
    for (int64_t b = 0; b < n / QK_K; ++b) {
        const Scales16 sc(q3k_scales16(x[b]));
        const __m256i hm = load256(x[b].hmask);
        __m256i sumi = _mm256_setzero_si256();
        for (int h = 0; h < 2; ++h) {
            const __m256i bits = load256(x[b].qs + 32 * h);
            for (int j = 0; j < 4; ++j) {
                const __m256i lo = _mm256_and_si256(_mm256_srli_epi16(bits, 2 * j), m3);
                const __m256i hi = _mm256_and_si256(_mm256_srli_epi16(hm, 4 * h + j), m1);
                const __m256i v = _mm256_sub_epi8(_mm256_or_si256(lo, _mm256_slli_epi16(hi, 2)), four);  // -4..3
                const __m256i ya = load256(y[b].qs + 128 * h + 32 * j);
                sumi = AccVnni::add(sumi, _mm256_abs_epi8(v), _mm256_sign_epi8(ya, v), pair_scales(sc, h, j));
            }
        }
        acc = _mm256_fmadd_ps(_mm256_set1_ps(y[b].d * _cvtsh_ss(x[b].d)), _mm256_cvtepi32_ps(sumi), acc);
    }
    return hsum_ps(acc);
}

}  // namespace

void register_avx512_kquants(IsaKernels& k) {
    k.dot[(size_t)DType::Q2_K] = {dot_q2_k_repacked, ActType::Q8_K};
    k.dot[(size_t)DType::Q3_K] = {dot_q3_k_ggml, ActType::Q8_K};
    k.dot[(size_t)DType::Q4_K] = {dot_q4_k_repacked, ActType::Q8_K};
    k.dot[(size_t)DType::Q5_K] = {dot_q5_k_ggml, ActType::Q8_K};
    k.dot[(size_t)DType::Q6_K] = {dot_q6_k<AccVnni>, ActType::Q8_K};
    k.dot[(size_t)DType::IQ4_XS] = {dot_iq4_xs<AccVnni>, ActType::Q8_K};
}

}  // namespace llm::cpu
