// Per-layer weight views of a loaded model. Views point into mapped files or into buffers owned here.
// Shapes follow ggml order (ne[0] = input width): e.g. wq is [d_model -> n_heads*head_dim].
#pragma once
#include <memory>
#include <vector>

#include "core/tensor.hpp"

namespace llm {

struct LayerWeights {
    std::vector<float> attn_norm;  // (d_model) RMSNorm gain before attention, as float32
    TensorView wq, wk, wv;         // (d_model -> q_dim / kv_dim / kv_dim); absent when wqkv is used
    TensorView wqkv;               // fused (d_model -> q_dim + 2*kv_dim), rows q then k then v (Phi-3)
    std::vector<float> bq, bk, bv;  // (q_dim / kv_dim / kv_dim) biases (Qwen 2); empty without qkv_bias
    std::vector<float> attn_q_norm, attn_k_norm;  // (head_dim) per-head RMSNorm gains (qk_norm)
    TensorView wo;                 // (q_dim -> d_model)
    std::vector<float> attn_post_norm;  // (d_model) RMSNorm gain of the attention output (post_norms)
    std::vector<float> ffn_norm;   // (d_model) RMSNorm gain before the MLP
    TensorView w_gate, w_up;       // (d_model -> d_ff); absent when w_gate_up is used
    TensorView w_gate_up;          // fused (d_model -> 2*d_ff), gate rows first (Phi-3)
    TensorView w_down;             // (d_ff -> d_model)
    std::vector<float> ffn_post_norm;  // (d_model) RMSNorm gain of the MLP output (post_norms)
};

struct ModelWeights {
    TensorView token_embd;           // (n_vocab rows of d_model)
    std::vector<float> output_norm;  // (d_model)
    TensorView output;               // (d_model -> n_vocab); token_embd when embeddings are tied
    std::vector<LayerWeights> layers;
    // Keeps whatever the views point into alive (mapped files, requantized buffers).
    std::vector<std::shared_ptr<const void>> owners;
};

}  // namespace llm
