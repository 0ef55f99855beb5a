// AVX-512 (F/BW/VL/DQ + VNNI, optionally BF16) vec_dot kernels for the float weights and the 32-element
// block types, and the activation quantizers. Integer dots use vpdpbusd (u8 x s8 -> int32 without the
// int16 saturation of pmaddubsw) on 256-bit vectors: one 32-element block per vector (two blocks per
// 512-bit vector measured no faster on Zen 4, which splits 512-bit ops in two).

// GCC 12 flags the self-initialized variable inside _mm512_undefined_*() (a false positive).
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>

#include <cstring>
#include <type_traits>

#include "kernels/cpu/vec_dot_avx2.hpp"

namespace llm::cpu {
namespace {

// ---- activation preparation (byte-identical to the scalar and AVX2 versions) ----------------------

// Rounds 16 floats by id (nearest-even) and stores them as int8; returns the int32 values.
inline __m512i quantize16(const float* x, __m512 id, int8_t* dst) {
    const __m512i q = _mm512_cvtps_epi32(_mm512_mul_ps(_mm512_loadu_ps(x), id));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(dst), _mm512_cvtsepi32_epi8(q));
    return q;
}

inline float absmax(const float* x, int n) {
    __m512 m = _mm512_setzero_ps();
    for (int i = 0; i < n; i += 16) m = _mm512_max_ps(m, _mm512_abs_ps(_mm512_loadu_ps(x + i)));
    return _mm512_reduce_max_ps(m);
}

void prepare_q8_32(const float* x, void* dst, int64_t n) {
    auto* y = static_cast<ActQ8*>(dst);
    for (int64_t b = 0; b < n / 32; ++b, x += 32) {
        const float amax = absmax(x, 32);
        const __m512 vid = _mm512_set1_ps(act_q8_inverse_scale(amax));
        const __m512i q0 = quantize16(x, vid, y[b].qs), q1 = quantize16(x + 16, vid, y[b].qs + 16);
        set_act_q8_scales(y[b], amax, _mm512_reduce_add_epi32(_mm512_add_epi32(q0, q1)));
    }
}

void prepare_q8_k(const float* x, void* dst, int64_t n) {
    auto* y = static_cast<ActQ8K*>(dst);
    for (int64_t b = 0; b < n / QK_K; ++b, x += QK_K) {
        const float iscale = act_q8k_iscale(x);
        const __m512 vid = _mm512_set1_ps(iscale);
        for (int k = 0; k < QK_K / 16; ++k)
            y[b].bsums[k] = (int16_t)_mm512_reduce_add_epi32(quantize16(x + 16 * k, vid, y[b].qs + 16 * k));
        y[b].d = iscale != 0.0f ? 1.0f / iscale : 0.0f;
    }
}

void prepare_bf16(const float* x, void* dst, int64_t n) {
    auto* y = static_cast<uint16_t*>(dst);
    int64_t i = 0;
    for (; i + 32 <= n; i += 32) {
        const __m512bh v = _mm512_cvtne2ps_pbh(_mm512_loadu_ps(x + i + 16), _mm512_loadu_ps(x + i));
        _mm512_storeu_si512(y + i, (__m512i)v);
    }
    for (; i < n; i += 16) {
        const __mmask16 m = n - i >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << (n - i)) - 1);
        const __m256bh v = _mm512_cvtneps_pbh(_mm512_maskz_loadu_ps(m, x + i));
        _mm256_mask_storeu_epi16(y + i, m, (__m256i)v);
    }
}

// fp32 -> fp16, round to nearest even (ggml_cpu_fp32_to_fp16).
void prepare_f16(const float* x, void* dst, int64_t n) {
    auto* y = static_cast<uint16_t*>(dst);
    int64_t i = 0;
    for (; i + 16 <= n; i += 16)
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(y + i), _mm512_cvtps_ph(_mm512_loadu_ps(x + i), _MM_FROUND_TO_NEAREST_INT));
    for (; i < n; ++i) y[i] = _cvtss_sh(x[i], _MM_FROUND_TO_NEAREST_INT);
}

// ---- float weights (masked tails: any n) -------------------------------------------------------------
// One token: the arithmetic of ggml's vec.cpp (ggml_vec_dot_f32 / _f16 / _bf16, AVX-512 build), so that
// results are llama.cpp's bit for bit. (Batches of >= 2 tokens: llama.cpp uses llamafile's tinyBLAS
// instead when the row length is a multiple of 16 (F32, F16) or 32 (BF16): see the report / gemm notes.)

// GGML_F32x16_REDUCE over 4 accumulators: (s0 + s2) + (s1 + s3), then _mm512_reduce_add_ps.
inline float reduce4(__m512 s[4]) {
    s[0] = _mm512_add_ps(s[0], s[2]);
    s[1] = _mm512_add_ps(s[1], s[3]);
    return _mm512_reduce_add_ps(_mm512_add_ps(s[0], s[1]));
}

// ggml_vec_dot_f32: 64 per step in 4 accumulators, reduced in float; leftovers with a float FMA each.
float dot_f32_ggml(int64_t n, const void* w, const void* a) {
    const auto* x = static_cast<const float*>(w);
    const auto* y = static_cast<const float*>(a);
    __m512 s[4] = {_mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps()};
    const int64_t np = n & ~(int64_t)63;
    for (int64_t i = 0; i < np; i += 64)
        for (int j = 0; j < 4; ++j) s[j] = _mm512_fmadd_ps(_mm512_loadu_ps(x + i + 16 * j), _mm512_loadu_ps(y + i + 16 * j), s[j]);
    float sumf = reduce4(s);
    for (int64_t i = np; i < n; ++i) sumf = __builtin_fmaf(x[i], y[i], sumf);
    return sumf;
}

// ggml_vec_dot_f16 on fp16 activations: as above, reduced to double; leftovers summed in double.
float dot_f16_f16_ggml(int64_t n, const void* w, const void* a) {
    const auto* x = static_cast<const uint16_t*>(w);
    const auto* y = static_cast<const uint16_t*>(a);
    __m512 s[4] = {_mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps()};
    const int64_t np = n & ~(int64_t)63;
    for (int64_t i = 0; i < np; i += 64)
        for (int j = 0; j < 4; ++j) {
            const __m512 xv = _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(x + i + 16 * j)));
            const __m512 yv = _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(y + i + 16 * j)));
            s[j] = _mm512_fmadd_ps(xv, yv, s[j]);
        }
    double sumf = (double)reduce4(s);
    for (int64_t i = np; i < n; ++i) sumf += (double)(_cvtsh_ss(x[i]) * _cvtsh_ss(y[i]));
    return (float)sumf;
}


inline __mmask16 tail16(int64_t left) { return left >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << left) - 1); }

inline __m512 load_f32(const float* p, __mmask16 m) { return _mm512_maskz_loadu_ps(m, p); }
inline __m512 load_f16(const uint16_t* p, __mmask16 m) { return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, p)); }
inline __m512 load_bf16(const uint16_t* p, __mmask16 m) {
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(_mm256_maskz_loadu_epi16(m, p)), 16));
}

template <typename T, typename Load>
inline float dot_float(int64_t n, const T* x, const float* y, Load load) {
    __m512 acc[4] = {_mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps()};
    int64_t i = 0;
    for (; i + 64 <= n; i += 64)
        for (int k = 0; k < 4; ++k)
            acc[k] = _mm512_fmadd_ps(load(x + i + 16 * k, (__mmask16)0xFFFF), _mm512_loadu_ps(y + i + 16 * k), acc[k]);
    for (; i < n; i += 16) {
        const __mmask16 m = tail16(n - i);
        acc[0] = _mm512_fmadd_ps(load(x + i, m), _mm512_maskz_loadu_ps(m, y + i), acc[0]);
    }
    return _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(acc[0], acc[1]), _mm512_add_ps(acc[2], acc[3])));
}

float dot_bf16(int64_t n, const void* w, const void* a) {
    return dot_float(n, static_cast<const uint16_t*>(w), static_cast<const float*>(a), load_bf16);
}

// BF16 weights x BF16 activations (ggml_vec_dot_bf16, AVX512-BF16): two vdpbf16ps accumulators over
// 64 elements per step, each reduced and summed in double; leftovers in double.
float dot_bf16_bf16(int64_t n, const void* w, const void* a) {
    const auto* x = static_cast<const uint16_t*>(w);
    const auto* y = static_cast<const uint16_t*>(a);
    __m512 c1 = _mm512_setzero_ps(), c2 = _mm512_setzero_ps();
    int64_t i = 0;
    for (; i + 64 <= n; i += 64) {
        c1 = _mm512_dpbf16_ps(c1, (__m512bh)_mm512_loadu_si512(x + i), (__m512bh)_mm512_loadu_si512(y + i));
        c2 = _mm512_dpbf16_ps(c2, (__m512bh)_mm512_loadu_si512(x + i + 32), (__m512bh)_mm512_loadu_si512(y + i + 32));
    }
    double sumf = (double)_mm512_reduce_add_ps(c1);
    sumf += (double)_mm512_reduce_add_ps(c2);
    for (; i < n; ++i) {
        const uint32_t xb = (uint32_t)x[i] << 16, yb = (uint32_t)y[i] << 16;
        float xf, yf;
        std::memcpy(&xf, &xb, 4);
        std::memcpy(&yf, &yb, 4);
        sumf += (double)(xf * yf);
    }
    return (float)sumf;
}

// ---- 32-element blocks x ActQ8 -------------------------------------------------------------------------

inline __m256i load256(const void* p) { return _mm256_loadu_si256(static_cast<const __m256i*>(p)); }

inline __m256i nibbles32(const uint8_t* p) {
    const __m128i t = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
    return _mm256_and_si256(_mm256_set_m128i(_mm_srli_epi16(t, 4), t), _mm256_set1_epi8(0x0F));
}

// 0x10 in byte j where bit j of qh is set: a mask register makes this one masked move.
inline __m256i high_bits32(const uint8_t* qh4) {
    uint32_t qh;
    std::memcpy(&qh, qh4, 4);
    return _mm256_maskz_mov_epi8((__mmask32)qh, _mm256_set1_epi8(0x10));
}

// The 32-element block types reproduce llama.cpp's CPU arithmetic on this ISA (llama-cpp-python 0.3.36's
// ggml, GCC, AVX2 + AVX512-VNNI build) operation for operation, so logits are bit-identical to llama.cpp's:
// * Q4_1, Q5_0, Q5_1, Q8_0 follow ggml's x86 vec_dot (arch/x86/quants.c), which llama.cpp uses for one
//   token and, for Q4_1/Q5_1, for batches too (llamafile's tinyBLAS_Q0_AVX, its batch path for Q8_0/Q5_0,
//   computes the same thing): per block, 8 int32 lane sums of 4 products each (vpdpbusd) converted to
//   float and FMA'd with the block scale dw*da into ONE 8-lane accumulator, then ggml's hsum_float_8.
//   Signed types use |w| x sign(a, w) on the signed weight (q-16, q); Q4_1/Q5_1 use the unsigned quants
//   and add m * s (Q8_1's fp16 sum) in a scalar FMA chain, as GCC compiles ggml's `summs += m * s`.
// * Q4_0 and IQ4_NL follow llama.cpp's repacked kernels (see dot_repacked_b32).
// Rounding-level differences matter: on real models they flip 8-bit activation roundings downstream
// and grow to 0.1-0.5 logits (SmolLM2-135M).

// ggml's mul_sum_i8_pairs_float (no AVX-VNNI-INT8 on this target): |x| (u8) x sign(y, x) (s8).
inline __m256 mul_sum_i8_pairs_float(__m256i x, __m256i y) {
    return _mm256_cvtepi32_ps(_mm256_dpbusd_epi32(_mm256_setzero_si256(), _mm256_abs_epi8(x), _mm256_sign_epi8(y, x)));
}
inline __m256 mul_sum_us8_pairs_float(__m256i ux, __m256i y) {
    return _mm256_cvtepi32_ps(_mm256_dpbusd_epi32(_mm256_setzero_si256(), ux, y));
}

// Signed weights: Q5_0 (5-bit value - 16); Q4_0 (nibble - 8) would be ggml_vec_dot_q4_0_q8_0 (unused:
// llama.cpp runs Q4_0 weights through the repacked kernels).
template <typename Block, bool Five>
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
            const __m256i hi = high_bits32(x[b].qh);  // 0x10 where the bit is set
            qx = _mm256_sub_epi8(_mm256_or_si256(qx, hi), _mm256_set1_epi8(16));
        } else {
            qx = _mm256_sub_epi8(qx, _mm256_set1_epi8(8));
        }
        acc = _mm256_fmadd_ps(d, mul_sum_i8_pairs_float(qx, load256(y[b].qs)), acc);
    }
    return hsum_ps(acc);
}

// Q4_1 / Q5_1: dw*da*sum(u*a) + m*s.
template <typename Block, bool Five>
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
        if constexpr (Five) u = _mm256_or_si256(u, high_bits32(x[b].qh));
        acc = _mm256_fmadd_ps(_mm256_set1_ps(dw * y[b].d), mul_sum_us8_pairs_float(u, load256(y[b].qs)), acc);
    }
    return hsum_ps(acc) + summs;
}

float dot_q8_0(int64_t n, const void* w, const void* a) {
    const auto* x = static_cast<const BlockQ8_0*>(w);
    const auto* y = static_cast<const ActQ8*>(a);
    __m256 acc = _mm256_setzero_ps();
    const int64_t nb = n / 32;
    for (int64_t b = 0; b < nb; ++b)
        acc = _mm256_fmadd_ps(_mm256_set1_ps(_cvtsh_ss(x[b].d) * y[b].d),
                              mul_sum_i8_pairs_float(load256(x[b].qs), load256(y[b].qs)), acc);
    return hsum_ps(acc);
}

// Q4_0 and IQ4_NL: on an AVX2/AVX-512 CPU llama.cpp repacks these weights (ggml-cpu/repack.cpp:
// q4_0_8x8_q8_0, iq4_nl_8x8_q8_0, for matrices with a multiple of 8 rows) and runs its own gemv (one token)
// and gemm (batches) kernels (arch/x86/repack.cpp: gemv_q4_b32_8x8_q8_0_lut_avx / gemm_..._lut_avx) instead
// of vec_dot: per output, acc = fma((float)block_int_dot, dw * da, acc) over the blocks in order, where
// block_int_dot is the exact integer dot of the 32 signed weights (q - 8, or the codebook value) with the
// 8-bit activations; no lane split and no horizontal sum. We reproduce that.
inline int hsum_epi32(__m256i v) {
    __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4E));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xB1));
    return _mm_cvtsi128_si32(s);
}

template <bool Iq4nl>
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
        const __m256i p = _mm256_dpbusd_epi32(_mm256_setzero_si256(), _mm256_abs_epi8(q), _mm256_sign_epi8(load256(y[b].qs), q));
        acc = __builtin_fmaf((float)hsum_epi32(p), _cvtsh_ss(x[b].d) * y[b].d, acc);
    }
    return acc;
}

}  // namespace

void register_avx512_float(IsaKernels& k, bool bf16) {
    k.dot[(size_t)DType::F32] = {dot_f32_ggml, ActType::F32};
    k.dot[(size_t)DType::F16] = {dot_f16_f16_ggml, ActType::F16};
    k.dot[(size_t)DType::BF16] = bf16 ? VecDotEntry{dot_bf16_bf16, ActType::BF16} : VecDotEntry{dot_bf16, ActType::F32};
    k.prepare[(size_t)ActType::Q8_32] = prepare_q8_32;
    k.prepare[(size_t)ActType::Q8_K] = prepare_q8_k;
    k.prepare[(size_t)ActType::F16] = prepare_f16;
    if (bf16) k.prepare[(size_t)ActType::BF16] = prepare_bf16;
}

void register_avx512_legacy(IsaKernels& k) {
    k.dot[(size_t)DType::Q4_0] = {dot_repacked_b32<false>, ActType::Q8_32};
    k.dot[(size_t)DType::Q4_1] = {dot_min<BlockQ4_1, false>, ActType::Q8_32};
    k.dot[(size_t)DType::Q5_0] = {dot_signed<BlockQ5_0, true>, ActType::Q8_32};
    k.dot[(size_t)DType::Q5_1] = {dot_min<BlockQ5_1, true>, ActType::Q8_32};
    k.dot[(size_t)DType::Q8_0] = {dot_q8_0, ActType::Q8_32};
    k.dot[(size_t)DType::IQ4_NL] = {dot_repacked_b32<true>, ActType::Q8_32};
}

}  // namespace llm::cpu
