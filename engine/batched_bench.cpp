// llama-batched-bench's measurement through the Engine (see batched_bench.hpp).
#include "engine/batched_bench.hpp"
#include "core/status.hpp"
#include "runtime/model_access.hpp"  // model_config()

#include <fmt/format.h>

#include <chrono>
#include <random>

namespace llm {

Expected<BatchedBenchRow> run_batched_bench(Engine& engine, int pp, int tg, int pl, int shared_prefix, uint32_t seed) {
    using Clock = std::chrono::steady_clock;
    if (pp <= 0 || tg < 0 || pl <= 0) return error("batched bench: npp and npl must be positive, ntg >= 0");
    const int n_vocab = model_config(engine.model()).n_vocab;
    std::mt19937 rng(seed);
    auto rand_token = [&] { return (int32_t)(rng() % (uint32_t)n_vocab); };
    std::vector<int32_t> prefix(std::min(shared_prefix, pp));
    for (int32_t& t : prefix) t = rand_token();
    std::vector<int> n_tokens(pl, 0);
    const EngineStats s0 = engine.stats();
    for (int j = 0; j < pl; ++j) {
        Request r;
        r.prompt = prefix;
        while ((int)r.prompt.size() < pp) r.prompt.push_back(rand_token());
        r.max_tokens = tg + 1;  // the first comes with the prompt's logits, then tg decode steps
        r.stop_at_end_of_generation = false;
        auto id = engine.submit(std::move(r), {[&n_tokens, j](const TokenEvent& e) { n_tokens[j] += e.token >= 0; }, {}});
        if (!id) return id.status();
    }
    const auto t0 = Clock::now();
    auto all_have = [&](int n) {
        for (int c : n_tokens)
            if (c < n) return false;
        return true;
    };
    while (!all_have(1) && engine.step()) {
    }
    const auto t1 = Clock::now();
    const EngineStats s1 = engine.stats();
    engine.run_until_idle();
    const auto t2 = Clock::now();
    const EngineStats s2 = engine.stats();
    if (!all_have(tg + 1)) return error("batched bench: a sequence ended early");

    BatchedBenchRow r;
    r.pp = pp, r.tg = tg, r.pl = pl, r.shared_prefix = (int)prefix.size();
    r.n_kv = (int64_t)pl * (pp + tg);  // positions the sequences hold (shared blocks counted per sequence)
    r.t_pp = std::chrono::duration<double>(t1 - t0).count();
    r.t_tg = std::chrono::duration<double>(t2 - t1).count();
    r.t = r.t_pp + r.t_tg;
    r.speed_pp = (double)pl * pp / r.t_pp;
    r.speed_tg = tg > 0 ? (double)pl * tg / r.t_tg : 0;
    r.speed = ((double)pl * pp + (double)pl * tg) / r.t;
    const int64_t steps = s2.steps - s1.steps;
    r.occupancy = steps > 0 ? (double)(s2.step_sequences - s1.step_sequences) / ((double)steps * pl) : 0;
    r.prefix_hit_tokens = s2.prefix_hit_tokens - s0.prefix_hit_tokens;
    return r;
}

Expected<PrefixReuseRow> run_prefix_reuse_bench(Engine& engine, int prefix, int suffix, uint32_t seed) {
    if (prefix <= 0 || suffix <= 0) return error("prefix reuse bench: the prefix and suffix lengths must be positive");
    const int n_vocab = model_config(engine.model()).n_vocab;
    std::mt19937 rng(seed);
    auto rand_tokens = [&](int n) {
        std::vector<int32_t> t(n);
        for (int32_t& x : t) x = (int32_t)(rng() % (uint32_t)n_vocab);
        return t;
    };
    const std::vector<int32_t> shared = rand_tokens(prefix);
    auto run_one = [&](PrefixReuseRequest& out) -> Status {
        Request r;
        r.prompt = shared;
        const std::vector<int32_t> tail = rand_tokens(suffix);
        r.prompt.insert(r.prompt.end(), tail.begin(), tail.end());
        r.max_tokens = 1;  // the first token comes with the prompt's logits: the request ends at its TTFT
        r.stop_at_end_of_generation = false;
        RequestResult result;
        bool done = false;
        const EngineStats s0 = engine.stats();
        auto id = engine.submit(std::move(r), {{}, [&](const RequestResult& res) { result = res, done = true; }});
        if (!id) return id.status();
        engine.run_until_idle();
        if (!done) return error("prefix reuse bench: the request did not finish");
        if (!result.status) return result.status;
        out.prompt = result.n_prompt, out.cached = result.n_cached, out.ttft_ms = result.ttft_ms;
        out.computed = engine.stats().prompt_tokens - s0.prompt_tokens;
        return Status::ok();
    };
    PrefixReuseRow row;
    row.prefix = prefix, row.suffix = suffix, row.block_tokens = engine.options().block_tokens;
    if (Status s = run_one(row.first); !s) return s;
    if (Status s = run_one(row.second); !s) return s;
    return row;
}

std::string prefix_reuse_md(const PrefixReuseRow& r) {
    std::string s = "| request | prompt | from cache | computed | TTFT ms |\n|---------|--------|------------|----------|---------|\n";
    for (const auto* q : {&r.first, &r.second})
        s += fmt::format("| {:7s} | {:6d} | {:10d} | {:8d} | {:7.1f} |\n", q == &r.first ? "first" : "second",
                         q->prompt, q->cached, q->computed, q->ttft_ms);
    const double pct = r.first.ttft_ms > 0 ? 100.0 * r.second.ttft_ms / r.first.ttft_ms : 0;
    s += fmt::format("\nsecond / first TTFT: {:.1f}%; the second computed {} tokens ({}-token suffix, {}-token blocks)\n",
                     pct, r.second.computed, r.suffix, r.block_tokens);
    return s;
}

std::string prefix_reuse_json(const PrefixReuseRow& r, const std::string& numerics, int n_threads) {
    auto req = [](const PrefixReuseRequest& q) {
        return fmt::format("{{\"prompt\": {}, \"cached\": {}, \"computed\": {}, \"ttft_ms\": {:.3f}}}", q.prompt,
                           q.cached, q.computed, q.ttft_ms);
    };
    return fmt::format("{{\"n_threads\": {}, \"numerics\": \"{}\", \"prefix\": {}, \"suffix\": {}, \"block_tokens\": {}, "
                       "\"first\": {}, \"second\": {}}}\n",
                       n_threads, numerics, r.prefix, r.suffix, r.block_tokens, req(r.first), req(r.second));
}

std::string batched_bench_md_header() {
    return "|    PP |     TG |    B |   N_KV |   T_PP s | S_PP t/s |   T_TG s | S_TG t/s |      T s |    S t/s | occup |\n"
           "|-------|--------|------|--------|----------|----------|----------|----------|----------|----------|-------|\n";
}

std::string batched_bench_md_row(const BatchedBenchRow& r) {
    return fmt::format("|{:6d} | {:6d} | {:4d} | {:6d} | {:8.3f} | {:8.2f} | {:8.3f} | {:8.2f} | {:8.3f} | {:8.2f} | {:5.2f} |\n",
                       r.pp, r.tg, r.pl, r.n_kv, r.t_pp, r.speed_pp, r.t_tg, r.speed_tg, r.t, r.speed, r.occupancy);
}

std::string batched_bench_json(const BatchedBenchRow& r, const std::string& numerics, int n_threads) {
    return fmt::format(
        "{{\"n_threads\": {}, \"numerics\": \"{}\", \"shared_prefix\": {}, \"pp\": {}, \"tg\": {}, \"pl\": {}, "
        "\"n_kv\": {}, \"t_pp\": {:.6f}, \"speed_pp\": {:.6f}, \"t_tg\": {:.6f}, \"speed_tg\": {:.6f}, \"t\": {:.6f}, "
        "\"speed\": {:.6f}, \"occupancy\": {:.4f}, \"prefix_hit_tokens\": {}}}\n",
        n_threads, numerics, r.shared_prefix, r.pp, r.tg, r.pl, r.n_kv, r.t_pp, r.speed_pp, r.t_tg, r.speed_tg, r.t,
        r.speed, r.occupancy, r.prefix_hit_tokens);
}

}  // namespace llm
