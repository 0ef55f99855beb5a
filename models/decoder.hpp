// The one parameterized decoder-only transformer forward pass (Llama, Mistral, Phi-3 are configs of it).
#pragma once
#include <cstdint>
#include <span>
#include <vector>

#include "core/status.hpp"
#include "models/kv_cache.hpp"
#include "models/model_config.hpp"
#include "models/model_weights.hpp"

namespace llm {

struct ForwardOptions {
    int n_threads = 1;
    LongRopeMode longrope = LongRopeMode::Auto;
};

// Activation buffers reused across calls (grown on demand).
struct ForwardScratch {
    std::vector<float> x, h, q, k, v, qkv, attn, ff_a, ff_b;
    std::vector<int32_t> positions;
};

// Runs tokens at positions [pos0, pos0 + n) through the model, appending their keys/values to the cache.
// logits receives [n x n_vocab] when all_logits, else the last position's [n_vocab].
// The caller checks token ids and that pos0 + n fits in the cache.
void decoder_forward(const ModelConfig& c, const ModelWeights& w, KvCache& kv, std::span<const int32_t> tokens,
                     int64_t pos0, bool all_logits, float* logits, ForwardScratch& s, const ForwardOptions& opt);

}  // namespace llm
