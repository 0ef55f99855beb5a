// AVX-512 VNNI multi-row decode kernels (gemv.hpp): 16 consecutive weight rows x one prepared activation
// row per pass, each output bit-identical to the per-row vec_dot of the same type on AVX-512
// (vec_dot_avx512.cpp, vec_dot_kquants_avx512.cpp). How each type keeps that contract:
// * Types whose vec_dot sums an EXACT integer per block (Q4_0) or super-block (Q4_K: isum and imin) and
//   then runs a scalar FMA chain per row: the integers are computed for the 16 rows in any convenient way
//   (integer sums are exact, so any order gives the same value: here one vpdpbusd per 128-bit lane and a
//   transpose-and-add of 16 rows' lane sums), and the 16 scalar chains become the 16 lanes of one zmm
//   running the same operations (int->float conversion, fp16 scale x activation scale, FMA) in the same
//   order.
// * Types whose vec_dot keeps 8 float lanes per row (Q8_0, Q4_1, Q6_K: ggml's one 8-lane accumulator and
//   hsum_float_8): two rows per zmm, every int32 lane summing exactly the same 4 products as the 256-bit
//   kernel's lane, the same per-lane FMA, and the same final horizontal sum per row.
// The weight scales of the 16 rows come from one gather per block (row offsets are < 2^31, see gemv.hpp),
// or 16 scalar loads (Q4_0).

// GCC 12 flags the self-initialized variable inside _mm512_undefined_*() (a false positive).
#pragma GCC diagnostic ignored "-Wuninitialized"
#ifndef __clang__  // clang has no -Wmaybe-uninitialized (and would warn about the unknown group)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <immintrin.h>

#include <algorithm>
#include <cstring>
#include <type_traits>

#include "kernels/cpu/gemv.hpp"
#include "kernels/cpu/kquant_lanes_avx512.hpp"
#include "kernels/cpu/vec_dot.hpp"

namespace llm::cpu {
namespace {

constexpr int kRows = 16;

inline __m128i load128(const void* p) { return _mm_loadu_si128(static_cast<const __m128i*>(p)); }
inline __m256i load256(const void* p) { return _mm256_loadu_si256(static_cast<const __m256i*>(p)); }

// Row a's 32 bytes in the low half, row b's in the high half.
inline __m512i pair256(const uint8_t* a, const uint8_t* b) {
    return _mm512_inserti64x4(_mm512_castsi256_si512(load256(a)), load256(b), 1);
}

// Lane i of the result = f[p] where i is in the p-th group of 8 lanes ... see callers: a permutation
// vector broadcasting lanes (2p, 2p+1) to the low / high 8 lanes.
inline __m512i pair_bcast_idx(int p) {
    return _mm512_setr_epi32(2 * p, 2 * p, 2 * p, 2 * p, 2 * p, 2 * p, 2 * p, 2 * p, 2 * p + 1, 2 * p + 1, 2 * p + 1,
                             2 * p + 1, 2 * p + 1, 2 * p + 1, 2 * p + 1, 2 * p + 1);
}

// v[p]: row 2p's int32 lanes in dwords 0-7, row 2p+1's in dwords 8-15. Returns the 16 rows' totals
// (dword r = row r). Exact integer sums, so the order is free.
// y[h]: 128-bit lane i, dword k = the total of 128-bit lane i of v[4h + k] (two transpose-and-add stages).
inline void reduce_lanes4(const __m512i v[8], __m512i y[2]) {
    __m512i x[4];
    for (int q = 0; q < 4; ++q)
        x[q] = _mm512_add_epi32(_mm512_unpacklo_epi32(v[2 * q], v[2 * q + 1]), _mm512_unpackhi_epi32(v[2 * q], v[2 * q + 1]));
    for (int h = 0; h < 2; ++h)
        y[h] = _mm512_add_epi32(_mm512_unpacklo_epi64(x[2 * h], x[2 * h + 1]), _mm512_unpackhi_epi64(x[2 * h], x[2 * h + 1]));
}

inline __m512i reduce16_pairs(const __m512i v[8]) {
    __m512i y[2];
    reduce_lanes4(v, y);
    // Lanes 0+1 of v[k] are row 2k, lanes 2+3 row 2k+1: z lane 0 = rows 0,2,4,6; 1 = 1,3,5,7; 2 = 8,10,..; 3 = 9,11,..
    const __m512i z = _mm512_add_epi32(_mm512_shuffle_i64x2(y[0], y[1], _MM_SHUFFLE(2, 0, 2, 0)),
                                       _mm512_shuffle_i64x2(y[0], y[1], _MM_SHUFFLE(3, 1, 3, 1)));
    return _mm512_permutexvar_epi32(_mm512_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7, 8, 12, 9, 13, 10, 14, 11, 15), z);
}

// Software prefetch, turning the 16 interleaved row streams into one sequential stream for the DRAM:
// while the group's block b is processed, the next group's bytes [b, b+1) * 16 * BlockBytes are
// prefetched (the group's rows are contiguous, so after nb blocks the whole next group has been).
// Into L2 (T1). Measured on Zen 4, one thread, 32000 x 2048 from DRAM (vec_dot / these kernels without
// prefetch / with it): Q4_0 8.5 / 7.9 / 18.7 GB/s, Q4_K 14.9 / 11.1 / 25 GB/s (Q8_0 26 / 12 / 23, Q6_K
// 26 / 7 / 24: hence not dispatched); prefetching each row's own stream ahead instead (T0, 256-1024 B)
// did not help. GEMV_PF=0 at build time disables it; GEMV_PF_HINT sets the level.
#ifndef GEMV_PF
#define GEMV_PF 1
#endif
#ifndef GEMV_PF_HINT
#define GEMV_PF_HINT _MM_HINT_T1
#endif
template <size_t BlockBytes>
inline void prefetch_next_group(const uint8_t* w, size_t ws, int64_t b) {
    if constexpr (GEMV_PF != 0) {
        const uint8_t* p = w + (size_t)kRows * ws + (size_t)b * kRows * BlockBytes;
        for (size_t o = 0; o < kRows * BlockBytes; o += 64)
            _mm_prefetch(reinterpret_cast<const char*>(p + o), GEMV_PF_HINT);
    }
}

// hsum_ps (vec_dot_avx2.hpp) of 8 lanes, in its order.
inline float hsum8(const float a[8]) {
    float s[4];
    for (int i = 0; i < 4; ++i) s[i] = a[i] + a[i + 4];
    return (s[0] + s[2]) + (s[1] + s[3]);
}

// Stores 8 accumulators of 2 rows x 8 lanes and reduces each row as hsum_ps does.
inline void store_pairs_hsum(const __m512 acc[8], float* y) {
    alignas(64) float t[16];
    for (int p = 0; p < 8; ++p) {
        _mm512_store_ps(t, acc[p]);
        y[2 * p] = hsum8(t);
        y[2 * p + 1] = hsum8(t + 8);
    }
}

// ---- Q4_0: dot_repacked_b32<false>: acc = fma((float)sum((q-8)*a), dw*da, acc) per block ------------------
// Integer: sum(q*a) - 8*sum(a), q the unsigned nibble (vpdpbusd u8 x s8). 128-bit lane i of s[k] holds
// row 4i+k's four partial sums, so the transpose-and-add yields the rows in order.
void gemv_q4_0(int64_t n, const uint8_t* w, size_t ws, const void* act, float* y) {
    const auto* a = static_cast<const ActQ8*>(act);
    const __m512i m4 = _mm512_set1_epi8(0x0F), eight = _mm512_set1_epi8(8), zero = _mm512_setzero_si512();
    __m512 acc = _mm512_setzero_ps();
    const int64_t nb = n / 32;
    for (int64_t b = 0; b < nb; ++b) {
        const uint8_t* blk = w + (size_t)b * sizeof(BlockQ4_0);
        prefetch_next_group<sizeof(BlockQ4_0)>(w, ws, b);
        const __m512i alo = _mm512_broadcast_i32x4(load128(a[b].qs)), ahi = _mm512_broadcast_i32x4(load128(a[b].qs + 16));
        const __m512i off = _mm512_sub_epi32(zero, _mm512_dpbusd_epi32(_mm512_dpbusd_epi32(zero, eight, alo), eight, ahi));
        __m512i s[4];
        for (int k = 0; k < 4; ++k) {
            const uint8_t* p = blk + 2 + (size_t)k * ws;
            __m512i v = _mm512_castsi128_si512(load128(p));
            v = _mm512_inserti32x4(v, load128(p + 4 * ws), 1);
            v = _mm512_inserti32x4(v, load128(p + 8 * ws), 2);
            v = _mm512_inserti32x4(v, load128(p + 12 * ws), 3);
            s[k] = _mm512_dpbusd_epi32(_mm512_dpbusd_epi32(off, _mm512_and_si512(v, m4), alo),
                                       _mm512_and_si512(_mm512_srli_epi16(v, 4), m4), ahi);
        }
        const __m512i t0 = _mm512_add_epi32(_mm512_unpacklo_epi32(s[0], s[1]), _mm512_unpackhi_epi32(s[0], s[1]));
        const __m512i t1 = _mm512_add_epi32(_mm512_unpacklo_epi32(s[2], s[3]), _mm512_unpackhi_epi32(s[2], s[3]));
        const __m512i isum = _mm512_add_epi32(_mm512_unpacklo_epi64(t0, t1), _mm512_unpackhi_epi64(t0, t1));
        // The 16 fp16 scales by scalar loads (measured ~12% faster than a vpgatherdd in L2, same from DRAM).
        alignas(32) uint16_t dh[16];
        for (int r = 0; r < 16; ++r) std::memcpy(&dh[r], blk + (size_t)r * ws, 2);
        const __m512 dd = _mm512_mul_ps(_mm512_cvtph_ps(_mm256_load_si256(reinterpret_cast<const __m256i*>(dh))), _mm512_set1_ps(a[b].d));
        acc = _mm512_fmadd_ps(_mm512_cvtepi32_ps(isum), dd, acc);
    }
    _mm512_storeu_ps(y, acc);
}

// ---- Q8_0: dot_q8_0: 8 lanes of 4 products (|w| x sign(a, w)), fma(dw*da, lanes, acc), hsum_ps ------------
void gemv_q8_0(int64_t n, const uint8_t* w, size_t ws, const void* act, float* y) {
    const auto* a = static_cast<const ActQ8*>(act);
    const __m512i offs = row_offsets(ws), zero = _mm512_setzero_si512();
    __m512 acc[8];
    for (int p = 0; p < 8; ++p) acc[p] = _mm512_setzero_ps();
    const int64_t nb = n / 32;
    for (int64_t b = 0; b < nb; ++b) {
        const uint8_t* blk = w + (size_t)b * sizeof(BlockQ8_0);
        prefetch_next_group<sizeof(BlockQ8_0)>(w, ws, b);
        const __m512i ya = _mm512_broadcast_i64x4(load256(a[b].qs));
        const __m512 dd = _mm512_mul_ps(half_lo(gather32(blk, offs)), _mm512_set1_ps(a[b].d));
        for (int p = 0; p < 8; ++p) {
            const uint8_t* r = blk + 2 + (size_t)(2 * p) * ws;
            const __m512i x = pair256(r, r + ws);
            const __m512i sy = _mm512_mask_sub_epi8(ya, _mm512_movepi8_mask(x), zero, ya);
            const __m512i l = _mm512_dpbusd_epi32(zero, _mm512_abs_epi8(x), sy);
            acc[p] = _mm512_fmadd_ps(_mm512_permutexvar_ps(pair_bcast_idx(p), dd), _mm512_cvtepi32_ps(l), acc[p]);
        }
    }
    store_pairs_hsum(acc, y);
}

// ---- Q4_1: dot_min<BlockQ4_1>: fma(dw*da, 8 lanes of u*a, acc); summs = fma(m, sm, summs); hsum + summs ----
// Per pair of rows the zmm holds [A lo nibbles, B lo, A hi, B hi] (lanes 0-3 and 4-7 of each row's
// 256-bit vector), against [a lo16, a lo16, a hi16, a hi16].
void gemv_q4_1(int64_t n, const uint8_t* w, size_t ws, const void* act, float* y) {
    const auto* a = static_cast<const ActQ8*>(act);
    const __m512i offs = row_offsets(ws), zero = _mm512_setzero_si512(), m4 = _mm512_set1_epi8(0x0F);
    __m512i perm[8];
    for (int p = 0; p < 8; ++p) {
        const int i = 2 * p, j = 2 * p + 1;
        perm[p] = _mm512_setr_epi32(i, i, i, i, j, j, j, j, i, i, i, i, j, j, j, j);
    }
    __m512 acc[8];
    for (int p = 0; p < 8; ++p) acc[p] = _mm512_setzero_ps();
    __m512 summs = _mm512_setzero_ps();
    const int64_t nb = n / 32;
    for (int64_t b = 0; b < nb; ++b) {
        const uint8_t* blk = w + (size_t)b * sizeof(BlockQ4_1);
        prefetch_next_group<sizeof(BlockQ4_1)>(w, ws, b);
        const __m512i g = gather32(blk, offs);
        summs = _mm512_fmadd_ps(half_hi(g), _mm512_set1_ps(a[b].sm), summs);
        const __m512 dd = _mm512_mul_ps(half_lo(g), _mm512_set1_ps(a[b].d));
        const __m512i ya = _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_broadcastsi128_si256(load128(a[b].qs))),
                                              _mm256_broadcastsi128_si256(load128(a[b].qs + 16)), 1);
        for (int p = 0; p < 8; ++p) {
            const uint8_t* r = blk + 4 + (size_t)(2 * p) * ws;
            const __m256i x2 = _mm256_loadu2_m128i(reinterpret_cast<const __m128i*>(r + ws), reinterpret_cast<const __m128i*>(r));
            const __m512i z = _mm512_and_si512(_mm512_inserti64x4(_mm512_castsi256_si512(x2), _mm256_srli_epi16(x2, 4), 1), m4);
            const __m512i l = _mm512_dpbusd_epi32(zero, z, ya);
            acc[p] = _mm512_fmadd_ps(_mm512_permutexvar_ps(perm[p], dd), _mm512_cvtepi32_ps(l), acc[p]);
        }
    }
    alignas(64) float t[16], sm[16];
    _mm512_store_ps(sm, summs);
    for (int p = 0; p < 8; ++p) {
        _mm512_store_ps(t, acc[p]);
        const float la[8] = {t[0], t[1], t[2], t[3], t[8], t[9], t[10], t[11]};
        const float lb[8] = {t[4], t[5], t[6], t[7], t[12], t[13], t[14], t[15]};
        y[2 * p] = hsum8(la) + sm[2 * p];
        y[2 * p + 1] = hsum8(lb) + sm[2 * p + 1];
    }
}

// ---- K-quants -----------------------------------------------------------------------------------------

// Q4_K scales: 12 bytes -> 8 scales then 8 mins as bytes (ggml's get_scale_min_k4, as vec_dot's).
inline __m128i unpack_scales_mins_k4(const uint8_t* q) {
    const uint32_t k1 = 0x3f3f3f3f, k2 = 0x0f0f0f0f, k3 = 0x03030303;
    uint32_t u[3];
    std::memcpy(u, q, 12);
    return _mm_setr_epi32((int)(u[0] & k1), (int)((u[2] & k2) | (((u[0] >> 6) & k3) << 4)), (int)(u[1] & k1),
                          (int)(((u[2] >> 4) & k2) | (((u[1] >> 6) & k3) << 4)));
}

// pshufb index broadcasting int16 lane k of each 128-bit lane to all 8 int16 lanes.
inline __m512i one_scale_idx(int k) {
    const char i = (char)(2 * k);
    return _mm512_broadcast_i32x4(_mm_setr_epi8(i, i + 1, i, i + 1, i, i + 1, i, i + 1, i, i + 1, i, i + 1, i, i + 1, i, i + 1));
}

// Q4_K: dot_q4_k_repacked: exact isum = sum_s scale_s * dot(q_s, a_s) and imin = sum_s min_s * bsum_s per
// super-block, then acc = fma((float)isum, d*da, acc), acc_m = fma((float)imin, dmin*da, acc_m); acc - acc_m.
void gemv_q4_k(int64_t n, const uint8_t* w, size_t ws, const void* act, float* y) {
    const auto* a = static_cast<const ActQ8K*>(act);
    const __m512i offs = row_offsets(ws), m4 = _mm512_set1_epi8(0x0F);
    __m512i sidx[8];
    for (int k = 0; k < 8; ++k) sidx[k] = one_scale_idx(k);
    __m512 acc = _mm512_setzero_ps(), acc_m = _mm512_setzero_ps();
    for (int64_t b = 0; b < n / QK_K; ++b) {
        const uint8_t* blk = w + (size_t)b * sizeof(BlockQ4_K);
        prefetch_next_group<sizeof(BlockQ4_K)>(w, ws, b);
        const ActQ8K& yb = a[b];
        const __m128i bs = _mm_hadd_epi16(load128(yb.bsums), load128(yb.bsums + 8));
        const __m512i bsv = _mm512_broadcast_i32x4(bs);
        __m512i ylo[4], yhi[4];
        for (int j = 0; j < 4; ++j) {
            ylo[j] = _mm512_broadcast_i64x4(load256(yb.qs + 64 * j));
            yhi[j] = _mm512_broadcast_i64x4(load256(yb.qs + 64 * j + 32));
        }
        __m512i sumi[8], mins[8];
        for (int p = 0; p < 8; ++p) {
            const uint8_t* ra = blk + (size_t)(2 * p) * ws;
            const uint8_t* rb = ra + ws;
            const __m512i zab = _mm512_inserti64x4(
                _mm512_castsi256_si512(_mm256_cvtepu8_epi16(unpack_scales_mins_k4(ra + offsetof(BlockQ4_K, scales)))),
                _mm256_cvtepu8_epi16(unpack_scales_mins_k4(rb + offsetof(BlockQ4_K, scales))), 1);  // [scA mnA scB mnB]
            const __m512i sc = _mm512_shuffle_i64x2(zab, zab, _MM_SHUFFLE(2, 2, 0, 0));
            mins[p] = _mm512_maskz_madd_epi16((__mmask16)0xF0F0, zab, bsv);
            __m512i s = _mm512_setzero_si512();
            for (int j = 0; j < 4; ++j) {
                const __m512i bits = pair256(ra + offsetof(BlockQ4_K, qs) + 32 * j, rb + offsetof(BlockQ4_K, qs) + 32 * j);
                const __m512i lo = _mm512_and_si512(bits, m4), hi = _mm512_and_si512(_mm512_srli_epi16(bits, 4), m4);
                s = _mm512_dpwssd_epi32(s, _mm512_maddubs_epi16(lo, ylo[j]), _mm512_shuffle_epi8(sc, sidx[2 * j]));
                s = _mm512_dpwssd_epi32(s, _mm512_maddubs_epi16(hi, yhi[j]), _mm512_shuffle_epi8(sc, sidx[2 * j + 1]));
            }
            sumi[p] = s;
        }
        const __m512i isum = reduce16_pairs(sumi), imin = reduce16_pairs(mins);
        const __m512i g = gather32(blk, offs);
        const __m512 dy = _mm512_set1_ps(yb.d);
        acc = _mm512_fmadd_ps(_mm512_cvtepi32_ps(isum), _mm512_mul_ps(half_lo(g), dy), acc);
        acc_m = _mm512_fmadd_ps(_mm512_cvtepi32_ps(imin), _mm512_mul_ps(half_hi(g), dy), acc_m);
    }
    _mm512_storeu_ps(y, _mm512_sub_ps(acc, acc_m));
}

// pshufb indices of q6_k_pair_isum: per 256-bit half, int16 lanes 0-7 = scale 2k of the 128-bit half, 8-15 = 2k + 1.
inline void q6_k_scale_idx(__m512i pidx[4]) {
    for (int j = 0; j < 4; ++j) {
        const char lo = (char)(4 * j), hi = (char)(4 * j + 2);
        pidx[j] = _mm512_broadcast_i64x4(_mm256_setr_epi8(lo, lo + 1, lo, lo + 1, lo, lo + 1, lo, lo + 1, lo, lo + 1, lo,
                                                          lo + 1, lo, lo + 1, lo, lo + 1, hi, hi + 1, hi, hi + 1, hi,
                                                          hi + 1, hi, hi + 1, hi, hi + 1, hi, hi + 1, hi, hi + 1, hi, hi + 1));
    }
}

// Q6_K's exact integers for the row pair (ra, rb), one row per 256-bit half (8 int32 lanes each): the -32 offset via the
// scales x bsums, then maddubs + vpdpwssd with the group scales (dot_q6_k<AccVnni>'s lanes). ya[k]: activation
// quads 32k.. broadcast; bsv: the bsums.
inline __m512i q6_k_pair_isum(const uint8_t* ra, const uint8_t* rb, const __m512i ya[8], __m512i bsv, const __m512i pidx[4]) {
    const __m512i m4 = _mm512_set1_epi8(0x0F), m3 = _mm512_set1_epi8(3);
    const __m512i sab = _mm512_inserti64x4(
        _mm512_castsi256_si512(_mm256_cvtepi8_epi16(load128(ra + offsetof(BlockQ6_K, scales)))),
        _mm256_cvtepi8_epi16(load128(rb + offsetof(BlockQ6_K, scales))), 1);
    const __m512i half[2] = {_mm512_shuffle_i64x2(sab, sab, _MM_SHUFFLE(2, 2, 0, 0)),
                             _mm512_shuffle_i64x2(sab, sab, _MM_SHUFFLE(3, 3, 1, 1))};
    __m512i s = _mm512_sub_epi32(_mm512_setzero_si512(), _mm512_slli_epi32(_mm512_madd_epi16(sab, bsv), 5));
    for (int h = 0; h < 2; ++h) {
        const __m512i l0 = pair256(ra + 64 * h, rb + 64 * h), l1 = pair256(ra + 64 * h + 32, rb + 64 * h + 32);
        const __m512i hb = pair256(ra + offsetof(BlockQ6_K, qh) + 32 * h, rb + offsetof(BlockQ6_K, qh) + 32 * h);
        const __m512i q[4] = {
            _mm512_or_si512(_mm512_and_si512(l0, m4), _mm512_slli_epi16(_mm512_and_si512(hb, m3), 4)),
            _mm512_or_si512(_mm512_and_si512(l1, m4), _mm512_slli_epi16(_mm512_and_si512(_mm512_srli_epi16(hb, 2), m3), 4)),
            _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi16(l0, 4), m4),
                            _mm512_slli_epi16(_mm512_and_si512(_mm512_srli_epi16(hb, 4), m3), 4)),
            _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi16(l1, 4), m4),
                            _mm512_slli_epi16(_mm512_and_si512(_mm512_srli_epi16(hb, 6), m3), 4)),
        };
        for (int k = 0; k < 4; ++k)
            s = _mm512_dpwssd_epi32(s, _mm512_maddubs_epi16(q[k], ya[4 * h + k]), _mm512_shuffle_epi8(half[h], pidx[k]));
    }
    return s;
}

// Q6_K: dot_q6_k<AccVnni>: per super-block 8 int32 lanes (the -32 offset via the scales x bsums, then
// maddubs + vpdpwssd with the group scales), fma(d*da, lanes, acc), hsum_ps. Two rows per zmm.
void gemv_q6_k(int64_t n, const uint8_t* w, size_t ws, const void* act, float* y) {
    const auto* a = static_cast<const ActQ8K*>(act);
    const __m512i offs = row_offsets(ws);
    __m512i pidx[4];
    q6_k_scale_idx(pidx);
    __m512 acc[8];
    for (int p = 0; p < 8; ++p) acc[p] = _mm512_setzero_ps();
    for (int64_t b = 0; b < n / QK_K; ++b) {
        const uint8_t* blk = w + (size_t)b * sizeof(BlockQ6_K);
        prefetch_next_group<sizeof(BlockQ6_K)>(w, ws, b);
        const ActQ8K& yb = a[b];
        // d is the block's last 2 bytes: gather the dword ending there (no read past the row).
        const __m512 dd = _mm512_mul_ps(half_hi(gather32(blk + offsetof(BlockQ6_K, d) - 2, offs)), _mm512_set1_ps(yb.d));
        const __m512i bsv = _mm512_broadcast_i64x4(load256(yb.bsums));
        __m512i ya[8];
        for (int k = 0; k < 8; ++k) ya[k] = _mm512_broadcast_i64x4(load256(yb.qs + 32 * k));
        for (int p = 0; p < 8; ++p) {
            const uint8_t* ra = blk + (size_t)(2 * p) * ws;
            const uint8_t* rb = ra + ws;
            const __m512i s = q6_k_pair_isum(ra, rb, ya, bsv, pidx);
            acc[p] = _mm512_fmadd_ps(_mm512_permutexvar_ps(pair_bcast_idx(p), dd), _mm512_cvtepi32_ps(s), acc[p]);
        }
    }
    store_pairs_hsum(acc, y);
}

}  // namespace

namespace {  // internal linkage: compiled with this file's ISA flags

// Q5_K in the GEMM's order (Numerics::Invariant; gemm.hpp gemm_kint, kernel_scalar_kint in gemm_scalar.cpp): per
// super-block and row the exact isum = sum_j s_j * isum_j and imin = sum_j m_j * bsum_j, then
// acc = fma((float)isum, d*da, acc), acc_m = fma((float)imin, dmin*da, acc_m); acc - acc_m (Q4_K's vec_dot
// arithmetic, which Q4_K's invariant decode runs through gemv_q4_k above). isum_j of the 16 rows: one vpdpbusd per
// row pair and sub-block, then the transpose-and-add; the 8 scales and mins of the 16 rows are unpacked
// lane-wise from three gathered dwords (ggml's get_scale_min_k4). The fifth bit of element 64j + l (+ 32) comes
// from bit 2j (2j + 1) of qh[l]; without Five the same for Q4_K (bit-identical to gemv_q4_k: tested).
template <bool Five>
void gemv_q45_k_gemm_order(int64_t n, const uint8_t* w, size_t ws, const void* act, float* y) {
    using Block = std::conditional_t<Five, BlockQ5_K, BlockQ4_K>;
    const auto* a = static_cast<const ActQ8K*>(act);
    const __m512i offs = row_offsets(ws), m4 = _mm512_set1_epi8(0x0F), zero = _mm512_setzero_si512();
    const __m512i one = _mm512_set1_epi8(1);
    constexpr size_t kScales = offsetof(Block, scales), kQs = offsetof(Block, qs);
    __m512 acc = _mm512_setzero_ps(), acc_m = _mm512_setzero_ps();
    for (int64_t b = 0; b < n / QK_K; ++b) {
        const uint8_t* blk = w + (size_t)b * sizeof(Block);
        prefetch_next_group<sizeof(Block)>(w, ws, b);
        const ActQ8K& yb = a[b];
        const __m512i g = gather32(blk, offs);
        const __m512i u0 = gather32(blk + kScales, offs), u1 = gather32(blk + kScales + 4, offs),
                      u2 = gather32(blk + kScales + 8, offs);
        __m512i is = _mm512_setzero_si512(), im = _mm512_setzero_si512();
        for (int jp = 0; jp < 4; ++jp) {
            const __m512i ylo = _mm512_broadcast_i64x4(load256(yb.qs + 64 * jp));
            const __m512i yhi = _mm512_broadcast_i64x4(load256(yb.qs + 64 * jp + 32));
            __m512i vlo[8], vhi[8];
            for (int p = 0; p < 8; ++p) {
                const uint8_t* ra = blk + (size_t)(2 * p) * ws + kQs + 32 * jp;
                const __m512i bits = pair256(ra, ra + ws);
                __m512i lo = _mm512_and_si512(bits, m4), hi = _mm512_and_si512(_mm512_srli_epi16(bits, 4), m4);
                if constexpr (Five) {
                    const uint8_t* qa = blk + (size_t)(2 * p) * ws + offsetof(BlockQ5_K, qh);
                    const __m512i qh = pair256(qa, qa + ws);
                    lo = _mm512_or_si512(lo, _mm512_slli_epi16(_mm512_and_si512(_mm512_srli_epi16(qh, 2 * jp), one), 4));
                    hi = _mm512_or_si512(hi, _mm512_slli_epi16(_mm512_and_si512(_mm512_srli_epi16(qh, 2 * jp + 1), one), 4));
                }
                vlo[p] = _mm512_dpbusd_epi32(zero, lo, ylo);
                vhi[p] = _mm512_dpbusd_epi32(zero, hi, yhi);
            }
            const __m512i isum[2] = {reduce16_pairs(vlo), reduce16_pairs(vhi)};
            for (int h = 0; h < 2; ++h) {
                const int j = 2 * jp + h;
                __m512i sj, mj;
                scale_min_k4(u0, u1, u2, j, sj, mj);
                is = _mm512_add_epi32(is, _mm512_mullo_epi32(isum[h], sj));
                im = _mm512_add_epi32(im, _mm512_mullo_epi32(mj, _mm512_set1_epi32(yb.bsums[2 * j] + yb.bsums[2 * j + 1])));
            }
        }
        const __m512 dy = _mm512_set1_ps(yb.d);
        acc = _mm512_fmadd_ps(_mm512_cvtepi32_ps(is), _mm512_mul_ps(half_lo(g), dy), acc);
        acc_m = _mm512_fmadd_ps(_mm512_cvtepi32_ps(im), _mm512_mul_ps(half_hi(g), dy), acc_m);
    }
    _mm512_storeu_ps(y, _mm512_sub_ps(acc, acc_m));
}

// Q6_K in the GEMM's order (gemm.hpp gemm_kint, kernel_scalar_kint<16>): per super-block and row the exact
// isum = sum_j sc_j * (sum(u*a) - 32 bsum_j), then acc = fma((float)isum, d*da, acc). The integers as gemv_q6_k
// forms them (the -32 offset through the scales x bsums, then maddubs + vpdpwssd with the group scales, one row
// pair per zmm), then the transpose-and-add of the 8 pairs instead of its 8 float lanes per row.
void gemv_q6_k_gemm_order(int64_t n, const uint8_t* w, size_t ws, const void* act, float* y) {
    const auto* a = static_cast<const ActQ8K*>(act);
    const __m512i offs = row_offsets(ws);
    __m512i pidx[4];
    q6_k_scale_idx(pidx);
    __m512 acc = _mm512_setzero_ps();
    for (int64_t b = 0; b < n / QK_K; ++b) {
        const uint8_t* blk = w + (size_t)b * sizeof(BlockQ6_K);
        prefetch_next_group<sizeof(BlockQ6_K)>(w, ws, b);
        const ActQ8K& yb = a[b];
        // d is the block's last 2 bytes: gather the dword ending there (no read past the row).
        const __m512 dd = _mm512_mul_ps(half_hi(gather32(blk + offsetof(BlockQ6_K, d) - 2, offs)), _mm512_set1_ps(yb.d));
        const __m512i bsv = _mm512_broadcast_i64x4(load256(yb.bsums));
        __m512i ya[8];
        for (int k = 0; k < 8; ++k) ya[k] = _mm512_broadcast_i64x4(load256(yb.qs + 32 * k));
        __m512i sumi[8];
        for (int p = 0; p < 8; ++p) {
            const uint8_t* ra = blk + (size_t)(2 * p) * ws;
            const uint8_t* rb = ra + ws;
            const __m512i s = q6_k_pair_isum(ra, rb, ya, bsv, pidx);
            sumi[p] = s;
        }
        acc = _mm512_fmadd_ps(_mm512_cvtepi32_ps(reduce16_pairs(sumi)), dd, acc);
    }
    _mm512_storeu_ps(y, acc);
}

// Q4_1 and Q8_0 in the GEMM's order (kernel_scalar with gemm_pack.hpp's unpack_q4_1 / unpack_q8_0): per block
// and row acc = fma((float)isum, dw*da, acc), then for Q4_1 acc = fma(m, sm, acc). isum = sum(u*a) for Q4_1
// (u the unsigned nibble), sum(q*a) for Q8_0 (as the GEMM: u = q + 128 through vpdpbusd, minus 128 sum(a)).
// Q4_1 as gemv_q4_0 (one 128-bit lane per row); Q8_0 one row pair per zmm and reduce16_pairs.
template <DType T>
void gemv_b32_gemm_order(int64_t n, const uint8_t* w, size_t ws, const void* act, float* y) {
    static_assert(T == DType::Q4_1 || T == DType::Q8_0);
    constexpr size_t kBlock = T == DType::Q4_1 ? sizeof(BlockQ4_1) : sizeof(BlockQ8_0);
    const auto* a = static_cast<const ActQ8*>(act);
    const __m512i offs = row_offsets(ws), m4 = _mm512_set1_epi8(0x0F), zero = _mm512_setzero_si512();
    __m512 acc = _mm512_setzero_ps();
    for (int64_t b = 0; b < n / 32; ++b) {
        const uint8_t* blk = w + (size_t)b * kBlock;
        prefetch_next_group<kBlock>(w, ws, b);
        const __m512i g = gather32(blk, offs);  // d (| m << 16 for Q4_1)
        __m512i isum;
        if constexpr (T == DType::Q4_1) {
            const __m512i alo = _mm512_broadcast_i32x4(load128(a[b].qs)), ahi = _mm512_broadcast_i32x4(load128(a[b].qs + 16));
            __m512i s[4];
            for (int k = 0; k < 4; ++k) {
                const uint8_t* p = blk + 4 + (size_t)k * ws;
                __m512i v = _mm512_castsi128_si512(load128(p));
                v = _mm512_inserti32x4(v, load128(p + 4 * ws), 1);
                v = _mm512_inserti32x4(v, load128(p + 8 * ws), 2);
                v = _mm512_inserti32x4(v, load128(p + 12 * ws), 3);
                s[k] = _mm512_dpbusd_epi32(_mm512_dpbusd_epi32(zero, _mm512_and_si512(v, m4), alo),
                                           _mm512_and_si512(_mm512_srli_epi16(v, 4), m4), ahi);
            }
            const __m512i t0 = _mm512_add_epi32(_mm512_unpacklo_epi32(s[0], s[1]), _mm512_unpackhi_epi32(s[0], s[1]));
            const __m512i t1 = _mm512_add_epi32(_mm512_unpacklo_epi32(s[2], s[3]), _mm512_unpackhi_epi32(s[2], s[3]));
            isum = _mm512_add_epi32(_mm512_unpacklo_epi64(t0, t1), _mm512_unpackhi_epi64(t0, t1));
        } else {
            const __m256i a8 = load256(a[b].qs);
            const __m512i ya = _mm512_broadcast_i64x4(a8), flip = _mm512_set1_epi8((char)0x80);
            // -128 sum(a): the dpbusd of 128s with the activations, summed over its 8 lanes.
            const __m256i s8 = _mm256_dpbusd_epi32(_mm256_setzero_si256(), _mm256_set1_epi8((char)0x80), a8);
            const __m128i s4 = _mm_add_epi32(_mm256_castsi256_si128(s8), _mm256_extracti128_si256(s8, 1));
            const int32_t sum128 = _mm_cvtsi128_si32(s4) + _mm_extract_epi32(s4, 1) + _mm_extract_epi32(s4, 2) +
                                   _mm_extract_epi32(s4, 3);
            __m512i v[8];
            for (int p = 0; p < 8; ++p) {
                const uint8_t* r = blk + 2 + (size_t)(2 * p) * ws;
                v[p] = _mm512_dpbusd_epi32(zero, _mm512_xor_si512(pair256(r, r + ws), flip), ya);
            }
            isum = _mm512_sub_epi32(reduce16_pairs(v), _mm512_set1_epi32(sum128));
        }
        acc = _mm512_fmadd_ps(_mm512_cvtepi32_ps(isum), _mm512_mul_ps(half_lo(g), _mm512_set1_ps(a[b].d)), acc);
        if constexpr (T == DType::Q4_1) acc = _mm512_fmadd_ps(half_hi(g), _mm512_set1_ps(a[b].sm), acc);
    }
    _mm512_storeu_ps(y, acc);
}

}  // namespace

namespace {

// ---- Several tokens per pass (gemv.hpp GemvMultiKernel): Q4_0 and Q4_1, 16 rows x T <= 16 tokens ------------
// Per block, the weights are loaded, transposed and unpacked once for the T tokens: an in-lane 4x4 dword
// transpose of the four vectors [row 4i + k's 16 bytes in lane i] gives q_j with dword r = row r's bytes
// 4j..4j+3 (low nibbles: elements 4j..4j+3, high nibbles: 16 + 4j..), so each token's activation dword j is
// broadcast (no per-token reduction) and the 16 rows' integer sums land in row order. Per output the same
// operations as the one-token kernel: Q4_0 gemv_q4_0 (exact integer sum(q*a) - 8*sum(a), then
// acc = fma((float)isum, dw*da, acc) in block order), Q4_1 (Min) gemv_b32_gemm_order<Q4_1> (isum = sum(q*a),
// the same FMA, then acc = fma(m, sm, acc)).
template <bool Min, int T>
void gemv_multi_q4_t(int64_t n, const uint8_t* w, size_t ws, const uint8_t* act, size_t as, const int32_t* off,
                     float* y, int64_t ldy) {
    constexpr size_t kBlock = Min ? sizeof(BlockQ4_1) : sizeof(BlockQ4_0), kQs = Min ? 4 : 2;
    const __m512i m4 = _mm512_set1_epi8(0x0F), offs = row_offsets(ws);
    const int64_t nb = n / 32;
    __m512 acc[T];
    for (int t = 0; t < T; ++t) acc[t] = _mm512_setzero_ps();
    for (int64_t b = 0; b < nb; ++b) {
        const uint8_t* blk = w + (size_t)b * kBlock;
        prefetch_next_group<kBlock>(w, ws, b);
        __m512i v[4];
        for (int k = 0; k < 4; ++k) {
            const uint8_t* p = blk + kQs + (size_t)k * ws;
            v[k] = _mm512_castsi128_si512(load128(p));
            v[k] = _mm512_inserti32x4(v[k], load128(p + 4 * ws), 1);
            v[k] = _mm512_inserti32x4(v[k], load128(p + 8 * ws), 2);
            v[k] = _mm512_inserti32x4(v[k], load128(p + 12 * ws), 3);
        }
        const __m512i t0 = _mm512_unpacklo_epi32(v[0], v[1]), t1 = _mm512_unpackhi_epi32(v[0], v[1]);
        const __m512i t2 = _mm512_unpacklo_epi32(v[2], v[3]), t3 = _mm512_unpackhi_epi32(v[2], v[3]);
        const __m512i q[4] = {_mm512_unpacklo_epi64(t0, t2), _mm512_unpackhi_epi64(t0, t2),
                              _mm512_unpacklo_epi64(t1, t3), _mm512_unpackhi_epi64(t1, t3)};
        __m512i lo[4], hi[4];
        for (int j = 0; j < 4; ++j) lo[j] = _mm512_and_si512(q[j], m4), hi[j] = _mm512_and_si512(_mm512_srli_epi16(q[j], 4), m4);
        __m512 dw, mw = _mm512_setzero_ps();
        if constexpr (Min) {
            const __m512i g = gather32(blk, offs);  // d | m << 16
            dw = half_lo(g), mw = half_hi(g);
        } else {
            alignas(32) uint16_t dh[16];
            for (int r = 0; r < 16; ++r) std::memcpy(&dh[r], blk + (size_t)r * ws, 2);
            dw = _mm512_cvtph_ps(_mm256_load_si256(reinterpret_cast<const __m256i*>(dh)));
        }
        for (int t = 0; t < T; ++t) {
            const ActQ8& a = reinterpret_cast<const ActQ8*>(act + (size_t)t * as)[b];
            // Each activation dword broadcast straight from memory (vpbroadcastd zmm, m32: a load, no ALU).
            auto bc = [&](int j) { return _mm512_broadcastd_epi32(_mm_loadu_si32(a.qs + 4 * j)); };
            // Two chains (low and high nibbles) halve the dependent vpdpbusd latency; integers, so exact.
            __m512i sl = Min ? _mm512_setzero_si512() : _mm512_set1_epi32(off[(size_t)t * nb + b]);
            __m512i sh = _mm512_setzero_si512();
            for (int j = 0; j < 4; ++j) {
                sl = _mm512_dpbusd_epi32(sl, lo[j], bc(j));
                sh = _mm512_dpbusd_epi32(sh, hi[j], bc(4 + j));
            }
            const __m512 dd = _mm512_mul_ps(dw, _mm512_set1_ps(a.d));
            acc[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(_mm512_add_epi32(sl, sh)), dd, acc[t]);
            if constexpr (Min) acc[t] = _mm512_fmadd_ps(mw, _mm512_set1_ps(a.sm), acc[t]);
        }
    }
    for (int t = 0; t < T; ++t) _mm512_storeu_ps(y + t * ldy, acc[t]);
}

template <bool Min>
void gemv_multi_q4(int64_t n, const uint8_t* w, size_t ws, const uint8_t* act, size_t as, const int32_t* off,
                   int n_tok, float* y, int64_t ldy) {
    const int64_t nb = n / 32;
    for_token_passes(n_tok, 16, [&](auto T, int t0) {
        gemv_multi_q4_t<Min, T>(n, w, ws, act + (size_t)t0 * as, as, off + (size_t)t0 * nb, y + t0 * ldy, ldy);
    });
}
// Q4_K / Q5_K (Five), several tokens in the GEMM's order: per super-block the 16 rows' scales and mins are unpacked
// once, and per pair of sub-blocks the 8 row pairs' unpacked nibbles are stored once in an L1 scratch that every
// token's vpdpbusd reads; per token and output the exact integers and the two FMAs of gemv_q45_k_gemm_order, so
// every output is bit-identical to it (and, for Q4_K, to gemv_q4_k).
template <bool Five, int T>
void gemv_multi_q45_k_t(int64_t n, const uint8_t* w, size_t ws, const uint8_t* act, size_t as, float* y, int64_t ldy) {
    using Block = std::conditional_t<Five, BlockQ5_K, BlockQ4_K>;
    const __m512i offs = row_offsets(ws), m4 = _mm512_set1_epi8(0x0F), zero = _mm512_setzero_si512();
    const __m512i one = _mm512_set1_epi8(1);
    constexpr size_t kScales = offsetof(Block, scales), kQs = offsetof(Block, qs);
    __m512 acc[T], acc_m[T];
    for (int t = 0; t < T; ++t) acc[t] = _mm512_setzero_ps(), acc_m[t] = _mm512_setzero_ps();
    alignas(64) __m512i sc[8], mn[8];
    alignas(64) __m512i u[2][8];  // [low / high nibbles][row pair]: one pair of sub-blocks
    for (int64_t b = 0; b < n / QK_K; ++b) {
        const uint8_t* blk = w + (size_t)b * sizeof(Block);
        prefetch_next_group<sizeof(Block)>(w, ws, b);
        const __m512i g = gather32(blk, offs);
        const __m512i u0 = gather32(blk + kScales, offs), u1 = gather32(blk + kScales + 4, offs),
                      u2 = gather32(blk + kScales + 8, offs);
        for (int j = 0; j < 8; ++j) scale_min_k4(u0, u1, u2, j, sc[j], mn[j]);
        __m512i is[T], im[T];
        for (int t = 0; t < T; ++t) {
            const ActQ8K& yb = reinterpret_cast<const ActQ8K*>(act + (size_t)t * as)[b];
            is[t] = _mm512_setzero_si512(), im[t] = _mm512_setzero_si512();
            for (int j = 0; j < 8; ++j)
                im[t] = _mm512_add_epi32(im[t], _mm512_mullo_epi32(mn[j], _mm512_set1_epi32(yb.bsums[2 * j] + yb.bsums[2 * j + 1])));
        }
        for (int jp = 0; jp < 4; ++jp) {
            for (int p = 0; p < 8; ++p) {
                const uint8_t* ra = blk + (size_t)(2 * p) * ws + kQs + 32 * jp;
                const __m512i bits = pair256(ra, ra + ws);
                __m512i lo = _mm512_and_si512(bits, m4), hi = _mm512_and_si512(_mm512_srli_epi16(bits, 4), m4);
                if constexpr (Five) {
                    const uint8_t* qa = blk + (size_t)(2 * p) * ws + offsetof(BlockQ5_K, qh);
                    const __m512i qh = pair256(qa, qa + ws);
                    lo = _mm512_or_si512(lo, _mm512_slli_epi16(_mm512_and_si512(_mm512_srli_epi16(qh, 2 * jp), one), 4));
                    hi = _mm512_or_si512(hi, _mm512_slli_epi16(_mm512_and_si512(_mm512_srli_epi16(qh, 2 * jp + 1), one), 4));
                }
                u[0][p] = lo, u[1][p] = hi;
            }
            for (int t = 0; t < T; ++t) {
                const ActQ8K& yb = reinterpret_cast<const ActQ8K*>(act + (size_t)t * as)[b];
                const __m512i ylo = _mm512_broadcast_i64x4(load256(yb.qs + 64 * jp));
                const __m512i yhi = _mm512_broadcast_i64x4(load256(yb.qs + 64 * jp + 32));
                __m512i vlo[8], vhi[8];
                for (int p = 0; p < 8; ++p) {
                    vlo[p] = _mm512_dpbusd_epi32(zero, u[0][p], ylo);
                    vhi[p] = _mm512_dpbusd_epi32(zero, u[1][p], yhi);
                }
                is[t] = _mm512_add_epi32(is[t], _mm512_mullo_epi32(reduce16_pairs(vlo), sc[2 * jp]));
                is[t] = _mm512_add_epi32(is[t], _mm512_mullo_epi32(reduce16_pairs(vhi), sc[2 * jp + 1]));
            }
        }
        const __m512 d = half_lo(g), dmin = half_hi(g);
        for (int t = 0; t < T; ++t) {
            const __m512 dy = _mm512_set1_ps(reinterpret_cast<const ActQ8K*>(act + (size_t)t * as)[b].d);
            acc[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(is[t]), _mm512_mul_ps(d, dy), acc[t]);
            acc_m[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(im[t]), _mm512_mul_ps(dmin, dy), acc_m[t]);
        }
    }
    for (int t = 0; t < T; ++t) _mm512_storeu_ps(y + t * ldy, _mm512_sub_ps(acc[t], acc_m[t]));
}

template <bool Five>
void gemv_multi_q45_k(int64_t n, const uint8_t* w, size_t ws, const uint8_t* act, size_t as, const int32_t*, int n_tok,
                      float* y, int64_t ldy) {
    for_token_passes(n_tok, 8, [&](auto T, int t0) {
        gemv_multi_q45_k_t<Five, T>(n, w, ws, act + (size_t)t0 * as, as, y + t0 * ldy, ldy);
    });
}
// Q6_K, several tokens in the GEMM's order: per super-block the 16 rows' sc_j unpacked once; per half the
// 8 row pairs' u vectors of its four quarters built once into an L1 scratch; per token and output the exact
// integer and the FMA of gemv_q6_k_gemm_order: bit-identical to it.
template <int T>
void gemv_multi_q6_k_t(int64_t n, const uint8_t* w, size_t ws, const uint8_t* act, size_t as, float* y, int64_t ldy) {
    const __m512i offs = row_offsets(ws), m4 = _mm512_set1_epi8(0x0F), zero = _mm512_setzero_si512();
    const __m512i m30 = _mm512_set1_epi8(0x30);
    const __m512i even_idx = _mm512_setr_epi32(0, 8, 1, 9, 2, 10, 3, 11, 16, 24, 17, 25, 18, 26, 19, 27);
    const __m512i odd_idx = _mm512_add_epi32(even_idx, _mm512_set1_epi32(4));
    constexpr size_t kQl = offsetof(BlockQ6_K, ql), kQh = offsetof(BlockQ6_K, qh), kSc = offsetof(BlockQ6_K, scales);
    __m512 acc[T];
    for (int t = 0; t < T; ++t) acc[t] = _mm512_setzero_ps();
    alignas(64) __m512i sc[16];
    alignas(64) __m512i u[4][8];  // [quarter][row pair] of one half
    for (int64_t b = 0; b < n / QK_K; ++b) {
        const uint8_t* blk = w + (size_t)b * sizeof(BlockQ6_K);
        prefetch_next_group<sizeof(BlockQ6_K)>(w, ws, b);
        const __m512 d = half_hi(gather32(blk + offsetof(BlockQ6_K, d) - 2, offs));
        __m512i us[4];
        for (int q = 0; q < 4; ++q) us[q] = gather32(blk + kSc + 4 * q, offs);
        for (int j = 0; j < 16; ++j) sc[j] = scale_q6_k(us, j);
        __m512i is[T];
        for (int t = 0; t < T; ++t) is[t] = _mm512_setzero_si512();
        for (int h = 0; h < 2; ++h) {
            for (int k = 0; k < 2; ++k)
                for (int p = 0; p < 8; ++p) {
                    const uint8_t* ra = blk + (size_t)(2 * p) * ws;
                    const __m512i ql = pair256(ra + kQl + 64 * h + 32 * k, ra + ws + kQl + 64 * h + 32 * k);
                    const __m512i qh = pair256(ra + kQh + 32 * h, ra + ws + kQh + 32 * h);
                    const __m512i hb0 = _mm512_and_si512(_mm512_slli_epi16(qh, 4 - 2 * k), m30);
                    const __m512i hb1 = _mm512_and_si512(k == 0 ? qh : _mm512_srli_epi16(qh, 2), m30);
                    u[k][p] = _mm512_or_si512(_mm512_and_si512(ql, m4), hb0);
                    u[k + 2][p] = _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi16(ql, 4), m4), hb1);
                }
            for (int t = 0; t < T; ++t) {
                const ActQ8K& yb = reinterpret_cast<const ActQ8K*>(act + (size_t)t * as)[b];
                __m512i isum[4][2];
                for (int k = 0; k < 4; ++k) {
                    const __m512i ya = _mm512_broadcast_i64x4(load256(yb.qs + 128 * h + 32 * k));
                    __m512i v[8];
                    for (int p = 0; p < 8; ++p) v[p] = _mm512_dpbusd_epi32(zero, u[k][p], ya);
                    __m512i r[2];
                    reduce_lanes4(v, r);
                    isum[k][0] = _mm512_permutex2var_epi32(r[0], even_idx, r[1]);
                    isum[k][1] = _mm512_permutex2var_epi32(r[0], odd_idx, r[1]);
                }
                for (int k = 0; k < 4; ++k)
                    for (int e = 0; e < 2; ++e) {
                        const int j = 8 * h + 2 * k + e;
                        const __m512i c = _mm512_set1_epi32(-32 * (int32_t)yb.bsums[j]);
                        is[t] = _mm512_add_epi32(is[t], _mm512_mullo_epi32(_mm512_add_epi32(c, isum[k][e]), sc[j]));
                    }
            }
        }
        for (int t = 0; t < T; ++t) {
            const ActQ8K& yb = reinterpret_cast<const ActQ8K*>(act + (size_t)t * as)[b];
            acc[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(is[t]), _mm512_mul_ps(d, _mm512_set1_ps(yb.d)), acc[t]);
        }
    }
    for (int t = 0; t < T; ++t) _mm512_storeu_ps(y + t * ldy, acc[t]);
}

void gemv_multi_q6_k(int64_t n, const uint8_t* w, size_t ws, const uint8_t* act, size_t as, const int32_t*, int n_tok,
                     float* y, int64_t ldy) {
    for_token_passes(n_tok, 8, [&](auto T, int t0) {
        gemv_multi_q6_k_t<T>(n, w, ws, act + (size_t)t0 * as, as, y + t0 * ldy, ldy);
    });
}
}  // namespace

GemvMultiKernel gemv_multi_avx512(DType type) {
    // Measured (bench/matmul_small_m, one thread, TinyLlama layer, ms per layer against the GEMM with its per-call
    // packing): 8 tokens 2.96 / 5.61, 16: 5.03 / 7.51, 32: 10.0 / 11.7, 48: 14.8 / 15.9.
    if (type == DType::Q4_0) return {gemv_multi_q4<false>, kRows, 16, 8, 64};
    if (type == DType::Q4_1) return {gemv_multi_q4<true>, kRows, 16, 0, 64};
    // Q4_K / Q5_K / Q6_K, 8 tokens per pass, against the GEMM with its K-quant scales packed lane-wise
    // (`matmul_small_m 0.8 q4_k,q5_k,q6_k 8,10,12,14,16`, with / without LLM_GEMV_MULTI=0, idle, ms per layer):
    // Q5_K 8 tokens 6.48 / 6.50, 10: 8.52 / 7.02; Q6_K 8: 7.32 / 9.12, 10: GEMM 10.0-11.0, 16: GEMM 11.5-12.6 (at
    // M = 4 the GEMM's packing costs about twice the kernel). Q4_K against its nibble panel (no unpacking):
    // 4 tokens 3.50 / 3.99, 5: 4.33 / 5.22, 6: 5.38 / 5.19, 8: 6.55 / 5.11, 16: GEMM 6.81.
    if (type == DType::Q4_K) return {gemv_multi_q45_k<false>, kRows, 8, 0, 6};
    if (type == DType::Q5_K) return {gemv_multi_q45_k<true>, kRows, 8, 0, 9};
    if (type == DType::Q6_K) return {gemv_multi_q6_k, kRows, 8, 0, 10};
    return {};
}

GemvKernel gemv_gemm_order_avx512(DType type) {
    switch (type) {
        // Q4_K: its vec_dot and gemv_q4_k compute the GEMM's arithmetic (gemm.hpp gemm_kint); this kernel, which
        // gives the same bits (GemvMulti tests), stays for tests only.
        case DType::Q4_K: return {gemv_q45_k_gemm_order<false>, kRows, false};
        case DType::Q5_K: return {gemv_q45_k_gemm_order<true>, kRows, true};
        case DType::Q6_K: return {gemv_q6_k_gemm_order, kRows, true};
        case DType::Q4_1: return {gemv_b32_gemm_order<DType::Q4_1>, kRows, true};
        case DType::Q8_0: return {gemv_b32_gemm_order<DType::Q8_0>, kRows, true};
        default: return {};
    }
}

GemvKernel gemv_avx512(DType type) {
    // dispatch = measured faster than the per-row vec_dot (see gemv.hpp); the others stay tested.
    switch (type) {
        case DType::Q4_0: return {gemv_q4_0, kRows, true};
        case DType::Q4_K: return {gemv_q4_k, kRows, true};
        case DType::Q4_1: return {gemv_q4_1, kRows, false};
        case DType::Q8_0: return {gemv_q8_0, kRows, false};
        case DType::Q6_K: return {gemv_q6_k, kRows, false};
        default: return {};
    }
}

}  // namespace llm::cpu
