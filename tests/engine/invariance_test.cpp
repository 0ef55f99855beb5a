// Batch invariance (Numerics::Invariant, the engine's default): 16 requests of different prompt lengths, half
// greedy and half seeded sampling, run each alone, all submitted together, arriving staggered, and with step
// budgets of 16, 64 and 512 tokens: bit-identical logits at every step and identical tokens. On SmolLM2 (real
// model, when cached), a quantized fixture and the sliding-window fixture (safetensors, float weights); the same
// on Vulkan (lavapipe in CI) with smaller shapes.
#include <gtest/gtest.h>

#include "engine_test_util.hpp"

namespace llm {
namespace {

using test::Outcome;

std::vector<Request> requests(const ModelConfig& c, int n_gen, int min_len, int stride) {
    std::vector<Request> reqs;
    const auto prompts = test::make_prompts(16, min_len, stride, c.n_vocab, 17);
    for (size_t i = 0; i < prompts.size(); ++i) {
        Request r;
        r.prompt = prompts[i];
        r.max_tokens = n_gen;
        r.stop_at_end_of_generation = false;
        if (i % 2) {  // seeded sampling
            r.sampling = SamplerConfig{};
            r.sampling.seed = 1000 + i;
            r.sampling.temperature = 0.9f;
        }
        reqs.push_back(std::move(r));
    }
    return reqs;
}

void check_invariance(const std::string& path, int n_gen, int min_len, int stride, const std::string& device = "cpu") {
    auto model = test::load_or_die(path);
    ASSERT_TRUE(model);
    EngineOptions o;
    o.n_ctx = 1024;
    o.kv_pool_tokens = 16 * 1024;
    o.n_threads = 2;
    o.device = device;
    ASSERT_EQ(o.numerics, Numerics::Invariant);
    const std::vector<Request> reqs = requests(model_config(*model), n_gen, min_len, stride);
    auto engine = [&](int step_tokens) {
        EngineOptions e = o;
        e.step_tokens = step_tokens;
        auto r = Engine::create(model, e);
        EXPECT_TRUE(r) << r.error_message();
        return std::move(*r);
    };
    // Each alone, in one engine (its prefix cache holds the others' blocks; no prompt shares a block).
    std::vector<Outcome> alone;
    {
        auto e = engine(512);
        if (e->options().device != device) GTEST_SKIP() << "the engine could not use " << device << " (see its message)";
        for (const Request& r : reqs) alone.push_back(test::run_requests(*e, {r})[0]);
    }
    for (const Outcome& a : alone) ASSERT_EQ((int)a.tokens.size(), n_gen);
    for (int budget : {512, 64, 16}) {
        auto e = engine(budget);
        auto together = test::run_requests(*e, reqs);
        test::expect_same(alone, together, "together, step budget " + std::to_string(budget));
        if (budget == 512) {
            EXPECT_EQ(e->stats().max_step_sequences, 16);
        }
    }
    std::vector<int> arrival;
    for (int i = 0; i < 16; ++i) arrival.push_back((i * 5) % 23);
    auto e = engine(64);
    auto staggered = test::run_requests(*e, reqs, arrival);
    test::expect_same(alone, staggered, "staggered arrivals");
}

TEST(Invariance, QuantizedFixture) {
    check_invariance(test::fixture_model("mistral-gqa", "Q4_0"), 64, 5, 9);
}

TEST(Invariance, SlidingWindowFixture) {
    check_invariance(std::string(LLM_FIXTURES_DIR) + "/models/mistral-swa/hf", 32, 5, 3);
}

TEST(Invariance, QuantizedFixtureOnVulkan) {
    check_invariance(test::fixture_model("mistral-gqa", "Q4_0"), 16, 5, 3, "vulkan");
}

TEST(Invariance, SmolLM2) {
    auto path = find_default_model();
    if (!path) GTEST_SKIP() << "SmolLM2-135M-Instruct not in the cache: run scripts/fetch-smollm2.sh";
    check_invariance(*path, 64, 4, 7);
}

}  // namespace
}  // namespace llm
