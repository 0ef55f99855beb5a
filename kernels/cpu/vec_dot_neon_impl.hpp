// The quantized vec_dot kernels on NEON, written once and instantiated by vec_dot_neon.cpp (plain NEON) and
// vec_dot_dotprod.cpp (sdot) through the Dot policy:
//   Dot::dot(acc, a, b)  acc + per-int32-lane sums of s8 x s8 products: sdot sums bytes 4i..4i+3 into lane i;
//                        the plain-NEON policy is ggml's fallback ggml_vdotq_s32 (vmull_s8 + vpaddlq_s16: lane i
//                        sums bytes 2i, 2i+1, 8+2i, 9+2i), so each level keeps llama.cpp's lane split.
// The float arithmetic is ggml's aarch64 NEON vec_dot (ggml-cpu/arch/arm/quants.c), with its vmlaq / `a += b*c`
// as the FMAs GCC and clang contract them into (llama.cpp builds without -ffp-contract=off):
// * Q4_0, Q4_1, Q5_0, Q5_1, Q8_0: blocks in pairs, two 4-lane float accumulators (lane sums x dw*da by FMA),
//   then vaddvq(acc0) + vaddvq(acc1) (+ the Q4_1/Q5_1 min terms m*s summed in a scalar chain).
// * IQ4_NL: per block pair, scalar: sum += dw0*da0*isum0 + dw1*da1*isum1.
// * K-quants and IQ4_XS: exact integer totals per super-block, then ggml's scalar float chain per type.
// Where llama.cpp does not use vec_dot (its repacked Q4_0 / IQ4_NL / Q4_K kernels with dotprod or i8mm, the
// i8mm two-row vec_dot for batches) these kernels keep the vec_dot arithmetic: see docs/ARM64.md.
// Include only from *_neon.cpp / *_dotprod.cpp.
#pragma once
#include <arm_neon.h>

#include <cmath>
#include <cstring>
#include <type_traits>

#include "kernels/cpu/vec_dot.hpp"

namespace llm::cpu {
namespace {

inline float f16(uint16_t h) { return fp16_to_fp32(h); }

// The 32 values of a 4-bit block: lo = low nibbles (elements 0-15), hi = high nibbles (16-31).
inline void nibbles(const uint8_t* qs, uint8x16_t& lo, uint8x16_t& hi) {
    const uint8x16_t v = vld1q_u8(qs);
    lo = vandq_u8(v, vdupq_n_u8(0x0F));
    hi = vshrq_n_u8(v, 4);
}

// 0x10 in byte j where bit j of the 32-bit qh is set: lo covers bits 0-15, hi bits 16-31.
inline void high_bits(const uint8_t* qh4, uint8x16_t& lo, uint8x16_t& hi) {
    uint32_t qh;
    std::memcpy(&qh, qh4, 4);
    static const uint8_t kBit[16] = {1, 2, 4, 8, 16, 32, 64, 128, 1, 2, 4, 8, 16, 32, 64, 128};
    const uint8x16_t bit = vld1q_u8(kBit);
    const uint8x16_t b0 = vcombine_u8(vdup_n_u8((uint8_t)qh), vdup_n_u8((uint8_t)(qh >> 8)));
    const uint8x16_t b1 = vcombine_u8(vdup_n_u8((uint8_t)(qh >> 16)), vdup_n_u8((uint8_t)(qh >> 24)));
    lo = vandq_u8(vtstq_u8(b0, bit), vdupq_n_u8(0x10));
    hi = vandq_u8(vtstq_u8(b1, bit), vdupq_n_u8(0x10));
}

inline int8x16_t s8(uint8x16_t v) { return vreinterpretq_s8_u8(v); }

// ---- the 32-element block types x ActQ8 -------------------------------------------------------------------

// Lane sums of one block: the 32 weights as (lo, hi) signed bytes times the activations.
template <class D>
inline int32x4_t block_lanes(int8x16_t lo, int8x16_t hi, const ActQ8& a) {
    return D::dot(D::dot(vdupq_n_s32(0), lo, vld1q_s8(a.qs)), hi, vld1q_s8(a.qs + 16));
}

// Signed weights of block b of the type (Q4_0: nibble - 8, Q5_0: 5-bit - 16, Q8_0 as stored; Q4_1, Q5_1:
// unsigned values).
template <typename Block>
inline void weights(const Block& x, int8x16_t& lo, int8x16_t& hi) {
    if constexpr (std::is_same_v<Block, BlockQ8_0>) {
        lo = vld1q_s8(x.qs), hi = vld1q_s8(x.qs + 16);
    } else {
        uint8x16_t l, h;
        nibbles(x.qs, l, h);
        if constexpr (std::is_same_v<Block, BlockQ5_0> || std::is_same_v<Block, BlockQ5_1>) {
            uint8x16_t bl, bh;
            high_bits(x.qh, bl, bh);
            l = vorrq_u8(l, bl), h = vorrq_u8(h, bh);
        }
        lo = s8(l), hi = s8(h);
        if constexpr (std::is_same_v<Block, BlockQ4_0>) lo = vsubq_s8(lo, vdupq_n_s8(8)), hi = vsubq_s8(hi, vdupq_n_s8(8));
        if constexpr (std::is_same_v<Block, BlockQ5_0>)
            lo = vsubq_s8(lo, vdupq_n_s8(16)), hi = vsubq_s8(hi, vdupq_n_s8(16));
    }
}

// The integer dot of a whole block (the scalar tails of ggml's loops).
template <class D, typename Block>
inline int block_isum(const Block& x, const ActQ8& a) {
    int8x16_t lo, hi;
    weights(x, lo, hi);
    return vaddvq_s32(block_lanes<D>(lo, hi, a));
}

template <class D, typename Block>
float dot_b32(int64_t n, const void* w, const void* act) {
    constexpr bool kMin = std::is_same_v<Block, BlockQ4_1> || std::is_same_v<Block, BlockQ5_1>;
    const auto* x = static_cast<const Block*>(w);
    const auto* y = static_cast<const ActQ8*>(act);
    const int64_t nb = n / 32;
    float32x4_t acc0 = vdupq_n_f32(0.0f), acc1 = vdupq_n_f32(0.0f);
    float summs = 0.0f;
    int64_t b = 0;
    for (; b + 1 < nb; b += 2) {
        int8x16_t l0, h0, l1, h1;
        weights(x[b], l0, h0);
        weights(x[b + 1], l1, h1);
        if constexpr (kMin)  // ggml: summs += m0*s0 + m1*s1, contracted to fma(m0, s0, m1*s1)
            summs += std::fma(f16(x[b].m), y[b].sm, f16(x[b + 1].m) * y[b + 1].sm);
        acc0 = vfmaq_n_f32(acc0, vcvtq_f32_s32(block_lanes<D>(l0, h0, y[b])), f16(x[b].d) * y[b].d);
        acc1 = vfmaq_n_f32(acc1, vcvtq_f32_s32(block_lanes<D>(l1, h1, y[b + 1])), f16(x[b + 1].d) * y[b + 1].d);
    }
    float sumf = vaddvq_f32(acc0) + vaddvq_f32(acc1);
    if constexpr (kMin) sumf += summs;
    for (; b < nb; ++b) {  // ggml's scalar tail (odd block counts)
        const float isum = (float)block_isum<D>(x[b], y[b]);
        if constexpr (kMin) sumf += std::fma(f16(x[b].d) * y[b].d, isum, f16(x[b].m) * y[b].sm);
        else if constexpr (std::is_same_v<Block, BlockQ4_0>) sumf = std::fma(isum * f16(x[b].d), y[b].d, sumf);
        else sumf = std::fma(f16(x[b].d) * y[b].d, isum, sumf);
    }
    return sumf;
}

template <class D>
inline int iq4nl_isum(const uint8_t* qs, const int8_t* a) {
    const int8x16_t table = vld1q_s8(kvalues_iq4nl);
    uint8x16_t l, h;
    nibbles(qs, l, h);
    return vaddvq_s32(D::dot(D::dot(vdupq_n_s32(0), vqtbl1q_s8(table, l), vld1q_s8(a)), vqtbl1q_s8(table, h),
                             vld1q_s8(a + 16)));
}

template <class D>
float dot_iq4_nl(int64_t n, const void* w, const void* act) {
    const auto* x = static_cast<const BlockIQ4_NL*>(w);
    const auto* y = static_cast<const ActQ8*>(act);
    const int64_t nb = n / 32;
    float sumf = 0.0f;
    int64_t b = 0;
    for (; b + 1 < nb; b += 2) {
        const float p0 = (float)iq4nl_isum<D>(x[b].qs, y[b].qs), p1 = (float)iq4nl_isum<D>(x[b + 1].qs, y[b + 1].qs);
        sumf += std::fma(f16(x[b].d) * y[b].d, p0, f16(x[b + 1].d) * y[b + 1].d * p1);
    }
    for (; b < nb; ++b) sumf = std::fma(y[b].d * f16(x[b].d), (float)iq4nl_isum<D>(x[b].qs, y[b].qs), sumf);
    return sumf;
}

// ---- K-quants and IQ4_XS x Q8_K ---------------------------------------------------------------------------

// Integer dot of 16 weight bytes with 16 activations.
template <class D>
inline int dot16(int8x16_t q, const int8_t* a) {
    return vaddvq_s32(D::dot(vdupq_n_s32(0), q, vld1q_s8(a)));
}
// Of 32 weight bytes (two vectors) with 32 activations.
template <class D>
inline int dot32(int8x16_t q0, int8x16_t q1, const int8_t* a) {
    return vaddvq_s32(D::dot(D::dot(vdupq_n_s32(0), q0, vld1q_s8(a)), q1, vld1q_s8(a + 16)));
}

template <class D>
float dot_q2_k(int64_t n, const void* w, const void* act) {
    const auto* x = static_cast<const BlockQ2_K*>(w);
    const auto* y = static_cast<const ActQ8K*>(act);
    float sum = 0.0f;
    for (int64_t i = 0; i < n / QK_K; ++i) {
        const float d = y[i].d * f16(x[i].d), dmin = -y[i].d * f16(x[i].dmin);
        int imin = 0;
        for (int g = 0; g < 16; ++g) imin += (x[i].scales[g] >> 4) * y[i].bsums[g];
        sum = std::fma(dmin, (float)imin, sum);
        int isum = 0;
        for (int h = 0; h < 2; ++h) {
            const uint8x16_t b0 = vld1q_u8(x[i].qs + 32 * h), b1 = vld1q_u8(x[i].qs + 32 * h + 16);
            for (int j = 0; j < 4; ++j) {
                const int8x16_t q0 = s8(vandq_u8(vshlq_u8(b0, vdupq_n_s8((int8_t)(-2 * j))), vdupq_n_u8(3)));
                const int8x16_t q1 = s8(vandq_u8(vshlq_u8(b1, vdupq_n_s8((int8_t)(-2 * j))), vdupq_n_u8(3)));
                const int g = 8 * h + 2 * j;
                const int8_t* a = y[i].qs + 128 * h + 32 * j;
                isum += dot16<D>(q0, a) * (x[i].scales[g] & 0xF) + dot16<D>(q1, a + 16) * (x[i].scales[g + 1] & 0xF);
            }
        }
        sum = std::fma(d, (float)isum, sum);
    }
    return sum;
}

template <class D>
float dot_q3_k(int64_t n, const void* w, const void* act) {
    const auto* x = static_cast<const BlockQ3_K*>(w);
    const auto* y = static_cast<const ActQ8K*>(act);
    float sum = 0.0f;
    for (int64_t i = 0; i < n / QK_K; ++i) {
        const float d = y[i].d * f16(x[i].d);
        int8_t sc[16];
        unpack_scales_q3k(x[i].scales, sc);
        const uint8x16_t m0 = vld1q_u8(x[i].hmask), m1 = vld1q_u8(x[i].hmask + 16);
        int isum = 0;
        for (int h = 0; h < 2; ++h) {
            const uint8x16_t b0 = vld1q_u8(x[i].qs + 32 * h), b1 = vld1q_u8(x[i].qs + 32 * h + 16);
            for (int j = 0; j < 4; ++j) {
                const int8x16_t shift = vdupq_n_s8((int8_t)(-2 * j));
                const uint8x16_t bit = vdupq_n_u8((uint8_t)(1u << (4 * h + j)));
                // value = low 2 bits - 4 where the high bit is clear
                const int8x16_t q0 = vsubq_s8(s8(vandq_u8(vshlq_u8(b0, shift), vdupq_n_u8(3))),
                                              s8(vandq_u8(vceqq_u8(vandq_u8(m0, bit), vdupq_n_u8(0)), vdupq_n_u8(4))));
                const int8x16_t q1 = vsubq_s8(s8(vandq_u8(vshlq_u8(b1, shift), vdupq_n_u8(3))),
                                              s8(vandq_u8(vceqq_u8(vandq_u8(m1, bit), vdupq_n_u8(0)), vdupq_n_u8(4))));
                const int g = 8 * h + 2 * j;
                const int8_t* a = y[i].qs + 128 * h + 32 * j;
                isum += dot16<D>(q0, a) * sc[g] + dot16<D>(q1, a + 16) * sc[g + 1];
            }
        }
        sum = std::fma(d, (float)isum, sum);
    }
    return sum;
}

// Q4_K (Five = false) and Q5_K: integer totals isum = sum_s sc_s * dot_s, imin = sum_s m_s * bsum_s.
template <class D, bool Five>
inline void q45k_isums(const uint8_t* scales, const uint8_t* qs, const uint8_t* qh, const ActQ8K& y, int& isum,
                       int& imin) {
    uint8_t sc[8], m[8];
    unpack_scales_k4(scales, sc, m);
    imin = 0;
    for (int s = 0; s < 8; ++s) imin += m[s] * (y.bsums[2 * s] + y.bsums[2 * s + 1]);
    uint8x16_t h0 = vdupq_n_u8(0), h1 = vdupq_n_u8(0);
    if constexpr (Five) h0 = vld1q_u8(qh), h1 = vld1q_u8(qh + 16);
    isum = 0;
    for (int j = 0; j < 4; ++j) {
        const uint8x16_t b0 = vld1q_u8(qs + 32 * j), b1 = vld1q_u8(qs + 32 * j + 16);
        uint8x16_t l0 = vandq_u8(b0, vdupq_n_u8(0xF)), l1 = vandq_u8(b1, vdupq_n_u8(0xF));
        uint8x16_t u0 = vshrq_n_u8(b0, 4), u1 = vshrq_n_u8(b1, 4);
        if constexpr (Five) {
            const uint8x16_t bl = vdupq_n_u8((uint8_t)(1u << (2 * j))), bu = vdupq_n_u8((uint8_t)(2u << (2 * j)));
            l0 = vorrq_u8(l0, vandq_u8(vtstq_u8(h0, bl), vdupq_n_u8(16)));
            l1 = vorrq_u8(l1, vandq_u8(vtstq_u8(h1, bl), vdupq_n_u8(16)));
            u0 = vorrq_u8(u0, vandq_u8(vtstq_u8(h0, bu), vdupq_n_u8(16)));
            u1 = vorrq_u8(u1, vandq_u8(vtstq_u8(h1, bu), vdupq_n_u8(16)));
        }
        isum += dot32<D>(s8(l0), s8(l1), y.qs + 64 * j) * sc[2 * j];
        isum += dot32<D>(s8(u0), s8(u1), y.qs + 64 * j + 32) * sc[2 * j + 1];
    }
}

template <class D>
float dot_q4_k(int64_t n, const void* w, const void* act) {
    const auto* x = static_cast<const BlockQ4_K*>(w);
    const auto* y = static_cast<const ActQ8K*>(act);
    float sumf = 0.0f;
    for (int64_t i = 0; i < n / QK_K; ++i) {
        const float d = y[i].d * f16(x[i].d), dmin = y[i].d * f16(x[i].dmin);
        int isum, imin;
        q45k_isums<D, false>(x[i].scales, x[i].qs, nullptr, y[i], isum, imin);
        sumf = std::fma(-dmin, (float)imin, sumf);  // ggml: sumf -= dmin * imin
        sumf = std::fma(d, (float)isum, sumf);
    }
    return sumf;
}

template <class D>
float dot_q5_k(int64_t n, const void* w, const void* act) {
    const auto* x = static_cast<const BlockQ5_K*>(w);
    const auto* y = static_cast<const ActQ8K*>(act);
    float sumf = 0.0f;
    for (int64_t i = 0; i < n / QK_K; ++i) {
        const float d = y[i].d * f16(x[i].d), dmin = y[i].d * f16(x[i].dmin);
        int isum, imin;
        q45k_isums<D, true>(x[i].scales, x[i].qs, x[i].qh, y[i], isum, imin);
        sumf += std::fma(d, (float)isum, -(dmin * (float)imin));  // ggml: sumf += d*sumi - dmin*sumi_mins
    }
    return sumf;
}

template <class D>
float dot_q6_k(int64_t n, const void* w, const void* act) {
    const auto* x = static_cast<const BlockQ6_K*>(w);
    const auto* y = static_cast<const ActQ8K*>(act);
    float sum = 0.0f;
    for (int64_t i = 0; i < n / QK_K; ++i) {
        const int8_t* sc = x[i].scales;
        int imins = 0;
        for (int g = 0; g < 16; ++g) imins += sc[g] * y[i].bsums[g];
        int isum = 0;
        for (int h = 0; h < 2; ++h) {
            const uint8_t* ql = x[i].ql + 64 * h;
            const uint8_t* qh = x[i].qh + 32 * h;
            const uint8x16_t m4 = vdupq_n_u8(0xF), m3 = vdupq_n_u8(3);
            for (int k = 0; k < 2; ++k) {  // l in [16k, 16k + 16)
                const uint8x16_t a = vld1q_u8(ql + 16 * k), b = vld1q_u8(ql + 32 + 16 * k), hb = vld1q_u8(qh + 16 * k);
                const uint8x16_t q1 = vorrq_u8(vandq_u8(a, m4), vshlq_n_u8(vandq_u8(hb, m3), 4));
                const uint8x16_t q2 = vorrq_u8(vandq_u8(b, m4), vshlq_n_u8(vandq_u8(vshrq_n_u8(hb, 2), m3), 4));
                const uint8x16_t q3 = vorrq_u8(vshrq_n_u8(a, 4), vshlq_n_u8(vandq_u8(vshrq_n_u8(hb, 4), m3), 4));
                const uint8x16_t q4 = vorrq_u8(vshrq_n_u8(b, 4), vshlq_n_u8(vshrq_n_u8(hb, 6), 4));
                const int8_t* y0 = y[i].qs + 128 * h + 16 * k;
                const int g = 8 * h + k;  // group of element 128h + 16k + l
                isum += dot16<D>(s8(q1), y0) * sc[g] + dot16<D>(s8(q2), y0 + 32) * sc[g + 2] +
                        dot16<D>(s8(q3), y0 + 64) * sc[g + 4] + dot16<D>(s8(q4), y0 + 96) * sc[g + 6];
            }
        }
        sum = std::fma(f16(x[i].d) * y[i].d, (float)(isum - 32 * imins), sum);
    }
    return sum;
}

template <class D>
float dot_iq4_xs(int64_t n, const void* w, const void* act) {
    const auto* x = static_cast<const BlockIQ4_XS*>(w);
    const auto* y = static_cast<const ActQ8K*>(act);
    float sumf = 0.0f;
    for (int64_t i = 0; i < n / QK_K; ++i) {
        int isum = 0;
        for (int s = 0; s < 8; ++s) isum += iq4nl_isum<D>(x[i].qs + 16 * s, y[i].qs + 32 * s) * iq4xs_scale(x[i], s);
        sumf = std::fma(f16(x[i].d) * y[i].d, (float)isum, sumf);
    }
    return sumf;
}

template <class D>
void register_quant_kernels(IsaKernels& k) {
    k.dot[(size_t)DType::Q4_0] = {dot_b32<D, BlockQ4_0>, ActType::Q8_32};
    k.dot[(size_t)DType::Q4_1] = {dot_b32<D, BlockQ4_1>, ActType::Q8_32};
    k.dot[(size_t)DType::Q5_0] = {dot_b32<D, BlockQ5_0>, ActType::Q8_32};
    k.dot[(size_t)DType::Q5_1] = {dot_b32<D, BlockQ5_1>, ActType::Q8_32};
    k.dot[(size_t)DType::Q8_0] = {dot_b32<D, BlockQ8_0>, ActType::Q8_32};
    k.dot[(size_t)DType::IQ4_NL] = {dot_iq4_nl<D>, ActType::Q8_32};
    k.dot[(size_t)DType::Q2_K] = {dot_q2_k<D>, ActType::Q8_K};
    k.dot[(size_t)DType::Q3_K] = {dot_q3_k<D>, ActType::Q8_K};
    k.dot[(size_t)DType::Q4_K] = {dot_q4_k<D>, ActType::Q8_K};
    k.dot[(size_t)DType::Q5_K] = {dot_q5_k<D>, ActType::Q8_K};
    k.dot[(size_t)DType::Q6_K] = {dot_q6_k<D>, ActType::Q8_K};
    k.dot[(size_t)DType::IQ4_XS] = {dot_iq4_xs<D>, ActType::Q8_K};
}

}  // namespace
}  // namespace llm::cpu
