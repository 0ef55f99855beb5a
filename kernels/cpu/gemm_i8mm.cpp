// The int8 GEMM's micro-kernel with I8MM's usmmla (u8 x s8 -> s32, a 2x8 by 8x2 block per instruction) on the
// packed panels and activation tiles of gemm.hpp (the u8 formats of every type), bit-identical to
// gemm_scalar.cpp: the same exact integer sums per (row, token, sub-block), the same float operations per output.
// Layout: a packed vector q holds k = 4q..4q+3 of 16 rows ([row][4 bytes]); zipping the 32-bit row entries of
// vectors q and q+1 gives two rows x 8 consecutive k: usmmla's operand. Activations ([token][4 bytes]) likewise.
#include <arm_neon.h>

#include <cstring>

#include "kernels/cpu/gemm_pack.hpp"

namespace llm::cpu {
namespace {

using namespace gemm_detail;

// Integer sums of one sub-block for the 16 rows x 8 tokens: out[t][r] (t-major, 4 rows per vector).
template <int SB>
inline void sub_block_sums(const uint8_t* w, const uint8_t* a, const int32_t* c, int32x4_t out[kGemmTokens][4]) {
    constexpr int T = kGemmTokens;
    for (int half = 0; half < 2; ++half) {  // rows 8*half .. 8*half + 7: 4 row pairs x 4 token pairs
        int32x4_t m[4][4];
        for (auto& row : m)
            for (auto& v : row) v = vdupq_n_s32(0);
        for (int q = 0; q < SB / 4; q += 2) {
            uint8x16_t wr[4];
            for (int h = 0; h < 2; ++h) {  // rows 8*half + 4h .. +3
                const uint32x4_t w0 = vreinterpretq_u32_u8(vld1q_u8(w + 64 * q + 32 * half + 16 * h));
                const uint32x4_t w1 = vreinterpretq_u32_u8(vld1q_u8(w + 64 * (q + 1) + 32 * half + 16 * h));
                wr[2 * h] = vreinterpretq_u8_u32(vzip1q_u32(w0, w1));      // rows +0, +1
                wr[2 * h + 1] = vreinterpretq_u8_u32(vzip2q_u32(w0, w1));  // rows +2, +3
            }
            int8x16_t at[4];
            for (int h = 0; h < 2; ++h) {  // tokens 4h .. 4h + 3
                const uint32x4_t a0 = vreinterpretq_u32_u8(vld1q_u8(a + 4 * T * q + 16 * h));
                const uint32x4_t a1 = vreinterpretq_u32_u8(vld1q_u8(a + 4 * T * (q + 1) + 16 * h));
                at[2 * h] = vreinterpretq_s8_u32(vzip1q_u32(a0, a1));
                at[2 * h + 1] = vreinterpretq_s8_u32(vzip2q_u32(a0, a1));
            }
            for (int i = 0; i < 4; ++i)
                for (int j = 0; j < 4; ++j) m[i][j] = vusmmlaq_s32(m[i][j], wr[i], at[j]);
        }
        // m[i][j] = [r t, r t+1, r+1 t, r+1 t+1] for rows r = 8*half + 2i, tokens t = 2j: regroup per token as
        // vectors of 4 rows (row pairs i, i+1 -> rows 8*half + 2i .. +3).
        for (int j = 0; j < 4; ++j)
            for (int i = 0; i < 4; i += 2) {
                const int32x4_t even = vuzp1q_s32(m[i][j], m[i + 1][j]), odd = vuzp2q_s32(m[i][j], m[i + 1][j]);
                out[2 * j][2 * half + i / 2] = vaddq_s32(even, vdupq_n_s32(c[2 * j]));
                out[2 * j + 1][2 * half + i / 2] = vaddq_s32(odd, vdupq_n_s32(c[2 * j + 1]));
            }
    }
}

template <int SB, bool HasBias, int P>
void kernel_i8mm(const uint8_t* panel, const uint8_t* act, int64_t n_sub, float* y, int64_t ldy, int n_rows,
                 int n_tok) {
    constexpr int T = kGemmTokens, R = kGemmRows;
    constexpr size_t wsb = gemm_sub_block_bytes(SB), asb = gemm_act_sub_block_bytes(SB);
    float32x4_t acc[T][4];
    for (auto& t : acc)
        for (auto& v : t) v = vdupq_n_f32(0.0f);
    for (int64_t g = 0; g < n_sub; g += P) {
        float32x4_t part[T][4];
        for (auto& t : part)
            for (auto& v : t) v = vdupq_n_f32(0.0f);
        float d[T];
        for (int j = 0; j < P; ++j, panel += wsb, act += asb) {
            float s[T];
            int32_t c[T];
            std::memcpy(d, act + T * SB, sizeof d);
            std::memcpy(c, act + T * SB + 4 * T, sizeof c);
            std::memcpy(s, act + T * SB + 8 * T, sizeof s);
            const float* sc = reinterpret_cast<const float*>(panel + R * SB);
            const float* bi = reinterpret_cast<const float*>(panel + R * SB + 64);
            int32x4_t sums[T][4];
            sub_block_sums<SB>(panel, act, c, sums);
            for (int t = 0; t < T; ++t)
                for (int v = 0; v < 4; ++v) {
                    const float32x4_t sum = vcvtq_f32_s32(sums[t][v]);
                    if constexpr (P == 1) {
                        acc[t][v] = vfmaq_f32(acc[t][v], sum, vmulq_n_f32(vld1q_f32(sc + 4 * v), d[t]));
                        if constexpr (HasBias) acc[t][v] = vfmaq_n_f32(acc[t][v], vld1q_f32(bi + 4 * v), s[t]);
                    } else {
                        part[t][v] = vfmaq_f32(part[t][v], sum, vld1q_f32(sc + 4 * v));
                        if constexpr (HasBias) part[t][v] = vfmaq_n_f32(part[t][v], vld1q_f32(bi + 4 * v), s[t]);
                    }
                }
        }
        if constexpr (P > 1)
            for (int t = 0; t < T; ++t)
                for (int v = 0; v < 4; ++v) acc[t][v] = vfmaq_n_f32(acc[t][v], part[t][v], d[t]);
    }
    for (int t = 0; t < n_tok; ++t) {
        float row[R];
        for (int v = 0; v < 4; ++v) vst1q_f32(row + 4 * v, acc[t][v]);
        std::memcpy(y + t * ldy, row, sizeof(float) * n_rows);
    }
}

// The kint panels (gemm.hpp gemm_kint: Q4_K, Q5_K), kernel_scalar_kint's operations: per sub-block the exact sums times
// the rows' scales into the super-block's integers; the min pairs' int16 halves times the bsum pairs'; per
// super-block one FMA each into acc and acc_m; then acc - acc_m.
template <int SB, bool HasMin>
void kernel_i8mm_kint(const uint8_t* panel, const uint8_t* act, int64_t n_sub, float* y, int64_t ldy, int n_rows,
                      int n_tok) {
    constexpr int T = kGemmTokens, R = kGemmRows, P = QK_K / SB;
    constexpr size_t wsb = gemm_sub_block_bytes(SB), asb = gemm_act_sub_block_bytes(SB);
    auto slot = [](const uint8_t* blk, int j) { return blk + j * wsb + R * SB + 64; };
    float32x4_t acc[T][4], acc_m[T][4];
    for (int t = 0; t < T; ++t)
        for (int v = 0; v < 4; ++v) acc[t][v] = acc_m[t][v] = vdupq_n_f32(0.0f);
    for (int64_t g = 0; g < n_sub; g += P, panel += P * wsb, act += P * asb) {
        int32x4_t isum[T][4], imin[T][4];
        for (int t = 0; t < T; ++t)
            for (int v = 0; v < 4; ++v) isum[t][v] = imin[t][v] = vdupq_n_s32(0);
        for (int j = 0; j < P; ++j) {
            const uint8_t* wp = panel + j * wsb;
            const uint8_t* ap = act + j * asb;
            int32_t c[T];
            std::memcpy(c, ap + T * SB + 4 * T, sizeof c);
            int32x4_t sums[T][4];
            sub_block_sums<SB>(wp, ap, c, sums);
            const int32_t* sc = reinterpret_cast<const int32_t*>(wp + R * SB);
            for (int v = 0; v < 4; ++v) {
                const int32x4_t s = vld1q_s32(sc + 4 * v);
                for (int t = 0; t < T; ++t) isum[t][v] = vmlaq_s32(isum[t][v], sums[t][v], s);
            }
        }
        for (int i = 0; i < (HasMin ? 4 : 0); ++i) {
            int32_t bp[T];
            std::memcpy(bp, act + 2 * i * asb + T * SB + 8 * T, sizeof bp);
            const int32_t* mp = reinterpret_cast<const int32_t*>(slot(panel, kKintSlotMins + i));
            for (int v = 0; v < 4; ++v) {
                const int32x4_t m = vld1q_s32(mp + 4 * v);
                const int32x4_t m_lo = vshrq_n_s32(vshlq_n_s32(m, 16), 16), m_hi = vshrq_n_s32(m, 16);
                for (int t = 0; t < T; ++t) {
                    imin[t][v] = vmlaq_n_s32(imin[t][v], m_lo, (int32_t)(int16_t)(bp[t] & 0xFFFF));
                    imin[t][v] = vmlaq_n_s32(imin[t][v], m_hi, bp[t] >> 16);
                }
            }
        }
        float da[T];
        std::memcpy(da, act + T * SB, sizeof da);
        const float* d = reinterpret_cast<const float*>(slot(panel, kKintSlotD));
        const float* dmin = reinterpret_cast<const float*>(slot(panel, kKintSlotDmin));
        for (int v = 0; v < 4; ++v) {
            const float32x4_t dv = vld1q_f32(d + 4 * v), dm = vld1q_f32(dmin + 4 * v);
            for (int t = 0; t < T; ++t) {
                acc[t][v] = vfmaq_f32(acc[t][v], vcvtq_f32_s32(isum[t][v]), vmulq_n_f32(dv, da[t]));
                acc_m[t][v] = vfmaq_f32(acc_m[t][v], vcvtq_f32_s32(imin[t][v]), vmulq_n_f32(dm, da[t]));
            }
        }
    }
    for (int t = 0; t < n_tok; ++t) {
        float row[R];
        for (int v = 0; v < 4; ++v) vst1q_f32(row + 4 * v, vsubq_f32(acc[t][v], acc_m[t][v]));
        std::memcpy(y + t * ldy, row, sizeof(float) * n_rows);
    }
}

template <int BS, int SB, size_t BlockBytes, void (*Unpack)(const void*, uint8_t*, float*, float*), bool HasBias>
GemmOps ops() {
    return {pack_panel<BS, SB, BlockBytes, Unpack>, kernel_i8mm<SB, HasBias, BS == 32 ? 1 : BS / SB>};
}

}  // namespace

bool gemm_ops_i8mm(DType type, GemmOps& o) {
    if (type == DType::Q4_K) return o = {pack_panel_kint<false>, kernel_i8mm_kint<32, true>}, true;
    if (type == DType::Q5_K) return o = {pack_panel_kint<true>, kernel_i8mm_kint<32, true>}, true;
    if (type == DType::Q6_K) return o = {pack_panel_kint_q6_k, kernel_i8mm_kint<16, false>}, true;
    switch (type) {
#define LLM_GEMM_CASE(T, BS, SB, Block, Unpack, HasBias, Offset, UseSm) \
    case DType::T: o = ops<BS, SB, sizeof(Block), Unpack, HasBias>(); return true;
        LLM_GEMM_TYPES(LLM_GEMM_CASE)
#undef LLM_GEMM_CASE
        default: return false;
    }
}

}  // namespace llm::cpu
