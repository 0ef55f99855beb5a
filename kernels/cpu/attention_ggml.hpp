// Attention with llama.cpp's own arithmetic (its default, non-flash path with an F16 KV cache), operation
// for operation on AVX-512, so that logits and greedy tokens are bit-identical to llama.cpp's:
//   kq  = mul_mat(K, q)       q rounded to fp16; per score a dot over head_dim in fp32 (ggml_vec_dot_f16
//                             for one query token, llamafile's tinyBLAS for batches of >= 2 tokens)
//   p   = soft_max(kq*scale + mask) over the key count padded to 256: ggml_v_expf per 16 keys, the 16-lane
//                             sums added in double, then p * (float)(1/sum)
//   out = mul_mat(V^T, p)     p rounded to fp16; per output a dot over keys (the same two dot kernels)
// Values are read from a transposed F16 copy (one row of keys per value dimension, as llama.cpp's v_trans
// cache), which the KV cache keeps when this path is in use. Keys outside the causal / sliding window are
// skipped in whole 16- or 64-key steps: their weights are exactly 0, which leaves every sum unchanged.
#pragma once
#include <cstddef>
#include <cstdint>

#include "kernels/cpu/ops.hpp"

namespace llm {

// Keys: row j (position j) of n_kv_heads*head_dim fp16 values at k + j*k_row_elems. Values: row
// (kv head g, dim d) of fp16 values over positions at vt + (g*head_dim + d)*vt_row_elems; rows hold at
// least n_keys rounded up to 256 values, finite (zeros past the history).
struct GgmlKv {
    const uint16_t* k = nullptr;
    int64_t k_row_elems = 0;
    const uint16_t* vt = nullptr;
    int64_t vt_row_elems = 0;
};

// Whether this CPU runs the path (AVX2 or AVX-512; elsewhere callers use flash_attention).
bool ggml_attention_available();

// q: [n_tokens x n_heads*head_dim] float32 (rounded to fp16 inside); positions[i] < n_keys; out like q.
// Threads: OpenMP over (token, head) pairs; each output is computed by one thread in a fixed order.
void ggml_attention(const float* q, const GgmlKv& kv, int64_t n_keys, int64_t n_tokens, const int32_t* positions,
                    const AttentionParams& p, float* out, int n_threads);
// The same with llama.cpp's arithmetic for a given ISA (Avx2 or Avx512, supported by this CPU). tiles: batches
// compute several keys (value dims) x query heads per pass, each score and output still by its own FMA chain in
// llama.cpp's order, so the output bits are the same with and without (ggml_attention: unless
// LLM_VEC_DOT_TILE=0).
void ggml_attention_isa(Isa isa, const float* q, const GgmlKv& kv, int64_t n_keys, int64_t n_tokens,
                        const int32_t* positions, const AttentionParams& p, float* out, int n_threads,
                        bool tiles = true);

// The key count llama.cpp pads the attention to (and the KV cache rounds its transposed rows to).
constexpr int64_t kGgmlKvPad = 256;

}  // namespace llm
