// Decoder forward pass:  x = embed(tokens) [* embed_scale]; per layer:
// x += [n](Wo·attn(rope([n](Wq·n(x) [+ bq])), rope([n](Wk·n(x) [+ bk])), Wv·n(x) [+ bv]));
// x += [n](Wdown·(act(Wgate·n(x)) * Wup·n(x))); logits = Wout·n(x) for the wanted rows ([..]: knobs).
#include "models/forward.hpp"

#include <algorithm>
#include <cmath>

#include "core/status.hpp"
#include "kernels/cpu/ops.hpp"

namespace llm {

Batch Batch::contiguous(std::span<const int32_t> tokens, int64_t pos0, bool all_logits) {
    Batch b;
    const int64_t n = (int64_t)tokens.size();
    b.tokens.assign(tokens.begin(), tokens.end());
    b.positions.resize(n);
    for (int64_t i = 0; i < n; ++i) b.positions[i] = (int32_t)(pos0 + i);
    b.seq_ids.assign(n, 0);
    if (all_logits) {
        b.out_rows.resize(n);
        for (int64_t i = 0; i < n; ++i) b.out_rows[i] = (int32_t)i;
    } else if (n > 0) {
        b.out_rows = {(int32_t)(n - 1)};
    }
    return b;
}

int64_t Batch::contiguous_pos0() const {
    for (size_t i = 1; i < positions.size(); ++i)
        if (positions[i] != positions[0] + (int32_t)i) return -1;
    return positions.empty() ? -1 : positions[0];
}

Graph build_forward(const ModelConfig& c, const ModelWeights& w, const Batch& b, bool hidden_output) {
    const int64_t QD = c.q_dim(), KVD = c.kv_dim(), F = c.d_ff;
    Graph g(b.size());
    AttentionParams attn;
    attn.n_heads = c.n_heads, attn.n_kv_heads = c.n_kv_heads, attn.head_dim = c.head_dim;
    const float q_scale = c.attention_scale();
    attn.scale = c.prescale_q ? 1.0f : q_scale;

    Tensor x = g.embed(w.token_embd);
    if (c.embed_scale != 1.0f) g.scale(x, c.embed_scale);
    for (int il = 0; il < c.n_layers; ++il) {
        const LayerWeights& L = w.layers[il];
        const bool swa = c.layer_is_swa(il);
        attn.sliding_window = swa ? c.sliding_window : 0;
        const int rope_table = swa && c.has_swa_rope() ? 1 : 0;
        // Attention block.
        Tensor h = g.rms_norm(x, L.attn_norm.data(), c.rms_eps);
        Tensor q, k, v;
        if (L.wqkv.valid()) {  // fused: one [n x (q_dim + 2 kv_dim)] product, rows q then k then v
            const Tensor qkv = g.matmul(L.wqkv, h);
            q = g.cols(qkv, 0, QD), k = g.cols(qkv, QD, KVD), v = g.cols(qkv, QD + KVD, KVD);
        } else {
            q = g.matmul(L.wq, h), k = g.matmul(L.wk, h), v = g.matmul(L.wv, h);
        }
        if (c.qkv_bias) g.add_bias(q, L.bq.data()), g.add_bias(k, L.bk.data()), g.add_bias(v, L.bv.data());
        if (c.qk_norm) {
            q = g.rms_norm_heads(q, c.head_dim, L.attn_q_norm.data(), c.rms_eps);
            k = g.rms_norm_heads(k, c.head_dim, L.attn_k_norm.data(), c.rms_eps);
        }
        g.rope(q, c.head_dim, c.rope_style, c.n_rot, rope_table);
        g.rope(k, c.head_dim, c.rope_style, c.n_rot, rope_table);
        if (c.prescale_q) g.scale(q, q_scale);
        g.kv_store(il, k, v);
        Tensor a = g.matmul(L.wo, g.attention(il, q, attn));
        if (c.post_norms) a = g.rms_norm(a, L.attn_post_norm.data(), c.rms_eps);
        g.add(x, a);

        // Gated MLP (SiLU or GELU).
        h = g.rms_norm(x, L.ffn_norm.data(), c.rms_eps);
        Tensor gate, up;
        if (L.w_gate_up.valid()) {  // fused: [n x 2 d_ff], gate columns first
            const Tensor gu = g.matmul(L.w_gate_up, h);
            gate = g.cols(gu, 0, F), up = g.cols(gu, F, F);
        } else {
            gate = g.matmul(L.w_gate, h), up = g.matmul(L.w_up, h);
        }
        const Tensor act = c.ffn_act == FfnActivation::GeluTanh ? g.geglu(gate, up) : g.swiglu(gate, up);
        Tensor m = g.matmul(L.w_down, act);
        if (c.post_norms) m = g.rms_norm(m, L.ffn_post_norm.data(), c.rms_eps);
        g.add(x, m);
    }

    // Output head: only the rows whose logits are wanted (a view when they are consecutive).
    const std::vector<int32_t>& rows = b.out_rows;
    LLM_CHECK(!rows.empty());
    const bool consecutive = rows.back() - rows.front() + 1 == (int32_t)rows.size();
    const Tensor last = consecutive ? g.rows(x, rows.front(), (int64_t)rows.size()) : g.select_rows(x, rows);
    const Tensor normed = g.rms_norm(last, w.output_norm.data(), c.rms_eps);
    g.set_output(hidden_output ? normed : g.matmul(w.output, normed));
    return g;
}

ForwardInputs forward_inputs(const ModelConfig& c, const Batch& b, LongRopeMode longrope) {
    ForwardInputs in;
    in.batch = &b;
    const int32_t max_pos = b.positions.empty() ? -1 : *std::max_element(b.positions.begin(), b.positions.end());
    in.n_keys = (int64_t)max_pos + 1;
    in.rope = rope_params(c, in.n_keys, longrope);
    in.rope_cs = rope_table(in.rope, b.positions.data(), b.size());  // shared by q, k and every layer
    if (c.has_swa_rope()) {
        in.rope_swa = rope_params_swa(c);
        in.rope_cs_swa = rope_table(in.rope_swa, b.positions.data(), b.size());
    }
    return in;
}

}  // namespace llm
