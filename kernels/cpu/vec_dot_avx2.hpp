// AVX2 helpers shared by the *_avx2.cpp and *_avx512.cpp vec_dot files. Include only from files
// compiled with AVX2 flags; everything is static so no copy leaks into code run on other CPUs.
#pragma once
#include <immintrin.h>

#include <cstring>

#include "kernels/cpu/vec_dot.hpp"

namespace llm::cpu {

static inline __m256i load256(const void* p) { return _mm256_loadu_si256(static_cast<const __m256i*>(p)); }

static inline float hsum_ps(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

static inline float hmax_ps(__m256 v) {
    __m128 m = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    m = _mm_max_ps(m, _mm_movehl_ps(m, m));
    m = _mm_max_ss(m, _mm_movehdup_ps(m));
    return _mm_cvtss_f32(m);
}

static inline int hsum_i32(__m128i s) {
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, _MM_SHUFFLE(1, 0, 3, 2)));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, _MM_SHUFFLE(2, 3, 0, 1)));
    return _mm_cvtsi128_si32(s);
}
static inline int hsum_i32(__m256i v) {
    return hsum_i32(_mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1)));
}

// Sum of u8 x s8 products, 4 adjacent bytes per int32 lane. Pair sums must fit int16:
// callers keep u * |a| * 2 <= 32767 (u <= 63 with |a| <= 127, or |w| <= 128 with the sign trick).
static inline __m256i sum_u8s8(__m256i u, __m256i s) {
    return _mm256_madd_epi16(_mm256_maddubs_epi16(u, s), _mm256_set1_epi16(1));
}

// Same as sum_u8s8 but with an int16 scale per pair of bytes (madd with the scales instead of ones).
static inline __m256i sum_u8s8_scaled(__m256i u, __m256i s, __m256i scales16) {
    return _mm256_madd_epi16(_mm256_maddubs_epi16(u, s), scales16);
}

// 0x10 in byte j where bit j of the 32-bit little-endian qh is set (the 5th bit of element j).
static inline __m256i high_bits32_avx2(const uint8_t* qh4) {
    uint32_t qh;
    std::memcpy(&qh, qh4, 4);
    const __m256i shuf = _mm256_set_epi64x(0x0303030303030303, 0x0202020202020202, 0x0101010101010101, 0);
    __m256i bytes = _mm256_shuffle_epi8(_mm256_set1_epi32((int)qh), shuf);
    bytes = _mm256_or_si256(bytes, _mm256_set1_epi64x(0x7fbfdfeff7fbfdfe));
    return _mm256_and_si256(_mm256_cmpeq_epi8(bytes, _mm256_set1_epi64x(-1)), _mm256_set1_epi8(0x10));
}

// Q6_K's values (0..63 = value + 32) of one 128-element half from its 64 ql bytes and 32 qh bytes: four 32-element
// vectors, elements 0-31, 32-63, 64-95, 96-127 of the half.
static inline void q6_k_half_values(const uint8_t* ql, const uint8_t* qh, __m256i q[4]) {
    const __m256i m4 = _mm256_set1_epi8(0x0F), m3 = _mm256_set1_epi8(3);
    const __m256i l0 = load256(ql), l1 = load256(ql + 32), hb = load256(qh);
    q[0] = _mm256_or_si256(_mm256_and_si256(l0, m4), _mm256_slli_epi16(_mm256_and_si256(hb, m3), 4));
    q[1] = _mm256_or_si256(_mm256_and_si256(l1, m4), _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(hb, 2), m3), 4));
    q[2] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l0, 4), m4),
                           _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(hb, 4), m3), 4));
    q[3] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l1, 4), m4),
                           _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(hb, 6), m3), 4));
}

// The IQ4_NL codebook in both 128-bit lanes, for pshufb lookups by nibble.
static inline __m256i iq4nl_table() {
    const __m128i t = _mm_loadu_si128(reinterpret_cast<const __m128i*>(kvalues_iq4nl));
    return _mm256_set_m128i(t, t);
}

}  // namespace llm::cpu
