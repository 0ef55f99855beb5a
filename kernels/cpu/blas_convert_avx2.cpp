// F16 / BF16 weight panels to float for the OpenBLAS path (blas_gemm.hpp): F16C's vcvtph2ps, BF16 by a
// 16-bit shift. Both conversions are exact. No inline helpers from headers here (an out-of-line copy compiled
// with AVX2 could be the one the linker keeps for every caller).
#include <immintrin.h>

#include <cstdint>
#include <cstring>

#include "kernels/cpu/blas_gemm.hpp"

namespace llm::cpu {

void blas_to_f32_avx2(DType type, const void* src, float* dst, int64_t n) {
    const uint16_t* s = static_cast<const uint16_t*>(src);
    int64_t i = 0;
    if (type == DType::F16) {
        for (; i + 16 <= n; i += 16) {
            const __m128i a = _mm_loadu_si128(reinterpret_cast<const __m128i*>(s + i));
            const __m128i b = _mm_loadu_si128(reinterpret_cast<const __m128i*>(s + i + 8));
            _mm256_storeu_ps(dst + i, _mm256_cvtph_ps(a));
            _mm256_storeu_ps(dst + i + 8, _mm256_cvtph_ps(b));
        }
        for (; i < n; ++i) dst[i] = _cvtsh_ss(s[i]);
    } else {  // BF16
        for (; i + 16 <= n; i += 16) {
            const __m256i h = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(s + i));
            const __m256i lo = _mm256_slli_epi32(_mm256_cvtepu16_epi32(_mm256_castsi256_si128(h)), 16);
            const __m256i hi = _mm256_slli_epi32(_mm256_cvtepu16_epi32(_mm256_extracti128_si256(h, 1)), 16);
            _mm256_storeu_ps(dst + i, _mm256_castsi256_ps(lo));
            _mm256_storeu_ps(dst + i + 8, _mm256_castsi256_ps(hi));
        }
        for (; i < n; ++i) {
            const uint32_t u = (uint32_t)s[i] << 16;
            std::memcpy(dst + i, &u, 4);
        }
    }
}

}  // namespace llm::cpu
