// NEON helpers shared by the *_neon.cpp and *_dotprod.cpp files (include only from those): ggml's vector expf
// and the horizontal sums. Everything is static so no copy leaks between files compiled with different flags.
#pragma once
#include <arm_neon.h>

namespace llm::cpu {

// ggml_v_expf (ggml-cpu/vec.h, the NEON build), operation for operation: llama.cpp's soft_max and SiLU on
// aarch64. Max error 1.45 + 0.5 ulp; above 88.38 gives inf, below -103.97 zero.
static inline float32x4_t ggml_expf_neon(float32x4_t x) {
    const float32x4_t r = vdupq_n_f32(0x1.8p23f);
    const float32x4_t z = vfmaq_f32(r, x, vdupq_n_f32(0x1.715476p+0f));
    const float32x4_t n = vsubq_f32(z, r);
    const float32x4_t b =
        vfmsq_f32(vfmsq_f32(x, n, vdupq_n_f32(0x1.62e4p-1f)), n, vdupq_n_f32(0x1.7f7d1cp-20f));
    const uint32x4_t e = vshlq_n_u32(vreinterpretq_u32_f32(z), 23);
    const float32x4_t k = vreinterpretq_f32_u32(vaddq_u32(e, vreinterpretq_u32_f32(vdupq_n_f32(1))));
    const uint32x4_t c = vcagtq_f32(n, vdupq_n_f32(126));
    const float32x4_t u = vmulq_f32(b, b);
    const float32x4_t j = vfmaq_f32(
        vmulq_f32(vdupq_n_f32(0x1.ffffecp-1f), b),
        vfmaq_f32(vfmaq_f32(vdupq_n_f32(0x1.fffdb6p-2f), vdupq_n_f32(0x1.555e66p-3f), b),
                  vfmaq_f32(vdupq_n_f32(0x1.573e2ep-5f), vdupq_n_f32(0x1.0e4020p-7f), b), u),
        u);
    if (!vpaddd_u64(vreinterpretq_u64_u32(c))) return vfmaq_f32(k, j, k);
    const uint32x4_t d = vandq_u32(vclezq_f32(n), vdupq_n_u32(0x82000000));
    const float32x4_t s1 = vreinterpretq_f32_u32(vaddq_u32(d, vdupq_n_u32(0x7f000000)));
    const float32x4_t s2 = vreinterpretq_f32_u32(vsubq_u32(e, d));
    return vbslq_f32(vcagtq_f32(n, vdupq_n_f32(192)), vmulq_f32(s1, s1),
                     vbslq_f32(c, vmulq_f32(vfmaq_f32(s2, s2, j), s1), vfmaq_f32(k, k, j)));
}

// ggml_v_silu: x / (1 + expf(-x)).
static inline float32x4_t ggml_silu_neon(float32x4_t x) {
    const float32x4_t e = ggml_expf_neon(vsubq_f32(vdupq_n_f32(0.0f), x));
    return vdivq_f32(x, vaddq_f32(vdupq_n_f32(1.0f), e));
}

}  // namespace llm::cpu
