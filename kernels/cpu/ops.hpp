// CPU ops of the decoder (everything except the matmul, see matmul.hpp, and the flash attention, see
// attention.hpp): scalar references, with AVX2 / AVX-512 versions of rms_norm and silu_mul picked by
// best_isa() (the *_isa variants take the ISA explicitly; Isa::Scalar is the reference).
// Activations are float32, row-major [n_tokens x width]; threads via OpenMP (n_threads <= 1 runs inline).
#pragma once
#include <cstdint>
#include <vector>

#include "core/op_params.hpp"
#include "core/tensor.hpp"
#include "kernels/cpu/matmul.hpp"

namespace llm {

// out[i] = dequantized row ids[i] of table (table: ne[0] = width, ne[1] = n_rows). ids must be in range.
void embed_rows(const TensorView& table, const int32_t* ids, int64_t n_ids, float* out, int n_threads);

// y = x / sqrt(mean(x^2) + eps) * w, per row of width d. y may alias x.
void rms_norm(const float* x, const float* w, float* y, int64_t n_tokens, int64_t d, float eps, int n_threads);
void rms_norm_isa(Isa isa, const float* x, const float* w, float* y, int64_t n_tokens, int64_t d, float eps,
                  int n_threads);

// cs[2i], cs[2i+1] = cos, sin of pair i's angle at a position, times attn_factor, computed as llama.cpp does
// (float theta = pos, multiplied by powf(base, -2/n_rot) per pair; angle = freq_scale * theta / factor).
void rope_cos_sin(const RopeParams& p, int32_t pos, float* cs);

// The cos/sin of every token: [n][n_rot/2][2] (rope_cos_sin per position), computed once per forward pass and
// shared by q, k and every layer (and by the Vulkan rope shader).
std::vector<float> rope_table(const RopeParams& p, const int32_t* positions, int64_t n);
// Rotates each head of x ([n_tokens x n_heads*head_dim]) with a rope_table of its tokens.
void rope_apply(float* x, int64_t n_tokens, int n_heads, int head_dim, const float* table, const RopeParams& p,
                int n_threads);
// rope_table + rope_apply.
void rope(float* x, int64_t n_tokens, int n_heads, int head_dim, const int32_t* positions, const RopeParams& p,
          int n_threads);

// Causal (optionally windowed) multi-head attention with GQA over a key/value history: the scalar
// reference of the decoder's two attention kernels (flash_attention in attention.hpp, ggml_attention in
// attention_ggml.hpp).
// q: [n_tokens x n_heads*head_dim]; k, v: float32 [n_keys x n_kv_heads*head_dim], key j at position j;
// positions[i] is the position of query i (< n_keys); out: [n_tokens x n_heads*head_dim].
void attention(const float* q, const float* k, const float* v, int64_t n_keys, int64_t n_tokens,
               const int32_t* positions, const AttentionParams& p, float* out, int n_threads);

// out = silu(gate) * up, elementwise over n values.
void silu_mul(const float* gate, const float* up, float* out, int64_t n, int n_threads);
void silu_mul_isa(Isa isa, const float* gate, const float* up, float* out, int64_t n, int n_threads);
// SwiGLU per row, as llama.cpp's swiglu (vector chunks of a row, then a scalar tail): out row i =
// silu(gate row i) * up row i over width values; rows strides apart; out (stride width) may alias up.
void swiglu_rows(const float* gate, int64_t gate_stride, const float* up, int64_t up_stride, float* out,
                 int64_t n_rows, int64_t width, int n_threads);
// gelu with the tanh approximation, as ggml_gelu_f32: 0.5 x (1 + tanh(sqrt(2/pi) x (1 + 0.044715 x^2))).
float gelu_tanh(float x);
// GEGLU per row, as llama.cpp's geglu on the CPU (GGML_GELU_FP16): out = gelu(gate) * up where gelu(g) is 0 for
// g <= -10, g for g >= 10, else ggml's fp16 table: fp16(gelu_tanh(fp16(g))). Rows strides apart, out dense.
void geglu_rows(const float* gate, int64_t gate_stride, const float* up, int64_t up_stride, float* out,
                int64_t n_rows, int64_t width, int n_threads);
// x[r * stride + c] += b[c] for r < n_rows, c < width (one float add per value, as ggml_add of a broadcast row).
void add_bias_rows(float* x, int64_t n_rows, int64_t width, int64_t stride, const float* b, int n_threads);
// x[r * stride + c] *= s for r < n_rows, c < width (one float multiply per value).
void scale_rows(float* x, int64_t n_rows, int64_t width, int64_t stride, float s, int n_threads);
// x += y over n values.
void add_inplace(float* x, const float* y, int64_t n, int n_threads);
// In-place numerically stable softmax of n values.
void softmax(float* x, int64_t n);

}  // namespace llm
