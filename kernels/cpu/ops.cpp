// Scalar reference implementations of the non-matmul decoder ops.
#include "kernels/cpu/ops.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include "core/fp16.hpp"
#include "kernels/quant/quant.hpp"

namespace llm {

void embed_rows(const TensorView& table, const int32_t* ids, int64_t n_ids, float* out, int n_threads) {
    const int64_t d = table.ne[0];
#pragma omp parallel for num_threads(std::max(1, n_threads)) if (n_threads > 1 && n_ids > 1)
    for (int64_t i = 0; i < n_ids; ++i) dequantize_row(table.type, table.row(ids[i]), out + i * d, d);
}

void rms_norm(const float* x, const float* w, float* y, int64_t n_tokens, int64_t d, float eps, int n_threads) {
#pragma omp parallel for num_threads(std::max(1, n_threads)) if (n_threads > 1 && n_tokens > 1)
    for (int64_t t = 0; t < n_tokens; ++t) {
        const float* xr = x + t * d;
        float* yr = y + t * d;
        double sum = 0;
        for (int64_t i = 0; i < d; ++i) sum += (double)(xr[i] * xr[i]);  // float products, as ggml
        const float scale = 1.0f / std::sqrt((float)(sum / d) + eps);
        for (int64_t i = 0; i < d; ++i) yr[i] = xr[i] * scale * w[i];
    }
}

void rope(float* x, int64_t n_tokens, int n_heads, int head_dim, const int32_t* positions, const RopeParams& p,
          int n_threads) {
    const int half = p.n_rot / 2;
    // Per-dimension inverse frequencies, computed in double once per call.
    std::vector<double> inv_freq(half);
    for (int i = 0; i < half; ++i) {
        double f = std::pow((double)p.theta_base, -2.0 * i / p.n_rot);
        if (p.freq_factors) f /= p.freq_factors[i];
        inv_freq[i] = f;
    }
#pragma omp parallel for num_threads(std::max(1, n_threads)) if (n_threads > 1 && n_tokens > 1)
    for (int64_t t = 0; t < n_tokens; ++t) {
        const double pos = (double)positions[t] * p.freq_scale;
        for (int i = 0; i < half; ++i) {
            const double angle = pos * inv_freq[i];
            const float c = (float)std::cos(angle) * p.attn_factor;
            const float s = (float)std::sin(angle) * p.attn_factor;
            for (int h = 0; h < n_heads; ++h) {
                float* v = x + (t * n_heads + h) * head_dim;
                const int i0 = p.style == RopeStyle::Interleaved ? 2 * i : i;
                const int i1 = p.style == RopeStyle::Interleaved ? 2 * i + 1 : i + half;
                const float a = v[i0], b = v[i1];
                v[i0] = a * c - b * s;
                v[i1] = a * s + b * c;
            }
        }
    }
}

void softmax(float* x, int64_t n) {
    float mx = -std::numeric_limits<float>::infinity();
    for (int64_t i = 0; i < n; ++i) mx = std::max(mx, x[i]);
    double sum = 0;
    for (int64_t i = 0; i < n; ++i) {
        x[i] = std::exp(x[i] - mx);
        sum += x[i];
    }
    const float inv = (float)(1.0 / sum);
    for (int64_t i = 0; i < n; ++i) x[i] *= inv;
}

void attention(const float* q, const float* k, const float* v, int64_t n_keys, int64_t n_tokens,
               const int32_t* positions, const AttentionParams& p, float* out, int n_threads) {
    const int hd = p.head_dim, group = p.n_heads / p.n_kv_heads;
    const int64_t q_stride = (int64_t)p.n_heads * hd, kv_stride = (int64_t)p.n_kv_heads * hd;
    const int64_t n_pairs = n_tokens * p.n_heads;
#pragma omp parallel num_threads(std::max(1, n_threads)) if (n_threads > 1 && n_pairs > 1)
    {
        std::vector<float> scores(n_keys), q_rounded(hd);
#pragma omp for schedule(dynamic, 1)
        for (int64_t pair = 0; pair < n_pairs; ++pair) {
            const int64_t t = pair / p.n_heads;
            const int h = (int)(pair % p.n_heads), kvh = h / group;
            const int64_t pos = positions[t];
            const int64_t lo = p.sliding_window > 0 ? std::max<int64_t>(0, pos - p.sliding_window + 1) : 0;
            const int64_t hi = std::min<int64_t>(pos, n_keys - 1);
            const float* qr = q + t * q_stride + (int64_t)h * hd;
            if (p.round_to_f16) {
                for (int d = 0; d < hd; ++d) q_rounded[d] = fp16_to_fp32(fp32_to_fp16(qr[d]));
                qr = q_rounded.data();
            }
            float* o = out + t * q_stride + (int64_t)h * hd;
            std::fill(o, o + hd, 0.0f);
            if (hi < lo) continue;
            const int64_t n = hi - lo + 1;
            for (int64_t j = 0; j < n; ++j) {
                const float* kr = k + (lo + j) * kv_stride + (int64_t)kvh * hd;
                float s = 0;
                for (int d = 0; d < hd; ++d) s += qr[d] * kr[d];
                scores[j] = s * p.scale;
            }
            softmax(scores.data(), n);
            for (int64_t j = 0; j < n; ++j) {
                const float* vr = v + (lo + j) * kv_stride + (int64_t)kvh * hd;
                const float w = p.round_to_f16 ? fp16_to_fp32(fp32_to_fp16(scores[j])) : scores[j];
                for (int d = 0; d < hd; ++d) o[d] += w * vr[d];
            }
        }
    }
}

void silu_mul(const float* gate, const float* up, float* out, int64_t n, int n_threads) {
#pragma omp parallel for num_threads(std::max(1, n_threads)) if (n_threads > 1 && n > 4096)
    for (int64_t i = 0; i < n; ++i) {
        const float g = gate[i];
        out[i] = g / (1.0f + std::exp(-g)) * up[i];
    }
}

void add_inplace(float* x, const float* y, int64_t n, int n_threads) {
#pragma omp parallel for num_threads(std::max(1, n_threads)) if (n_threads > 1 && n > 4096)
    for (int64_t i = 0; i < n; ++i) x[i] += y[i];
}

}  // namespace llm
