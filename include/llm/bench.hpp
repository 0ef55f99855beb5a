// llama-batched-bench's test through the serving engine (llm-bench -npp/-ntg/-npl): npl sequences each get a
// prompt of npp random tokens (or share one with --shared-prefix), then all decode ntg tokens together.
// Definitions as llama.cpp's tools/batched-bench: T_PP until every prompt is processed (here: until every
// sequence has its first token), T_TG the ntg decode steps after, N_KV the cache tokens needed.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "llm/engine.hpp"
#include "llm/export.hpp"

namespace llm {

struct BatchedBenchRow {
    int pp = 0, tg = 0, pl = 0;
    int64_t n_kv = 0;
    double t_pp = 0, speed_pp = 0, t_tg = 0, speed_tg = 0, t = 0, speed = 0;
    double occupancy = 0;  // mean sequences per decode step / pl (1 = every step carried every sequence)
    int shared_prefix = 0;
    int64_t prefix_hit_tokens = 0;
};

// One test on an engine (created by the caller with enough pool for pl * (pp + tg) tokens). shared_prefix > 0:
// the first min(shared_prefix, pp) prompt tokens are the same for every sequence (the prefix cache serves
// them after the first sequence computed them; the prefix cache is cleared between tests by a fresh engine).
LLM_API Expected<BatchedBenchRow> run_batched_bench(Engine& engine, int pp, int tg, int pl, int shared_prefix, uint32_t seed);

// Prefix reuse (llm-bench --prefix-reuse P,S): two requests, one after the other, sharing a P-token prefix with
// different S-token suffixes; each is timed to its first token (its prompt's logits). The second should take the
// prefix from the cache and compute only what follows the last full block the two share.
struct PrefixReuseRequest {
    int prompt = 0;        // prompt tokens
    int cached = 0;        // taken from the prefix cache
    int64_t computed = 0;  // computed by the engine (its prompt_tokens counter)
    double ttft_ms = 0;    // submit -> first token
};
struct PrefixReuseRow {
    int prefix = 0, suffix = 0, block_tokens = 0;
    PrefixReuseRequest first, second;
};

// On a fresh engine (an empty prefix cache) with room for both prompts.
LLM_API Expected<PrefixReuseRow> run_prefix_reuse_bench(Engine& engine, int prefix, int suffix, uint32_t seed);
LLM_API std::string prefix_reuse_md(const PrefixReuseRow& r);
LLM_API std::string prefix_reuse_json(const PrefixReuseRow& r, const std::string& numerics, int n_threads);

// llama-batched-bench's table header and row (markdown), and its jsonl line plus our fields.
LLM_API std::string batched_bench_md_header();
LLM_API std::string batched_bench_md_row(const BatchedBenchRow& r);
LLM_API std::string batched_bench_json(const BatchedBenchRow& r, const std::string& numerics, int n_threads);

}  // namespace llm
