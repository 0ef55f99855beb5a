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
