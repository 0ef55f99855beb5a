// AVX2 helpers shared by the files compiled with AVX2 flags (gemv_avx2.cpp, gemm_avx2.hpp): one ymm lane per weight
// row, 8 rows a fixed number of bytes apart. Internal linkage on purpose (as gemm_pack.hpp): each including file
// compiles its own copy with its own flags.
#pragma once
#include <immintrin.h>

namespace llm::cpu {
namespace {

// Q4_K / Q5_K sub-block j's 6-bit scale and min of 8 rows from the dwords u0, u1, u2 = scale bytes 0-3, 4-7, 8-11 of
// each row (ggml's get_scale_min_k4, lane-wise).
inline void scale_min_k4(__m256i u0, __m256i u1, __m256i u2, int j, __m256i& sj, __m256i& mj) {
    const __m256i k63 = _mm256_set1_epi32(63), k15 = _mm256_set1_epi32(15), k3 = _mm256_set1_epi32(3);
    if (j < 4) {
        sj = _mm256_and_si256(_mm256_srli_epi32(u0, 8 * j), k63);
        mj = _mm256_and_si256(_mm256_srli_epi32(u1, 8 * j), k63);
        return;
    }
    const int k = j - 4;
    sj = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi32(u2, 8 * k), k15),
                         _mm256_slli_epi32(_mm256_and_si256(_mm256_srli_epi32(u0, 8 * k + 6), k3), 4));
    mj = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi32(u2, 8 * k + 4), k15),
                         _mm256_slli_epi32(_mm256_and_si256(_mm256_srli_epi32(u1, 8 * k + 6), k3), 4));
}

}  // namespace
}  // namespace llm::cpu
