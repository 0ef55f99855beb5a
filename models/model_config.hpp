// The knobs that distinguish Llama, Mistral, Phi-3, Gemma 3 and Qwen 2 / 3 (and their weight layouts); one
// decoder reads them.
#pragma once
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "llm/types.hpp"  // LongRopeMode

#include "kernels/cpu/ops.hpp"  // RopeStyle, RopeParams (core/op_params.hpp)

namespace llm {


// The MLP's gate activation: out = act(gate) * up.
enum class FfnActivation {
    Silu,      // SwiGLU (Llama, Mistral, Phi-3, Qwen)
    GeluTanh,  // GEGLU with the tanh approximation (Gemma)
};

struct ModelConfig {
    std::string arch;          // GGUF name: llama, phi3, gemma3, qwen2, qwen3 (Mistral runs as "llama")
    std::string name;          // general.name or the HF folder name
    int n_vocab = 0;
    int d_model = 0;
    int n_layers = 0;
    int n_heads = 0;
    int n_kv_heads = 0;
    int head_dim = 0;
    int d_ff = 0;
    int n_ctx_train = 0;
    float rms_eps = 1e-5f;

    // Rotary position embedding.
    RopeStyle rope_style = RopeStyle::Neox;
    int n_rot = 0;                         // rotated dims per head
    float rope_theta = 10000.0f;
    float rope_freq_scale = 1.0f;          // linear scaling (1 / factor)
    std::vector<float> rope_freq_factors;  // Llama-3 style per-dim divisors (n_rot/2) or empty
    // LongRoPE (Phi-3 128k): per-dim divisors for short and long contexts, chosen per forward pass.
    std::vector<float> longrope_short, longrope_long;
    int longrope_original_ctx = 0;
    float rope_attn_factor = 1.0f;

    int sliding_window = 0;  // 0 = full causal attention
    // Per layer: 1 = sliding-window (local) layer, 0 = global. Empty: every layer uses sliding_window (Mistral).
    std::vector<uint8_t> swa_layers;
    // Local layers' rope: their own base and no scaling (Gemma 3: 10k, global layers 1M); 0 = the global rope.
    float rope_theta_swa = 0;

    FfnActivation ffn_act = FfnActivation::Silu;
    float embed_scale = 1.0f;  // token embeddings multiplied by this (Gemma: sqrt(d_model))
    bool qk_norm = false;      // RMSNorm of each q and k head before rope (Gemma 3, Qwen 3): attn_q_norm/attn_k_norm
    bool post_norms = false;   // RMSNorm of the attention and MLP outputs before the residual adds (Gemma 2/3)
    bool qkv_bias = false;     // biases added to q, k and v (Qwen 2)
    // Attention scale (multiplies q.k); 0 = 1/sqrt(head_dim). Gemma: 1/sqrt(query_pre_attn_scalar).
    float attn_scale = 0;
    // Scale q by 1/sqrt(head_dim) after rope and run attention with scale 1, instead of scaling the scores:
    // the same maths with the float roundings of llama.cpp's Phi-3 graph (set by the loaders for Phi-3).
    bool prescale_q = false;
    bool tied_embeddings = false;

    int q_dim() const { return n_heads * head_dim; }
    float attention_scale() const { return attn_scale > 0 ? attn_scale : 1.0f / std::sqrt((float)head_dim); }
    bool layer_is_swa(int il) const { return swa_layers.empty() ? sliding_window > 0 : swa_layers[il] != 0; }
    // Whether local layers rotate with their own table (ForwardInputs::rope_cs_swa).
    bool has_swa_rope() const { return rope_theta_swa > 0; }
    int kv_dim() const { return n_kv_heads * head_dim; }
};

// The RoPE parameters of a forward pass whose sequence ends at position seq_end (exclusive): LongRoPE
// picks its short or long factors by that length (mode Auto), as Hugging Face does. Shared by every backend.
inline RopeParams rope_params(const ModelConfig& c, int64_t seq_end, LongRopeMode mode) {
    RopeParams p;
    p.style = c.rope_style;
    p.n_rot = c.n_rot;
    p.theta_base = c.rope_theta;
    p.freq_scale = c.rope_freq_scale;
    p.attn_factor = c.rope_attn_factor;
    if (!c.rope_freq_factors.empty()) p.freq_factors = c.rope_freq_factors.data();
    if (!c.longrope_long.empty()) {
        const bool use_long =
            mode == LongRopeMode::Long || (mode == LongRopeMode::Auto && seq_end > c.longrope_original_ctx);
        p.freq_factors = use_long ? c.longrope_long.data() : c.longrope_short.data();
    }
    return p;
}

// The local (sliding-window) layers' rope: their own base, no scaling or frequency factors (llama.cpp's
// rope_freq_base_train_swa / rope_freq_scale_train_swa = 1).
inline RopeParams rope_params_swa(const ModelConfig& c) {
    RopeParams p;
    p.style = c.rope_style;
    p.n_rot = c.n_rot;
    p.theta_base = c.rope_theta_swa;
    return p;
}

}  // namespace llm
