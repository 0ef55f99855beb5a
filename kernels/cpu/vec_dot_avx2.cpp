// AVX2 (+FMA, F16C) vec_dot kernels for the float weights and the 32-element block types, and the
// vectorized activation quantizers (byte-identical to the scalar ones in vec_dot_scalar.cpp).
#include <immintrin.h>

#include <cstring>

#include "kernels/cpu/vec_dot_avx2.hpp"

namespace llm::cpu {
namespace {

// ---- activation preparation ------------------------------------------------------------------------

// Rounds 32 floats by id (nearest-even, as nearbyint) and stores them as int8 in order; returns their
// int32 values as four vectors (elements 0-7, 8-15, 16-23, 24-31).
inline void quantize32(const float* x, __m256 id, int8_t* dst, __m256i out[4]) {
    for (int k = 0; k < 4; ++k) out[k] = _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(x + 8 * k), id));
    // packs interleave the 128-bit lanes; the permute restores element order.
    const __m256i a = _mm256_packs_epi32(out[0], out[1]), b = _mm256_packs_epi32(out[2], out[3]);
    const __m256i p = _mm256_permutevar8x32_epi32(_mm256_packs_epi16(a, b), _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst), p);
}

inline float absmax(const float* x, int n) {
    const __m256 sign = _mm256_set1_ps(-0.0f);
    __m256 m = _mm256_setzero_ps();
    for (int i = 0; i < n; i += 8) m = _mm256_max_ps(m, _mm256_andnot_ps(sign, _mm256_loadu_ps(x + i)));
    return hmax_ps(m);
}

void prepare_q8_32(const float* x, void* dst, int64_t n) {
    auto* y = static_cast<ActQ8*>(dst);
    for (int64_t b = 0; b < n / 32; ++b, x += 32) {
        const float amax = absmax(x, 32);
        __m256i q[4];
        quantize32(x, _mm256_set1_ps(act_q8_inverse_scale(amax)), y[b].qs, q);
        const int sum = hsum_i32(_mm256_add_epi32(_mm256_add_epi32(q[0], q[1]), _mm256_add_epi32(q[2], q[3])));
        set_act_q8_scales(y[b], amax, sum);
    }
}

void prepare_q8_k(const float* x, void* dst, int64_t n) {
    auto* y = static_cast<ActQ8K*>(dst);
    for (int64_t b = 0; b < n / QK_K; ++b, x += QK_K) {
        const float iscale = act_q8k_iscale(x);
        const __m256 vid = _mm256_set1_ps(iscale);
        for (int c = 0; c < QK_K / 32; ++c) {
            __m256i q[4];
            quantize32(x + 32 * c, vid, y[b].qs + 32 * c, q);
            y[b].bsums[2 * c] = (int16_t)hsum_i32(_mm256_add_epi32(q[0], q[1]));
            y[b].bsums[2 * c + 1] = (int16_t)hsum_i32(_mm256_add_epi32(q[2], q[3]));
        }
        y[b].d = iscale != 0.0f ? 1.0f / iscale : 0.0f;
    }
}

// ---- float weights ---------------------------------------------------------------------------------

inline __m256 load_f16(const uint16_t* p) { return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p))); }
inline __m256 load_bf16(const uint16_t* p) {
    const __m256i w = _mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
    return _mm256_castsi256_ps(_mm256_slli_epi32(w, 16));
}
inline float bf16_scalar(uint16_t h) {
    const uint32_t u = (uint32_t)h << 16;
    float f;
    std::memcpy(&f, &u, 4);
    return f;
}

// Four independent accumulators hide the FMA latency; Load converts 8 weights to float.
template <typename T, typename Load, typename Scalar>
inline float dot_float(int64_t n, const T* x, const float* y, Load load, Scalar scalar) {
    __m256 acc[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps()};
    int64_t i = 0;
    for (; i + 32 <= n; i += 32)
        for (int k = 0; k < 4; ++k) acc[k] = _mm256_fmadd_ps(load(x + i + 8 * k), _mm256_loadu_ps(y + i + 8 * k), acc[k]);
    for (; i + 8 <= n; i += 8) acc[0] = _mm256_fmadd_ps(load(x + i), _mm256_loadu_ps(y + i), acc[0]);
    float s = hsum_ps(_mm256_add_ps(_mm256_add_ps(acc[0], acc[1]), _mm256_add_ps(acc[2], acc[3])));
    for (; i < n; ++i) s += scalar(x[i]) * y[i];
    return s;
}

float dot_f32(int64_t n, const void* w, const void* a) {
    return dot_float(n, static_cast<const float*>(w), static_cast<const float*>(a),
                     [](const float* p) { return _mm256_loadu_ps(p); }, [](float v) { return v; });
}
float dot_f16(int64_t n, const void* w, const void* a) {
    return dot_float(n, static_cast<const uint16_t*>(w), static_cast<const float*>(a), load_f16,
                     [](uint16_t h) { return _cvtsh_ss(h); });
}
float dot_bf16(int64_t n, const void* w, const void* a) {
    return dot_float(n, static_cast<const uint16_t*>(w), static_cast<const float*>(a), load_bf16, bf16_scalar);
}

// ---- 32-element blocks x ActQ8 ---------------------------------------------------------------------

// 32 unsigned 4-bit values in element order: low nibbles are elements 0-15, high nibbles 16-31.
inline __m256i nibbles32(const uint8_t* p) {
    const __m128i t = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
    return _mm256_and_si256(_mm256_set_m128i(_mm_srli_epi16(t, 4), t), _mm256_set1_epi8(0x0F));
}

// 0x10 in byte j where bit j of the 32-bit little-endian qh is set (the 5th bit of element j).
inline __m256i high_bits32(const uint8_t* qh4) {
    uint32_t qh;
    std::memcpy(&qh, qh4, 4);
    const __m256i shuf = _mm256_set_epi64x(0x0303030303030303, 0x0202020202020202, 0x0101010101010101, 0);
    __m256i bytes = _mm256_shuffle_epi8(_mm256_set1_epi32((int)qh), shuf);
    bytes = _mm256_or_si256(bytes, _mm256_set1_epi64x(0x7fbfdfeff7fbfdfe));
    return _mm256_and_si256(_mm256_cmpeq_epi8(bytes, _mm256_set1_epi64x(-1)), _mm256_set1_epi8(0x10));
}

inline const __m256i* ld(const int8_t* p) { return reinterpret_cast<const __m256i*>(p); }

// Runs step(b, acc) over the blocks alternating two accumulators (two FMA dependency chains in flight).
template <typename Step>
inline float over_blocks(int64_t nb, Step step) {
    __m256 acc[2] = {_mm256_setzero_ps(), _mm256_setzero_ps()};
    int64_t b = 0;
    for (; b + 2 <= nb; b += 2) step(b, acc[0]), step(b + 1, acc[1]);
    if (b < nb) step(b, acc[0]);
    return hsum_ps(_mm256_add_ps(acc[0], acc[1]));
}

// Unsigned weights u (0..31) x activations: dw * (da * sum(u*a) - offset * sa) (+ m * sa for _1 types).
template <typename Block, int Offset, bool HasMin, bool Five>
float dot_unsigned(int64_t n, const void* w, const void* a) {
    const auto* x = static_cast<const Block*>(w);
    const auto* y = static_cast<const ActQ8*>(a);
    float corr = 0;
    const float sum = over_blocks(n / 32, [&](int64_t b, __m256& acc) {
        __m256i u = nibbles32(x[b].qs);
        if constexpr (Five) u = _mm256_or_si256(u, high_bits32(x[b].qh));
        const __m256i p = sum_u8s8(u, _mm256_loadu_si256(ld(y[b].qs)));
        const float dw = _cvtsh_ss(x[b].d);
        acc = _mm256_fmadd_ps(_mm256_set1_ps(dw * y[b].d), _mm256_cvtepi32_ps(p), acc);
        if constexpr (HasMin) corr += _cvtsh_ss(x[b].m) * y[b].sm;
        else corr -= dw * (float)Offset * y[b].s;
    });
    return sum + corr;
}

// Signed weights (-128..127) x activations: pmaddubsw needs an unsigned side, so multiply |w| by
// sign(w)*a (|a| <= 127 keeps the pair sums inside int16).
inline __m256i sum_s8s8(__m256i w, __m256i a) { return sum_u8s8(_mm256_sign_epi8(w, w), _mm256_sign_epi8(a, w)); }

float dot_q8_0(int64_t n, const void* w, const void* a) {
    const auto* x = static_cast<const BlockQ8_0*>(w);
    const auto* y = static_cast<const ActQ8*>(a);
    return over_blocks(n / 32, [&](int64_t b, __m256& acc) {
        const __m256i p = sum_s8s8(_mm256_loadu_si256(ld(x[b].qs)), _mm256_loadu_si256(ld(y[b].qs)));
        acc = _mm256_fmadd_ps(_mm256_set1_ps(_cvtsh_ss(x[b].d) * y[b].d), _mm256_cvtepi32_ps(p), acc);
    });
}

float dot_iq4_nl(int64_t n, const void* w, const void* a) {
    const auto* x = static_cast<const BlockIQ4_NL*>(w);
    const auto* y = static_cast<const ActQ8*>(a);
    const __m256i table = iq4nl_table();
    return over_blocks(n / 32, [&](int64_t b, __m256& acc) {
        const __m256i v = _mm256_shuffle_epi8(table, nibbles32(x[b].qs));
        const __m256i p = sum_s8s8(v, _mm256_loadu_si256(ld(y[b].qs)));
        acc = _mm256_fmadd_ps(_mm256_set1_ps(_cvtsh_ss(x[b].d) * y[b].d), _mm256_cvtepi32_ps(p), acc);
    });
}

}  // namespace

void register_avx2_float(IsaKernels& k) {
    k.dot[(size_t)DType::F32] = {dot_f32, ActType::F32};
    k.dot[(size_t)DType::F16] = {dot_f16, ActType::F32};
    k.dot[(size_t)DType::BF16] = {dot_bf16, ActType::F32};
    k.prepare[(size_t)ActType::Q8_32] = prepare_q8_32;
    k.prepare[(size_t)ActType::Q8_K] = prepare_q8_k;
}

void register_avx2_legacy(IsaKernels& k) {
    k.dot[(size_t)DType::Q4_0] = {dot_unsigned<BlockQ4_0, 8, false, false>, ActType::Q8_32};
    k.dot[(size_t)DType::Q4_1] = {dot_unsigned<BlockQ4_1, 0, true, false>, ActType::Q8_32};
    k.dot[(size_t)DType::Q5_0] = {dot_unsigned<BlockQ5_0, 16, false, true>, ActType::Q8_32};
    k.dot[(size_t)DType::Q5_1] = {dot_unsigned<BlockQ5_1, 0, true, true>, ActType::Q8_32};
    k.dot[(size_t)DType::Q8_0] = {dot_q8_0, ActType::Q8_32};
    k.dot[(size_t)DType::IQ4_NL] = {dot_iq4_nl, ActType::Q8_32};
}

}  // namespace llm::cpu
