// NEON vec_dot kernels (aarch64 baseline): float weights, the 8-bit activation quantizer, and the quantized
// kernels of vec_dot_neon_impl.hpp with ggml's plain-NEON integer dot (no sdot). register_neon fills the table
// with these or, where the CPU has dotprod, the sdot ones (vec_dot_dotprod.cpp).
#include <arm_neon.h>

#include <cmath>

#include "kernels/cpu/vec_dot_neon_impl.hpp"

namespace llm::cpu {

void register_dotprod_quants(IsaKernels& k);  // vec_dot_dotprod.cpp

namespace {

// ggml_vdotq_s32 without dotprod (ggml-cpu-impl.h): widening products, pairwise adds.
struct NeonDot {
    static int32x4_t dot(int32x4_t acc, int8x16_t a, int8x16_t b) {
        const int16x8_t p0 = vmull_s8(vget_low_s8(a), vget_low_s8(b));
        const int16x8_t p1 = vmull_s8(vget_high_s8(a), vget_high_s8(b));
        return vaddq_s32(acc, vaddq_s32(vpaddlq_s16(p0), vpaddlq_s16(p1)));
    }
};

// 4 weights of a float type as float.
template <DType T>
inline float32x4_t load4(const void* w, int64_t i) {
    if constexpr (T == DType::F32) {
        return vld1q_f32(static_cast<const float*>(w) + i);
    } else if constexpr (T == DType::F16) {
        return vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16(static_cast<const uint16_t*>(w) + i)));
    } else {
        return vreinterpretq_f32_u32(vshll_n_u16(vld1_u16(static_cast<const uint16_t*>(w) + i), 16));
    }
}
template <DType T>
inline float load1(const void* w, int64_t i) {
    if constexpr (T == DType::F32) return static_cast<const float*>(w)[i];
    else if constexpr (T == DType::F16) return fp16_to_fp32(static_cast<const uint16_t*>(w)[i]);
    else return bf16_to_fp32(static_cast<const uint16_t*>(w)[i]);
}

// ggml_vec_dot_f32 on NEON (GGML_F32_STEP 16, 4 accumulators of 4 lanes, GGML_F32x4_REDUCE, FMA leftovers).
// F16 and BF16 weights run the same arithmetic on exactly converted weights and float activations (llama.cpp
// rounds the activations to fp16 / bf16 and, with the fp16 vector extension, accumulates F16 in half precision:
// not followed, see docs/ARM64.md).
template <DType T>
float dot_float(int64_t n, const void* w, const void* act) {
    const float* x = static_cast<const float*>(act);
    float32x4_t s[4] = {vdupq_n_f32(0.0f), vdupq_n_f32(0.0f), vdupq_n_f32(0.0f), vdupq_n_f32(0.0f)};
    const int64_t np = n & ~(int64_t)15;
    for (int64_t i = 0; i < np; i += 16)
        for (int j = 0; j < 4; ++j) s[j] = vfmaq_f32(s[j], load4<T>(w, i + 4 * j), vld1q_f32(x + i + 4 * j));
    s[0] = vaddq_f32(s[0], s[2]);
    s[1] = vaddq_f32(s[1], s[3]);
    s[0] = vaddq_f32(s[0], s[1]);
    float sumf = vaddvq_f32(s[0]);
    for (int64_t i = np; i < n; ++i) sumf = std::fma(load1<T>(w, i), x[i], sumf);
    return sumf;
}

// ggml's quantize_row_q8_0 / q8_1 on NEON: d = amax/127, q = round-half-even(x * (1/d)) (x86: x * (127/amax),
// which rounds differently in rare cases), d and the Q8_1 sum stored as fp16.
void prepare_q8_32_neon(const float* x, void* dst, int64_t n) {
    auto* y = static_cast<ActQ8*>(dst);
    for (int64_t b = 0; b < n / 32; ++b) {
        const float* xb = x + 32 * b;
        float32x4_t v[8];
        float32x4_t amaxv = vdupq_n_f32(0.0f);
        for (int j = 0; j < 8; ++j) v[j] = vld1q_f32(xb + 4 * j), amaxv = vmaxq_f32(amaxv, vabsq_f32(v[j]));
        const float amax = vmaxvq_f32(amaxv);
        const float d = amax / 127.0f;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        int32x4_t acc = vdupq_n_s32(0);
        for (int j = 0; j < 8; ++j) {
            const int32x4_t q = vcvtnq_s32_f32(vmulq_n_f32(v[j], id));
            acc = vaddq_s32(acc, q);
            const int16x4_t q16 = vmovn_s32(q);
            const int8x8_t q8 = vmovn_s16(vcombine_s16(q16, q16));
            vst1_lane_u32(reinterpret_cast<uint32_t*>(y[b].qs + 4 * j), vreinterpret_u32_s8(q8), 0);
        }
        set_act_q8_scales(y[b], amax, vaddvq_s32(acc));
    }
}

}  // namespace

void register_neon(IsaKernels& k, bool dotprod) {
    k.dot[(size_t)DType::F32] = {dot_float<DType::F32>, ActType::F32};
    k.dot[(size_t)DType::F16] = {dot_float<DType::F16>, ActType::F32};
    k.dot[(size_t)DType::BF16] = {dot_float<DType::BF16>, ActType::F32};
    k.prepare[(size_t)ActType::Q8_32] = prepare_q8_32_neon;
    if (dotprod) register_dotprod_quants(k);
    else register_quant_kernels<NeonDot>(k);
}

}  // namespace llm::cpu
