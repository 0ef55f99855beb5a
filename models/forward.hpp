// The decoder's layer sequence, written once: build_forward() records it as a node list (core/graph.hpp)
// that every backend executes (runtime/forward_cpu.hpp, kernels/vulkan/vk_decoder.hpp). Llama, Mistral and
// Phi-3 differ only by ModelConfig knobs and by which weights exist (fused QKV / gate-up).
#pragma once
#include <cstdint>
#include <span>
#include <vector>

#include "core/graph.hpp"
#include "models/model_config.hpp"
#include "models/model_weights.hpp"

namespace llm {

// The tokens of one forward pass. Per token: its id, its position in its sequence and its sequence id
// (all 0 until the serving engine runs several sequences per pass over a paged cache); out_rows lists
// the tokens whose logits are computed, ascending (logits row r belongs to token out_rows[r]).
struct Batch {
    std::vector<int32_t> tokens;
    std::vector<int32_t> positions;
    std::vector<int32_t> seq_ids;
    std::vector<int32_t> out_rows;

    int64_t size() const { return (int64_t)tokens.size(); }
    // Tokens at positions [pos0, pos0 + n) of sequence 0; logits of every token or of the last one.
    static Batch contiguous(std::span<const int32_t> tokens, int64_t pos0, bool all_logits);
    // The same shape (token count and out_rows): one graph serves both.
    bool same_shape(const Batch& o) const { return size() == o.size() && out_rows == o.out_rows; }
    // The first position when positions are consecutive (pos0, pos0 + 1, ...), else -1.
    int64_t contiguous_pos0() const;
};

// The node list of one pass over a batch of this shape. The graph points into w (and the views' data),
// which must outlive it; the logits (out_rows x n_vocab) are its output, or with hidden_output the final
// hidden states after the output norm (out_rows x d_model: embeddings).
Graph build_forward(const ModelConfig& c, const ModelWeights& w, const Batch& b, bool hidden_output = false);

class KvPool;
// The KV of a pass over several sequences (the serving engine): the batch holds each sequence's tokens
// consecutively, in position order. seqs[s] covers batch tokens [tok0, tok0 + n_tokens) and reads and writes
// the pool through its block table (blocks[j / block_tokens] holds position j); n_keys = its last position + 1.
// slots[i]: the pool row of batch token i (block * block_tokens + offset).
struct PagedSeq {
    int64_t tok0 = 0, n_tokens = 0, n_keys = 0;
    const int32_t* blocks = nullptr;
};
struct PagedKv {
    KvPool* pool = nullptr;
    std::vector<PagedSeq> seqs;
    std::vector<int64_t> slots;
};

// What a pass reads besides the graph and the weights, computed once per pass and shared by every backend.
struct ForwardInputs {
    const Batch* batch = nullptr;
    int64_t n_keys = 0;          // cache positions attention reads: [0, max position + 1)
    RopeParams rope;             // of this pass (LongRoPE picks its factors by n_keys)
    std::vector<float> rope_cs;  // rope_table(rope, positions): [n_tokens][n_rot/2][cos, sin]
    const PagedKv* paged = nullptr;  // set: KV through block tables of a pool, instead of a KvCache
    // The local layers' rope and table when they have their own base (ModelConfig::has_swa_rope), else empty.
    RopeParams rope_swa;
    std::vector<float> rope_cs_swa;
};
ForwardInputs forward_inputs(const ModelConfig& c, const Batch& b, LongRopeMode longrope);

}  // namespace llm
