// AVX2 (+FMA, F16C) multi-row decode kernels (gemv.hpp): 8 consecutive weight rows x one prepared activation
// row per pass, each output bit-identical to the per-row AVX2 vec_dot of the same type (vec_dot_avx2.cpp /
// vec_dot_legacy_simd.hpp, vec_dot_kquants_avx2.cpp / vec_dot_kquants_simd.hpp, i.e. llama.cpp's AVX2
// arithmetic). 8 rows because the 8 per-row float chains fill one ymm and AVX2 has 16 ymm registers. How each
// type keeps the contract:
// * Types whose vec_dot sums an EXACT integer per block (Q4_0) or super-block (Q4_K: isum and imin) and then
//   runs a scalar FMA chain per row: the integers are computed for the 8 rows in any convenient way (exact,
//   so any order gives the same value: two rows per ymm, one per 128-bit lane, and a transpose-and-add of
//   the rows' lane sums), and the 8 scalar chains become the 8 lanes of one ymm running the same operations
//   (int->float conversion, fp16 scale x activation scale, FMA) in the same order. Q4_0 interleaves the 8
//   rows block by block; Q4_K computes its integers row by row first (see gemv_q4_k for why).
// * Types whose vec_dot keeps 8 float lanes per row (Q8_0, Q4_1, Q6_K: ggml's one 8-lane accumulator and
//   hsum_float_8): one 8-lane accumulator per row (Q4_1: the same lanes split over two ymm shared by two
//   rows), every int32 lane summing exactly the same 4 products as vec_dot's lane, the same per-lane FMA,
//   and the same final hsum_ps per row.
// The fp16 scales of the 8 rows come from scalar loads, not vpgatherdd (microcoded and slow on Zen 2/3).
// Measurements and which kernels matmul uses: see gemv_avx2() at the end.

#include <immintrin.h>

#include <cstring>
#include <type_traits>

#include "kernels/cpu/gemv.hpp"
#include "kernels/cpu/kquant_lanes_avx2.hpp"
#include "kernels/cpu/vec_dot_avx2.hpp"  // load256, hsum_ps (the exact reduction vec_dot uses)

namespace llm::cpu {
namespace {

constexpr int kRows = 8;

inline __m128i load128(const void* p) { return _mm_loadu_si128(static_cast<const __m128i*>(p)); }
// Row a's 16 bytes in the low 128-bit lane, row b's in the high one.
inline __m256i pair128(const uint8_t* a, const uint8_t* b) {
    return _mm256_loadu2_m128i(reinterpret_cast<const __m128i*>(b), reinterpret_cast<const __m128i*>(a));
}
inline __m256i bcast128(const void* p) { return _mm256_broadcastsi128_si256(load128(p)); }

inline uint32_t load_u32(const uint8_t* p) {
    uint32_t v;
    std::memcpy(&v, p, 4);
    return v;
}

// The 32-bit words at p + r * ws for the 8 rows: rows 0-3 in g[0], rows 4-7 in g[1].
inline void load_words8(const uint8_t* p, size_t ws, __m128i g[2]) {
    for (int h = 0; h < 2; ++h) {
        const uint8_t* q = p + (size_t)(4 * h) * ws;
        g[h] = _mm_setr_epi32((int)load_u32(q), (int)load_u32(q + ws), (int)load_u32(q + 2 * ws), (int)load_u32(q + 3 * ws));
    }
}
// The fp16 in the low / high 16 bits of each of those words, as 8 floats (row order).
inline __m256 half_lo8(const __m128i g[2]) {
    const __m128i m = _mm_set1_epi32(0xFFFF);
    return _mm256_cvtph_ps(_mm_packus_epi32(_mm_and_si128(g[0], m), _mm_and_si128(g[1], m)));
}
inline __m256 half_hi8(const __m128i g[2]) {
    return _mm256_cvtph_ps(_mm_packus_epi32(_mm_srli_epi32(g[0], 16), _mm_srli_epi32(g[1], 16)));
}

// v[k]: row k's int32 partial sums in the low 128-bit lane, row k+4's in the high one (k = 0..3). Returns
// the 8 rows' totals in row order (exact integer sums, so the order of the additions is free).
inline __m256i reduce8_lanes(const __m256i v[4]) {
    const __m256i x0 = _mm256_add_epi32(_mm256_unpacklo_epi32(v[0], v[1]), _mm256_unpackhi_epi32(v[0], v[1]));
    const __m256i x1 = _mm256_add_epi32(_mm256_unpacklo_epi32(v[2], v[3]), _mm256_unpackhi_epi32(v[2], v[3]));
    return _mm256_add_epi32(_mm256_unpacklo_epi64(x0, x1), _mm256_unpackhi_epi64(x0, x1));  // [r0..r3 | r4..r7]
}

// Software prefetch of the next group (as gemv_avx512.cpp: the 8 interleaved row streams become one
// sequential stream): while the group's block b is processed, the next group's bytes
// [b, b+1) * 8 * BlockBytes are prefetched. Into L1 (T0) when the current and the next group together fit
// in L1d (32 KiB on most AVX2 CPUs), else into L2 (T1). Measured on Zen 4, one thread, DRAM-cold, speedup
// over vec_dot with T1 / T0 / NTA: Q4_0 2048-wide rows (9 KiB groups) 1.6-1.75 / 1.9-2.0 / 2.1-2.4x,
// Q4_0 5632-wide (25 KiB groups) 2.0 / 1.35 / 1.3-1.5x, Q6_K 2048-wide (13 KiB groups) ~0.9 / 0.5 / -.
// Without the prefetch the interleaved streams run at half speed (Q8_0: 0.5x vec_dot).
// GEMV_PF=0 at build time disables it.
#ifndef GEMV_PF
#define GEMV_PF 1
#endif
constexpr size_t kL1GroupBytes = 12 << 10;  // groups up to this size are prefetched into L1

template <size_t BlockBytes>
inline void prefetch_next_group(const uint8_t* w, size_t ws, int64_t b, bool to_l1) {
    if constexpr (GEMV_PF != 0) {
        const uint8_t* p = w + (size_t)kRows * ws + (size_t)b * kRows * BlockBytes;
        if (to_l1)
            for (size_t o = 0; o < kRows * BlockBytes; o += 64) _mm_prefetch(reinterpret_cast<const char*>(p + o), _MM_HINT_T0);
        else
            for (size_t o = 0; o < kRows * BlockBytes; o += 64) _mm_prefetch(reinterpret_cast<const char*>(p + o), _MM_HINT_T1);
    }
}

// ---- Q4_0: dot_repacked_b32<false>: acc = fma((float)sum((q-8)*a), dw*da, acc) per block ------------------
// Integer part per pair of rows (k, k+4): [row k's 16 bytes | row k+4's], low nibbles x [a0-15 | a0-15],
// high nibbles x [a16-31 | a16-31] (pmaddubsw, u8 nibble x s8), minus 8 x the activation pair sums, all in
// int16 (|each step| <= 2*2*15*127 = 7620, no saturation), then pmaddwd to int32.
void gemv_q4_0(int64_t n, const uint8_t* w, size_t ws, const void* act, float* y) {
    const auto* a = static_cast<const ActQ8*>(act);
    const bool to_l1 = kRows * ws <= kL1GroupBytes;
    const __m256i m4 = _mm256_set1_epi8(0x0F), eight = _mm256_set1_epi8(8), ones = _mm256_set1_epi16(1);
    __m256 acc = _mm256_setzero_ps();
    const int64_t nb = n / 32;
    for (int64_t b = 0; b < nb; ++b) {
        const uint8_t* blk = w + (size_t)b * sizeof(BlockQ4_0);
        prefetch_next_group<sizeof(BlockQ4_0)>(w, ws, b, to_l1);
        const __m256i alo = bcast128(a[b].qs), ahi = bcast128(a[b].qs + 16);
        const __m256i off = _mm256_add_epi16(_mm256_maddubs_epi16(eight, alo), _mm256_maddubs_epi16(eight, ahi));
        __m256i s[4];
        for (int k = 0; k < 4; ++k) {
            const uint8_t* p = blk + 2 + (size_t)k * ws;
            const __m256i v = pair128(p, p + 4 * ws);
            const __m256i lo = _mm256_and_si256(v, m4), hi = _mm256_and_si256(_mm256_srli_epi16(v, 4), m4);
            const __m256i t = _mm256_add_epi16(_mm256_maddubs_epi16(lo, alo), _mm256_maddubs_epi16(hi, ahi));
            s[k] = _mm256_madd_epi16(_mm256_sub_epi16(t, off), ones);
        }
        const __m256i isum = reduce8_lanes(s);
        __m128i g[2];
        load_words8(blk, ws, g);  // d and the first two quant bytes of each row
        const __m256 dd = _mm256_mul_ps(half_lo8(g), _mm256_set1_ps(a[b].d));
        acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(isum), dd, acc);
    }
    _mm256_storeu_ps(y, acc);
}

// ---- Q8_0: dot_q8_0: 8 lanes of 4 products (|w| x sign(a, w)), fma(dw*da, lanes, acc), hsum_ps ------------
void gemv_q8_0(int64_t n, const uint8_t* w, size_t ws, const void* act, float* y) {
    const auto* a = static_cast<const ActQ8*>(act);
    const bool to_l1 = kRows * ws <= kL1GroupBytes;
    const __m256i ones = _mm256_set1_epi16(1);
    __m256 acc[kRows];
    for (auto& v : acc) v = _mm256_setzero_ps();
    const int64_t nb = n / 32;
    for (int64_t b = 0; b < nb; ++b) {
        const uint8_t* blk = w + (size_t)b * sizeof(BlockQ8_0);
        prefetch_next_group<sizeof(BlockQ8_0)>(w, ws, b, to_l1);
        __m128i g[2];
        load_words8(blk, ws, g);
        alignas(32) float dd[kRows];
        _mm256_store_ps(dd, _mm256_mul_ps(half_lo8(g), _mm256_set1_ps(a[b].d)));
        const __m256i ya = load256(a[b].qs);
        for (int r = 0; r < kRows; ++r) {
            const __m256i x = load256(blk + 2 + (size_t)r * ws);
            const __m256i l = _mm256_madd_epi16(_mm256_maddubs_epi16(_mm256_sign_epi8(x, x), _mm256_sign_epi8(ya, x)), ones);
            acc[r] = _mm256_fmadd_ps(_mm256_set1_ps(dd[r]), _mm256_cvtepi32_ps(l), acc[r]);
        }
    }
    for (int r = 0; r < kRows; ++r) y[r] = hsum_ps(acc[r]);
}

// ---- Q4_1: dot_min<BlockQ4_1>: fma(dw*da, 8 lanes of u*a, acc); summs = fma(m, sm, summs); hsum + summs ----
// vec_dot's lanes 0-3 are the low nibbles x a0-15, lanes 4-7 the high nibbles x a16-31. Per pair of rows
// (A = 2p, B = 2p+1) one ymm holds [A's 16 bytes | B's]: its low nibbles give [A lanes 0-3 | B lanes 0-3]
// (accumulated in lo[p]), its high nibbles [A lanes 4-7 | B lanes 4-7] (hi[p]); the scale vector is
// [dA x4 | dB x4]. The m*s chains of the 8 rows are the 8 lanes of one ymm.
void gemv_q4_1(int64_t n, const uint8_t* w, size_t ws, const void* act, float* y) {
    const auto* a = static_cast<const ActQ8*>(act);
    const bool to_l1 = kRows * ws <= kL1GroupBytes;
    const __m256i m4 = _mm256_set1_epi8(0x0F), ones = _mm256_set1_epi16(1);
    __m256 lo[4], hi[4];
    for (int p = 0; p < 4; ++p) lo[p] = hi[p] = _mm256_setzero_ps();
    __m256 summs = _mm256_setzero_ps();
    const int64_t nb = n / 32;
    for (int64_t b = 0; b < nb; ++b) {
        const uint8_t* blk = w + (size_t)b * sizeof(BlockQ4_1);
        prefetch_next_group<sizeof(BlockQ4_1)>(w, ws, b, to_l1);
        __m128i g[2];
        load_words8(blk, ws, g);  // d | m << 16
        summs = _mm256_fmadd_ps(half_hi8(g), _mm256_set1_ps(a[b].sm), summs);
        const __m256 dd = _mm256_mul_ps(half_lo8(g), _mm256_set1_ps(a[b].d));
        const __m256i alo = bcast128(a[b].qs), ahi = bcast128(a[b].qs + 16);
        for (int p = 0; p < 4; ++p) {
            const uint8_t* r = blk + 4 + (size_t)(2 * p) * ws;
            const __m256i v = pair128(r, r + ws);
            const __m256i ul = _mm256_and_si256(v, m4), uh = _mm256_and_si256(_mm256_srli_epi16(v, 4), m4);
            const __m256 ds = _mm256_permutevar8x32_ps(dd, _mm256_setr_epi32(2 * p, 2 * p, 2 * p, 2 * p, 2 * p + 1,
                                                                             2 * p + 1, 2 * p + 1, 2 * p + 1));
            lo[p] = _mm256_fmadd_ps(ds, _mm256_cvtepi32_ps(_mm256_madd_epi16(_mm256_maddubs_epi16(ul, alo), ones)), lo[p]);
            hi[p] = _mm256_fmadd_ps(ds, _mm256_cvtepi32_ps(_mm256_madd_epi16(_mm256_maddubs_epi16(uh, ahi), ones)), hi[p]);
        }
    }
    alignas(32) float sm[kRows];
    _mm256_store_ps(sm, summs);
    for (int p = 0; p < 4; ++p) {
        y[2 * p] = hsum_ps(_mm256_permute2f128_ps(lo[p], hi[p], 0x20)) + sm[2 * p];
        y[2 * p + 1] = hsum_ps(_mm256_permute2f128_ps(lo[p], hi[p], 0x31)) + sm[2 * p + 1];
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

// pshufb indices: kOneScale[k] broadcasts int16 lane k of each 128-bit lane to all its 8 int16 lanes. A
// table (memory operands) rather than computed: GCC otherwise rebuilds some in registers on every row.
alignas(32) constexpr int8_t kOneScale[8][32] = {
#define LLM_ONE(i) {i, i + 1, i, i + 1, i, i + 1, i, i + 1, i, i + 1, i, i + 1, i, i + 1, i, i + 1, \
                    i, i + 1, i, i + 1, i, i + 1, i, i + 1, i, i + 1, i, i + 1, i, i + 1, i, i + 1}
    LLM_ONE(0), LLM_ONE(2), LLM_ONE(4), LLM_ONE(6), LLM_ONE(8), LLM_ONE(10), LLM_ONE(12), LLM_ONE(14),
#undef LLM_ONE
};
inline __m256i one_scale_idx(int k) { return load256(kOneScale[k]); }

// Q4_K: dot_q4_k_repacked: exact isum = sum_s scale_s * dot(q_s, a_s) and imin = sum_s min_s * bsum_s per
// super-block, then acc = fma((float)isum, d*da, acc), acc_m = fma((float)imin, dmin*da, acc_m); acc - acc_m.
// Unlike Q4_0, the integer part runs ROW BY ROW (each row's super-blocks in order, one sequential stream as
// vec_dot reads them) and parks each row's partial sums in a small buffer; the 8 float chains then run as
// the lanes of one ymm over the parked sums. Q4_K's vec_dot already streams near the memory limit, and the
// 8 interleaved row streams cost about the bandwidth the shared work saves (measured, one thread, TinyLlama
// shapes, vs vec_dot: interleaved 0.8-1.06x DRAM-cold (T1 or T0 prefetch), 0.9-1.1x from L3; row by row
// 0.85-1.3x cold, 1.3-1.4x from L3, and 11% less CPU per token in the whole Q4_K_M model). The d/dmin
// words are picked up during the row pass too (reading them from 8 rows again afterwards was slow).
constexpr int64_t kQ4kChunk = 32;  // super-blocks per pass (8192 elements; 8 KiB of parked sums)

void gemv_q4_k(int64_t n, const uint8_t* w, size_t ws, const void* act, float* y) {
    const auto* a = static_cast<const ActQ8K*>(act);
    const __m256i m4 = _mm256_set1_epi8(0x0F);
    const int64_t nb = n / QK_K, nchunks = (nb + kQ4kChunk - 1) / kQ4kChunk;
    // Per super-block j of the chunk: isum_p[j][k] = [row k's 4 partial sums | row k+4's] (reduce8_lanes'
    // layout), imin_p[j][k] the same for the mins; dw[j][r] = row r's d | dmin << 16; bs[j] the 8 per-32 bsums.
    alignas(32) int32_t isum_p[kQ4kChunk][4][8], imin_p[kQ4kChunk][4][8];
    alignas(32) uint32_t dw[kQ4kChunk][kRows];
    alignas(16) int16_t bs[kQ4kChunk][8];
    __m256 acc = _mm256_setzero_ps(), acc_m = _mm256_setzero_ps();
    for (int64_t c = 0; c < nchunks; ++c) {
        const int64_t b0 = nb * c / nchunks, b1 = nb * (c + 1) / nchunks;
        for (int64_t b = b0; b < b1; ++b)
            _mm_store_si128(reinterpret_cast<__m128i*>(bs[b - b0]), _mm_hadd_epi16(load128(a[b].bsums), load128(a[b].bsums + 8)));
        for (int r = 0; r < kRows; ++r) {
            const uint8_t* row = w + (size_t)r * ws;
            for (int64_t b = b0; b < b1; ++b) {
                const int64_t j = b - b0;
                const uint8_t* x = row + (size_t)b * sizeof(BlockQ4_K);
                const ActQ8K& yb = a[b];
                dw[j][r] = load_u32(x);
                const __m256i sm16 = _mm256_cvtepu8_epi16(unpack_scales_mins_k4(x + offsetof(BlockQ4_K, scales)));  // [sc | mn]
                const __m256i sc = _mm256_permute2x128_si256(sm16, sm16, 0x00);
                __m256i s = _mm256_setzero_si256();
                for (int q = 0; q < 4; ++q) {
                    const __m256i bits = load256(x + offsetof(BlockQ4_K, qs) + 32 * q);
                    const __m256i lo = _mm256_and_si256(bits, m4), hi = _mm256_and_si256(_mm256_srli_epi16(bits, 4), m4);
                    s = _mm256_add_epi32(s, _mm256_madd_epi16(_mm256_maddubs_epi16(lo, load256(yb.qs + 64 * q)),
                                                              _mm256_shuffle_epi8(sc, one_scale_idx(2 * q))));
                    s = _mm256_add_epi32(s, _mm256_madd_epi16(_mm256_maddubs_epi16(hi, load256(yb.qs + 64 * q + 32)),
                                                              _mm256_shuffle_epi8(sc, one_scale_idx(2 * q + 1))));
                }
                const int k = r & 3, h = 4 * (r >> 2);
                _mm_store_si128(reinterpret_cast<__m128i*>(&isum_p[j][k][h]),
                                _mm_add_epi32(_mm256_castsi256_si128(s), _mm256_extracti128_si256(s, 1)));
                _mm_store_si128(reinterpret_cast<__m128i*>(&imin_p[j][k][h]),
                                _mm_madd_epi16(_mm256_extracti128_si256(sm16, 1), _mm_load_si128(reinterpret_cast<const __m128i*>(bs[j]))));
            }
        }
        for (int64_t b = b0; b < b1; ++b) {
            const int64_t j = b - b0;
            __m256i vs[4], vm[4];
            for (int k = 0; k < 4; ++k) {
                vs[k] = _mm256_load_si256(reinterpret_cast<const __m256i*>(isum_p[j][k]));
                vm[k] = _mm256_load_si256(reinterpret_cast<const __m256i*>(imin_p[j][k]));
            }
            const __m128i g[2] = {_mm_load_si128(reinterpret_cast<const __m128i*>(dw[j])),
                                  _mm_load_si128(reinterpret_cast<const __m128i*>(dw[j] + 4))};
            const __m256 dy = _mm256_set1_ps(a[b].d);
            acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(reduce8_lanes(vs)), _mm256_mul_ps(half_lo8(g), dy), acc);
            acc_m = _mm256_fmadd_ps(_mm256_cvtepi32_ps(reduce8_lanes(vm)), _mm256_mul_ps(half_hi8(g), dy), acc_m);
        }
    }
    _mm256_storeu_ps(y, _mm256_sub_ps(acc, acc_m));
}

// pshufb indices of q6_k_row_isum: int16 lanes 0-7 = scale 2k of the 128-bit half, lanes 8-15 = scale 2k + 1.
inline void q6_k_scale_idx(__m256i pidx[4]) {
    for (int k = 0; k < 4; ++k) {
        const char lo = (char)(4 * k), hi = (char)(4 * k + 2);
        pidx[k] = _mm256_setr_epi8(lo, lo + 1, lo, lo + 1, lo, lo + 1, lo, lo + 1, lo, lo + 1, lo, lo + 1, lo, lo + 1, lo,
                                   lo + 1, hi, hi + 1, hi, hi + 1, hi, hi + 1, hi, hi + 1, hi, hi + 1, hi, hi + 1, hi,
                                   hi + 1, hi, hi + 1);
    }
}

// Q6_K's exact integers of one row x (8 int32 lanes, dot_q6_k<AccAvx2>'s): the -32 offset via the scales x bsums bsv,
// then pmaddubsw + pmaddwd with the group scales.
inline __m256i q6_k_row_isum(const uint8_t* x, const ActQ8K& yb, __m256i bsv, const __m256i pidx[4]) {
    const __m256i s16 = _mm256_cvtepi8_epi16(load128(x + offsetof(BlockQ6_K, scales)));
    const __m256i half[2] = {_mm256_permute2x128_si256(s16, s16, 0x00), _mm256_permute2x128_si256(s16, s16, 0x11)};
    __m256i s = _mm256_sub_epi32(_mm256_setzero_si256(), _mm256_slli_epi32(_mm256_madd_epi16(s16, bsv), 5));
    for (int h = 0; h < 2; ++h) {
        __m256i q[4];
        q6_k_half_values(x + 64 * h, x + offsetof(BlockQ6_K, qh) + 32 * h, q);
        for (int k = 0; k < 4; ++k)
            s = _mm256_add_epi32(s, _mm256_madd_epi16(_mm256_maddubs_epi16(q[k], load256(yb.qs + 128 * h + 32 * k)),
                                                      _mm256_shuffle_epi8(half[h], pidx[k])));
    }
    return s;
}

// Q6_K: dot_q6_k<AccAvx2>: per super-block 8 int32 lanes (the -32 offset via the scales x bsums, then
// pmaddubsw + pmaddwd with the group scales), fma(d*da, lanes, acc), hsum_ps. One accumulator per row; the
// activations, bsums and the 8 rows' scales are loaded once per group.
void gemv_q6_k(int64_t n, const uint8_t* w, size_t ws, const void* act, float* y) {
    const auto* a = static_cast<const ActQ8K*>(act);
    const bool to_l1 = kRows * ws <= kL1GroupBytes;
    __m256i pidx[4];
    q6_k_scale_idx(pidx);
    __m256 acc[kRows];
    for (auto& v : acc) v = _mm256_setzero_ps();
    for (int64_t b = 0; b < n / QK_K; ++b) {
        const uint8_t* blk = w + (size_t)b * sizeof(BlockQ6_K);
        prefetch_next_group<sizeof(BlockQ6_K)>(w, ws, b, to_l1);
        const ActQ8K& yb = a[b];
        __m128i g[2];
        load_words8(blk + offsetof(BlockQ6_K, d) - 2, ws, g);  // d is the block's last 2 bytes: no read past the row
        alignas(32) float dd[kRows];
        _mm256_store_ps(dd, _mm256_mul_ps(half_hi8(g), _mm256_set1_ps(yb.d)));
        const __m256i bsv = load256(yb.bsums);
        for (int r = 0; r < kRows; ++r) {
            const uint8_t* x = blk + (size_t)r * ws;
            const __m256i s = q6_k_row_isum(x, yb, bsv, pidx);
            acc[r] = _mm256_fmadd_ps(_mm256_set1_ps(dd[r]), _mm256_cvtepi32_ps(s), acc[r]);
        }
    }
    for (int r = 0; r < kRows; ++r) y[r] = hsum_ps(acc[r]);
}

}  // namespace

// dispatch = measured faster than the per-row AVX2 vec_dot (gemv.hpp); the others stay tested. Measured on
// Zen 4 capped to AVX2 (LLM_CPU=avx2), shared machine, medians. Per matrix, one thread, DRAM-cold, kernel /
// vec_dot speedup: Q4_0 1.75-2.1x (TinyLlama shapes); Q4_1 1.05-1.15x (TinyLlama), 1.2x (SmolLM2 shapes);
// Q4_K 0.85-1.05x (1.3-1.4x from L3); Q8_0 0.8-0.9x; Q6_K 0.75-0.95x (vec_dot already streams at the
// memory limit; the T0 prefetch hurts it further). Whole model, CPU ms per generated token with / without
// the kernels: TinyLlama Q4_0 18-22 / 39-46 (1 thread), 27 / 44 (2 threads); Q4_K_M 19.1 / 21.6 (1 thread),
// 24 / 29 (2 threads); SmolLM2 Q4_1 4.0 / 4.3; TinyLlama Q8_0 with the Q8_0 kernel 30 / 28 (slower).
namespace {  // internal linkage: compiled with this file's ISA flags

// Q5_K in the GEMM's order (Numerics::Invariant): as gemv_avx512.cpp's gemv_q45_k_gemm_order, 8 rows (without Five the
// same for Q4_K, bit-identical to gemv_q4_k above: tests only). Per
// row pair (k, k+4) and sub-block: two pmaddubsw of 16 nibbles x 16 activations (|int16| <= 2*2*15*127),
// pmaddwd to int32, then the transpose-and-add; scales and mins unpacked lane-wise from three words per row.
// Q5_K (Five): the same with the fifth bit of element 64j + l (+ 32) from bit 2j (2j + 1) of qh[l] (u <= 31:
// |int16| <= 2*2*31*127).
template <bool Five>
void gemv_q45_k_gemm_order(int64_t n, const uint8_t* w, size_t ws, const void* act, float* y) {
    using Block = std::conditional_t<Five, BlockQ5_K, BlockQ4_K>;
    const auto* a = static_cast<const ActQ8K*>(act);
    const __m256i m4 = _mm256_set1_epi8(0x0F), ones = _mm256_set1_epi16(1), one = _mm256_set1_epi8(1);
    constexpr size_t kScales = offsetof(Block, scales), kQs = offsetof(Block, qs);
    const bool to_l1 = kRows * (size_t)(n / QK_K) * sizeof(Block) <= kL1GroupBytes;
    __m256 acc = _mm256_setzero_ps(), acc_m = _mm256_setzero_ps();
    for (int64_t b = 0; b < n / QK_K; ++b) {
        const uint8_t* blk = w + (size_t)b * sizeof(Block);
        prefetch_next_group<sizeof(Block)>(w, ws, b, to_l1);
        const ActQ8K& yb = a[b];
        __m128i g[2], q0[2], q1[2], q2[2];
        load_words8(blk, ws, g);
        load_words8(blk + kScales, ws, q0), load_words8(blk + kScales + 4, ws, q1), load_words8(blk + kScales + 8, ws, q2);
        const __m256i u0 = _mm256_set_m128i(q0[1], q0[0]), u1 = _mm256_set_m128i(q1[1], q1[0]),
                      u2 = _mm256_set_m128i(q2[1], q2[0]);
        __m256i is = _mm256_setzero_si256(), im = _mm256_setzero_si256();
        for (int jp = 0; jp < 4; ++jp) {
            const __m256i alo0 = bcast128(yb.qs + 64 * jp), alo1 = bcast128(yb.qs + 64 * jp + 16);
            const __m256i ahi0 = bcast128(yb.qs + 64 * jp + 32), ahi1 = bcast128(yb.qs + 64 * jp + 48);
            __m256i vlo[4], vhi[4];
            for (int k = 0; k < 4; ++k) {
                const uint8_t* ra = blk + (size_t)k * ws + kQs + 32 * jp;
                const uint8_t* rb = ra + 4 * ws;
                const __m256i b0 = pair128(ra, rb), b1 = pair128(ra + 16, rb + 16);
                __m256i l0 = _mm256_and_si256(b0, m4), l1 = _mm256_and_si256(b1, m4);
                __m256i h0 = _mm256_and_si256(_mm256_srli_epi16(b0, 4), m4), h1 = _mm256_and_si256(_mm256_srli_epi16(b1, 4), m4);
                if constexpr (Five) {
                    const uint8_t* qa = blk + (size_t)k * ws + offsetof(BlockQ5_K, qh);
                    const uint8_t* qb = qa + 4 * ws;
                    const __m256i q0 = pair128(qa, qb), q1 = pair128(qa + 16, qb + 16);
                    auto bit = [&](__m256i q, int s) { return _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(q, s), one), 4); };
                    l0 = _mm256_or_si256(l0, bit(q0, 2 * jp)), l1 = _mm256_or_si256(l1, bit(q1, 2 * jp));
                    h0 = _mm256_or_si256(h0, bit(q0, 2 * jp + 1)), h1 = _mm256_or_si256(h1, bit(q1, 2 * jp + 1));
                }
                const __m256i l = _mm256_add_epi16(_mm256_maddubs_epi16(l0, alo0), _mm256_maddubs_epi16(l1, alo1));
                const __m256i h = _mm256_add_epi16(_mm256_maddubs_epi16(h0, ahi0), _mm256_maddubs_epi16(h1, ahi1));
                vlo[k] = _mm256_madd_epi16(l, ones);
                vhi[k] = _mm256_madd_epi16(h, ones);
            }
            const __m256i isum[2] = {reduce8_lanes(vlo), reduce8_lanes(vhi)};
            for (int e = 0; e < 2; ++e) {
                const int j = 2 * jp + e;
                __m256i sj, mj;
                scale_min_k4(u0, u1, u2, j, sj, mj);
                is = _mm256_add_epi32(is, _mm256_mullo_epi32(isum[e], sj));
                im = _mm256_add_epi32(im, _mm256_mullo_epi32(mj, _mm256_set1_epi32(yb.bsums[2 * j] + yb.bsums[2 * j + 1])));
            }
        }
        const __m256 dy = _mm256_set1_ps(yb.d);
        acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(is), _mm256_mul_ps(half_lo8(g), dy), acc);
        acc_m = _mm256_fmadd_ps(_mm256_cvtepi32_ps(im), _mm256_mul_ps(half_hi8(g), dy), acc_m);
    }
    _mm256_storeu_ps(y, _mm256_sub_ps(acc, acc_m));
}

// Q6_K in the GEMM's order (gemm.hpp gemm_kint): as gemv_avx512.cpp's gemv_q6_k_gemm_order, 8 rows. Each row's exact
// integer formed as gemv_q6_k above forms its 8 lanes, then the rows' lanes reduced together (rows r and r + 4
// regrouped by 128-bit permutes, then the transpose-and-add) and one FMA per super-block: acc = fma((float)isum,
// d*da, acc).
void gemv_q6_k_gemm_order(int64_t n, const uint8_t* w, size_t ws, const void* act, float* y) {
    const auto* a = static_cast<const ActQ8K*>(act);
    const bool to_l1 = kRows * ws <= kL1GroupBytes;
    __m256i pidx[4];
    q6_k_scale_idx(pidx);
    __m256 acc = _mm256_setzero_ps();
    for (int64_t b = 0; b < n / QK_K; ++b) {
        const uint8_t* blk = w + (size_t)b * sizeof(BlockQ6_K);
        prefetch_next_group<sizeof(BlockQ6_K)>(w, ws, b, to_l1);
        const ActQ8K& yb = a[b];
        __m128i g[2];
        load_words8(blk + offsetof(BlockQ6_K, d) - 2, ws, g);  // d is the block's last 2 bytes: no read past the row
        const __m256i bsv = load256(yb.bsums);
        __m256i v[kRows];
        for (int r = 0; r < kRows; ++r) {
            const uint8_t* x = blk + (size_t)r * ws;
            const __m256i s = q6_k_row_isum(x, yb, bsv, pidx);
            v[r] = s;
        }
        __m256i vs[4];
        for (int k = 0; k < 4; ++k)
            vs[k] = _mm256_add_epi32(_mm256_permute2x128_si256(v[k], v[k + 4], 0x20), _mm256_permute2x128_si256(v[k], v[k + 4], 0x31));
        acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(reduce8_lanes(vs)), _mm256_mul_ps(half_hi8(g), _mm256_set1_ps(yb.d)), acc);
    }
    _mm256_storeu_ps(y, acc);
}

// Q4_1 and Q8_0 in the GEMM's order: as gemv_avx512.cpp's gemv_b32_gemm_order, 8 rows, row pairs (r, r+4) per
// ymm as gemv_q4_0. Q8_0's exact sum(q*a) by pmaddubsw(|q|, sign(a, q)) (|pair| <= 2*128*127, no saturation).
template <DType T>
void gemv_b32_gemm_order(int64_t n, const uint8_t* w, size_t ws, const void* act, float* y) {
    static_assert(T == DType::Q4_1 || T == DType::Q8_0);
    constexpr size_t kBlock = T == DType::Q4_1 ? sizeof(BlockQ4_1) : sizeof(BlockQ8_0);
    const auto* a = static_cast<const ActQ8*>(act);
    const bool to_l1 = kRows * ws <= kL1GroupBytes;
    const __m256i m4 = _mm256_set1_epi8(0x0F), ones = _mm256_set1_epi16(1);
    __m256 acc = _mm256_setzero_ps();
    for (int64_t b = 0; b < n / 32; ++b) {
        const uint8_t* blk = w + (size_t)b * kBlock;
        prefetch_next_group<kBlock>(w, ws, b, to_l1);
        const __m256i alo = bcast128(a[b].qs), ahi = bcast128(a[b].qs + 16);
        __m256i s[4];
        for (int k = 0; k < 4; ++k) {
            if constexpr (T == DType::Q4_1) {
                const uint8_t* p = blk + 4 + (size_t)k * ws;
                const __m256i v = pair128(p, p + 4 * ws);
                const __m256i lo = _mm256_and_si256(v, m4), hi = _mm256_and_si256(_mm256_srli_epi16(v, 4), m4);
                s[k] = _mm256_madd_epi16(_mm256_add_epi16(_mm256_maddubs_epi16(lo, alo), _mm256_maddubs_epi16(hi, ahi)), ones);
            } else {
                const uint8_t* p = blk + 2 + (size_t)k * ws;
                const __m256i v0 = pair128(p, p + 4 * ws), v1 = pair128(p + 16, p + 16 + 4 * ws);
                s[k] = _mm256_add_epi32(
                    _mm256_madd_epi16(_mm256_maddubs_epi16(_mm256_sign_epi8(v0, v0), _mm256_sign_epi8(alo, v0)), ones),
                    _mm256_madd_epi16(_mm256_maddubs_epi16(_mm256_sign_epi8(v1, v1), _mm256_sign_epi8(ahi, v1)), ones));
            }
        }
        __m128i g[2];
        load_words8(blk, ws, g);  // d (| m << 16 for Q4_1)
        acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(reduce8_lanes(s)), _mm256_mul_ps(half_lo8(g), _mm256_set1_ps(a[b].d)), acc);
        if constexpr (T == DType::Q4_1) acc = _mm256_fmadd_ps(half_hi8(g), _mm256_set1_ps(a[b].sm), acc);
    }
    _mm256_storeu_ps(y, acc);
}

}  // namespace

namespace {

// ---- Several tokens per pass (gemv.hpp GemvMultiKernel): Q4_0 and Q4_1, 8 rows x T <= 8 tokens ---------------
// As gemv_multi_q4_t in gemv_avx512.cpp: per block the 8 rows' bytes are loaded, transposed (in-lane 4x4
// dwords of [row k | row k + 4]: q_j dword r = row r's bytes 4j..4j+3) and unpacked once for the T tokens;
// per token each activation dword is broadcast, the 8 pmaddubsw products summed in int16 (each in
// [-3840, 3810], so the sum of 8 stays within int16: exact), then pmaddwd to int32 plus the offset. Per output
// the operations of the one-token kernel: Q4_0 gemv_q4_0, Q4_1 (Min) gemv_b32_gemm_order<Q4_1>.
template <bool Min, int T>
void gemv_multi_q4_t(int64_t n, const uint8_t* w, size_t ws, const uint8_t* act, size_t as, const int32_t* off,
                     float* y, int64_t ldy) {
    constexpr size_t kBlock = Min ? sizeof(BlockQ4_1) : sizeof(BlockQ4_0), kQs = Min ? 4 : 2;
    const bool to_l1 = kRows * ws <= kL1GroupBytes;
    const __m256i m4 = _mm256_set1_epi8(0x0F), ones = _mm256_set1_epi16(1);
    const int64_t nb = n / 32;
    __m256 acc[T];
    for (int t = 0; t < T; ++t) acc[t] = _mm256_setzero_ps();
    for (int64_t b = 0; b < nb; ++b) {
        const uint8_t* blk = w + (size_t)b * kBlock;
        prefetch_next_group<kBlock>(w, ws, b, to_l1);
        __m256i v[4];
        for (int k = 0; k < 4; ++k) v[k] = pair128(blk + kQs + (size_t)k * ws, blk + kQs + (size_t)(k + 4) * ws);
        const __m256i t0 = _mm256_unpacklo_epi32(v[0], v[1]), t1 = _mm256_unpackhi_epi32(v[0], v[1]);
        const __m256i t2 = _mm256_unpacklo_epi32(v[2], v[3]), t3 = _mm256_unpackhi_epi32(v[2], v[3]);
        const __m256i q[4] = {_mm256_unpacklo_epi64(t0, t2), _mm256_unpackhi_epi64(t0, t2),
                              _mm256_unpacklo_epi64(t1, t3), _mm256_unpackhi_epi64(t1, t3)};
        __m256i lo[4], hi[4];
        for (int j = 0; j < 4; ++j) lo[j] = _mm256_and_si256(q[j], m4), hi[j] = _mm256_and_si256(_mm256_srli_epi16(q[j], 4), m4);
        __m128i g[2];
        load_words8(blk, ws, g);  // d (| m << 16 for Q4_1)
        const __m256 dw = half_lo8(g);
        const __m256 mw = Min ? half_hi8(g) : _mm256_setzero_ps();
        for (int t = 0; t < T; ++t) {
            const ActQ8& a = reinterpret_cast<const ActQ8*>(act + (size_t)t * as)[b];
            // Each activation dword broadcast straight from memory (vpbroadcastd ymm, m32: a load, no ALU).
            auto bc = [&](int j) { return _mm256_broadcastd_epi32(_mm_loadu_si32(a.qs + 4 * j)); };
            // Two int16 chains (low and high nibbles, 4 terms each), then one sum of the 8 terms.
            __m256i pl = _mm256_maddubs_epi16(lo[0], bc(0)), ph = _mm256_maddubs_epi16(hi[0], bc(4));
            for (int j = 1; j < 4; ++j) {
                pl = _mm256_add_epi16(pl, _mm256_maddubs_epi16(lo[j], bc(j)));
                ph = _mm256_add_epi16(ph, _mm256_maddubs_epi16(hi[j], bc(4 + j)));
            }
            __m256i isum = _mm256_madd_epi16(_mm256_add_epi16(pl, ph), ones);
            if constexpr (!Min) isum = _mm256_add_epi32(isum, _mm256_set1_epi32(off[(size_t)t * nb + b]));
            acc[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(isum), _mm256_mul_ps(dw, _mm256_set1_ps(a.d)), acc[t]);
            if constexpr (Min) acc[t] = _mm256_fmadd_ps(mw, _mm256_set1_ps(a.sm), acc[t]);
        }
    }
    for (int t = 0; t < T; ++t) _mm256_storeu_ps(y + t * ldy, acc[t]);
}

#ifndef GEMV_MULTI_TOKENS
#define GEMV_MULTI_TOKENS 8
#endif
constexpr int kMultiTokens = GEMV_MULTI_TOKENS;

template <bool Min>
void gemv_multi_q4(int64_t n, const uint8_t* w, size_t ws, const uint8_t* act, size_t as, const int32_t* off,
                   int n_tok, float* y, int64_t ldy) {
    const int64_t nb = n / 32;
    for_token_passes(n_tok, kMultiTokens, [&](auto T, int t0) {
        gemv_multi_q4_t<Min, T>(n, w, ws, act + (size_t)t0 * as, as, off + (size_t)t0 * nb, y + t0 * ldy, ldy);
    });
}
// Q4_K / Q5_K (Five), several tokens in the GEMM's order (as gemv_avx512.cpp's gemv_multi_q45_k_t, 8 rows): per
// super-block the scales and mins unpacked once, per pair of sub-blocks the 4 row pairs' nibbles stored once in
// an L1 scratch; per token and output the exact integers and the two FMAs of gemv_q45_k_gemm_order above.
template <bool Five, int T>
void gemv_multi_q45_k_t(int64_t n, const uint8_t* w, size_t ws, const uint8_t* act, size_t as, float* y, int64_t ldy) {
    using Block = std::conditional_t<Five, BlockQ5_K, BlockQ4_K>;
    const __m256i m4 = _mm256_set1_epi8(0x0F), ones = _mm256_set1_epi16(1), one = _mm256_set1_epi8(1);
    constexpr size_t kScales = offsetof(Block, scales), kQs = offsetof(Block, qs);
    const bool to_l1 = kRows * (size_t)(n / QK_K) * sizeof(Block) <= kL1GroupBytes;
    __m256 acc[T], acc_m[T];
    for (int t = 0; t < T; ++t) acc[t] = _mm256_setzero_ps(), acc_m[t] = _mm256_setzero_ps();
    alignas(32) __m256i sc[8], mn[8];
    alignas(32) __m256i u[4][4];  // [l0, l1, h0, h1][row pair]: one pair of sub-blocks
    for (int64_t b = 0; b < n / QK_K; ++b) {
        const uint8_t* blk = w + (size_t)b * sizeof(Block);
        prefetch_next_group<sizeof(Block)>(w, ws, b, to_l1);
        __m128i g[2], q0[2], q1[2], q2[2];
        load_words8(blk, ws, g);
        load_words8(blk + kScales, ws, q0), load_words8(blk + kScales + 4, ws, q1), load_words8(blk + kScales + 8, ws, q2);
        const __m256i u0 = _mm256_set_m128i(q0[1], q0[0]), u1 = _mm256_set_m128i(q1[1], q1[0]),
                      u2 = _mm256_set_m128i(q2[1], q2[0]);
        for (int j = 0; j < 8; ++j) scale_min_k4(u0, u1, u2, j, sc[j], mn[j]);
        alignas(32) __m256i is[T], im[T];
        for (int t = 0; t < T; ++t) {
            const ActQ8K& yb = reinterpret_cast<const ActQ8K*>(act + (size_t)t * as)[b];
            is[t] = _mm256_setzero_si256(), im[t] = _mm256_setzero_si256();
            for (int j = 0; j < 8; ++j)
                im[t] = _mm256_add_epi32(im[t], _mm256_mullo_epi32(mn[j], _mm256_set1_epi32(yb.bsums[2 * j] + yb.bsums[2 * j + 1])));
        }
        for (int jp = 0; jp < 4; ++jp) {
            for (int k = 0; k < 4; ++k) {
                const uint8_t* ra = blk + (size_t)k * ws + kQs + 32 * jp;
                const uint8_t* rb = ra + 4 * ws;
                const __m256i b0 = pair128(ra, rb), b1 = pair128(ra + 16, rb + 16);
                __m256i l0 = _mm256_and_si256(b0, m4), l1 = _mm256_and_si256(b1, m4);
                __m256i h0 = _mm256_and_si256(_mm256_srli_epi16(b0, 4), m4), h1 = _mm256_and_si256(_mm256_srli_epi16(b1, 4), m4);
                if constexpr (Five) {
                    const uint8_t* qa = blk + (size_t)k * ws + offsetof(BlockQ5_K, qh);
                    const uint8_t* qb = qa + 4 * ws;
                    const __m256i x0 = pair128(qa, qb), x1 = pair128(qa + 16, qb + 16);
                    auto bit = [&](__m256i q, int s) { return _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(q, s), one), 4); };
                    l0 = _mm256_or_si256(l0, bit(x0, 2 * jp)), l1 = _mm256_or_si256(l1, bit(x1, 2 * jp));
                    h0 = _mm256_or_si256(h0, bit(x0, 2 * jp + 1)), h1 = _mm256_or_si256(h1, bit(x1, 2 * jp + 1));
                }
                u[0][k] = l0, u[1][k] = l1, u[2][k] = h0, u[3][k] = h1;
            }
            for (int t = 0; t < T; ++t) {
                const ActQ8K& yb = reinterpret_cast<const ActQ8K*>(act + (size_t)t * as)[b];
                const __m256i alo0 = bcast128(yb.qs + 64 * jp), alo1 = bcast128(yb.qs + 64 * jp + 16);
                const __m256i ahi0 = bcast128(yb.qs + 64 * jp + 32), ahi1 = bcast128(yb.qs + 64 * jp + 48);
                __m256i vlo[4], vhi[4];
                for (int k = 0; k < 4; ++k) {
                    const __m256i l = _mm256_add_epi16(_mm256_maddubs_epi16(u[0][k], alo0), _mm256_maddubs_epi16(u[1][k], alo1));
                    const __m256i h = _mm256_add_epi16(_mm256_maddubs_epi16(u[2][k], ahi0), _mm256_maddubs_epi16(u[3][k], ahi1));
                    vlo[k] = _mm256_madd_epi16(l, ones);
                    vhi[k] = _mm256_madd_epi16(h, ones);
                }
                is[t] = _mm256_add_epi32(is[t], _mm256_mullo_epi32(reduce8_lanes(vlo), sc[2 * jp]));
                is[t] = _mm256_add_epi32(is[t], _mm256_mullo_epi32(reduce8_lanes(vhi), sc[2 * jp + 1]));
            }
        }
        const __m256 d = half_lo8(g), dmin = half_hi8(g);
        for (int t = 0; t < T; ++t) {
            const __m256 dy = _mm256_set1_ps(reinterpret_cast<const ActQ8K*>(act + (size_t)t * as)[b].d);
            acc[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(is[t]), _mm256_mul_ps(d, dy), acc[t]);
            acc_m[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(im[t]), _mm256_mul_ps(dmin, dy), acc_m[t]);
        }
    }
    for (int t = 0; t < T; ++t) _mm256_storeu_ps(y + t * ldy, _mm256_sub_ps(acc[t], acc_m[t]));
}

template <bool Five>
void gemv_multi_q45_k(int64_t n, const uint8_t* w, size_t ws, const uint8_t* act, size_t as, const int32_t*, int n_tok,
                      float* y, int64_t ldy) {
    for_token_passes(n_tok, 8, [&](auto T, int t0) {
        gemv_multi_q45_k_t<Five, T>(n, w, ws, act + (size_t)t0 * as, as, y + t0 * ldy, ldy);
    });
}
// Q6_K, several tokens in the GEMM's order (as gemv_q6_k_gemm_order above): per super-block sc_j unpacked
// once; per half the 8 rows' u vectors of its four quarters built once into an L1 scratch; per token and output
// the same operations in the same order.
template <int T>
void gemv_multi_q6_k_t(int64_t n, const uint8_t* w, size_t ws, const uint8_t* act, size_t as, float* y, int64_t ldy) {
    const __m256i m4 = _mm256_set1_epi8(0x0F), m30 = _mm256_set1_epi8(0x30), ones = _mm256_set1_epi16(1);
    constexpr size_t kQl = offsetof(BlockQ6_K, ql), kQh = offsetof(BlockQ6_K, qh), kSc = offsetof(BlockQ6_K, scales);
    const bool to_l1 = kRows * (size_t)(n / QK_K) * sizeof(BlockQ6_K) <= kL1GroupBytes;
    __m256 acc[T];
    for (int t = 0; t < T; ++t) acc[t] = _mm256_setzero_ps();
    alignas(32) __m256i sc[16];
    alignas(32) __m256i u[4][kRows];  // [quarter][row] of one half
    for (int64_t b = 0; b < n / QK_K; ++b) {
        const uint8_t* blk = w + (size_t)b * sizeof(BlockQ6_K);
        prefetch_next_group<sizeof(BlockQ6_K)>(w, ws, b, to_l1);
        __m128i g[2];
        load_words8(blk + offsetof(BlockQ6_K, d) - 2, ws, g);
        const __m256 d = half_hi8(g);
        for (int q = 0; q < 4; ++q) {
            __m128i sw[2];
            load_words8(blk + kSc + 4 * q, ws, sw);
            const __m256i us = _mm256_set_m128i(sw[1], sw[0]);
            for (int i = 0; i < 4; ++i) sc[4 * q + i] = _mm256_srai_epi32(_mm256_slli_epi32(us, 24 - 8 * i), 24);
        }
        alignas(32) __m256i is[T];
        for (int t = 0; t < T; ++t) is[t] = _mm256_setzero_si256();
        for (int h = 0; h < 2; ++h) {
            for (int k = 0; k < 4; ++k)
                for (int r = 0; r < kRows; ++r) {
                    const uint8_t* x = blk + (size_t)r * ws;
                    const __m256i lq = load256(x + kQl + 64 * h + 32 * (k & 1)), hq = load256(x + kQh + 32 * h);
                    const __m256i lo = k < 2 ? _mm256_and_si256(lq, m4) : _mm256_and_si256(_mm256_srli_epi16(lq, 4), m4);
                    const __m256i hb = _mm256_and_si256(2 * k <= 4 ? _mm256_slli_epi16(hq, 4 - 2 * k)
                                                                   : _mm256_srli_epi16(hq, 2 * k - 4), m30);
                    u[k][r] = _mm256_or_si256(lo, hb);
                }
            for (int t = 0; t < T; ++t) {
                const ActQ8K& yb = reinterpret_cast<const ActQ8K*>(act + (size_t)t * as)[b];
                for (int k = 0; k < 4; ++k) {
                    const __m256i ya = load256(yb.qs + 128 * h + 32 * k);
                    __m256i v[kRows];
                    for (int r = 0; r < kRows; ++r) v[r] = _mm256_madd_epi16(_mm256_maddubs_epi16(u[k][r], ya), ones);
                    __m256i ev[4], od[4];
                    for (int r = 0; r < 4; ++r) {
                        ev[r] = _mm256_permute2x128_si256(v[r], v[r + 4], 0x20);
                        od[r] = _mm256_permute2x128_si256(v[r], v[r + 4], 0x31);
                    }
                    const __m256i isum[2] = {reduce8_lanes(ev), reduce8_lanes(od)};
                    for (int e = 0; e < 2; ++e) {
                        const int j = 8 * h + 2 * k + e;
                        const __m256i c = _mm256_set1_epi32(-32 * (int32_t)yb.bsums[j]);
                        is[t] = _mm256_add_epi32(is[t], _mm256_mullo_epi32(_mm256_add_epi32(c, isum[e]), sc[j]));
                    }
                }
            }
        }
        for (int t = 0; t < T; ++t) {
            const ActQ8K& yb = reinterpret_cast<const ActQ8K*>(act + (size_t)t * as)[b];
            acc[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(is[t]), _mm256_mul_ps(d, _mm256_set1_ps(yb.d)), acc[t]);
        }
    }
    for (int t = 0; t < T; ++t) _mm256_storeu_ps(y + t * ldy, acc[t]);
}

void gemv_multi_q6_k(int64_t n, const uint8_t* w, size_t ws, const uint8_t* act, size_t as, const int32_t*, int n_tok,
                     float* y, int64_t ldy) {
    for_token_passes(n_tok, 8, [&](auto T, int t0) {
        gemv_multi_q6_k_t<T>(n, w, ws, act + (size_t)t0 * as, as, y + t0 * ldy, ldy);
    });
}
}  // namespace

GemvMultiKernel gemv_multi_avx2(DType type) {
    // Measured (bench/matmul_small_m, one thread, TinyLlama layer, ms per layer against the AVX2 GEMM): 4 tokens
    // 2.47 / 4.4-4.7, 8: 4.22 / 5.7-6.1, 12: 6.6 / 7.0-7.4, 16: 8.4 / 8.7-8.9, 24: 12.6 / 11.5 (~31 instructions
    // per token and 8 x 32 block, 8 pmaddubsw + 8 broadcasts + 7 int16 adds the floor of this formulation; passes
    // of 4 tokens instead of 8: 4.81 ms at 8 tokens).
    if (type == DType::Q4_0) return {gemv_multi_q4<false>, kRows, kMultiTokens, 8, 20};
    if (type == DType::Q4_1) return {gemv_multi_q4<true>, kRows, kMultiTokens, 0, 20};
    // Q4_K / Q5_K / Q6_K in the GEMM's order, 8 tokens per pass (same command as gemv_avx512.cpp's, LLM_CPU=avx2,
    // against the GEMM with its K-quant scales packed lane-wise): Q4_K 8 tokens 5.98 / 6.26 ms, 10: 8.08 / 7.88,
    // 16: GEMM 9.83-11.3; Q5_K 8: 7.19 / 8.03, 10: 9.63 / 8.99, 16: 13.4 / 12.6; Q6_K 8: 9.72 / 12.6, 10: 12.6 /
    // 12.4, 12: 14.0 / 13.7, 16: 17.7 / 15.2.
    if (type == DType::Q4_K) return {gemv_multi_q45_k<false>, kRows, 8, 0, 10};
    if (type == DType::Q5_K) return {gemv_multi_q45_k<true>, kRows, 8, 0, 10};
    if (type == DType::Q6_K) return {gemv_multi_q6_k, kRows, 8, 0, 11};
    return {};
}

GemvKernel gemv_gemm_order_avx2(DType type) {
    switch (type) {
        case DType::Q4_K: return {gemv_q45_k_gemm_order<false>, kRows, false};  // tests only: see gemv_avx512.cpp
        case DType::Q5_K: return {gemv_q45_k_gemm_order<true>, kRows, true};
        case DType::Q6_K: return {gemv_q6_k_gemm_order, kRows, true};
        case DType::Q4_1: return {gemv_b32_gemm_order<DType::Q4_1>, kRows, true};
        case DType::Q8_0: return {gemv_b32_gemm_order<DType::Q8_0>, kRows, true};
        default: return {};
    }
}

GemvKernel gemv_avx2(DType type) {
    switch (type) {
        case DType::Q4_0: return {gemv_q4_0, kRows, true};
        case DType::Q4_K: return {gemv_q4_k, kRows, true};
        case DType::Q4_1: return {gemv_q4_1, kRows, true};
        case DType::Q8_0: return {gemv_q8_0, kRows, false};
        case DType::Q6_K: return {gemv_q6_k, kRows, false};
        default: return {};
    }
}

}  // namespace llm::cpu
