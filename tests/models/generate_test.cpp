// The shared generation loop and multi-turn chat: stop conditions, streaming, and KV-cache reuse.
#include "runtime/generate.hpp"

#include <gtest/gtest.h>

#include "fixture_util.hpp"
#include "llm/llm.hpp"
#include "runtime/model_access.hpp"  // model_config()
#include "models/default_model.hpp"
#include "runtime/chat_session.hpp"
#include "runtime/sampler.hpp"
#include "tokenizer/tokenizer.hpp"

namespace llm {
namespace {

struct Loaded {
    std::shared_ptr<const Model> model;
    std::unique_ptr<Session> session;
};

Loaded load(const std::string& path, int n_ctx = 256) {
    Loaded l;
    auto m = Model::load(path);
    EXPECT_TRUE(m) << (m ? "" : m.error_message());
    if (!m) return l;
    l.model = *m;
    SessionOptions o;
    o.n_ctx = n_ctx;
    auto s = Session::create(l.model, o);
    EXPECT_TRUE(s);
    if (s) l.session = std::move(*s);
    return l;
}

std::string tiny_model() { return test::models_dir() + "/llama-mha/llama-mha.F32.gguf"; }

TEST(Generate, GreedyMatchesFixtureContinuationAndStreamsEverything) {
    Loaded l = load(tiny_model());
    ASSERT_TRUE(l.session && l.model->tokenizer()) << l.model->tokenizer_error();
    const auto g = test::read_json_file(test::models_dir() + "/llama-mha/ref/llama-mha.F32.greedy.json");
    const auto prompt = g["prompt"].get<std::vector<int32_t>>();
    const auto expected = g["generated"].get<std::vector<int32_t>>();
    auto sampler = Sampler::create(SamplerConfig::greedy(), 1024);
    ASSERT_TRUE(sampler);
    GenerateOptions opts;
    opts.max_tokens = (int)expected.size();
    opts.stop_at_end_of_generation = false;
    std::string streamed;
    auto r = generate(*l.session, *l.model->tokenizer(), *sampler, prompt, opts, [&](std::string_view t) {
        streamed += t;
        return true;
    });
    ASSERT_TRUE(r) << r.error_message();
    EXPECT_EQ(r->tokens, expected);
    EXPECT_EQ(r->stop_reason, StopReason::MaxTokens);
    EXPECT_EQ(r->n_prompt, (int)prompt.size());
    EXPECT_EQ(streamed, r->text);
    // The random model emits stray byte tokens: the stream stays valid UTF-8 (U+FFFD for broken sequences).
    EXPECT_FALSE(r->text.empty());
}

TEST(Generate, StopStringEndsGenerationBeforeIt) {
    Loaded l = load(tiny_model());
    ASSERT_TRUE(l.session && l.model->tokenizer());
    const Tokenizer& tok = *l.model->tokenizer();
    const std::vector<int32_t> prompt = {1, 583, 930, 935};
    auto sampler = Sampler::create(SamplerConfig::greedy(), 1024);
    GenerateOptions opts;
    opts.max_tokens = 24;
    opts.stop_at_end_of_generation = false;
    auto full = generate(*l.session, tok, *sampler, prompt, opts, nullptr);
    ASSERT_TRUE(full);
    ASSERT_GT(full->text.size(), 6u);
    // Stop on a piece of the middle of the greedy text: the output must be exactly what came before it.
    const std::string stop = full->text.substr(full->text.size() / 2, 3);
    const size_t cut = full->text.find(stop);
    l.session->truncate(0);
    sampler->reset();
    opts.stop = {stop};
    auto r = generate(*l.session, tok, *sampler, prompt, opts, nullptr);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->stop_reason, StopReason::StopString);
    EXPECT_EQ(r->text, full->text.substr(0, cut));
}

TEST(Generate, CallbackCanCancel) {
    Loaded l = load(tiny_model());
    ASSERT_TRUE(l.session && l.model->tokenizer());
    auto sampler = Sampler::create(SamplerConfig::greedy(), 1024);
    GenerateOptions opts;
    opts.max_tokens = 50;
    opts.stop_at_end_of_generation = false;
    int calls = 0;
    std::vector<int32_t> prompt = {1, 583};
    auto r = generate(*l.session, *l.model->tokenizer(), *sampler, prompt, opts, [&](std::string_view) {
        return ++calls < 3;
    });
    ASSERT_TRUE(r);
    EXPECT_EQ(r->stop_reason, StopReason::Cancelled);
    EXPECT_LT(r->tokens.size(), 50u);
}

TEST(Generate, ContextFullStops) {
    Loaded l = load(tiny_model(), 16);
    ASSERT_TRUE(l.session && l.model->tokenizer());
    auto sampler = Sampler::create(SamplerConfig::greedy(), 1024);
    GenerateOptions opts;
    opts.stop_at_end_of_generation = false;
    std::vector<int32_t> prompt = {1, 583, 930, 935};
    auto r = generate(*l.session, *l.model->tokenizer(), *sampler, prompt, opts, nullptr);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->stop_reason, StopReason::ContextFull);
    EXPECT_EQ(l.session->n_past(), 16);
}

// Multi-turn chat on the real SmolLM2 model: the second turn evaluates only the new part of the conversation.
TEST(ChatSession, SecondTurnReusesTheKvCache) {
    auto path = find_default_model();
    if (!path) GTEST_SKIP() << "SmolLM2-135M-Instruct not in the cache: run scripts/fetch-smollm2.sh";
    Loaded l = load(*path, 1024);
    ASSERT_TRUE(l.session);
    const Tokenizer* tok = l.model->tokenizer();
    ASSERT_TRUE(tok) << l.model->tokenizer_error();
    auto chat = ChatSession::create(*l.session, *tok, tok->chat_template());
    ASSERT_TRUE(chat) << chat.error_message();
    auto sampler = Sampler::create(SamplerConfig::greedy(), model_config(*l.model).n_vocab);
    GenerateOptions opts;
    opts.max_tokens = 24;
    auto r1 = chat->respond("What is the capital of France?", *sampler, opts, nullptr);
    ASSERT_TRUE(r1) << r1.error_message();
    EXPECT_FALSE(r1->text.empty());
    const int first_prompt = r1->n_prompt;
    auto r2 = chat->respond("And of Germany?", *sampler, opts, nullptr);
    ASSERT_TRUE(r2) << r2.error_message();
    auto full = chat->render(false);
    ASSERT_TRUE(full);
    const size_t total = tok->encode(*full, false, true).size();
    // Only the tail after the cached prefix is evaluated: far fewer tokens than the whole conversation.
    EXPECT_LT(r2->n_prompt, first_prompt);
    EXPECT_LT((size_t)r2->n_prompt * 2, total);
    EXPECT_EQ(chat->messages().size(), 4u);  // 2 x (user, assistant); the template adds its default system
    std::printf("[chat] turn 1: %d prompt tokens, turn 2: %d prompt tokens of %zu in the conversation\n",
                first_prompt, r2->n_prompt, total);
}

}  // namespace
}  // namespace llm
