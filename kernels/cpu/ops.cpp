// Scalar reference implementations of the non-matmul decoder ops, and the dispatch to the SIMD row
// kernels (ops_avx2.cpp, ops_avx512.cpp, ops_neon.cpp) of rms_norm and silu_mul.
#include "kernels/cpu/ops.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include "core/fp16.hpp"
#include "core/status.hpp"
#include "kernels/cpu/ops_rows.hpp"
#include "kernels/quant/quant.hpp"

namespace llm {

void embed_rows(const TensorView& table, const int32_t* ids, int64_t n_ids, float* out, int n_threads) {
    const int64_t d = table.ne[0];
#pragma omp parallel for num_threads(std::max(1, n_threads)) if (n_threads > 1 && n_ids > 1)
    for (int64_t i = 0; i < n_ids; ++i) dequantize_row(table.type, table.row(ids[i]), out + i * d, d);
}

void rms_norm(const float* x, const float* w, float* y, int64_t n_tokens, int64_t d, float eps, int n_threads) {
    rms_norm_isa(best_isa(), x, w, y, n_tokens, d, eps, n_threads);
}

void rms_norm_isa(Isa isa, const float* x, const float* w, float* y, int64_t n_tokens, int64_t d, float eps,
                  int n_threads) {
    LLM_CHECK(isa_supported(isa));
#pragma omp parallel for num_threads(std::max(1, n_threads)) if (n_threads > 1 && n_tokens > 1)
    for (int64_t t = 0; t < n_tokens; ++t) {
        const float* xr = x + t * d;
        float* yr = y + t * d;
        if (isa == Isa::Avx512) {
            cpu::rms_norm_row_avx512(xr, w, yr, d, eps);
            continue;
        }
        if (isa == Isa::Avx2) {
            cpu::rms_norm_row_avx2(xr, w, yr, d, eps);
            continue;
        }
        if (isa_is_arm(isa)) {
            cpu::rms_norm_row_neon(xr, w, yr, d, eps);
            continue;
        }
        double sum = 0;
        for (int64_t i = 0; i < d; ++i) sum += (double)(xr[i] * xr[i]);  // float products, as ggml
        const float scale = 1.0f / std::sqrt((float)(sum / d) + eps);
        for (int64_t i = 0; i < d; ++i) yr[i] = xr[i] * scale * w[i];
    }
}

void rope_cos_sin(const RopeParams& p, int32_t pos, float* cs) {
    const int half = p.n_rot / 2;
    const float theta_scale = std::pow(p.theta_base, -2.0f / (float)p.n_rot);
    float theta = (float)pos;
    for (int i = 0; i < half; ++i) {
        const float ff = p.freq_factors ? p.freq_factors[i] : 1.0f;
        const float angle = p.freq_scale * (theta / ff);
        cs[2 * i] = std::cos(angle) * p.attn_factor;
        cs[2 * i + 1] = std::sin(angle) * p.attn_factor;
        theta *= theta_scale;
    }
}

std::vector<float> rope_table(const RopeParams& p, const int32_t* positions, int64_t n) {
    const int half = p.n_rot / 2;
    std::vector<float> cs((size_t)n * half * 2);
    for (int64_t t = 0; t < n; ++t) rope_cos_sin(p, positions[t], cs.data() + (size_t)t * half * 2);
    return cs;
}

void rope_apply(float* x, int64_t n_tokens, int n_heads, int head_dim, const float* table, const RopeParams& p,
                int n_threads) {
    // The rotation with the two FMAs GCC contracts llama.cpp's into.
    const int half = p.n_rot / 2;
#pragma omp parallel for num_threads(std::max(1, n_threads)) if (n_threads > 1 && n_tokens > 1)
    for (int64_t t = 0; t < n_tokens; ++t) {
        const float* cs = table + (size_t)t * half * 2;
        for (int h = 0; h < n_heads; ++h) {
            float* v = x + (t * n_heads + h) * head_dim;
            for (int i = 0; i < half; ++i) {
                const int i0 = p.style == RopeStyle::Interleaved ? 2 * i : i;
                const int i1 = p.style == RopeStyle::Interleaved ? 2 * i + 1 : i + half;
                const float a = v[i0], b = v[i1], c = cs[2 * i], sn = cs[2 * i + 1];
                v[i0] = std::fma(a, c, -(b * sn));
                v[i1] = std::fma(a, sn, b * c);
            }
        }
    }
}

void rope(float* x, int64_t n_tokens, int n_heads, int head_dim, const int32_t* positions, const RopeParams& p,
          int n_threads) {
    const std::vector<float> table = rope_table(p, positions, n_tokens);
    rope_apply(x, n_tokens, n_heads, head_dim, table.data(), p, n_threads);
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
    silu_mul_isa(best_isa(), gate, up, out, n, n_threads);
}

void silu_mul_isa(Isa isa, const float* gate, const float* up, float* out, int64_t n, int n_threads) {
    LLM_CHECK(isa_supported(isa));
    constexpr int64_t kChunk = 4096;
    const int64_t n_chunks = (n + kChunk - 1) / kChunk;
#pragma omp parallel for num_threads(std::max(1, n_threads)) if (n_threads > 1 && n_chunks > 1)
    for (int64_t c = 0; c < n_chunks; ++c) {
        const int64_t i0 = c * kChunk, m = std::min(kChunk, n - i0);
        if (isa == Isa::Avx512) {
            cpu::silu_mul_avx512(gate + i0, up + i0, out + i0, m);
        } else if (isa == Isa::Avx2) {
            cpu::silu_mul_avx2(gate + i0, up + i0, out + i0, m);
        } else if (isa_is_arm(isa)) {
            cpu::silu_mul_neon(gate + i0, up + i0, out + i0, m);
        } else {
            for (int64_t i = i0; i < i0 + m; ++i) {
                const float g = gate[i];
                out[i] = g / (1.0f + std::exp(-g)) * up[i];
            }
        }
    }
}

void swiglu_rows(const float* gate, int64_t gate_stride, const float* up, int64_t up_stride, float* out,
                 int64_t n_rows, int64_t width, int n_threads) {
#pragma omp parallel for num_threads(std::max(1, n_threads)) if (n_threads > 1 && n_rows > 1)
    for (int64_t i = 0; i < n_rows; ++i)
        silu_mul(gate + i * gate_stride, up + i * up_stride, out + i * width, width, 1);
}

float gelu_tanh(float x) {
    constexpr float kCoefA = 0.044715f, kSqrt2OverPi = 0.79788456080286535587989211986876f;
    // llama.cpp is built with FMA (-march=native, or GGML_FMA for its AVX2 build), and GCC contracts
    // 1 + a*x*x into fma(a*x, x, 1): the same rounding here, so the fp16 table is ggml's entry for entry.
    return 0.5f * x * (1.0f + std::tanh(kSqrt2OverPi * x * std::fma(kCoefA * x, x, 1.0f)));
}

namespace {
// ggml_table_gelu_f16: the fp16 gelu of every fp16 value (built once, 128 KiB).
const std::vector<uint16_t>& gelu_fp16_table() {
    static const std::vector<uint16_t> table = [] {
        std::vector<uint16_t> t(1 << 16);
        for (uint32_t i = 0; i < t.size(); ++i) t[i] = fp32_to_fp16(gelu_tanh(fp16_to_fp32((uint16_t)i)));
        return t;
    }();
    return table;
}
}  // namespace

void geglu_rows(const float* gate, int64_t gate_stride, const float* up, int64_t up_stride, float* out,
                int64_t n_rows, int64_t width, int n_threads) {
    const uint16_t* table = gelu_fp16_table().data();
#pragma omp parallel for num_threads(std::max(1, n_threads)) if (n_threads > 1 && n_rows > 1)
    for (int64_t r = 0; r < n_rows; ++r) {
        const float* g = gate + r * gate_stride;
        const float* u = up + r * up_stride;
        float* o = out + r * width;
        for (int64_t i = 0; i < width; ++i) {
            const float x = g[i];
            if (x <= -10.0f)
                o[i] = 0.0f;
            else if (x >= 10.0f)
                o[i] = x * u[i];
            else
                o[i] = fp16_to_fp32(table[fp32_to_fp16(x)]) * u[i];
        }
    }
}

void add_bias_rows(float* x, int64_t n_rows, int64_t width, int64_t stride, const float* b, int n_threads) {
#pragma omp parallel for num_threads(std::max(1, n_threads)) if (n_threads > 1 && n_rows * width > 4096)
    for (int64_t r = 0; r < n_rows; ++r)
        for (int64_t c = 0; c < width; ++c) x[r * stride + c] += b[c];
}

void scale_rows(float* x, int64_t n_rows, int64_t width, int64_t stride, float s, int n_threads) {
#pragma omp parallel for num_threads(std::max(1, n_threads)) if (n_threads > 1 && n_rows * width > 4096)
    for (int64_t r = 0; r < n_rows; ++r)
        for (int64_t c = 0; c < width; ++c) x[r * stride + c] *= s;
}

void add_inplace(float* x, const float* y, int64_t n, int n_threads) {
#pragma omp parallel for num_threads(std::max(1, n_threads)) if (n_threads > 1 && n > 4096)
    for (int64_t i = 0; i < n; ++i) x[i] += y[i];
}

}  // namespace llm
