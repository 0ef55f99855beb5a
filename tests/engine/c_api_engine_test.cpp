// The engine's C API: submit with callbacks, step, cancel, stats, refusals as codes with messages; the tokens
// equal the C++ engine's.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "engine_test_util.hpp"
#include "llm/llm.h"

namespace {

struct Collected {
    std::vector<int32_t> tokens;
    std::string text;
    int done = 0;
    llm_stop_reason reason = LLM_STOP_EOS;
    std::vector<int32_t> final_tokens;
};

void on_token(const llm_token_event* e, void* user) {
    auto* c = static_cast<Collected*>(user);
    if (e->token >= 0) c->tokens.push_back(e->token);
    c->text.append(e->text, e->text_len);
}

void on_done(const llm_request_result* r, void* user) {
    auto* c = static_cast<Collected*>(user);
    c->done++;
    c->reason = r->stop_reason;
    c->final_tokens.assign(r->tokens, r->tokens + r->n_tokens);
}

TEST(EngineCApi, SubmitStepCancelStats) {
    const std::string path = llm::test::fixture_model("mistral-gqa", "Q8_0");
    char err[256] = {0};
    llm_model* model = nullptr;
    ASSERT_EQ(llm_model_load(path.c_str(), &model, err, sizeof err), LLM_OK) << err;
    llm_engine_params ep = llm_engine_default_params();
    ep.n_ctx = 256, ep.kv_pool_tokens = 4096, ep.n_threads = 2;
    llm_engine* e = nullptr;
    ASSERT_EQ(llm_engine_create(model, &ep, &e, err, sizeof err), LLM_OK) << err;

    const std::vector<int32_t> prompt = {1, 40, 50, 60, 70, 80};
    llm_request_params rp = llm_request_default_params();
    rp.prompt = prompt.data(), rp.n_prompt = prompt.size(), rp.max_tokens = 12, rp.stop_at_end_of_generation = false;
    Collected a, b;
    llm_request_id ida = 0, idb = 0;
    ASSERT_EQ(llm_engine_submit(e, &rp, on_token, on_done, &a, &ida, err, sizeof err), LLM_OK) << err;
    ASSERT_EQ(llm_engine_submit(e, &rp, on_token, on_done, &b, &idb, err, sizeof err), LLM_OK) << err;
    EXPECT_NE(ida, idb);
    EXPECT_TRUE(llm_engine_step(e));
    llm_engine_cancel(e, idb);
    llm_engine_run_until_idle(e);
    EXPECT_EQ(a.done, 1);
    EXPECT_EQ(b.done, 1);
    EXPECT_EQ(a.reason, LLM_STOP_LENGTH);
    EXPECT_EQ(b.reason, LLM_STOP_CANCELLED);
    EXPECT_EQ(a.tokens.size(), 12u);
    EXPECT_EQ(a.tokens, a.final_tokens);
    const llm_engine_stats st = llm_engine_get_stats(e);
    EXPECT_EQ(st.requests_done, 2);
    EXPECT_EQ(st.cancellations, 1);
    EXPECT_EQ(st.kv_blocks_used, 0);
    EXPECT_EQ(st.generated_tokens, 12 + 1);

    // The same tokens as the C++ engine.
    auto m = llm::test::load_or_die(path);
    llm::EngineOptions o;
    o.n_ctx = 256, o.kv_pool_tokens = 4096, o.n_threads = 2;
    auto cpp = llm::Engine::create(m, o);
    ASSERT_TRUE(cpp);
    llm::Request r;
    r.prompt = prompt, r.max_tokens = 12, r.stop_at_end_of_generation = false;
    EXPECT_EQ(llm::test::run_requests(**cpp, {r})[0].tokens, a.tokens);

    // Refusals: codes and messages.
    std::vector<int32_t> long_prompt(300, 5);
    rp.prompt = long_prompt.data(), rp.n_prompt = long_prompt.size();
    EXPECT_EQ(llm_engine_submit(e, &rp, nullptr, nullptr, nullptr, nullptr, err, sizeof err), LLM_ERR_CONTEXT_FULL);
    EXPECT_NE(std::string(err).find("fit"), std::string::npos) << err;
    const int32_t bad = 5000;
    rp.prompt = &bad, rp.n_prompt = 1;
    EXPECT_EQ(llm_engine_submit(e, &rp, nullptr, nullptr, nullptr, nullptr, err, sizeof err), LLM_ERR_INVALID_ARGUMENT);
    EXPECT_NE(std::string(err).find("out of range"), std::string::npos) << err;
    EXPECT_EQ(llm_engine_submit(nullptr, &rp, nullptr, nullptr, nullptr, nullptr, err, sizeof err), LLM_ERR_INVALID_ARGUMENT);
    llm_engine_free(e);
    llm_model_free(model);
}

}  // namespace
