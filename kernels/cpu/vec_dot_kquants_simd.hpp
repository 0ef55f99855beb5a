// The K-quant (Q2_K..Q6_K) and IQ4_XS vec_dot kernels on 256-bit integer vectors, written once and
// instantiated by vec_dot_kquants_avx2.cpp (pmaddubsw + pmaddwd) and vec_dot_kquants_avx512.cpp
// (pmaddubsw + vpdpwssd) through the Acc policy:
//   Acc::add(acc, u, s, scales16) = acc + per-int32-lane sum of (u8 u * s8 s) pairs times int16 scales.
// Weights are unpacked to unsigned bytes (pair sums stay inside int16: u <= 63, |s| <= 127, or the
// sign trick for IQ4_XS); offsets (Q3_K's -4, Q6_K's -32) and mins use the activations' per-16 sums
// (one pmaddwd of the 16 scales with the 16 bsums). Scales are unpacked with vector ops and
// broadcast per group with pshufb. Include only from a file compiled with AVX2 flags.
#pragma once
#include <immintrin.h>

#include <cstring>

#include "kernels/cpu/vec_dot_avx2.hpp"

namespace llm::cpu {
namespace {

inline __m256i bsums16(const ActQ8K& y) { return load256(y.bsums); }

// 16 int16 scales s[0..15] as two vectors with s[8h .. 8h+7] in both 128-bit lanes, ready for
// pair_scales (pshufb cannot cross lanes).
struct Scales16 {
    __m256i half[2];
    explicit Scales16(__m256i s16)
        : half{_mm256_permute2x128_si256(s16, s16, 0x00), _mm256_permute2x128_si256(s16, s16, 0x11)} {}
};

// Q3_K: the 16 six-bit scales (12 packed bytes) minus 32, as int16 (unpack_scales_q3k with vector ops).
inline __m256i q3k_scales16(const BlockQ3_K& b) {
    constexpr uint32_t k2 = 0x0f0f0f0f, k3 = 0x03030303;
    uint32_t s[3];
    std::memcpy(s, b.scales, 12);
    const __m128i raw = _mm_setr_epi32((int)((s[0] & k2) | ((s[2] & k3) << 4)),
                                       (int)((s[1] & k2) | (((s[2] >> 2) & k3) << 4)),
                                       (int)(((s[0] >> 4) & k2) | (((s[2] >> 4) & k3) << 4)),
                                       (int)(((s[1] >> 4) & k2) | (((s[2] >> 6) & k3) << 4)));
    return _mm256_cvtepi8_epi16(_mm_sub_epi8(raw, _mm_set1_epi8(32)));
}

// For the 32-byte vector covering groups g = 8h + 2j and g + 1: int16 lanes 0-7 = s[g], 8-15 = s[g+1].
inline __m256i pair_scales(const Scales16& s, int h, int j) {
    const char lo = (char)(4 * j), hi = (char)(4 * j + 2);
    const __m256i idx = _mm256_setr_epi8(lo, lo + 1, lo, lo + 1, lo, lo + 1, lo, lo + 1, lo, lo + 1, lo, lo + 1, lo,
                                         lo + 1, lo, lo + 1, hi, hi + 1, hi, hi + 1, hi, hi + 1, hi, hi + 1, hi,
                                         hi + 1, hi, hi + 1, hi, hi + 1, hi, hi + 1);
    return _mm256_shuffle_epi8(s.half[h], idx);
}

// All 16 int16 lanes = s[k] for a 128-bit-broadcast vector of 8 int16 scales.
inline __m256i one_scale(__m256i s8x2, int k) {
    const char i = (char)(2 * k);
    return _mm256_shuffle_epi8(s8x2, _mm256_setr_epi8(i, i + 1, i, i + 1, i, i + 1, i, i + 1, i, i + 1, i, i + 1, i,
                                                      i + 1, i, i + 1, i, i + 1, i, i + 1, i, i + 1, i, i + 1, i,
                                                      i + 1, i, i + 1, i, i + 1, i, i + 1));
}

// Q2_K: element e = 128h + 32j + l is bits 2j of qs[32h + l]; scales[e/16] = sc | min << 4.
// As ggml_vec_dot_q2_K_q8_K (arch/x86/quants.c, AVX2 branch): per super-block the 8 lanes of the mins
// product FMA'd with -da*dmin, then the 8 integer lane sums with da*d, into ONE accumulator; hsum_float_8.
template <class Acc>
float dot_q2_k(int64_t n, const void* w, const void* a) {
    const auto* x = static_cast<const BlockQ2_K*>(w);
    const auto* y = static_cast<const ActQ8K*>(a);
    const __m256i m3 = _mm256_set1_epi8(3);
    const __m128i m4 = _mm_set1_epi8(0xF);
    __m256 acc = _mm256_setzero_ps();
    for (int64_t b = 0; b < n / QK_K; ++b) {
        const __m128i raw = _mm_loadu_si128(reinterpret_cast<const __m128i*>(x[b].scales));
        const Scales16 sc(_mm256_cvtepu8_epi16(_mm_and_si128(raw, m4)));
        const __m256i mins = _mm256_cvtepu8_epi16(_mm_and_si128(_mm_srli_epi16(raw, 4), m4));
        const float d = y[b].d * _cvtsh_ss(x[b].d), dmin = -y[b].d * _cvtsh_ss(x[b].dmin);
        acc = _mm256_fmadd_ps(_mm256_set1_ps(dmin), _mm256_cvtepi32_ps(_mm256_madd_epi16(mins, bsums16(y[b]))), acc);
        __m256i sumi = _mm256_setzero_si256();
        for (int h = 0; h < 2; ++h) {
            const __m256i bits = load256(x[b].qs + 32 * h);
            for (int j = 0; j < 4; ++j) {
                const __m256i q = _mm256_and_si256(_mm256_srli_epi16(bits, 2 * j), m3);
                sumi = Acc::add(sumi, q, load256(y[b].qs + 128 * h + 32 * j), pair_scales(sc, h, j));
            }
        }
        acc = _mm256_fmadd_ps(_mm256_set1_ps(d), _mm256_cvtepi32_ps(sumi), acc);
    }
    return hsum_ps(acc);
}

// Q4_K / Q5_K scales: 12 bytes -> 8 scales then 8 mins as bytes (ggml's get_scale_min_k4, vectorized).
inline __m128i unpack_scales_mins_k4(const uint8_t* q) {
    const uint32_t k1 = 0x3f3f3f3f, k2 = 0x0f0f0f0f, k3 = 0x03030303;
    uint32_t u[3];
    std::memcpy(u, q, 12);
    return _mm_setr_epi32((int)(u[0] & k1), (int)((u[2] & k2) | (((u[0] >> 6) & k3) << 4)), (int)(u[1] & k1),
                          (int)(((u[2] >> 4) & k2) | (((u[1] >> 6) & k3) << 4)));
}

// Q4_K and Q2_K as llama.cpp computes them on an AVX-512 CPU: it repacks these weights
// (ggml-cpu/repack.cpp q4_K_8x8_q8_K with AVX2, q2_K_8x8_q8_K with AVX-512; matrices with a multiple of 8
// rows) and runs ggml_gemv_q4_K_8x8_q8_K / ggml_gemv_q2_K_8x8_q8_K for one token and the matching gemm
// for batches (arch/x86/repack.cpp). Per output and per super-block: the exact integer totals
// isum = sum_s scale_s * dot(q_s, a_s) and imin = sum_s min_s * bsum_s, then
// acc = fma((float)isum, d * da, acc), acc_min = fma((float)imin, dmin * da, acc_min); result acc - acc_min.
template <class Acc>
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
        const int imin = hsum_i32(_mm_madd_epi16(_mm256_extracti128_si256(sm16, 1), bs));
        __m256i sumi = _mm256_setzero_si256();
        for (int j = 0; j < 4; ++j) {
            const __m256i bits = load256(x[b].qs + 32 * j);
            const __m256i lo = _mm256_and_si256(bits, m4), hi = _mm256_and_si256(_mm256_srli_epi16(bits, 4), m4);
            sumi = Acc::add(sumi, lo, load256(y[b].qs + 64 * j), one_scale(scales, 2 * j));
            sumi = Acc::add(sumi, hi, load256(y[b].qs + 64 * j + 32), one_scale(scales, 2 * j + 1));
        }
        const float dy = y[b].d;
        acc = __builtin_fmaf((float)hsum_i32(sumi), _cvtsh_ss(x[b].d) * dy, acc);
        acc_m = __builtin_fmaf((float)imin, _cvtsh_ss(x[b].dmin) * dy, acc_m);
    }
    return acc - acc_m;
}

// The same weights in llama.cpp's repacked gemm (ggml_gemm_q4_K_8x8_q8_K), which it runs for the rows of a
// batch in whole groups of 4 tokens: its float accumulation is per 64 values (two sub-blocks), not per
// super-block: acc = fma((float)isum_64, d * da, acc), acc_min = fma((float)imin_64, dmin * da, acc_min).
template <class Acc>
float dot_q4_k_repacked_gemm(int64_t n, const void* w, const void* a) {
    const auto* x = static_cast<const BlockQ4_K*>(w);
    const auto* y = static_cast<const ActQ8K*>(a);
    const __m256i m4 = _mm256_set1_epi8(0xF);
    float acc = 0.0f, acc_m = 0.0f;
    for (int64_t b = 0; b < n / QK_K; ++b) {
        const __m256i sm16 = _mm256_cvtepu8_epi16(unpack_scales_mins_k4(x[b].scales));  // 8 scales, 8 mins
        const __m256i scales = _mm256_permute2x128_si256(sm16, sm16, 0x00);
        alignas(16) int16_t mins[8];
        _mm_store_si128(reinterpret_cast<__m128i*>(mins), _mm256_extracti128_si256(sm16, 1));
        const float dy = y[b].d, d = _cvtsh_ss(x[b].d) * dy, dmin = _cvtsh_ss(x[b].dmin) * dy;
        for (int j = 0; j < 4; ++j) {
            const __m256i bits = load256(x[b].qs + 32 * j);
            const __m256i lo = _mm256_and_si256(bits, m4), hi = _mm256_and_si256(_mm256_srli_epi16(bits, 4), m4);
            __m256i sumi = Acc::add(_mm256_setzero_si256(), lo, load256(y[b].qs + 64 * j), one_scale(scales, 2 * j));
            sumi = Acc::add(sumi, hi, load256(y[b].qs + 64 * j + 32), one_scale(scales, 2 * j + 1));
            const int16_t* bs = y[b].bsums + 4 * j;  // 16-value sums: two per sub-block
            const int imin = mins[2 * j] * (bs[0] + bs[1]) + mins[2 * j + 1] * (bs[2] + bs[3]);
            acc = __builtin_fmaf((float)hsum_i32(sumi), d, acc);
            acc_m = __builtin_fmaf((float)imin, dmin, acc_m);
        }
    }
    return acc - acc_m;
}

// The 8 lane sums of 8 int32 vectors: lane o of the result is the sum of v[o]'s lanes (exact integers).
inline __m256i hsum8_i32(const __m256i v[8]) {
    const __m256i a = _mm256_hadd_epi32(_mm256_hadd_epi32(v[0], v[1]), _mm256_hadd_epi32(v[2], v[3]));
    const __m256i b = _mm256_hadd_epi32(_mm256_hadd_epi32(v[4], v[5]), _mm256_hadd_epi32(v[6], v[7]));
    return _mm256_add_epi32(_mm256_permute2x128_si256(a, b, 0x20), _mm256_permute2x128_si256(a, b, 0x31));
}

// dot_q4_k_repacked_gemm over 4 rows x 2 tokens per call (VecDotEntry::tile_gemm4): each row's nibbles and
// scales unpacked once for both tokens, and the 8 outputs' integer totals reduced together (hsum8_i32) and
// accumulated as one 8-lane vector, lane o = token o / 4, row o % 4: per lane the same exact integers, the same
// float products d * da and dmin * da and the same fma chain as dot_q4_k_repacked_gemm, so bit-identical.
template <class Acc>
void tile_q4_k_repacked_gemm(int64_t n, const uint8_t* w, size_t ws, const uint8_t* act, size_t as, float* y,
                             int64_t ldy) {
    constexpr int R = 4, T = 2;
    const __m256i m4 = _mm256_set1_epi8(0xF);
    __m256 acc = _mm256_setzero_ps(), acc_m = _mm256_setzero_ps();
    for (int64_t b = 0; b < n / QK_K; ++b) {
        const BlockQ4_K* x[R];
        const ActQ8K* a[T];
        for (int r = 0; r < R; ++r) x[r] = reinterpret_cast<const BlockQ4_K*>(w + (size_t)r * ws) + b;
        for (int t = 0; t < T; ++t) a[t] = reinterpret_cast<const ActQ8K*>(act + (size_t)t * as) + b;
        __m256i scales[R];
        alignas(32) int32_t mins[R][8];
        alignas(32) float dw[8], dmw[8], da[8];
        for (int r = 0; r < R; ++r) {
            const __m256i sm16 = _mm256_cvtepu8_epi16(unpack_scales_mins_k4(x[r]->scales));
            scales[r] = _mm256_permute2x128_si256(sm16, sm16, 0x00);
            _mm256_store_si256(reinterpret_cast<__m256i*>(mins[r]), _mm256_cvtepi16_epi32(_mm256_extracti128_si256(sm16, 1)));
        }
        for (int o = 0; o < 8; ++o) {
            dw[o] = _cvtsh_ss(x[o % R]->d), dmw[o] = _cvtsh_ss(x[o % R]->dmin), da[o] = a[o / R]->d;
        }
        const __m256 dy = _mm256_load_ps(da);
        const __m256 d = _mm256_mul_ps(_mm256_load_ps(dw), dy), dmin = _mm256_mul_ps(_mm256_load_ps(dmw), dy);
        for (int j = 0; j < 4; ++j) {
            __m256i sumi[8];
            for (int r = 0; r < R; ++r) {
                const __m256i bits = load256(x[r]->qs + 32 * j);
                const __m256i lo = _mm256_and_si256(bits, m4), hi = _mm256_and_si256(_mm256_srli_epi16(bits, 4), m4);
                const __m256i s_lo = one_scale(scales[r], 2 * j), s_hi = one_scale(scales[r], 2 * j + 1);
                for (int t = 0; t < T; ++t) {
                    const __m256i v = Acc::add(_mm256_setzero_si256(), lo, load256(a[t]->qs + 64 * j), s_lo);
                    sumi[t * R + r] = Acc::add(v, hi, load256(a[t]->qs + 64 * j + 32), s_hi);
                }
            }
            alignas(32) int32_t imin[8];
            for (int o = 0; o < 8; ++o) {
                const int16_t* bs = a[o / R]->bsums + 4 * j;  // 16-value sums: two per sub-block
                imin[o] = mins[o % R][2 * j] * (bs[0] + bs[1]) + mins[o % R][2 * j + 1] * (bs[2] + bs[3]);
            }
            acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(hsum8_i32(sumi)), d, acc);
            acc_m = _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_load_si256(reinterpret_cast<const __m256i*>(imin))), dmin, acc_m);
        }
    }
    alignas(32) float out[8];
    _mm256_store_ps(out, _mm256_sub_ps(acc, acc_m));
    for (int o = 0; o < 8; ++o) y[(o / R) * ldy + o % R] = out[o];
}

template <class Acc>
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
        const int imin = hsum_i32(_mm256_madd_epi16(mins, bsums16(y[b])));
        __m256i sumi = _mm256_setzero_si256();
        for (int h = 0; h < 2; ++h) {
            const __m256i bits = load256(x[b].qs + 32 * h);
            for (int j = 0; j < 4; ++j) {
                const __m256i q = _mm256_and_si256(_mm256_srli_epi16(bits, 2 * j), m3);
                sumi = Acc::add(sumi, q, load256(y[b].qs + 128 * h + 32 * j), pair_scales(sc, h, j));
            }
        }
        const float dy = y[b].d;
        acc = __builtin_fmaf((float)hsum_i32(sumi), _cvtsh_ss(x[b].d) * dy, acc);
        acc_m = __builtin_fmaf((float)imin, _cvtsh_ss(x[b].dmin) * dy, acc_m);
    }
    return acc - acc_m;
}

// Q5_K as ggml_vec_dot_q5_K_q8_K (arch/x86/quants.c, AVX2 branch): the 8-lane integer sums FMA'd with
// d = da * dw into one accumulator, the mins as one exact integer per super-block added to a scalar
// `summs = fma(-da * dmin, imin, summs)`; result hsum_float_8(acc) + summs.
template <class Acc>
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
        const int imin = hsum_i32(_mm_madd_epi16(_mm256_extracti128_si256(sm16, 1), bs));
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
            sumi = Acc::add(sumi, lo, load256(y[b].qs + 64 * j), one_scale(scales, 2 * j));
            sumi = Acc::add(sumi, hi, load256(y[b].qs + 64 * j + 32), one_scale(scales, 2 * j + 1));
        }
        acc = _mm256_fmadd_ps(_mm256_set1_ps(d), _mm256_cvtepi32_ps(sumi), acc);
    }
    return hsum_ps(acc) + summs;
}

// Q3_K as ggml_vec_dot_q3_K_q8_K: the -4 offset stays inside each lane (signed weights q - 4, via
// |w| x sign(a, w)), so the 8 integer lanes are ggml's; d = da * dw; one accumulator; hsum_float_8.
template <class Acc>
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
                sumi = Acc::add(sumi, _mm256_abs_epi8(v), _mm256_sign_epi8(ya, v), pair_scales(sc, h, j));
            }
        }
        acc = _mm256_fmadd_ps(_mm256_set1_ps(y[b].d * _cvtsh_ss(x[b].d)), _mm256_cvtepi32_ps(sumi), acc);
    }
    return hsum_ps(acc);
}

// Q6_K: per 128-element half, ql[0..63] and qh[0..31] give four 32-element vectors (0..63 = value + 32).
template <class Acc>
float dot_q6_k(int64_t n, const void* w, const void* a) {
    const auto* x = static_cast<const BlockQ6_K*>(w);
    const auto* y = static_cast<const ActQ8K*>(a);
    __m256 acc = _mm256_setzero_ps();
    for (int64_t b = 0; b < n / QK_K; ++b) {
        const __m256i s16 = _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(x[b].scales)));
        const Scales16 sc(s16);
        // The -32 offset: sum_k s[k] * 32 * bsums[k].
        __m256i sumi = _mm256_sub_epi32(_mm256_setzero_si256(), _mm256_slli_epi32(_mm256_madd_epi16(s16, bsums16(y[b])), 5));
        for (int h = 0; h < 2; ++h) {
            __m256i q[4];
            q6_k_half_values(x[b].ql + 64 * h, x[b].qh + 32 * h, q);
            for (int k = 0; k < 4; ++k)
                sumi = Acc::add(sumi, q[k], load256(y[b].qs + 128 * h + 32 * k), pair_scales(sc, h, k));
        }
        acc = _mm256_fmadd_ps(_mm256_set1_ps(_cvtsh_ss(x[b].d) * y[b].d), _mm256_cvtepi32_ps(sumi), acc);
    }
    return hsum_ps(acc);
}

// llama.cpp's tiled K-quant matmul (ggml-cpu/tiled), which it runs for batches of 8 or more tokens with weights it
// did not repack: per super-block the exact integer totals, then r = (float)isum * dw (Q5_K: r = fma(-dmin,
// (float)imin, r)) and acc = fma(r, da, acc) in block order (its AVX-512 epilogue writes a multiply and an add,
// which GCC contracts into one FMA as its AVX2 one spells out).
template <class Acc>
float dot_q6_k_tiled(int64_t n, const void* w, const void* a) {
    const auto* x = static_cast<const BlockQ6_K*>(w);
    const auto* y = static_cast<const ActQ8K*>(a);
    float acc = 0.0f;
    for (int64_t b = 0; b < n / QK_K; ++b) {
        const __m256i s16 = _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(x[b].scales)));
        const Scales16 sc(s16);
        __m256i sumi = _mm256_sub_epi32(_mm256_setzero_si256(), _mm256_slli_epi32(_mm256_madd_epi16(s16, bsums16(y[b])), 5));
        for (int h = 0; h < 2; ++h) {
            __m256i q[4];
            q6_k_half_values(x[b].ql + 64 * h, x[b].qh + 32 * h, q);
            for (int k = 0; k < 4; ++k)
                sumi = Acc::add(sumi, q[k], load256(y[b].qs + 128 * h + 32 * k), pair_scales(sc, h, k));
        }
        acc = __builtin_fmaf((float)hsum_i32(sumi) * _cvtsh_ss(x[b].d), y[b].d, acc);
    }
    return acc;
}

template <class Acc>
float dot_q5_k_tiled(int64_t n, const void* w, const void* a) {
    const auto* x = static_cast<const BlockQ5_K*>(w);
    const auto* y = static_cast<const ActQ8K*>(a);
    const __m256i m4 = _mm256_set1_epi8(0xF), m1 = _mm256_set1_epi8(1);
    float acc = 0.0f;
    for (int64_t b = 0; b < n / QK_K; ++b) {
        const __m256i sm16 = _mm256_cvtepu8_epi16(unpack_scales_mins_k4(x[b].scales));  // 8 scales, 8 mins
        const __m256i scales = _mm256_permute2x128_si256(sm16, sm16, 0x00);
        const __m128i bs = _mm_hadd_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(y[b].bsums)),
                                          _mm_loadu_si128(reinterpret_cast<const __m128i*>(y[b].bsums + 8)));
        const int imin = hsum_i32(_mm_madd_epi16(_mm256_extracti128_si256(sm16, 1), bs));
        const __m256i qh = load256(x[b].qh);
        __m256i sumi = _mm256_setzero_si256();
        for (int j = 0; j < 4; ++j) {
            const __m256i bits = load256(x[b].qs + 32 * j);
            __m256i lo = _mm256_and_si256(bits, m4), hi = _mm256_and_si256(_mm256_srli_epi16(bits, 4), m4);
            lo = _mm256_or_si256(lo, _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 2 * j), m1), 4));
            hi = _mm256_or_si256(hi, _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 2 * j + 1), m1), 4));
            sumi = Acc::add(sumi, lo, load256(y[b].qs + 64 * j), one_scale(scales, 2 * j));
            sumi = Acc::add(sumi, hi, load256(y[b].qs + 64 * j + 32), one_scale(scales, 2 * j + 1));
        }
        const float r = __builtin_fmaf(-_cvtsh_ss(x[b].dmin), (float)imin, (float)hsum_i32(sumi) * _cvtsh_ss(x[b].d));
        acc = __builtin_fmaf(r, y[b].d, acc);
    }
    return acc;
}

// IQ4_XS: codebook values are signed (-127..113), so |w| * sign(w)*a as for Q8_0.
template <class Acc>
float dot_iq4_xs(int64_t n, const void* w, const void* a) {
    const auto* x = static_cast<const BlockIQ4_XS*>(w);
    const auto* y = static_cast<const ActQ8K*>(a);
    const __m256i table = iq4nl_table(), m4 = _mm256_set1_epi8(0xF);
    __m256 acc = _mm256_setzero_ps();
    for (int64_t b = 0; b < n / QK_K; ++b) {
        __m256i sumi = _mm256_setzero_si256();
        for (int ib = 0; ib < 8; ++ib) {
            const __m128i t = _mm_loadu_si128(reinterpret_cast<const __m128i*>(x[b].qs + 16 * ib));
            const __m256i idx = _mm256_and_si256(_mm256_set_m128i(_mm_srli_epi16(t, 4), t), m4);
            const __m256i v = _mm256_shuffle_epi8(table, idx);
            const __m256i ya = load256(y[b].qs + 32 * ib);
            sumi = Acc::add(sumi, _mm256_sign_epi8(v, v), _mm256_sign_epi8(ya, v),
                            _mm256_set1_epi16((short)iq4xs_scale(x[b], ib)));
        }
        acc = _mm256_fmadd_ps(_mm256_set1_ps(_cvtsh_ss(x[b].d) * y[b].d), _mm256_cvtepi32_ps(sumi), acc);
    }
    return hsum_ps(acc);
}

}  // namespace
}  // namespace llm::cpu
