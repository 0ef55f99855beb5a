// Parameters of the ops shared by the forward-pass node list (core/graph.hpp) and every backend's kernels
// (kernels/cpu, kernels/vulkan): plain values, no behaviour.
#pragma once

namespace llm {

enum class RopeStyle {
    Interleaved,  // GGML "normal": rotates pairs (x[2i], x[2i+1]); GGUF llama weights are permuted for it
    Neox,         // rotate_half: rotates pairs (x[i], x[i + n_rot/2]); HF layout and Phi-3
};

struct RopeParams {
    RopeStyle style = RopeStyle::Neox;
    int n_rot = 0;                // rotated dims per head (even, <= head_dim)
    float theta_base = 10000.0f;
    float freq_scale = 1.0f;      // linear scaling: positions multiplied by this (1/factor)
    float attn_factor = 1.0f;     // multiplies cos and sin (LongRoPE's magnitude scaling)
    const float* freq_factors = nullptr;  // n_rot/2 divisors of the per-dim frequency (Llama-3, LongRoPE) or null
};

struct AttentionParams {
    int n_heads = 0, n_kv_heads = 0, head_dim = 0;
    float scale = 1.0f;      // usually 1/sqrt(head_dim)
    int sliding_window = 0;  // 0: full causal; else query at p sees keys at j with 0 <= p - j < window
    // Round q and the softmax weights to fp16 before the products with K and V, as llama.cpp does
    // with an F16 KV cache (its matmuls convert the F32 operand to the F16 one's type).
    bool round_to_f16 = false;
    // Numerics::Invariant: a query row's result must not depend on the other rows of the call. Key tiles
    // start at absolute multiples of the tile size, the keys are never split by load, one lane width.
    bool batch_invariant = false;
};

}  // namespace llm
