// Decoder forward pass:  x = embed(tokens); per layer: x += Wo·attn(rope(Wq·n(x)), rope(Wk·n(x)), Wv·n(x));
// x += Wdown·(silu(Wgate·n(x)) * Wup·n(x)); logits = Wout·n(x).  Shapes are [n_tokens x width] row-major.
#include "models/decoder.hpp"

#include <cmath>
#include <cstring>

#include "kernels/cpu/attention.hpp"
#include "kernels/cpu/attention_ggml.hpp"
#include "kernels/cpu/matmul.hpp"
#include "kernels/cpu/ops.hpp"

namespace llm {
namespace {

void grow(std::vector<float>& v, size_t n) {
    if (v.size() < n) v.resize(n);
}

// Copies columns [col0, col0 + width) of a [n x stride] matrix into a dense [n x width] one.
void take_columns(const float* src, int64_t n, int64_t stride, int64_t col0, int64_t width, float* dst) {
    for (int64_t i = 0; i < n; ++i) std::memcpy(dst + i * width, src + i * stride + col0, width * sizeof(float));
}

}  // namespace

void decoder_forward(const ModelConfig& c, const ModelWeights& w, KvCache& kv, std::span<const int32_t> tokens,
                     int64_t pos0, bool all_logits, float* logits, ForwardScratch& s, const ForwardOptions& opt) {
    const int64_t n = (int64_t)tokens.size();
    const int nt = opt.n_threads;
    const int64_t D = c.d_model, QD = c.q_dim(), KVD = c.kv_dim(), F = c.d_ff;
    const int64_t n_keys = pos0 + n;
    grow(s.x, n * D), grow(s.h, n * D), grow(s.q, n * QD), grow(s.k, n * KVD), grow(s.v, n * KVD);
    grow(s.attn, n * QD), grow(s.ff_a, n * 2 * F), grow(s.ff_b, n * F);
    s.positions.resize(n);
    for (int64_t i = 0; i < n; ++i) s.positions[i] = (int32_t)(pos0 + i);

    const RopeParams rope_p = rope_params(c, n_keys, opt.longrope);
    const std::vector<float> rope_cs = rope_table(rope_p, s.positions.data(), n);  // shared by q, k, all layers
    AttentionParams attn_p;
    attn_p.n_heads = c.n_heads, attn_p.n_kv_heads = c.n_kv_heads, attn_p.head_dim = c.head_dim;
    // llama.cpp's Phi-3 graph scales q by 1/sqrt(head_dim) before attention (scale 1 inside); same maths,
    // and the same float roundings as llama.cpp.
    const bool prescale_q = c.arch == "phi3";
    const float q_scale = 1.0f / std::sqrt((float)c.head_dim);
    attn_p.scale = prescale_q ? 1.0f : q_scale;
    attn_p.sliding_window = c.sliding_window;
    attn_p.round_to_f16 = kv.type() == DType::F16;

    float* x = s.x.data();
    float* h = s.h.data();
    embed_rows(w.token_embd, tokens.data(), n, x, nt);

    for (int il = 0; il < c.n_layers; ++il) {
        const LayerWeights& L = w.layers[il];
        // Attention block.
        rms_norm(x, L.attn_norm.data(), h, n, D, c.rms_eps, nt);
        if (L.wqkv.valid()) {
            grow(s.qkv, n * (QD + 2 * KVD));
            matmul(L.wqkv, h, n, s.qkv.data(), nt);
            take_columns(s.qkv.data(), n, QD + 2 * KVD, 0, QD, s.q.data());
            take_columns(s.qkv.data(), n, QD + 2 * KVD, QD, KVD, s.k.data());
            take_columns(s.qkv.data(), n, QD + 2 * KVD, QD + KVD, KVD, s.v.data());
        } else {
            matmul(L.wq, h, n, s.q.data(), nt);
            matmul(L.wk, h, n, s.k.data(), nt);
            matmul(L.wv, h, n, s.v.data(), nt);
        }
        rope_apply(s.q.data(), n, c.n_heads, c.head_dim, rope_cs.data(), rope_p, nt);
        rope_apply(s.k.data(), n, c.n_kv_heads, c.head_dim, rope_cs.data(), rope_p, nt);
        if (prescale_q)
            for (int64_t i = 0; i < n * QD; ++i) s.q[i] *= q_scale;
        kv.store(il, pos0, n, s.k.data(), s.v.data(), nt);
        if (kv.transposed_values())  // llama.cpp's arithmetic (F16 cache on AVX-512, the default)
            ggml_attention(s.q.data(), kv.ggml_view(il), n_keys, n, s.positions.data(), attn_p, s.attn.data(), nt);
        else
            flash_attention(s.q.data(), kv.keys(il), kv.values(il), n_keys, n, s.positions.data(), attn_p,
                            s.attn.data(), nt);
        matmul(L.wo, s.attn.data(), n, h, nt);
        add_inplace(x, h, n * D, nt);

        // SiLU-gated MLP.
        rms_norm(x, L.ffn_norm.data(), h, n, D, c.rms_eps, nt);
        if (L.w_gate_up.valid()) {
            matmul(L.w_gate_up, h, n, s.ff_a.data(), nt);  // [n x 2F]: gate then up per row
            swiglu_rows(s.ff_a.data(), 2 * F, s.ff_a.data() + F, 2 * F, s.ff_b.data(), n, F, nt);
        } else {
            matmul(L.w_gate, h, n, s.ff_a.data(), nt);
            matmul(L.w_up, h, n, s.ff_b.data(), nt);
            swiglu_rows(s.ff_a.data(), F, s.ff_b.data(), F, s.ff_b.data(), n, F, nt);
        }
        matmul(L.w_down, s.ff_b.data(), n, h, nt);
        add_inplace(x, h, n * D, nt);
    }

    // Output head: only the rows whose logits are wanted.
    const int64_t first = all_logits ? 0 : n - 1, n_out = n - first;
    rms_norm(x + first * D, w.output_norm.data(), h, n_out, D, c.rms_eps, nt);
    matmul(w.output, h, n_out, logits, nt);
}

}  // namespace llm
