// AVX-512 (F/BW/VL/DQ + VNNI, optionally BF16) vec_dot kernels for the float weights and the 32-element
// block types, and the activation quantizers. Integer dots use vpdpbusd (u8 x s8 -> int32 without the
// int16 saturation of pmaddubsw) on 256-bit vectors: one 32-element block per vector (two blocks per
// 512-bit vector measured no faster on Zen 4, which splits 512-bit ops in two).

// GCC 12 flags the self-initialized variable inside _mm512_undefined_*() (a false positive).
#pragma GCC diagnostic ignored "-Wuninitialized"
#ifndef __clang__  // clang has no -Wmaybe-uninitialized (and would warn about the unknown group)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <immintrin.h>

#include <cstring>

#include "kernels/cpu/vec_dot_float_simd.hpp"
#include "kernels/cpu/vec_dot_legacy_simd.hpp"

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


// ggml_vec_dot_f32 / _f16 (vec_dot_float_simd.hpp): 64 per step in 4 accumulators; F32 reduces in float with a
// float FMA per leftover, F16 (fp16 activations) reduces to double with leftovers summed in double.
struct Float16 {  // the vector part of the float policies below
    using Vec = __m512;
    static constexpr int kW = 16;
    static Vec zero() { return _mm512_setzero_ps(); }
    static Vec fma(Vec a, Vec b, Vec c) { return _mm512_fmadd_ps(a, b, c); }
};
struct F32x16 : Float16 {
    using WElem = float;
    using AElem = float;
    static Vec load(const float* p) { return _mm512_loadu_ps(p); }
    static float finish(Vec s[4], const float* x, const float* y, int64_t i, int64_t n) {
        float sumf = reduce4(s);
        for (; i < n; ++i) sumf = __builtin_fmaf(x[i], y[i], sumf);
        return sumf;
    }
};
// F16 weights x activations rounded to fp16 (ActType::F16; fp16 storage halves what a batch streams).
struct F16x16 : Float16 {
    using WElem = uint16_t;
    using AElem = uint16_t;
    static Vec load(const uint16_t* p) { return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p))); }
    static float finish(Vec s[4], const uint16_t* x, const uint16_t* y, int64_t i, int64_t n) {
        double sumf = (double)reduce4(s);
        for (; i < n; ++i) sumf += (double)(_cvtsh_ss(x[i]) * _cvtsh_ss(y[i]));
        return (float)sumf;
    }
};

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

// ---- 32-element blocks x ActQ8 (vec_dot_legacy_simd.hpp) --------------------------------------------

struct I8Vnni {
    static constexpr bool kOffsetDot = true;
    static __m256i dot(__m256i u, __m256i s) { return _mm256_dpbusd_epi32(_mm256_setzero_si256(), u, s); }
    static __m256i dot_add(__m256i c, __m256i u, __m256i s) { return _mm256_dpbusd_epi32(c, u, s); }
    // A mask register makes this one masked move.
    static __m256i high_bits32(const uint8_t* qh4) {
        uint32_t qh;
        std::memcpy(&qh, qh4, 4);
        return _mm256_maskz_mov_epi8((__mmask32)qh, _mm256_set1_epi8(0x10));
    }
};

}  // namespace

void register_avx512_float(IsaKernels& k, bool bf16) {
    // Tiles of 24 accumulators (F32 4 rows x 6 tokens, F16 6 x 4: measured best on Zen 4, pp512 of an F16
    // TinyLlama 77 t/s against 75 for 4 x 6 and 71 for 3 x 8), the weight vectors and one activation vector in the
    // 32 registers.
    k.dot[(size_t)DType::F32] = {dot_ggml_float<F32x16>, ActType::F32};
    k.dot[(size_t)DType::F32].tile = {tile_ggml_float<F32x16, 4, 6>, 4, 6};
    k.dot[(size_t)DType::F16] = {dot_ggml_float<F16x16>, ActType::F16};
    k.dot[(size_t)DType::F16].tile = {tile_ggml_float<F16x16, 6, 4>, 6, 4};
    k.dot[(size_t)DType::BF16] = bf16 ? VecDotEntry{dot_bf16_bf16, ActType::BF16} : VecDotEntry{dot_bf16, ActType::F32};
    k.prepare[(size_t)ActType::Q8_32] = prepare_q8_32;
    k.prepare[(size_t)ActType::Q8_K] = prepare_q8_k;
    k.prepare[(size_t)ActType::F16] = prepare_f16;
    if (bf16) k.prepare[(size_t)ActType::BF16] = prepare_bf16;
}

void register_avx512_legacy(IsaKernels& k) { register_legacy<I8Vnni, 4, 4>(k); }

}  // namespace llm::cpu
