// Weight-panel packing for the int8 GEMM (see gemm.hpp): every quantized type is decoded to one uniform
// format, weight = scale * u + bias per (row, sub-block) with u an unsigned byte, and 16 rows are
// interleaved so one 64-byte vector holds 4 consecutive k of 16 rows (vpdpbusd's layout).
//
// Header-only on purpose, with internal linkage: the scalar file and the AVX-512 file each compile their own
// copy with their own flags (the AVX-512 copy is auto-vectorized; an inline function with external linkage
// could be merged with it and run on any CPU).
#pragma once
#include <cstdint>
#include <cstring>
#include <type_traits>

#include "core/fp16.hpp"
#include "kernels/cpu/gemm.hpp"
#include "kernels/cpu/vec_dot.hpp"

namespace llm::cpu::gemm_detail {
namespace {

// Decoders: one block of a row -> u[block elements], scale/bias per sub-block (bias only for the
// asymmetric types; the symmetric ones subtract their integer offset through the activations).

inline void unpack_nibbles32(const uint8_t* qs, uint8_t* u) {
    for (int j = 0; j < 16; ++j) {
        u[j] = qs[j] & 0xF;
        u[j + 16] = qs[j] >> 4;
    }
}

inline void add_high_bits32(const uint8_t* qh4, uint8_t* u) {
    uint32_t qh;
    std::memcpy(&qh, qh4, 4);
    for (int j = 0; j < 32; ++j) u[j] |= (uint8_t)(((qh >> j) & 1) << 4);
}

inline void unpack_q4_0(const void* blk, uint8_t* u, float* sc, float*) {
    const auto& b = *static_cast<const BlockQ4_0*>(blk);
    unpack_nibbles32(b.qs, u);
    sc[0] = fp16_to_fp32(b.d);
}
inline void unpack_q4_1(const void* blk, uint8_t* u, float* sc, float* bi) {
    const auto& b = *static_cast<const BlockQ4_1*>(blk);
    unpack_nibbles32(b.qs, u);
    sc[0] = fp16_to_fp32(b.d);
    bi[0] = fp16_to_fp32(b.m);
}
inline void unpack_q5_0(const void* blk, uint8_t* u, float* sc, float*) {
    const auto& b = *static_cast<const BlockQ5_0*>(blk);
    unpack_nibbles32(b.qs, u);
    add_high_bits32(b.qh, u);
    sc[0] = fp16_to_fp32(b.d);
}
inline void unpack_q5_1(const void* blk, uint8_t* u, float* sc, float* bi) {
    const auto& b = *static_cast<const BlockQ5_1*>(blk);
    unpack_nibbles32(b.qs, u);
    add_high_bits32(b.qh, u);
    sc[0] = fp16_to_fp32(b.d);
    bi[0] = fp16_to_fp32(b.m);
}
inline void unpack_q8_0(const void* blk, uint8_t* u, float* sc, float*) {
    const auto& b = *static_cast<const BlockQ8_0*>(blk);
    for (int j = 0; j < 32; ++j) u[j] = (uint8_t)((uint8_t)b.qs[j] ^ 0x80);  // q + 128
    sc[0] = fp16_to_fp32(b.d);
}
inline void unpack_iq4_nl(const void* blk, uint8_t* u, float* sc, float*) {
    const auto& b = *static_cast<const BlockIQ4_NL*>(blk);
    for (int j = 0; j < 16; ++j) {
        u[j] = (uint8_t)(kvalues_iq4nl[b.qs[j] & 0xF] + 128);
        u[j + 16] = (uint8_t)(kvalues_iq4nl[b.qs[j] >> 4] + 128);
    }
    sc[0] = fp16_to_fp32(b.d);
}

// Q4_K / Q5_K: 64-element chunk j holds sub-block 2j in the low nibbles of qs[32j..], 2j+1 in the high.
template <bool Five>
inline void unpack_q45_k(const uint8_t* qs, const uint8_t* qh, const uint8_t* scales, uint16_t d16, uint16_t dmin16,
                         uint8_t* u, float* sc, float* bi) {
    for (int j = 0; j < 4; ++j)
        for (int l = 0; l < 32; ++l) {
            uint8_t lo = qs[32 * j + l] & 0xF, hi = qs[32 * j + l] >> 4;
            if constexpr (Five) {
                lo |= (uint8_t)(((qh[l] >> (2 * j)) & 1) << 4);
                hi |= (uint8_t)(((qh[l] >> (2 * j + 1)) & 1) << 4);
            }
            u[64 * j + l] = lo;
            u[64 * j + 32 + l] = hi;
        }
    uint8_t s[8], m[8];
    unpack_scales_k4(scales, s, m);
    const float d = fp16_to_fp32(d16), dmin = fp16_to_fp32(dmin16);
    for (int k = 0; k < 8; ++k) {
        sc[k] = d * (float)s[k];
        bi[k] = -dmin * (float)m[k];
    }
}
inline void unpack_q4_k(const void* blk, uint8_t* u, float* sc, float* bi) {
    const auto& b = *static_cast<const BlockQ4_K*>(blk);
    unpack_q45_k<false>(b.qs, nullptr, b.scales, b.d, b.dmin, u, sc, bi);
}
inline void unpack_q5_k(const void* blk, uint8_t* u, float* sc, float* bi) {
    const auto& b = *static_cast<const BlockQ5_K*>(blk);
    unpack_q45_k<true>(b.qs, b.qh, b.scales, b.d, b.dmin, u, sc, bi);
}

// Q6_K: element e = 128h + 32k + l: low 4 bits from ql[64h + l + 32(k&1)] (nibble k/2), high 2 bits from
// qh[32h + l] >> 2k; value d*sc[e/16]*(q - 32).
inline void unpack_q6_k(const void* blk, uint8_t* u, float* sc, float*) {
    const auto& b = *static_cast<const BlockQ6_K*>(blk);
    for (int h = 0; h < 2; ++h)
        for (int l = 0; l < 32; ++l) {
            const uint8_t ql0 = b.ql[64 * h + l], ql1 = b.ql[64 * h + 32 + l], qh = b.qh[32 * h + l];
            u[128 * h + l] = (uint8_t)((ql0 & 0xF) | ((qh & 3) << 4));
            u[128 * h + 32 + l] = (uint8_t)((ql1 & 0xF) | (((qh >> 2) & 3) << 4));
            u[128 * h + 64 + l] = (uint8_t)((ql0 >> 4) | (((qh >> 4) & 3) << 4));
            u[128 * h + 96 + l] = (uint8_t)((ql1 >> 4) | (((qh >> 6) & 3) << 4));
        }
    const float d = fp16_to_fp32(b.d);
    for (int k = 0; k < 16; ++k) sc[k] = d * (float)b.scales[k];
}

// Q3_K: element e = 128h + 32j + l: bits 2j of qs[32h + l] plus hmask bit (4h + j) of hmask[l]; value
// d*sc[e/16]*((lo | hbit << 2) - 4) with signed 6-bit scales.
inline void unpack_q3_k(const void* blk, uint8_t* u, float* sc, float*) {
    const auto& b = *static_cast<const BlockQ3_K*>(blk);
    for (int h = 0; h < 2; ++h)
        for (int j = 0; j < 4; ++j)
            for (int l = 0; l < 32; ++l) {
                const int lo = (b.qs[32 * h + l] >> (2 * j)) & 3;
                const int hi = (b.hmask[l] >> (4 * h + j)) & 1;
                u[128 * h + 32 * j + l] = (uint8_t)(lo | (hi << 2));
            }
    int8_t s[16];
    unpack_scales_q3k(b.scales, s);
    const float d = fp16_to_fp32(b.d);
    for (int k = 0; k < 16; ++k) sc[k] = d * (float)s[k];
}

// Q2_K: element e = 128h + 32j + l has bits 2j of qs[32h + l]; scales[e/16] = sc | min << 4.
inline void unpack_q2_k(const void* blk, uint8_t* u, float* sc, float* bi) {
    const auto& b = *static_cast<const BlockQ2_K*>(blk);
    for (int h = 0; h < 2; ++h)
        for (int j = 0; j < 4; ++j)
            for (int l = 0; l < 32; ++l) u[128 * h + 32 * j + l] = (uint8_t)((b.qs[32 * h + l] >> (2 * j)) & 3);
    const float d = fp16_to_fp32(b.d), dmin = fp16_to_fp32(b.dmin);
    for (int k = 0; k < 16; ++k) {
        sc[k] = d * (float)(b.scales[k] & 0xF);
        bi[k] = -dmin * (float)(b.scales[k] >> 4);
    }
}

inline void unpack_iq4_xs(const void* blk, uint8_t* u, float* sc, float*) {
    const auto& b = *static_cast<const BlockIQ4_XS*>(blk);
    for (int ib = 0; ib < 8; ++ib)
        for (int j = 0; j < 16; ++j) {
            u[32 * ib + j] = (uint8_t)(kvalues_iq4nl[b.qs[16 * ib + j] & 0xF] + 128);
            u[32 * ib + 16 + j] = (uint8_t)(kvalues_iq4nl[b.qs[16 * ib + j] >> 4] + 128);
        }
    const float d = fp16_to_fp32(b.d);
    for (int ib = 0; ib < 8; ++ib) sc[ib] = d * (float)iq4xs_scale(b, ib);
}

// Packs rows [r0, r0 + n_rows) (n_rows <= 16) of w into one panel (gemm_panel_bytes); missing rows are zero.
template <int BS, int SB, size_t BlockBytes, void (*Unpack)(const void*, uint8_t*, float*, float*)>
void pack_panel(const TensorView& w, int64_t r0, int n_rows, uint8_t* dst) {
    constexpr size_t sb_bytes = gemm_sub_block_bytes(SB);
    constexpr int n_sub = BS / SB;
    const int64_t n_blocks = w.ne[0] / BS;
    if (n_rows < kGemmRows) std::memset(dst, 0, (size_t)n_blocks * n_sub * sb_bytes);
    alignas(64) uint8_t u[BS];
    float sc[n_sub], bi[n_sub];
    for (int r = 0; r < n_rows; ++r) {
        const uint8_t* row = w.row(r0 + r);
        for (int64_t b = 0; b < n_blocks; ++b) {
            for (int k = 0; k < n_sub; ++k) bi[k] = 0.0f;
            Unpack(row + (size_t)b * BlockBytes, u, sc, bi);
            uint8_t* out = dst + (size_t)b * n_sub * sb_bytes;
            for (int k = 0; k < n_sub; ++k, out += sb_bytes) {
                for (int s = 0; s < SB / 4; ++s) std::memcpy(out + 64 * s + 4 * r, u + SB * k + 4 * s, 4);
                float* f = reinterpret_cast<float*>(out + 16 * SB);
                f[r] = sc[k];
                f[16 + r] = bi[k];
            }
        }
    }
}

// ---- kint panels (gemm.hpp gemm_kint: Q4_K, Q5_K) ----------------------------------------------------------

// Sub-block j's 128 bytes after its weights in a byte panel's block (block: its first sub-block): int32 s[16],
// then the super-block slot j.
inline uint8_t* kint_tail(uint8_t* block, int j) { return block + (size_t)j * gemm_sub_block_bytes(32) + kGemmRows * 32; }

// One row's integer scales, mins and float d, dmin of a Q4_K / Q5_K block, written to lane r of the block's tails
// (kint_tail or the nibble panel's equivalent: tail(j)).
template <typename Tail>
inline void kint_write_row(const uint8_t* scales, uint16_t d16, uint16_t dmin16, int r, Tail&& tail) {
    uint8_t s[8], m[8];
    unpack_scales_k4(scales, s, m);
    for (int j = 0; j < 8; ++j) {
        const int32_t sj = s[j];
        std::memcpy(tail(j) + 4 * r, &sj, 4);
    }
    const float d = fp16_to_fp32(d16), dmin = fp16_to_fp32(dmin16);
    std::memcpy(tail(kKintSlotD) + 64 + 4 * r, &d, 4);
    std::memcpy(tail(kKintSlotDmin) + 64 + 4 * r, &dmin, 4);
    for (int i = 0; i < 4; ++i) {
        const uint32_t pair = (uint32_t)m[2 * i] | (uint32_t)m[2 * i + 1] << 16;
        std::memcpy(tail(kKintSlotMins + i) + 64 + 4 * r, &pair, 4);
    }
}

// The kint panel of rows [r0, r0 + n_rows): the byte panel's weights, the tails above (missing rows zero).
template <bool Five>
void pack_panel_kint(const TensorView& w, int64_t r0, int n_rows, uint8_t* dst) {
    using Block = std::conditional_t<Five, BlockQ5_K, BlockQ4_K>;
    constexpr size_t sb_bytes = gemm_sub_block_bytes(32);
    const int64_t n_blocks = w.ne[0] / QK_K;
    std::memset(dst, 0, (size_t)n_blocks * 8 * sb_bytes);
    alignas(64) uint8_t u[QK_K];
    float sc[8], bi[8];
    for (int r = 0; r < n_rows; ++r) {
        const auto* row = reinterpret_cast<const Block*>(w.row(r0 + r));
        for (int64_t b = 0; b < n_blocks; ++b) {
            const Block& blk = row[b];
            if constexpr (Five) unpack_q45_k<true>(blk.qs, blk.qh, blk.scales, blk.d, blk.dmin, u, sc, bi);
            else unpack_q45_k<false>(blk.qs, nullptr, blk.scales, blk.d, blk.dmin, u, sc, bi);
            uint8_t* out = dst + (size_t)b * 8 * sb_bytes;
            for (int k = 0; k < 8; ++k)
                for (int q = 0; q < 8; ++q) std::memcpy(out + k * sb_bytes + 64 * q + 4 * r, u + 32 * k + 4 * q, 4);
            kint_write_row(blk.scales, blk.d, blk.dmin, r, [&](int j) { return kint_tail(out, j); });
        }
    }
}

// Q6_K's kint panel: the byte panel's weights (16 sub-blocks of 16), tails int32 sc_j[16] then slot j (d for j = 0).
inline void pack_panel_kint_q6_k(const TensorView& w, int64_t r0, int n_rows, uint8_t* dst) {
    constexpr size_t sb_bytes = gemm_sub_block_bytes(16);
    const int64_t n_blocks = w.ne[0] / QK_K;
    std::memset(dst, 0, (size_t)n_blocks * 16 * sb_bytes);
    alignas(64) uint8_t u[QK_K];
    float sc[16], bi[16];
    for (int r = 0; r < n_rows; ++r) {
        const auto* row = reinterpret_cast<const BlockQ6_K*>(w.row(r0 + r));
        for (int64_t b = 0; b < n_blocks; ++b) {
            unpack_q6_k(&row[b], u, sc, bi);
            uint8_t* out = dst + (size_t)b * 16 * sb_bytes;
            for (int k = 0; k < 16; ++k) {
                for (int q = 0; q < 4; ++q) std::memcpy(out + k * sb_bytes + 64 * q + 4 * r, u + 16 * k + 4 * q, 4);
                const int32_t s = row[b].scales[k];
                std::memcpy(out + k * sb_bytes + kGemmRows * 16 + 4 * r, &s, 4);
            }
            const float d = fp16_to_fp32(row[b].d);
            std::memcpy(out + kKintSlotD * sb_bytes + kGemmRows * 16 + 64 + 4 * r, &d, 4);
        }
    }
}

}  // namespace
}  // namespace llm::cpu::gemm_detail

// Every packed type: X(dtype, block elements, sub-block SB, block struct, decoder, has float bias, integer
// offset subtracted through the activations, bias multiplier is ActQ8's sm (Q4_1/Q5_1, as ggml)).
#define LLM_GEMM_TYPES(X)                                                     \
    X(Q4_0, 32, 32, BlockQ4_0, unpack_q4_0, false, 8, false)                  \
    X(Q4_1, 32, 32, BlockQ4_1, unpack_q4_1, true, 0, true)                    \
    X(Q5_0, 32, 32, BlockQ5_0, unpack_q5_0, false, 16, false)                 \
    X(Q5_1, 32, 32, BlockQ5_1, unpack_q5_1, true, 0, true)                    \
    X(Q8_0, 32, 32, BlockQ8_0, unpack_q8_0, false, 128, false)                \
    X(IQ4_NL, 32, 32, BlockIQ4_NL, unpack_iq4_nl, false, 128, false)          \
    X(Q2_K, QK_K, 16, BlockQ2_K, unpack_q2_k, true, 0, false)                 \
    X(Q3_K, QK_K, 16, BlockQ3_K, unpack_q3_k, false, 4, false)                \
    X(Q4_K, QK_K, 32, BlockQ4_K, unpack_q4_k, true, 0, false)                 \
    X(Q5_K, QK_K, 32, BlockQ5_K, unpack_q5_k, true, 0, false)                 \
    X(Q6_K, QK_K, 16, BlockQ6_K, unpack_q6_k, false, 32, false)               \
    X(IQ4_XS, QK_K, 32, BlockIQ4_XS, unpack_iq4_xs, false, 128, false)
