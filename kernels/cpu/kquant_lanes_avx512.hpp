// AVX-512 helpers shared by the files compiled with AVX-512 flags (gemv_avx512.cpp, gemm_avx512.cpp): one
// zmm lane per weight row, 16 rows a fixed number of bytes apart, read with gathers. Internal linkage on
// purpose (as gemm_pack.hpp): each including file compiles its own copy with its own flags.
#pragma once
#include <immintrin.h>

#include <cstddef>
#include <cstdint>

namespace llm::cpu {
namespace {

// Byte offsets of the 16 rows (for gathers; 15 * stride must be < 2^31).
inline __m512i row_offsets(size_t stride) {
    return _mm512_mullo_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
                              _mm512_set1_epi32((int)stride));
}
inline __m512i gather32(const uint8_t* base, __m512i offsets) { return _mm512_i32gather_epi32(offsets, base, 1); }
// The same for the rows in m, zero for the others.
inline __m512i gather32(const uint8_t* base, __m512i offsets, __mmask16 m) {
    return _mm512_mask_i32gather_epi32(_mm512_setzero_si512(), m, offsets, base, 1);
}
// fp16 in the low / high 16 bits of each dword, as float.
inline __m512 half_lo(__m512i g) { return _mm512_cvtph_ps(_mm512_cvtepi32_epi16(g)); }
inline __m512 half_hi(__m512i g) { return _mm512_cvtph_ps(_mm512_cvtepi32_epi16(_mm512_srli_epi32(g, 16))); }

// Q4_K / Q5_K sub-block j's 6-bit scale and min of 16 rows from the dwords u0, u1, u2 = scale bytes 0-3, 4-7,
// 8-11 of each row (ggml's get_scale_min_k4, lane-wise).
inline void scale_min_k4(__m512i u0, __m512i u1, __m512i u2, int j, __m512i& sj, __m512i& mj) {
    const __m512i k63 = _mm512_set1_epi32(63), k15 = _mm512_set1_epi32(15), k3 = _mm512_set1_epi32(3);
    if (j < 4) {
        sj = _mm512_and_si512(_mm512_srli_epi32(u0, 8 * j), k63);
        mj = _mm512_and_si512(_mm512_srli_epi32(u1, 8 * j), k63);
        return;
    }
    const int k = j - 4;
    sj = _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi32(u2, 8 * k), k15),
                         _mm512_slli_epi32(_mm512_and_si512(_mm512_srli_epi32(u0, 8 * k + 6), k3), 4));
    mj = _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi32(u2, 8 * k + 4), k15),
                         _mm512_slli_epi32(_mm512_and_si512(_mm512_srli_epi32(u1, 8 * k + 6), k3), 4));
}

// Q6_K sub-block j's signed 8-bit scale of 16 rows from us[q] = scale bytes 4q..4q+3 of each row.
inline __m512i scale_q6_k(const __m512i us[4], int j) {
    return _mm512_srai_epi32(_mm512_slli_epi32(us[j / 4], 24 - 8 * (j % 4)), 24);
}

}  // namespace
}  // namespace llm::cpu
