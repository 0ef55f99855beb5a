// AVX2 (+FMA, F16C) vec_dot kernels for the float weights and the 32-element block types (llama.cpp's
// arithmetic: vec_dot_legacy_simd.hpp), and the vectorized activation quantizers (byte-identical to the
// scalar ones in vec_dot_scalar.cpp).
#include <immintrin.h>

#include <cstring>

#include "kernels/cpu/vec_dot_float_simd.hpp"
#include "kernels/cpu/vec_dot_legacy_simd.hpp"

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
// One token: the arithmetic of ggml's vec.cpp (ggml_vec_dot_f32 / _f16 / _bf16, AVX2 build), so results are
// llama.cpp's bit for bit. F16 and BF16 weights take activations rounded to their type (ggml's vec_dot_type).

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

// GGML_F32x8_REDUCE over 4 accumulators: (s0 + s2) + (s1 + s3), the two 128-bit halves, then two hadds.
inline float reduce4(const __m256 s[4]) {
    const __m256 r = _mm256_add_ps(_mm256_add_ps(s[0], s[2]), _mm256_add_ps(s[1], s[3]));
    const __m128 t0 = _mm_add_ps(_mm256_castps256_ps128(r), _mm256_extractf128_ps(r, 1));
    const __m128 t1 = _mm_hadd_ps(t0, t0);
    return _mm_cvtss_f32(_mm_hadd_ps(t1, t1));
}

// ggml_vec_dot_f32 / _f16 (vec_dot_float_simd.hpp): 32 per step in 4 FMA accumulators; F32 reduces in float
// with a float FMA per leftover, F16 (both operands fp16) reduces to double with leftovers added in double.
struct Float8 {  // the vector part of the float policies below
    using Vec = __m256;
    static constexpr int kW = 8;
    static Vec zero() { return _mm256_setzero_ps(); }
    static Vec fma(Vec a, Vec b, Vec c) { return _mm256_fmadd_ps(a, b, c); }
};
struct F32x8 : Float8 {
    using WElem = float;
    using AElem = float;
    static Vec load(const float* p) { return _mm256_loadu_ps(p); }
    static float finish(const Vec s[4], const float* x, const float* y, int64_t i, int64_t n) {
        float sumf = reduce4(s);
        for (; i < n; ++i) sumf = __builtin_fmaf(x[i], y[i], sumf);
        return sumf;
    }
};
// F16 weights x activations rounded to fp16 (ActType::F16; fp16 storage halves what a batch streams).
struct F16x8 : Float8 {
    using WElem = uint16_t;
    using AElem = uint16_t;
    static Vec load(const uint16_t* p) { return load_f16(p); }
    static float finish(const Vec s[4], const uint16_t* x, const uint16_t* y, int64_t i, int64_t n) {
        double sumf = (double)reduce4(s);
        for (; i < n; ++i) sumf += (double)(_cvtsh_ss(x[i]) * _cvtsh_ss(y[i]));
        return (float)sumf;
    }
};

// ggml_vec_dot_bf16 (AVX2 branch): 4 accumulators of separate multiplies and adds (no FMA), reduced as
// (c1 + c3) + (c2 + c4), the halves, movehl, movehdup, to double; leftovers in double.
float dot_bf16_bf16(int64_t n, const void* w, const void* a) {
    const auto* x = static_cast<const uint16_t*>(w);
    const auto* y = static_cast<const uint16_t*>(a);
    __m256 c[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps()};
    int64_t i = 0;
    for (; i + 32 <= n; i += 32)
        for (int j = 0; j < 4; ++j) c[j] = _mm256_add_ps(_mm256_mul_ps(load_bf16(x + i + 8 * j), load_bf16(y + i + 8 * j)), c[j]);
    const __m256 r = _mm256_add_ps(_mm256_add_ps(c[0], c[2]), _mm256_add_ps(c[1], c[3]));
    double sumf = (double)hsum_ps(r);
    for (; i < n; ++i) sumf += (double)(bf16_scalar(x[i]) * bf16_scalar(y[i]));
    return (float)sumf;
}

// fp32 -> fp16, round to nearest even (ggml_cpu_fp32_to_fp16).
void prepare_f16(const float* x, void* dst, int64_t n) {
    auto* y = static_cast<uint16_t*>(dst);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm_storeu_si128(reinterpret_cast<__m128i*>(y + i), _mm256_cvtps_ph(_mm256_loadu_ps(x + i), _MM_FROUND_TO_NEAREST_INT));
    for (; i < n; ++i) y[i] = _cvtss_sh(x[i], _MM_FROUND_TO_NEAREST_INT);
}

// ---- 32-element blocks x ActQ8 (vec_dot_legacy_simd.hpp) --------------------------------------------

struct I8Avx2 {
    static constexpr bool kOffsetDot = false;  // pmaddubsw's int16 pair sums would saturate for u8 weights
    // |s| <= 127 and u <= 128 (sign trick) or u <= 31: pmaddubsw's int16 pair sums cannot saturate.
    static __m256i dot(__m256i u, __m256i s) { return sum_u8s8(u, s); }
    static __m256i high_bits32(const uint8_t* qh4) { return high_bits32_avx2(qh4); }
};

}  // namespace

void register_avx2_float(IsaKernels& k) {
    // Tiles of 3 rows x 4 tokens: 12 accumulators, 3 weight vectors and one activation vector in the 16 registers
    // (4 x 3 spills: pp512 of an F16 TinyLlama 60 t/s against 83 on Zen 4).
    k.dot[(size_t)DType::F32] = {dot_ggml_float<F32x8>, ActType::F32};
    k.dot[(size_t)DType::F32].tile = {tile_ggml_float<F32x8, 3, 4>, 3, 4};
    k.dot[(size_t)DType::F16] = {dot_ggml_float<F16x8>, ActType::F16};
    k.dot[(size_t)DType::F16].tile = {tile_ggml_float<F16x8, 3, 4>, 3, 4};
    k.dot[(size_t)DType::BF16] = {dot_bf16_bf16, ActType::BF16};  // prepared by the scalar prepare_bf16
    k.prepare[(size_t)ActType::F16] = prepare_f16;
    k.prepare[(size_t)ActType::Q8_32] = prepare_q8_32;
    k.prepare[(size_t)ActType::Q8_K] = prepare_q8_k;
}

void register_avx2_legacy(IsaKernels& k) { register_legacy<I8Avx2, 2, 4>(k); }

}  // namespace llm::cpu
