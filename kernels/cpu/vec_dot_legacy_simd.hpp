// The 32-element block types (Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, IQ4_NL) x ActQ8 on 256-bit vectors, written once
// and instantiated by vec_dot_avx2.cpp (pmaddubsw + pmaddwd) and vec_dot_avx512.cpp (vpdpbusd) through the
// I8 policy:
//   I8::dot(u, s)         per int32 lane, the sum of its 4 u8 x s8 products (exact: the callers keep every
//                         pmaddubsw pair sum inside int16, so both instantiations give the same integers)
//   I8::high_bits32(qh)   0x10 in byte j where bit j of the 32-bit little-endian qh is set
//   I8::kOffsetDot        I8::dot_add(c, u, s) = c + dot(u, s) for any u8 (no saturation): tile_signed's
//                         offset formulation
// The float arithmetic is llama.cpp's on x86 (ggml-cpu/arch/x86/quants.c and repack.cpp; the AVX2 and
// AVX-512 builds of llama.cpp share it for these types), operation for operation, so logits are
// bit-identical to llama.cpp's:
// * Q4_1, Q5_0, Q5_1, Q8_0 follow ggml's vec_dot, which llama.cpp uses for one token and, for Q4_1/Q5_1, for
//   batches too (llamafile's tinyBLAS_Q0_AVX, its batch path for Q8_0/Q5_0, computes the same thing): per
//   block the 8 int32 lane sums converted to float and FMA'd with the block scale dw*da into ONE 8-lane
//   accumulator, then ggml's hsum_float_8. Signed types use |w| x sign(a, w) on the signed weight (q-16, q);
//   Q4_1/Q5_1 use the unsigned quants and add m * s (Q8_1's fp16 sum) in a scalar FMA chain, as GCC
//   compiles ggml's `summs += m * s`.
// * Q4_0 and IQ4_NL follow llama.cpp's repacked kernels (dot_repacked_b32).
// Rounding-level differences matter: on real models they flip 8-bit activation roundings downstream and grow
// to 0.1-0.5 logits (SmolLM2-135M). Include only from a file compiled with AVX2 flags.
#pragma once
#include <immintrin.h>

#include <type_traits>

#include "kernels/cpu/vec_dot_avx2.hpp"

namespace llm::cpu {
namespace {

// 32 unsigned 4-bit values in element order: low nibbles are elements 0-15, high nibbles 16-31.
inline __m256i nibbles32(const uint8_t* p) {
    const __m128i t = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
    return _mm256_and_si256(_mm256_set_m128i(_mm_srli_epi16(t, 4), t), _mm256_set1_epi8(0x0F));
}

// ggml's mul_sum_i8_pairs_float: |x| (u8) x sign(y, x) (s8), lane sums as float.
template <class I8>
inline __m256 mul_sum_i8_pairs_float(__m256i x, __m256i y) {
    return _mm256_cvtepi32_ps(I8::dot(_mm256_sign_epi8(x, x), _mm256_sign_epi8(y, x)));
}
template <class I8>
inline __m256 mul_sum_us8_pairs_float(__m256i ux, __m256i y) {
    return _mm256_cvtepi32_ps(I8::dot(ux, y));
}

// Signed weights: Q5_0 (5-bit value - 16); Q4_0 (nibble - 8) would be ggml_vec_dot_q4_0_q8_0 (unused:
// llama.cpp runs Q4_0 weights through the repacked kernels).
template <class I8, typename Block, bool Five>
float dot_signed(int64_t n, const void* w, const void* a) {
    const auto* x = static_cast<const Block*>(w);
    const auto* y = static_cast<const ActQ8*>(a);
    __m256 acc = _mm256_setzero_ps();
    const int64_t nb = n / 32;
    for (int64_t b = 0; b < nb; ++b) {
        const __m256 d = _mm256_set1_ps(_cvtsh_ss(x[b].d) * y[b].d);
        __m256i qx = nibbles32(x[b].qs);
        if constexpr (Five) {
            // ggml: qx | andnot(bits, 0xF0): the high bit clear gives q - 16 as a signed byte.
            qx = _mm256_sub_epi8(_mm256_or_si256(qx, I8::high_bits32(x[b].qh)), _mm256_set1_epi8(16));
        } else {
            qx = _mm256_sub_epi8(qx, _mm256_set1_epi8(8));
        }
        acc = _mm256_fmadd_ps(d, mul_sum_i8_pairs_float<I8>(qx, load256(y[b].qs)), acc);
    }
    return hsum_ps(acc);
}

// Q4_1 / Q5_1: dw*da*sum(u*a) + m*s.
template <class I8, typename Block, bool Five>
float dot_min(int64_t n, const void* w, const void* a) {
    const auto* x = static_cast<const Block*>(w);
    const auto* y = static_cast<const ActQ8*>(a);
    __m256 acc = _mm256_setzero_ps();
    float summs = 0.0f;
    const int64_t nb = n / 32;
    for (int64_t b = 0; b < nb; ++b) {
        const float dw = _cvtsh_ss(x[b].d);
        summs = __builtin_fmaf(_cvtsh_ss(x[b].m), y[b].sm, summs);
        __m256i u = nibbles32(x[b].qs);
        if constexpr (Five) u = _mm256_or_si256(u, I8::high_bits32(x[b].qh));
        acc = _mm256_fmadd_ps(_mm256_set1_ps(dw * y[b].d), mul_sum_us8_pairs_float<I8>(u, load256(y[b].qs)), acc);
    }
    return hsum_ps(acc) + summs;
}

template <class I8>
float dot_q8_0(int64_t n, const void* w, const void* a) {
    const auto* x = static_cast<const BlockQ8_0*>(w);
    const auto* y = static_cast<const ActQ8*>(a);
    __m256 acc = _mm256_setzero_ps();
    const int64_t nb = n / 32;
    for (int64_t b = 0; b < nb; ++b)
        acc = _mm256_fmadd_ps(_mm256_set1_ps(_cvtsh_ss(x[b].d) * y[b].d),
                              mul_sum_i8_pairs_float<I8>(load256(x[b].qs), load256(y[b].qs)), acc);
    return hsum_ps(acc);
}

// Q5_0 / Q8_0 over R rows x T tokens per call (VecDotEntry::tile), the way llamafile's tinyBLAS tiles its
// batches: per block each row's weights are unpacked once and each token's activations loaded once for the R
// rows. Every output keeps its own 8-lane accumulator and the operations of dot_signed / dot_q8_0 in their
// order (the same int32 lane sums, the same fma with the same float dw*da, the same hsum_ps), so y is
// bit-identical to the one-output kernel's. The lane sums are the exact integers sum(w*a) of 4 products either
// way; where I8::kOffsetDot (vpdpbusd: u8 x s8 into int32, no int16 step to saturate) they are formed as
// sum((w + K) * a) - K * sum(a), with K (16 for Q5_0, 128 for Q8_0) making the weights unsigned: the K * sum(a)
// is one instruction per token and block, shared by the R rows, instead of the sign trick per output.
template <class I8, typename Block, bool Five, int R, int T>
void tile_signed(int64_t n, const uint8_t* w, size_t ws, const uint8_t* act, size_t as, float* y, int64_t ldy) {
    constexpr bool kQ8 = std::is_same_v<Block, BlockQ8_0>;
    constexpr bool kOffset = I8::kOffsetDot;
    const int64_t nb = n / 32;
    __m256 acc[R][T];
    for (int r = 0; r < R; ++r)
        for (int t = 0; t < T; ++t) acc[r][t] = _mm256_setzero_ps();
    for (int64_t b = 0; b < nb; ++b) {
        __m256i qx[R], ux[R];  // the signed weights and |w| (sign trick), or the weights + K (offset)
        __m256 dw[R];
        for (int r = 0; r < R; ++r) {
            const Block& x = reinterpret_cast<const Block*>(w + (size_t)r * ws)[b];
            if constexpr (kQ8) {
                qx[r] = load256(x.qs);
                ux[r] = kOffset ? _mm256_xor_si256(qx[r], _mm256_set1_epi8(-128)) : _mm256_sign_epi8(qx[r], qx[r]);
            } else {
                const __m256i u = _mm256_or_si256(nibbles32(x.qs), I8::high_bits32(x.qh));  // the 5-bit w + 16
                if constexpr (kOffset) {
                    ux[r] = u;
                } else {
                    qx[r] = _mm256_sub_epi8(u, _mm256_set1_epi8(16));
                    ux[r] = _mm256_sign_epi8(qx[r], qx[r]);
                }
            }
            dw[r] = _mm256_set1_ps(_cvtsh_ss(x.d));
        }
        for (int t = 0; t < T; ++t) {
            const ActQ8& a = reinterpret_cast<const ActQ8*>(act + (size_t)t * as)[b];
            const __m256i qa = load256(a.qs);
            const __m256 da = _mm256_set1_ps(a.d);
            __m256i start = _mm256_setzero_si256();  // -K * (each lane's sum of a)
            if constexpr (kOffset)
                start = _mm256_sub_epi32(start, I8::dot(_mm256_set1_epi8(kQ8 ? (char)-128 : (char)16), qa));
            for (int r = 0; r < R; ++r) {
                __m256i isum;
                if constexpr (kOffset) isum = I8::dot_add(start, ux[r], qa);
                else isum = I8::dot(ux[r], _mm256_sign_epi8(qa, qx[r]));
                acc[r][t] = _mm256_fmadd_ps(_mm256_mul_ps(dw[r], da), _mm256_cvtepi32_ps(isum), acc[r][t]);
            }
        }
    }
    for (int t = 0; t < T; ++t)
        for (int r = 0; r < R; ++r) y[t * ldy + r] = hsum_ps(acc[r][t]);
}

// Q4_0 and IQ4_NL: on an AVX2/AVX-512 CPU llama.cpp repacks these weights (ggml-cpu/repack.cpp:
// q4_0_8x8_q8_0, iq4_nl_8x8_q8_0, for matrices with a multiple of 8 rows) and runs its own gemv (one token)
// and gemm (batches) kernels (arch/x86/repack.cpp: gemv_q4_b32_8x8_q8_0_lut_avx / gemm_..._lut_avx) instead
// of vec_dot: per output, acc = fma((float)block_int_dot, dw * da, acc) over the blocks in order, where
// block_int_dot is the exact integer dot of the 32 signed weights (q - 8, or the codebook value) with the
// 8-bit activations; no lane split and no horizontal sum. We reproduce that.
template <class I8, bool Iq4nl>
float dot_repacked_b32(int64_t n, const void* w, const void* a) {
    using Block = std::conditional_t<Iq4nl, BlockIQ4_NL, BlockQ4_0>;
    const auto* x = static_cast<const Block*>(w);
    const auto* y = static_cast<const ActQ8*>(a);
    const __m256i table = iq4nl_table();
    float acc = 0.0f;
    const int64_t nb = n / 32;
    for (int64_t b = 0; b < nb; ++b) {
        __m256i q = nibbles32(x[b].qs);
        if constexpr (Iq4nl) q = _mm256_shuffle_epi8(table, q);
        else q = _mm256_sub_epi8(q, _mm256_set1_epi8(8));
        const __m256i p = I8::dot(_mm256_sign_epi8(q, q), _mm256_sign_epi8(load256(y[b].qs), q));
        acc = __builtin_fmaf((float)hsum_i32(p), _cvtsh_ss(x[b].d) * y[b].d, acc);
    }
    return acc;
}

// The table entries of one ISA for these types; R x T: the batch tile of Q5_0 and Q8_0 (registers: R x T
// accumulators plus 2R unpacked weight vectors).
template <class I8, int R, int T>
void register_legacy(IsaKernels& k) {
    k.dot[(size_t)DType::Q4_0] = {dot_repacked_b32<I8, false>, ActType::Q8_32};
    k.dot[(size_t)DType::Q4_1] = {dot_min<I8, BlockQ4_1, false>, ActType::Q8_32};
    k.dot[(size_t)DType::Q5_0] = {dot_signed<I8, BlockQ5_0, true>, ActType::Q8_32};
    k.dot[(size_t)DType::Q5_0].tile = {tile_signed<I8, BlockQ5_0, true, R, T>, R, T};
    k.dot[(size_t)DType::Q5_1] = {dot_min<I8, BlockQ5_1, true>, ActType::Q8_32};
    k.dot[(size_t)DType::Q8_0] = {dot_q8_0<I8>, ActType::Q8_32};
    k.dot[(size_t)DType::Q8_0].tile = {tile_signed<I8, BlockQ8_0, false, R, T>, R, T};
    k.dot[(size_t)DType::IQ4_NL] = {dot_repacked_b32<I8, true>, ActType::Q8_32};
}

}  // namespace
}  // namespace llm::cpu
