// Flash-attention style CPU attention that reads keys and values straight from the KV cache storage
// (F32, F16, BF16 or Q8_0 rows), converting one tile of rows of one KV head at a time, with an online
// softmax over key tiles. Same semantics as the scalar reference `attention` (kernels/cpu/ops.hpp):
// causal, optional sliding window, GQA, and with round_to_f16 q and the softmax weights rounded to fp16
// before the products with K and V (llama.cpp's numerics with an F16 KV cache). The weights rounded are
// exp(s - running max) before normalization (the reference rounds the normalized ones): same relative
// error (2^-11), and the division by the sum happens once at the end in float.
#pragma once
#include <cstddef>
#include <cstdint>

#include "core/dtype.hpp"
#include "kernels/cpu/matmul.hpp"
#include "kernels/cpu/ops.hpp"

namespace llm {

// Rows of one layer's keys or values: row j (the key at position j) holds n_kv_heads*head_dim values of
// `type` at data + j*row_bytes. Types: F32, F16, BF16 and any block type whose blocks hold 32 values (Q8_0).
// Paged (blocks != null): row j lives at data + (blocks[j / block_tokens] * block_tokens + j % block_tokens) *
// row_bytes (the serving engine's KV pool, runtime/kv_pool.hpp).
struct KvRows {
    const uint8_t* data = nullptr;
    size_t row_bytes = 0;
    DType type = DType::F32;
    const int32_t* blocks = nullptr;
    int block_tokens = 0;
    const uint8_t* row(int64_t j) const {
        if (!blocks) return data + j * (int64_t)row_bytes;
        return data + ((int64_t)blocks[j / block_tokens] * block_tokens + j % block_tokens) * (int64_t)row_bytes;
    }
};

// q: [n_tokens x n_heads*head_dim] float32; positions[i] < n_keys is query i's position; out like q.
// Threads: OpenMP over (KV head x query tile), dynamically scheduled with the longest tiles first.
// Results do not depend on n_threads. With p.batch_invariant a row's result does not depend on the other rows
// either (how many, which positions): the tiles of keys are fixed by position and never split by load.
void flash_attention(const float* q, const KvRows& k, const KvRows& v, int64_t n_keys, int64_t n_tokens,
                     const int32_t* positions, const AttentionParams& p, float* out, int n_threads);
void flash_attention_isa(Isa isa, const float* q, const KvRows& k, const KvRows& v, int64_t n_keys,
                         int64_t n_tokens, const int32_t* positions, const AttentionParams& p, float* out,
                         int n_threads);

// Attention of several sequences in one call (the serving engine's pass). Sequence s owns the query rows
// [tok0, tok0 + n_tokens) of q and out, reads its keys and values through its own KvRows (a block table) up to
// n_keys, and its positions are positions[tok0 + i].
// Batch invariance: a query row's result depends only on its own query, position and its sequence's keys,
// never on the other rows of the call: every item is one tile of one KV head over one chunk of kAttnChunkKeys
// keys at a fixed absolute position (c * kAttnChunkKeys), key tiles start at multiples of the tile size
// within a chunk, the lane width is fixed (8), and the chunks are merged in position order. Masked keys add
// exact zeros, so a row does not see which other rows share its tile.
struct AttnSeq {
    int64_t tok0 = 0, n_tokens = 0;
    int64_t n_keys = 0;
    KvRows k, v;
};
constexpr int64_t kAttnChunkKeys = 256;
void paged_attention(const float* q, const AttnSeq* seqs, int n_seqs, const int32_t* positions,
                     const AttentionParams& p, float* out, int n_threads);
void paged_attention_isa(Isa isa, const float* q, const AttnSeq* seqs, int n_seqs, const int32_t* positions,
                         const AttentionParams& p, float* out, int n_threads);

}  // namespace llm
