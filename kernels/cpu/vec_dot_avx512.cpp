// AVX-512 (F/BW/VL/DQ + VNNI, optionally BF16) vec_dot kernels for the float weights and the 32-element
// block types, and the activation quantizers. Integer dots use vpdpbusd (u8 x s8 -> int32 without the
// int16 saturation of pmaddubsw) on 256-bit vectors: one 32-element block per vector (two blocks per
// 512-bit vector measured no faster on Zen 4, which splits 512-bit ops in two).

// GCC 12 flags the self-initialized variable inside _mm512_undefined_*() (a false positive).
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>

#include <cstring>

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

// ---- float weights (masked tails: any n) -------------------------------------------------------------

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

float dot_f32(int64_t n, const void* w, const void* a) {
    return dot_float(n, static_cast<const float*>(w), static_cast<const float*>(a), load_f32);
}
float dot_f16(int64_t n, const void* w, const void* a) {
    return dot_float(n, static_cast<const uint16_t*>(w), static_cast<const float*>(a), load_f16);
}
float dot_bf16(int64_t n, const void* w, const void* a) {
    return dot_float(n, static_cast<const uint16_t*>(w), static_cast<const float*>(a), load_bf16);
}

// BF16 weights x BF16 activations: vdpbf16ps does 32 products per instruction.
float dot_bf16_bf16(int64_t n, const void* w, const void* a) {
    const auto* x = static_cast<const uint16_t*>(w);
    const auto* y = static_cast<const uint16_t*>(a);
    __m512 acc[2] = {_mm512_setzero_ps(), _mm512_setzero_ps()};
    int64_t i = 0;
    for (; i + 64 <= n; i += 64)
        for (int k = 0; k < 2; ++k)
            acc[k] = _mm512_dpbf16_ps(acc[k], (__m512bh)_mm512_loadu_si512(x + i + 32 * k),
                                      (__m512bh)_mm512_loadu_si512(y + i + 32 * k));
    for (; i < n; i += 32) {
        const __mmask32 m = n - i >= 32 ? (__mmask32)0xFFFFFFFFu : (__mmask32)((1u << (n - i)) - 1);
        acc[0] = _mm512_dpbf16_ps(acc[0], (__m512bh)_mm512_maskz_loadu_epi16(m, x + i),
                                  (__m512bh)_mm512_maskz_loadu_epi16(m, y + i));
    }
    return _mm512_reduce_add_ps(_mm512_add_ps(acc[0], acc[1]));
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

// Unsigned weights u x activations: dw * (da * sum(u*a) - offset * sa) (+ m * sa for the _1 types).
// Two blocks per iteration with separate accumulators keep two dependency chains in flight.
template <typename Block, int Offset, bool HasMin, bool Five>
float dot_unsigned(int64_t n, const void* w, const void* a) {
    const auto* x = static_cast<const Block*>(w);
    const auto* y = static_cast<const ActQ8*>(a);
    __m256 acc[2] = {_mm256_setzero_ps(), _mm256_setzero_ps()};
    float corr = 0;
    const int64_t nb = n / 32;
    auto step = [&](int64_t b, __m256& ac) {
        __m256i u = nibbles32(x[b].qs);
        if constexpr (Five) u = _mm256_or_si256(u, high_bits32(x[b].qh));
        const __m256i p = _mm256_dpbusd_epi32(_mm256_setzero_si256(), u, load256(y[b].qs));
        const float dw = _cvtsh_ss(x[b].d);
        ac = _mm256_fmadd_ps(_mm256_set1_ps(dw * y[b].d), _mm256_cvtepi32_ps(p), ac);
        if constexpr (HasMin) corr += _cvtsh_ss(x[b].m) * y[b].sm;
        else corr -= dw * (float)Offset * y[b].s;
    };
    int64_t b = 0;
    for (; b + 2 <= nb; b += 2) step(b, acc[0]), step(b + 1, acc[1]);
    if (b < nb) step(b, acc[0]);
    return hsum_ps(_mm256_add_ps(acc[0], acc[1])) + corr;
}

// Q8_0: |w| (as u8, 128 fits) x sign(w)*a.
float dot_q8_0(int64_t n, const void* w, const void* a) {
    const auto* x = static_cast<const BlockQ8_0*>(w);
    const auto* y = static_cast<const ActQ8*>(a);
    __m256 acc[2] = {_mm256_setzero_ps(), _mm256_setzero_ps()};
    const int64_t nb = n / 32;
    auto step = [&](int64_t b, __m256& ac) {
        const __m256i wq = load256(x[b].qs);
        const __m256i p = _mm256_dpbusd_epi32(_mm256_setzero_si256(), _mm256_abs_epi8(wq), _mm256_sign_epi8(load256(y[b].qs), wq));
        ac = _mm256_fmadd_ps(_mm256_set1_ps(_cvtsh_ss(x[b].d) * y[b].d), _mm256_cvtepi32_ps(p), ac);
    };
    int64_t b = 0;
    for (; b + 2 <= nb; b += 2) step(b, acc[0]), step(b + 1, acc[1]);
    if (b < nb) step(b, acc[0]);
    return hsum_ps(_mm256_add_ps(acc[0], acc[1]));
}

// IQ4_NL: the codebook + 128 is unsigned (1..241); subtract 128 * sum(a) through sa.
float dot_iq4_nl(int64_t n, const void* w, const void* a) {
    const auto* x = static_cast<const BlockIQ4_NL*>(w);
    const auto* y = static_cast<const ActQ8*>(a);
    const __m256i table = _mm256_add_epi8(iq4nl_table(), _mm256_set1_epi8((char)0x80));
    __m256 acc = _mm256_setzero_ps();
    float corr = 0;
    for (int64_t b = 0; b < n / 32; ++b) {
        const __m256i u = _mm256_shuffle_epi8(table, nibbles32(x[b].qs));
        const __m256i p = _mm256_dpbusd_epi32(_mm256_setzero_si256(), u, load256(y[b].qs));
        const float dw = _cvtsh_ss(x[b].d);
        acc = _mm256_fmadd_ps(_mm256_set1_ps(dw * y[b].d), _mm256_cvtepi32_ps(p), acc);
        corr -= dw * 128.0f * y[b].s;
    }
    return hsum_ps(acc) + corr;
}

}  // namespace

void register_avx512_float(IsaKernels& k, bool bf16) {
    k.dot[(size_t)DType::F32] = {dot_f32, ActType::F32};
    k.dot[(size_t)DType::F16] = {dot_f16, ActType::F32};
    k.dot[(size_t)DType::BF16] = bf16 ? VecDotEntry{dot_bf16_bf16, ActType::BF16} : VecDotEntry{dot_bf16, ActType::F32};
    k.prepare[(size_t)ActType::Q8_32] = prepare_q8_32;
    k.prepare[(size_t)ActType::Q8_K] = prepare_q8_k;
    if (bf16) k.prepare[(size_t)ActType::BF16] = prepare_bf16;
}

void register_avx512_legacy(IsaKernels& k) {
    k.dot[(size_t)DType::Q4_0] = {dot_unsigned<BlockQ4_0, 8, false, false>, ActType::Q8_32};
    k.dot[(size_t)DType::Q4_1] = {dot_unsigned<BlockQ4_1, 0, true, false>, ActType::Q8_32};
    k.dot[(size_t)DType::Q5_0] = {dot_unsigned<BlockQ5_0, 16, false, true>, ActType::Q8_32};
    k.dot[(size_t)DType::Q5_1] = {dot_unsigned<BlockQ5_1, 0, true, true>, ActType::Q8_32};
    k.dot[(size_t)DType::Q8_0] = {dot_q8_0, ActType::Q8_32};
    k.dot[(size_t)DType::IQ4_NL] = {dot_iq4_nl, ActType::Q8_32};
}

}  // namespace llm::cpu
