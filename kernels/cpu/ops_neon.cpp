// NEON row kernels of the non-matmul ops (see ops_rows.hpp), with llama.cpp's aarch64 arithmetic.
#include <arm_neon.h>

#include <cmath>

#include "kernels/cpu/neon_util.hpp"
#include "kernels/cpu/ops_rows.hpp"

namespace llm::cpu {

// ggml_vec_swiglu_f32 on aarch64: ggml_v_silu per 4 lanes times up, then ggml's scalar tail.
void silu_mul_neon(const float* gate, const float* up, float* out, int64_t n) {
    int64_t i = 0;
    for (; i + 4 <= n; i += 4) vst1q_f32(out + i, vmulq_f32(ggml_silu_neon(vld1q_f32(gate + i)), vld1q_f32(up + i)));
    for (; i < n; ++i) out[i] = gate[i] / (1.0f + std::exp(-gate[i])) * up[i];
}

// ggml_compute_forward_rms_norm_f32: the sum of squares is one sequential double chain (float products), as
// in ggml and the scalar reference; only the products and the scaling are vectorized.
void rms_norm_row_neon(const float* x, const float* w, float* y, int64_t d, float eps) {
    double sum = 0;
    int64_t i = 0;
    for (; i + 4 <= d; i += 4) {
        float p[4];
        const float32x4_t v = vld1q_f32(x + i);
        vst1q_f32(p, vmulq_f32(v, v));
        sum += (double)p[0];
        sum += (double)p[1];
        sum += (double)p[2];
        sum += (double)p[3];
    }
    for (; i < d; ++i) sum += (double)(x[i] * x[i]);
    const float scale = 1.0f / std::sqrt((float)(sum / d) + eps);
    const float32x4_t vs = vdupq_n_f32(scale);
    for (i = 0; i + 4 <= d; i += 4) vst1q_f32(y + i, vmulq_f32(vmulq_f32(vld1q_f32(x + i), vs), vld1q_f32(w + i)));
    for (; i < d; ++i) y[i] = x[i] * scale * w[i];
}

}  // namespace llm::cpu
