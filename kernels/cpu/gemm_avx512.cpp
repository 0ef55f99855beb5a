// AVX-512 VNNI GEMM micro-kernel (16 rows x 8 tokens) and the packers compiled with AVX-512 flags.
// Per sub-block: 8 int32 accumulators start at the activations' -offset*sum(a), take SB/4 vpdpbusd each
// (packed weight vector x the token's 4 activation bytes broadcast), then one cvtdq2ps + mul + FMA into the
// float accumulators (cvtdq2ps + FMA for the K-quants, whose activation scale is applied once per super-block)
// and one FMA for the bias term of the asymmetric types. Same float operations in the same order as
// kernel_scalar in gemm_scalar.cpp, so the two agree bit for bit.

// GCC 12 flags the self-initialized variable inside _mm512_undefined_*() (a false positive).
#pragma GCC diagnostic ignored "-Wuninitialized"
#ifndef __clang__  // clang has no -Wmaybe-uninitialized (and would warn about the unknown group)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <immintrin.h>

#include <cstddef>
#include <cstdlib>
#include <type_traits>

#include "kernels/cpu/gemm_pack.hpp"
#include "kernels/cpu/kquant_lanes_avx512.hpp"

namespace llm::cpu {
namespace {

using namespace gemm_detail;

inline __m512i bcast32(const uint8_t* p) {
    int32_t v;
    std::memcpy(&v, p, 4);
    return _mm512_set1_epi32(v);
}
inline __m512 bcastf(const uint8_t* p) {
    float v;
    std::memcpy(&v, p, 4);
    return _mm512_set1_ps(v);
}

// P sub-blocks share one activation scale (see kernel_scalar): with P > 1 (the K-quants) their terms are
// summed unscaled in a second set of float accumulators, saving the per-sub-block multiply.
// NT <= 8 tokens of the tile are computed (the tile layout keeps its 8 slots): each token's accumulators
// see the same operations whatever NT, so a token's result does not depend on how many share its tile,
// while a lone decode token (Numerics::Invariant) costs one dpbusd chain instead of eight.
template <int SB, bool HasBias, int P, int NT>
void kernel_avx512_n(const uint8_t* panel, const uint8_t* act, int64_t n_sub, float* y, int64_t ldy, int n_rows,
                     int n_tok) {
    constexpr int T = kGemmTokens, R = kGemmRows;
    constexpr size_t wsb = gemm_sub_block_bytes(SB), asb = gemm_act_sub_block_bytes(SB);
    __m512 acc[NT];
    for (int t = 0; t < NT; ++t) acc[t] = _mm512_setzero_ps();
    for (int64_t g = 0; g < n_sub; g += P) {
        __m512 part[NT];
        if constexpr (P > 1)
            for (int t = 0; t < NT; ++t) part[t] = _mm512_setzero_ps();
        for (int j = 0; j < P; ++j, act += asb) {
            const uint8_t* ws = panel + R * SB;  // the sub-block's vectors, then its [sc, bi]
            __m512i ia[NT];
            for (int t = 0; t < NT; ++t) ia[t] = bcast32(act + T * SB + 4 * T + 4 * t);
            for (int q = 0; q < SB / 4; ++q) {
                const __m512i wv = _mm512_load_si512(panel + 64 * q);
                for (int t = 0; t < NT; ++t) ia[t] = _mm512_dpbusd_epi32(ia[t], wv, bcast32(act + 4 * T * q + 4 * t));
            }
            panel += wsb;
            const __m512 sc = _mm512_load_ps(reinterpret_cast<const float*>(ws));
            const __m512 bi = HasBias ? _mm512_load_ps(reinterpret_cast<const float*>(ws + 64)) : sc;
            for (int t = 0; t < NT; ++t) {
                if constexpr (P == 1) {
                    acc[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(ia[t]), _mm512_mul_ps(sc, bcastf(act + T * SB + 4 * t)), acc[t]);
                    if constexpr (HasBias) acc[t] = _mm512_fmadd_ps(bi, bcastf(act + T * SB + 8 * T + 4 * t), acc[t]);
                } else {
                    part[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(ia[t]), sc, part[t]);
                    if constexpr (HasBias) part[t] = _mm512_fmadd_ps(bi, bcastf(act + T * SB + 8 * T + 4 * t), part[t]);
                }
            }
        }
        if constexpr (P > 1)
            for (int t = 0; t < NT; ++t) acc[t] = _mm512_fmadd_ps(part[t], bcastf(act - asb + T * SB + 4 * t), acc[t]);
    }
    const __mmask16 m = n_rows >= R ? (__mmask16)0xFFFF : (__mmask16)((1u << n_rows) - 1);
    for (int t = 0; t < NT; ++t)
        if (t < n_tok) _mm512_mask_storeu_ps(y + t * ldy, m, acc[t]);
}

template <int SB, bool HasBias, int P>
void kernel_avx512(const uint8_t* panel, const uint8_t* act, int64_t n_sub, float* y, int64_t ldy, int n_rows,
                   int n_tok) {
    if (n_tok <= 1) return kernel_avx512_n<SB, HasBias, P, 1>(panel, act, n_sub, y, ldy, n_rows, n_tok);
    if (n_tok <= 2) return kernel_avx512_n<SB, HasBias, P, 2>(panel, act, n_sub, y, ldy, n_rows, n_tok);
    if (n_tok <= 4) return kernel_avx512_n<SB, HasBias, P, 4>(panel, act, n_sub, y, ldy, n_rows, n_tok);
    kernel_avx512_n<SB, HasBias, P, kGemmTokens>(panel, act, n_sub, y, ldy, n_rows, n_tok);
}

// Bytes of one sub-block pair of Q4_K's nibble panel: 8 vectors of 16 rows x 4 bytes, then the two sub-blocks' tails.
// A pair of sub-blocks shares its weight vectors, sub-block 2i in their low nibbles and 2i + 1 in their high ones
// (the block's own qs bytes, transposed: pack_panel_q4_k_nibbles below): the byte panel's u values, so the same
// integer sums.
constexpr size_t kNibblePairBytes = (size_t)kGemmRows * 32 + 256;

// Where sub-block j's tail (gemm_pack.hpp kint_tail: its 16 scales, then its slot) sits within a block: the byte
// panel's sub-block slot, or the nibble panel's pair slot.
template <bool Nibbles>
constexpr size_t k4_scale_offset(int j) {
    return Nibbles ? (size_t)(j / 2) * kNibblePairBytes + kGemmRows * 32 + 128 * (j & 1)
                   : (size_t)j * gemm_sub_block_bytes(32) + kGemmRows * 32;
}

// The kint panels (gemm.hpp gemm_kint: Q4_K, Q5_K), kernel_scalar_kint's operations: first the min terms of the NT
// tokens over the whole row (acc_m: per super-block 4 vpdpwssd of the min pairs and the bsum pairs, one FMA; kept
// in a stack buffer, so that the main pass has its 3 x NT registers), then per sub-block the dpbusd chain of
// each token, times the rows' scales (vpmulld) into the super-block's integer, and per super-block one FMA.
// SB = 16, !HasMin: Q6_K (no min pass, acc alone).
template <int SB, bool HasMin, int NT, bool Nibbles>
void kernel_avx512_kint_n(const uint8_t* panel, const uint8_t* act, int64_t n_sub, float* y, int64_t ldy, int n_rows,
                          int n_tok) {
    constexpr int T = kGemmTokens, R = kGemmRows, P = QK_K / SB;
    constexpr size_t asb = gemm_act_sub_block_bytes(SB);
    constexpr size_t block_bytes = Nibbles ? 4 * kNibblePairBytes : P * gemm_sub_block_bytes(SB);
    auto tail = [](int j) { return Nibbles ? k4_scale_offset<true>(j) : (size_t)j * gemm_sub_block_bytes(SB) + R * SB; };
    auto slot = [&](const uint8_t* blk, int j) { return blk + tail(j) + 64; };
    auto meta = [](const uint8_t* a, int j, int field, int t) { return a + j * asb + T * SB + 4 * T * field + 4 * t; };
    const __m512i m4 = _mm512_set1_epi8(0x0F);
    alignas(64) float mins[NT][R];
    if constexpr (HasMin) {
        __m512 acc_m[NT];
        for (int t = 0; t < NT; ++t) acc_m[t] = _mm512_setzero_ps();
        const uint8_t* blk = panel;
        const uint8_t* a = act;
        for (int64_t g = 0; g < n_sub; g += P, blk += block_bytes, a += P * asb) {
            __m512i imin[NT];
            for (int t = 0; t < NT; ++t) imin[t] = _mm512_setzero_si512();
            for (int i = 0; i < 4; ++i) {
                const __m512i mp = _mm512_load_si512(slot(blk, kKintSlotMins + i));
                for (int t = 0; t < NT; ++t) imin[t] = _mm512_dpwssd_epi32(imin[t], mp, bcast32(meta(a, 2 * i, 2, t)));
            }
            const __m512 dmin = _mm512_load_ps(slot(blk, kKintSlotDmin));
            for (int t = 0; t < NT; ++t)
                acc_m[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(imin[t]), _mm512_mul_ps(dmin, bcastf(meta(a, 0, 0, t))), acc_m[t]);
        }
        for (int t = 0; t < NT; ++t) _mm512_store_ps(mins[t], acc_m[t]);
    }
    __m512 acc[NT];
    for (int t = 0; t < NT; ++t) acc[t] = _mm512_setzero_ps();
    for (int64_t g = 0; g < n_sub; g += P, panel += block_bytes, act += P * asb) {
        __m512i isum[NT];
        for (int t = 0; t < NT; ++t) isum[t] = _mm512_setzero_si512();
        for (int j = 0; j < P; ++j) {
            const uint8_t* wj = panel + (Nibbles ? (size_t)(j / 2) * kNibblePairBytes : (size_t)j * gemm_sub_block_bytes(SB));
            const uint8_t* aj = act + j * asb;
            __m512i ia[NT];
            for (int t = 0; t < NT; ++t) ia[t] = bcast32(meta(act, j, 1, t));
            for (int q = 0; q < SB / 4; ++q) {
                __m512i wv = _mm512_load_si512(wj + 64 * q);
                if constexpr (Nibbles) wv = _mm512_and_si512((j & 1) ? _mm512_srli_epi16(wv, 4) : wv, m4);
                for (int t = 0; t < NT; ++t) ia[t] = _mm512_dpbusd_epi32(ia[t], wv, bcast32(aj + 4 * T * q + 4 * t));
            }
            const __m512i sc = _mm512_load_si512(panel + tail(j));
            for (int t = 0; t < NT; ++t) isum[t] = _mm512_add_epi32(isum[t], _mm512_mullo_epi32(ia[t], sc));
        }
        const __m512 d = _mm512_load_ps(slot(panel, kKintSlotD));
        for (int t = 0; t < NT; ++t)
            acc[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(isum[t]), _mm512_mul_ps(d, bcastf(meta(act, 0, 0, t))), acc[t]);
    }
    const __mmask16 m = n_rows >= R ? (__mmask16)0xFFFF : (__mmask16)((1u << n_rows) - 1);
    for (int t = 0; t < NT; ++t)
        if (t < n_tok)
            _mm512_mask_storeu_ps(y + t * ldy, m, HasMin ? _mm512_sub_ps(acc[t], _mm512_load_ps(mins[t])) : acc[t]);
}

template <int SB, bool HasMin, bool Nibbles = false>
void kernel_avx512_kint(const uint8_t* panel, const uint8_t* act, int64_t n_sub, float* y, int64_t ldy, int n_rows,
                        int n_tok) {
    if (n_tok <= 1) return kernel_avx512_kint_n<SB, HasMin, 1, Nibbles>(panel, act, n_sub, y, ldy, n_rows, n_tok);
    if (n_tok <= 2) return kernel_avx512_kint_n<SB, HasMin, 2, Nibbles>(panel, act, n_sub, y, ldy, n_rows, n_tok);
    if (n_tok <= 4) return kernel_avx512_kint_n<SB, HasMin, 4, Nibbles>(panel, act, n_sub, y, ldy, n_rows, n_tok);
    kernel_avx512_kint_n<SB, HasMin, kGemmTokens, Nibbles>(panel, act, n_sub, y, ldy, n_rows, n_tok);
}

// ---- vectorized decoders for the common types (same output as gemm_pack.hpp's; the others use those) ----

inline void nibbles32_avx(const uint8_t* qs, uint8_t* u) {
    const __m128i t = _mm_loadu_si128(reinterpret_cast<const __m128i*>(qs)), m = _mm_set1_epi8(0x0F);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(u), _mm_and_si128(t, m));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(u + 16), _mm_and_si128(_mm_srli_epi16(t, 4), m));
}
inline __m256i high_bits32_avx(const uint8_t* qh4) {
    uint32_t qh;
    std::memcpy(&qh, qh4, 4);
    return _mm256_maskz_mov_epi8((__mmask32)qh, _mm256_set1_epi8(0x10));
}
void unpack_q4_0_avx(const void* blk, uint8_t* u, float* sc, float*) {
    const auto& b = *static_cast<const BlockQ4_0*>(blk);
    nibbles32_avx(b.qs, u);
    sc[0] = _cvtsh_ss(b.d);
}
void unpack_q4_1_avx(const void* blk, uint8_t* u, float* sc, float* bi) {
    const auto& b = *static_cast<const BlockQ4_1*>(blk);
    nibbles32_avx(b.qs, u);
    sc[0] = _cvtsh_ss(b.d);
    bi[0] = _cvtsh_ss(b.m);
}
template <typename Block, bool HasMin>
void unpack_q5_avx(const void* blk, uint8_t* u, float* sc, float* bi) {
    const auto& b = *static_cast<const Block*>(blk);
    nibbles32_avx(b.qs, u);
    __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(u));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(u), _mm256_or_si256(v, high_bits32_avx(b.qh)));
    sc[0] = _cvtsh_ss(b.d);
    if constexpr (HasMin) bi[0] = _cvtsh_ss(b.m);
}
void unpack_q8_0_avx(const void* blk, uint8_t* u, float* sc, float*) {
    const auto& b = *static_cast<const BlockQ8_0*>(blk);
    const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b.qs));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(u), _mm256_xor_si256(v, _mm256_set1_epi8((char)0x80)));
    sc[0] = _cvtsh_ss(b.d);
}
template <bool Five>
void nibbles_q45_k_avx(const uint8_t* qs, const uint8_t* qh, uint8_t* u) {
    const __m256i m = _mm256_set1_epi8(0x0F);
    __m256i h = Five ? _mm256_loadu_si256(reinterpret_cast<const __m256i*>(qh)) : _mm256_setzero_si256();
    const __m256i one = _mm256_set1_epi8(1);
    for (int j = 0; j < 4; ++j) {
        const __m256i t = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(qs + 32 * j));
        __m256i lo = _mm256_and_si256(t, m), hi = _mm256_and_si256(_mm256_srli_epi16(t, 4), m);
        if constexpr (Five) {
            lo = _mm256_or_si256(lo, _mm256_slli_epi16(_mm256_and_si256(h, one), 4));
            hi = _mm256_or_si256(hi, _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(h, 1), one), 4));
            h = _mm256_srli_epi16(h, 2);
        }
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(u + 64 * j), lo);
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(u + 64 * j + 32), hi);
    }
}
void weights_q6_k_avx(const void* blk, uint8_t* u) {
    const auto& b = *static_cast<const BlockQ6_K*>(blk);
    const __m256i m4 = _mm256_set1_epi8(0x0F), m2 = _mm256_set1_epi8(0x30);
    for (int h = 0; h < 2; ++h) {
        const __m256i ql0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b.ql + 64 * h));
        const __m256i ql1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b.ql + 64 * h + 32));
        const __m256i qh = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b.qh + 32 * h));
        uint8_t* o = u + 128 * h;
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(o), _mm256_or_si256(_mm256_and_si256(ql0, m4), _mm256_and_si256(_mm256_slli_epi16(qh, 4), m2)));
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(o + 32), _mm256_or_si256(_mm256_and_si256(ql1, m4), _mm256_and_si256(_mm256_slli_epi16(qh, 2), m2)));
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(o + 64), _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(ql0, 4), m4), _mm256_and_si256(qh, m2)));
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(o + 96), _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(ql1, 4), m4), _mm256_and_si256(_mm256_srli_epi16(qh, 2), m2)));
    }
}

// ---- K-quant panels: the weights decoded row by row, the scales of the 16 rows at once ----------------------
// Lane r = row r (gathers, kquant_lanes_avx512.hpp): the kint tails gemm_pack.hpp's packers write one row at a time
// (the per-row scalar unpack of the scales was most of the packing's cost). Rows >= n_rows (lanes outside m) get
// zeros, as the scalar packers' memset gives them. out: the block's first packed sub-block.
using WeightsFn = void (*)(const void* blk, uint8_t* u);
using LaneScalesFn = void (*)(const uint8_t* blk, __m512i offs, __mmask16 m, uint8_t* out);

template <typename Block>
void weights_q45_k_avx(const void* blk, uint8_t* u) {
    const auto& b = *static_cast<const Block*>(blk);
    if constexpr (std::is_same_v<Block, BlockQ5_K>) nibbles_q45_k_avx<true>(b.qs, b.qh, u);
    else nibbles_q45_k_avx<false>(b.qs, nullptr, u);
}
// The kint tails of the 16 rows (gemm_pack.hpp kint_write_row, lane-wise): s_j, d, dmin, the min pairs.
template <typename Block, bool Nibbles = false>
void lane_scales_kint(const uint8_t* blk, __m512i offs, __mmask16 m, uint8_t* out) {
    constexpr size_t kSc = offsetof(Block, scales);
    const __m512i g = gather32(blk + offsetof(Block, d), offs, m);  // d in the low half, dmin in the high
    const __m512i u0 = gather32(blk + kSc, offs, m), u1 = gather32(blk + kSc + 4, offs, m),
                  u2 = gather32(blk + kSc + 8, offs, m);
    __m512i mins[8];
    for (int j = 0; j < 8; ++j) {
        __m512i sj;
        scale_min_k4(u0, u1, u2, j, sj, mins[j]);
        _mm512_store_si512(out + k4_scale_offset<Nibbles>(j), sj);
    }
    auto slot = [&](int j) { return out + k4_scale_offset<Nibbles>(j) + 64; };
    _mm512_store_ps(slot(kKintSlotD), half_lo(g));
    _mm512_store_ps(slot(kKintSlotDmin), half_hi(g));
    for (int i = 0; i < 4; ++i)
        _mm512_store_si512(slot(kKintSlotMins + i), _mm512_or_si512(mins[2 * i], _mm512_slli_epi32(mins[2 * i + 1], 16)));
    for (int j = kKintSlotMins + 4; j < 8; ++j) _mm512_store_si512(slot(j), _mm512_setzero_si512());
}
// Q6_K's kint tails of the 16 rows (gemm_pack.hpp pack_panel_kint_q6_k, lane-wise): sc_j, then d in slot 0.
void lane_scales_q6_k_kint(const uint8_t* blk, __m512i offs, __mmask16 m, uint8_t* out) {
    constexpr size_t sb_bytes = gemm_sub_block_bytes(16), kSc = offsetof(BlockQ6_K, scales);
    // d is the block's last 2 bytes: gather the dword ending there (no read past the row).
    const __m512 d = half_hi(gather32(blk + offsetof(BlockQ6_K, d) - 2, offs, m));
    __m512i us[4];
    for (int q = 0; q < 4; ++q) us[q] = gather32(blk + kSc + 4 * q, offs, m);
    for (int j = 0; j < 16; ++j) {
        _mm512_store_si512(out + j * sb_bytes + kGemmRows * 16, scale_q6_k(us, j));
        if (j == kKintSlotD) _mm512_store_ps(out + j * sb_bytes + kGemmRows * 16 + 64, d);
        else _mm512_store_si512(out + j * sb_bytes + kGemmRows * 16 + 64, _mm512_setzero_si512());
    }
}
// The generic decoder, or its vectorized version where there is one.
template <void (*U)(const void*, uint8_t*, float*, float*)>
constexpr void (*fast_unpack)(const void*, uint8_t*, float*, float*) = U;
template <> constexpr void (*fast_unpack<unpack_q4_0>)(const void*, uint8_t*, float*, float*) = unpack_q4_0_avx;
template <> constexpr void (*fast_unpack<unpack_q4_1>)(const void*, uint8_t*, float*, float*) = unpack_q4_1_avx;
template <> constexpr void (*fast_unpack<unpack_q5_0>)(const void*, uint8_t*, float*, float*) = unpack_q5_avx<BlockQ5_0, false>;
template <> constexpr void (*fast_unpack<unpack_q5_1>)(const void*, uint8_t*, float*, float*) = unpack_q5_avx<BlockQ5_1, true>;
template <> constexpr void (*fast_unpack<unpack_q8_0>)(const void*, uint8_t*, float*, float*) = unpack_q8_0_avx;

// In-register transpose of two 8 x 8 dword matrices: r[i] holds row i of the first in its low 256 bits and
// row i of the second in its high 256 bits; afterwards r[g] holds dword g of the 8 rows of each, in the same
// halves. The unpacks work within 128-bit lanes; one two-source permute per output finishes across them.
inline void transpose2x8x8_epi32(__m512i (&r)[8]) {
    __m512i t[8], u[8];
    for (int i = 0; i < 8; i += 2) {
        t[i] = _mm512_unpacklo_epi32(r[i], r[i + 1]);
        t[i + 1] = _mm512_unpackhi_epi32(r[i], r[i + 1]);
    }
    for (int i = 0; i < 8; i += 4) {
        u[i] = _mm512_unpacklo_epi64(t[i], t[i + 2]);
        u[i + 1] = _mm512_unpackhi_epi64(t[i], t[i + 2]);
        u[i + 2] = _mm512_unpacklo_epi64(t[i + 1], t[i + 3]);
        u[i + 3] = _mm512_unpackhi_epi64(t[i + 1], t[i + 3]);
    }
    const __m512i lo = _mm512_setr_epi64(0, 1, 8, 9, 4, 5, 12, 13), hi = _mm512_setr_epi64(2, 3, 10, 11, 6, 7, 14, 15);
    for (int i = 0; i < 4; ++i) {
        r[i] = _mm512_permutex2var_epi64(u[i], lo, u[i + 4]);
        r[i + 4] = _mm512_permutex2var_epi64(u[i], hi, u[i + 4]);
    }
}

// The 16 rows of a panel are 16 streams from memory: fetch each ~512 bytes ahead of block b (the hardware prefetchers
// track fewer), once per cache line.
template <size_t BlockBytes>
inline void prefetch_rows_ahead(const uint8_t* base, size_t row_size, int n_rows, int64_t b, int64_t n_blocks) {
    constexpr int64_t kAhead = (512 + BlockBytes - 1) / BlockBytes;
    if (b + kAhead < n_blocks && (b * BlockBytes) / 64 != ((b + 1) * BlockBytes) / 64)
        for (int r = 0; r < n_rows; ++r)
            _mm_prefetch(reinterpret_cast<const char*>(base + r * row_size + (size_t)(b + kAhead) * BlockBytes), _MM_HINT_T0);
}

// The same panel as pack_panel (gemm_pack.hpp), built per block: the 16 rows are decoded into a row-major
// scratch, then each 32-byte column of it (8 quads of 16 rows) is transposed in registers, rows 0-7 and 8-15
// side by side, giving 8 panel vectors. Scales and biases are written by the decoders' loop sub-block-major,
// so each panel's 16 of them are one load. (Gathers instead of the transposes: ~3x slower per weight on
// Zen 4, and packing is most of a small-M call's cost.)
template <int BS, int SB, size_t BlockBytes, void (*Unpack)(const void*, uint8_t*, float*, float*),
          WeightsFn Weights = nullptr, LaneScalesFn Scales = nullptr>
void pack_panel_avx512(const TensorView& w, int64_t r0, int n_rows, uint8_t* dst) {
    constexpr int R = kGemmRows, n_sub = BS / SB, QS = SB / 4;
    constexpr size_t sb_bytes = gemm_sub_block_bytes(SB);
    const int64_t n_blocks = w.ne[0] / BS;
    alignas(64) uint8_t u[R][BS];
    alignas(64) float sc[n_sub][R], bi[n_sub][R];
    if (n_rows < R) {
        std::memset(u, 0, sizeof u);
        std::memset(sc, 0, sizeof sc);
        std::memset(bi, 0, sizeof bi);
    }
    const size_t row_size = w.row_size();
    const uint8_t* base = w.row(r0);
    // Scales lane-wise where the type has that form and the rows' offsets fit the gathers' int32 indices.
    const bool lanes = Scales != nullptr && (size_t)(R - 1) * row_size < ((size_t)1 << 31);
    const __m512i offs = row_offsets(lanes ? row_size : 0);
    const __mmask16 row_mask = (__mmask16)((1u << n_rows) - 1);
    for (int64_t b = 0; b < n_blocks; ++b) {
        prefetch_rows_ahead<BlockBytes>(base, row_size, n_rows, b, n_blocks);
        uint8_t* out = dst + (size_t)b * n_sub * sb_bytes;
        bool scales_done = false;
        if constexpr (Scales != nullptr)
            if (lanes) {
                for (int r = 0; r < n_rows; ++r) Weights(base + r * row_size + (size_t)b * BlockBytes, u[r]);
                Scales(base + (size_t)b * BlockBytes, offs, row_mask, out);
                scales_done = true;
            }
        if (!scales_done) {
            for (int r = 0; r < n_rows; ++r) {
                float s[n_sub], m[n_sub];
                for (int k = 0; k < n_sub; ++k) m[k] = 0.0f;
                Unpack(base + r * row_size + (size_t)b * BlockBytes, u[r], s, m);
                for (int k = 0; k < n_sub; ++k) sc[k][r] = s[k], bi[k][r] = m[k];
            }
        }
        for (int c = 0; c < BS / 32; ++c) {
            __m512i v[8];
            for (int i = 0; i < 8; ++i)
                v[i] = _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_load_si256(reinterpret_cast<const __m256i*>(&u[i][32 * c]))),
                                          _mm256_load_si256(reinterpret_cast<const __m256i*>(&u[8 + i][32 * c])), 1);
            transpose2x8x8_epi32(v);
            for (int i = 0; i < 8; ++i) {
                const int g = 8 * c + i;  // quad index within the block
                _mm512_store_si512(out + (g / QS) * sb_bytes + 64 * (g % QS), v[i]);
            }
        }
        if (!scales_done)
            for (int k = 0; k < n_sub; ++k) {
                _mm512_store_ps(out + k * sb_bytes + R * SB, _mm512_load_ps(sc[k]));
                _mm512_store_ps(out + k * sb_bytes + R * SB + 64, _mm512_load_ps(bi[k]));
            }
    }
}

// Q4_K's nibble panel: per block, each sub-block pair's 16 rows x 32 qs bytes transposed as they are (the low nibbles
// hold sub-block 2i, the high ones 2i + 1: nothing to unpack, half the bytes of the byte panel, which made packing
// most of a few-token call's cost), then the scales lane-wise. The kernel masks each vector's nibbles.
void pack_panel_q4_k_nibbles(const TensorView& w, int64_t r0, int n_rows, uint8_t* dst) {
    constexpr int R = kGemmRows;
    constexpr size_t kQs = offsetof(BlockQ4_K, qs), kBlock = sizeof(BlockQ4_K);
    const int64_t n_blocks = w.ne[0] / QK_K;
    const size_t row_size = w.row_size();
    const uint8_t* base = w.row(r0);
    const bool lanes = (size_t)(R - 1) * row_size < ((size_t)1 << 31);
    const __m512i offs = row_offsets(lanes ? row_size : 0);
    const __mmask16 row_mask = (__mmask16)((1u << n_rows) - 1);
    for (int64_t b = 0; b < n_blocks; ++b) {
        prefetch_rows_ahead<kBlock>(base, row_size, n_rows, b, n_blocks);
        const uint8_t* blk = base + (size_t)b * kBlock;
        uint8_t* out = dst + (size_t)b * 4 * kNibblePairBytes;
        auto qs = [&](int r, int jp) {
            return r < n_rows ? _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk + r * row_size + kQs + 32 * jp))
                              : _mm256_setzero_si256();
        };
        for (int jp = 0; jp < 4; ++jp) {
            __m512i v[8];
            for (int i = 0; i < 8; ++i) v[i] = _mm512_inserti64x4(_mm512_castsi256_si512(qs(i, jp)), qs(8 + i, jp), 1);
            transpose2x8x8_epi32(v);
            for (int i = 0; i < 8; ++i) _mm512_store_si512(out + jp * kNibblePairBytes + 64 * i, v[i]);
        }
        if (lanes) {
            lane_scales_kint<BlockQ4_K, true>(blk, offs, row_mask, out);
            continue;
        }
        for (int j = 0; j < 8; ++j) std::memset(out + k4_scale_offset<true>(j), 0, 128);
        for (int r = 0; r < n_rows; ++r) {  // rows too far apart for the gathers' int32 offsets
            const auto& bq = *reinterpret_cast<const BlockQ4_K*>(blk + r * row_size);
            kint_write_row(bq.scales, bq.d, bq.dmin, r, [&](int j) { return out + k4_scale_offset<true>(j); });
        }
    }
}

// The byte kint panel (Q5_K; Q4_K with LLM_GEMM_NIBBLES=0): pack_panel_avx512 with the lane-wise tails, or the
// scalar packer where the rows are too far apart for the gathers.
template <typename Block>
void pack_panel_kint_avx512(const TensorView& w, int64_t r0, int n_rows, uint8_t* dst) {
    constexpr bool kFive = std::is_same_v<Block, BlockQ5_K>;
    if ((size_t)(kGemmRows - 1) * w.row_size() >= ((size_t)1 << 31)) return pack_panel_kint<kFive>(w, r0, n_rows, dst);
    pack_panel_avx512<QK_K, 32, sizeof(Block), kFive ? unpack_q5_k : unpack_q4_k, weights_q45_k_avx<Block>,
                      lane_scales_kint<Block>>(w, r0, n_rows, dst);
}

// LLM_GEMM_NIBBLES=0: Q4_K through the byte panel (A/B timing; the same results).
inline bool nibble_panel_off() {
    static const bool off = [] {
        const char* e = std::getenv("LLM_GEMM_NIBBLES");
        return e && e[0] == '0';
    }();
    return off;
}

void pack_panel_kint_q6_k_avx512(const TensorView& w, int64_t r0, int n_rows, uint8_t* dst) {
    if ((size_t)(kGemmRows - 1) * w.row_size() >= ((size_t)1 << 31)) return pack_panel_kint_q6_k(w, r0, n_rows, dst);
    pack_panel_avx512<QK_K, 16, sizeof(BlockQ6_K), unpack_q6_k, weights_q6_k_avx, lane_scales_q6_k_kint>(w, r0, n_rows, dst);
}

template <int BS, int SB, size_t BlockBytes, void (*Unpack)(const void*, uint8_t*, float*, float*), bool HasBias>
GemmOps ops() {
    return {pack_panel_avx512<BS, SB, BlockBytes, fast_unpack<Unpack>>,
            kernel_avx512<SB, HasBias, BS == 32 ? 1 : BS / SB>};
}

}  // namespace

bool gemm_ops_avx512(DType type, GemmOps& o) {
    if (type == DType::Q4_K && !nibble_panel_off())
        return o = {pack_panel_q4_k_nibbles, kernel_avx512_kint<32, true, true>, false, true}, true;
    if (type == DType::Q4_K) return o = {pack_panel_kint_avx512<BlockQ4_K>, kernel_avx512_kint<32, true>}, true;
    if (type == DType::Q5_K) return o = {pack_panel_kint_avx512<BlockQ5_K>, kernel_avx512_kint<32, true>}, true;
    if (type == DType::Q6_K) return o = {pack_panel_kint_q6_k_avx512, kernel_avx512_kint<16, false>}, true;
    switch (type) {
#define LLM_GEMM_CASE(T, BS, SB, Block, Unpack, HasBias, Offset, UseSm) \
    case DType::T: o = ops<BS, SB, sizeof(Block), Unpack, HasBias>(); return true;
        LLM_GEMM_TYPES(LLM_GEMM_CASE)
#undef LLM_GEMM_CASE
        default: return false;
    }
}

}  // namespace llm::cpu
