// The CPU backend of the node list (core/graph.hpp): one function per op of the op table, each calling the
// kernels of kernels/cpu; the KV cache is runtime/kv_cache.hpp. Activations live in scratch slots reused
// from pass to pass (plan_memory); the logits go straight to the caller's buffer.
#pragma once
#include <memory>
#include <vector>

#include "core/graph.hpp"
#include "core/numerics.hpp"
#include "kernels/cpu/attention.hpp"
#include "models/forward.hpp"
#include "runtime/kv_cache.hpp"

namespace llm {

struct ForwardOptions {
    int n_threads = 1;
    LongRopeMode longrope = LongRopeMode::Auto;
    // Which kernels run the matmuls and the attention (core/numerics.hpp, kernels/cpu/matmul.hpp). Exact
    // attention is llama.cpp's (ggml_attention) over a KV cache with transposed values, and only that: such a
    // cache is made for Exact alone (Session), the other modes run flash attention over row-major values.
    Numerics numerics = Numerics::Exact;
};

// Activation memory reused across passes (grown on demand), and forward_cpu's last graph: decode steps
// have one shape, so the node list and its memory plan are built once (about 80 us for a 30-layer model).
struct ForwardScratch {
    std::vector<std::vector<float>> slots;  // MemoryPlan slots
    std::vector<float> dense[3];            // dense copies of strided operands (column views)
    struct CachedGraph {
        const ModelConfig* config;
        const ModelWeights* weights;
        Batch shape;  // token count and out_rows (the tokens are not part of the graph)
        Graph graph;
        MemoryPlan plan;
        bool hidden = false;  // built with hidden_output
    };
    std::unique_ptr<CachedGraph> cached;
    std::vector<AttnSeq> attn_seqs;  // paged passes: per sequence
};

// Runs g over in.batch: reads and writes kv's layers at the batch positions, writes g's output (the
// logits, [out_rows x n_vocab]) to out. Every sequence id must be 0 (one sequence per cache for now).
// hook (optional): called after every node that has an output, with that tensor.
// opt.n_threads and opt.numerics pick the kernels (opt.longrope is forward_inputs' business).
void run_graph_cpu(const Graph& g, const ForwardInputs& in, KvCache& kv, float* out, ForwardScratch& s,
                   const ForwardOptions& opt, const NodeHook& hook = {});
// The same with g's memory plan (plan_memory(g)) made beforehand.
void run_graph_cpu(const Graph& g, const MemoryPlan& plan, const ForwardInputs& in, KvCache& kv, float* out,
                   ForwardScratch& s, const ForwardOptions& opt, const NodeHook& hook = {});

// One pass: build_forward (or the cached graph of the last pass when c, w and the batch shape are the
// same; c and w must not be changed in place between passes that share s) + forward_inputs +
// run_graph_cpu. logits: [b.out_rows.size() x n_vocab]. The caller checks token ids and that the
// positions fit in the cache.
// hidden_output: out gets the final normed hidden rows instead of the logits (build_forward).
void forward_cpu(const ModelConfig& c, const ModelWeights& w, KvCache& kv, const Batch& b, float* logits,
                 ForwardScratch& s, const ForwardOptions& opt, bool hidden_output = false);

// Several sequences over a paged pool (in.paged set; see models/forward.hpp: PagedKv): the serving engine's
// pass. Each sequence attends to its own keys only, through paged_attention (batch invariant in every mode);
// seq_ids are not read (in.paged->seqs says which rows are whose).
void run_graph_cpu_paged(const Graph& g, const MemoryPlan& plan, const ForwardInputs& in, float* out,
                         ForwardScratch& s, const ForwardOptions& opt, const NodeHook& hook = {});
// One paged pass with the cached graph of this shape; out: [b.out_rows.size() x n_vocab] logits.
void forward_cpu_paged(const ModelConfig& c, const ModelWeights& w, const PagedKv& kv, const Batch& b, float* out,
                       ForwardScratch& s, const ForwardOptions& opt);

}  // namespace llm
