// Q4_K / Q5_K decode from the 8-row interleaved panels (kquant_x8.hpp), AVX2 (+FMA, F16C). Per super-block and group:
// * the 8 rows' scales and mins unpacked from their three words at once (ggml's get_scale_min_k4, 8 lanes wide);
// * weights: each 32-byte load holds 8-byte pieces of 4 rows (a half); the nibbles times the token's matching 8
//   activation bytes (broadcast) by pmaddubsw (Q5_K: the fifth bit of each weight added from the matching qh piece),
//   the 4 pieces of a sub-block summed in int16 (|sum| <= 4 * 2 * 31 * 127 = 31496), then pmaddwd with the rows'
//   sub-block scales (4 int16 lanes per row): two int32 lanes per row,
//   summed over the sub-blocks; the halves' lanes paired up by one hadd into the 8 rows' isum (row order);
// * imin = sum_j min_j * bsum_j (bsum_j: the token's 32-element sums) by pmaddwd and hadds;
// * then, as the vec_dot: acc = fma((float)isum, d * d_a, acc), acc_m = fma((float)imin, dmin * d_a, acc_m),
//   y = acc - acc_m, the 8 rows' chains in the lanes of one ymm.
// isum and imin are exact integers, so the grouping does not change them: outputs are bit-identical to gemv_q4_k and
// gemv_q45_k_gemm_order<true> (gemv_avx2.cpp).
#include <immintrin.h>

#include <cstring>
#include <type_traits>

#include "kernels/cpu/kquant_x8.hpp"
#include "kernels/cpu/vec_dot.hpp"
#include "kernels/cpu/vec_dot_avx2.hpp"  // load256

namespace llm::cpu {
namespace {

inline __m128i load128(const void* p) { return _mm_loadu_si128(static_cast<const __m128i*>(p)); }
inline __m256i bcast64(const int8_t* p) {
    long long v;
    std::memcpy(&v, p, 8);
    return _mm256_set1_epi64x(v);
}

// pshufb indices: for half h and scale byte s of a row's word, the int16 scale of the half's first row repeated 4
// times, then its second row's (per 128-bit lane: the words of rows 0-3 | 4-7, so lane 0 serves rows {0,1} or {2,3},
// lane 1 rows {4,5} or {6,7}, as the pieces lie).
struct ScaleIdx {
    alignas(32) int8_t v[2][4][32];
    constexpr ScaleIdx() : v{} {
        for (int h = 0; h < 2; ++h)
            for (int s = 0; s < 4; ++s)
                for (int j = 0; j < 32; ++j) {
                    const int word = 2 * h + (j % 16) / 8;
                    v[h][s][j] = (j & 1) ? (int8_t)-128 : (int8_t)(4 * word + s);
                }
    }
};
constexpr ScaleIdx kScaleIdx{};

template <bool Five, int T>
void gemv_x8(int64_t n, const uint8_t* w, const uint8_t* act, size_t as, float* y, int64_t ldy) {
    constexpr size_t kGroupBlock = kKquantX8Rows * sizeof(std::conditional_t<Five, BlockQ5_K, BlockQ4_K>);
    const int64_t nb = n / QK_K;
    const __m256i bit4 = _mm256_set1_epi8(0x10);
    const __m256i m4 = _mm256_set1_epi8(0x0F);
    const __m256i k1 = _mm256_set1_epi32(0x3f3f3f3f), k2 = _mm256_set1_epi32(0x0f0f0f0f),
                  k3 = _mm256_set1_epi32(0x03030303);
    const __m256i row_order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
    __m256 acc[T], acc_m[T];
    for (int t = 0; t < T; ++t) acc[t] = acc_m[t] = _mm256_setzero_ps();
    for (int64_t b = 0; b < nb; ++b) {
        const uint8_t* blk = w + (size_t)b * kGroupBlock;
        const ActQ8K* a[T];
        for (int t = 0; t < T; ++t) a[t] = reinterpret_cast<const ActQ8K*>(act + (size_t)t * as) + b;
        // Scales (bytes 0-3 | 4-7 of each row's dword) and mins, 8 rows at once.
        const __m256i u0 = load256(blk + 32), u1 = load256(blk + 64), u2 = load256(blk + 96);
        const __m256i sc[2] = {_mm256_and_si256(u0, k1),
                               _mm256_or_si256(_mm256_and_si256(u2, k2),
                                               _mm256_slli_epi32(_mm256_and_si256(_mm256_srli_epi32(u0, 6), k3), 4))};
        const __m256i mn03 = _mm256_and_si256(u1, k1);
        const __m256i mn47 = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi32(u2, 4), k2),
                                             _mm256_slli_epi32(_mm256_and_si256(_mm256_srli_epi32(u1, 6), k3), 4));
        // Each row's 8 mins as int16: rows {0,1}, {4,5} from the low dword pairs, {2,3}, {6,7} from the high.
        const __m256i ml = _mm256_unpacklo_epi32(mn03, mn47), mh = _mm256_unpackhi_epi32(mn03, mn47);
        const __m256i mins[4] = {_mm256_cvtepu8_epi16(_mm256_castsi256_si128(ml)),
                                 _mm256_cvtepu8_epi16(_mm256_castsi256_si128(mh)),
                                 _mm256_cvtepu8_epi16(_mm256_extracti128_si256(ml, 1)),
                                 _mm256_cvtepu8_epi16(_mm256_extracti128_si256(mh, 1))};  // rows 01, 23, 45, 67
        __m256i is_half[2][T];
        for (int h = 0; h < 2; ++h) {
            __m256i is[T];
            for (int t = 0; t < T; ++t) is[t] = _mm256_setzero_si256();
            for (int q = 0; q < 4; ++q) {
                __m256i s_lo[T], s_hi[T];
                // Q5_K: the fifth bits of sub-blocks 2q and 2q + 1 are bits 2q and 2q + 1 of the qh bytes.
                const __m256i b_lo = _mm256_set1_epi8((char)(1 << (2 * q)));
                const __m256i b_hi = _mm256_set1_epi8((char)(2 << (2 * q)));
                for (int p = 0; p < 4; ++p) {
                    const __m256i bits = load256(blk + kquant_x8_qs_at<Five>(h, q, p));
                    __m256i lo = _mm256_and_si256(bits, m4), hi = _mm256_and_si256(_mm256_srli_epi16(bits, 4), m4);
                    if constexpr (Five) {
                        const __m256i hb = load256(blk + kquant_x8_qh_at(h, p));
                        const __m256i f_lo = _mm256_cmpeq_epi8(_mm256_and_si256(hb, b_lo), b_lo);  // 0xFF where set
                        const __m256i f_hi = _mm256_cmpeq_epi8(_mm256_and_si256(hb, b_hi), b_hi);
                        lo = _mm256_or_si256(lo, _mm256_and_si256(f_lo, bit4));
                        hi = _mm256_or_si256(hi, _mm256_and_si256(f_hi, bit4));
                    }
                    for (int t = 0; t < T; ++t) {
                        const __m256i xl = _mm256_maddubs_epi16(lo, bcast64(a[t]->qs + 64 * q + 8 * p));
                        const __m256i xh = _mm256_maddubs_epi16(hi, bcast64(a[t]->qs + 64 * q + 32 + 8 * p));
                        s_lo[t] = p ? _mm256_add_epi16(s_lo[t], xl) : xl;
                        s_hi[t] = p ? _mm256_add_epi16(s_hi[t], xh) : xh;
                    }
                }
                // Sub-blocks 2q and 2q + 1: scale bytes (2q) % 4 and (2q + 1) % 4 of word q / 2.
                const __m256i w16 = sc[q / 2];
                const __m256i s0 = _mm256_shuffle_epi8(w16, load256(kScaleIdx.v[h][(2 * q) % 4]));
                const __m256i s1 = _mm256_shuffle_epi8(w16, load256(kScaleIdx.v[h][(2 * q + 1) % 4]));
                for (int t = 0; t < T; ++t)
                    is[t] = _mm256_add_epi32(is[t], _mm256_add_epi32(_mm256_madd_epi16(s_lo[t], s0),
                                                                     _mm256_madd_epi16(s_hi[t], s1)));
            }
            for (int t = 0; t < T; ++t) is_half[h][t] = is[t];
        }
        const __m256 d = _mm256_cvtph_ps(load128(blk)), dmin = _mm256_cvtph_ps(load128(blk + 16));
        for (int t = 0; t < T; ++t) {
            // Half 0's lanes are rows [0 0 1 1 | 4 4 5 5], half 1's [2 2 3 3 | 6 6 7 7]: one hadd gives rows 0-3 | 4-7.
            const __m256i isum = _mm256_hadd_epi32(is_half[0][t], is_half[1][t]);
            const __m256i bs =
                _mm256_broadcastsi128_si256(_mm_hadd_epi16(load128(a[t]->bsums), load128(a[t]->bsums + 8)));
            const __m256i m01 = _mm256_madd_epi16(mins[0], bs), m23 = _mm256_madd_epi16(mins[1], bs);
            const __m256i m45 = _mm256_madd_epi16(mins[2], bs), m67 = _mm256_madd_epi16(mins[3], bs);
            // [r0 x4 | r1 x4] etc. -> [r0 r2 r4 r6 | r1 r3 r5 r7] -> row order.
            const __m256i imin = _mm256_permutevar8x32_epi32(
                _mm256_hadd_epi32(_mm256_hadd_epi32(m01, m23), _mm256_hadd_epi32(m45, m67)), row_order);
            const __m256 dy = _mm256_set1_ps(a[t]->d);
            acc[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(isum), _mm256_mul_ps(d, dy), acc[t]);
            acc_m[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(imin), _mm256_mul_ps(dmin, dy), acc_m[t]);
        }
    }
    for (int t = 0; t < T; ++t) _mm256_storeu_ps(y + t * ldy, _mm256_sub_ps(acc[t], acc_m[t]));
}

template <bool Five>
void passes(int64_t n_in, const uint8_t* group, const uint8_t* act, size_t as, int n_tok, float* y, int64_t ldy) {
    for (int t0 = 0; t0 < n_tok;) {
        const int m = n_tok - t0 >= 4 ? 4 : n_tok - t0;
        const uint8_t* a = act + (size_t)t0 * as;
        float* yt = y + t0 * ldy;
        switch (m) {
            case 1: gemv_x8<Five, 1>(n_in, group, a, as, yt, ldy); break;
            case 2: gemv_x8<Five, 2>(n_in, group, a, as, yt, ldy); break;
            case 3: gemv_x8<Five, 3>(n_in, group, a, as, yt, ldy); break;
            default: gemv_x8<Five, 4>(n_in, group, a, as, yt, ldy); break;
        }
        t0 += m;
    }
}

}  // namespace

void gemv_kquant_x8_avx2(DType type, int64_t n_in, const uint8_t* group, const uint8_t* act, size_t as, int n_tok,
                         float* y, int64_t ldy) {
    if (type == DType::Q5_K) passes<true>(n_in, group, act, as, n_tok, y, ldy);
    else passes<false>(n_in, group, act, as, n_tok, y, ldy);
}

}  // namespace llm::cpu
