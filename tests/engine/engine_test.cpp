// The serving engine on fixture models: agreement with a Session, batching, prefix reuse, memory pressure and
// preemption, refusal, cancellation, stop strings, max_tokens and logprobs.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

#include "engine_test_util.hpp"
#include "llm/bench.hpp"
#include "runtime/generate.hpp"

namespace llm {
namespace {

using test::greedy;
using test::Outcome;

std::unique_ptr<Engine> make_engine(std::shared_ptr<const Model> m, EngineOptions o) {
    auto e = Engine::create(std::move(m), o);
    EXPECT_TRUE(e) << e.error_message();
    return e ? std::move(*e) : nullptr;
}

EngineOptions small_options() {
    EngineOptions o;
    o.n_ctx = 2048;
    o.kv_pool_tokens = 16 * 2048;
    o.n_threads = 2;
    return o;
}

// The first logits of 3 prompts: from one engine that runs them together, and from a Session in `numerics` that
// evaluates them one after another.
struct FirstLogits {
    std::vector<std::vector<float>> engine, session;
};
FirstLogits first_logits(const std::string& weight_type, Numerics numerics) {
    FirstLogits out;
    auto model = test::load_or_die(test::fixture_model("mistral-gqa", weight_type));
    EXPECT_TRUE(model);
    if (!model) return out;
    const auto prompts = test::make_prompts(3, 20, 9, model_config(*model).n_vocab);
    auto e = make_engine(model, small_options());
    std::vector<Request> reqs;
    for (const auto& p : prompts) reqs.push_back(greedy(p, 1));
    for (const Outcome& o : test::run_requests(*e, reqs)) {
        EXPECT_EQ(o.logits.size(), 1u);
        out.engine.push_back(o.logits.empty() ? std::vector<float>{} : o.logits[0]);
    }
    SessionOptions so;
    so.n_ctx = 256, so.numerics = numerics, so.n_threads = 2;
    auto s = Session::create(model, so);
    EXPECT_TRUE(s);
    if (!s) return out;
    for (const auto& p : prompts) {
        (*s)->truncate(0);
        EXPECT_TRUE((*s)->eval(p, false));
        const auto l = (*s)->logits();
        out.session.emplace_back(l.begin(), l.end());
    }
    return out;
}

TEST(Engine, FirstLogitsAgreeWithSession) {
    const FirstLogits f = first_logits("F16", Numerics::Fast);
    ASSERT_EQ(f.session.size(), 3u);
    for (size_t i = 0; i < f.session.size(); ++i) {
        ASSERT_EQ(f.engine[i].size(), f.session[i].size());
        double max_diff = 0;
        for (size_t v = 0; v < f.session[i].size(); ++v)
            max_diff = std::max(max_diff, (double)std::fabs(f.session[i][v] - f.engine[i][v]));
        EXPECT_LT(max_diff, 2e-2) << "prompt " << i;
    }
}

// A Session is the engine with one sequence (engine/session.cpp): in Invariant its logits are bit-identical to a
// request's, even when the engine ran that request beside others.
TEST(Engine, SessionIsTheEngineWithOneSequence) {
    const FirstLogits f = first_logits("Q4_0", Numerics::Invariant);
    ASSERT_EQ(f.session.size(), 3u);
    for (size_t i = 0; i < f.session.size(); ++i) {
        ASSERT_EQ(f.engine[i].size(), f.session[i].size());
        EXPECT_EQ(std::memcmp(f.session[i].data(), f.engine[i].data(), f.session[i].size() * sizeof(float)), 0)
            << "prompt " << i;
    }
}

// Truncating a Session releases its last blocks and the next tokens take them again in order, so its blocks stay
// consecutive (llama.cpp's attention in Exact reads them in place: ggml_view checks it): a conversation edited
// mid-way gives the logits of one that never had the dropped tokens, bit for bit (n_batch = the kept length, so
// both compute every position in a pass of the same shape: exact arithmetic depends on it).
TEST(Engine, SessionTruncateAndContinueEqualsAFreshSession) {
    auto model = test::load_or_die(test::fixture_model("mistral-gqa", "F16"));
    ASSERT_TRUE(model);
    const auto ps = test::make_prompts(2, 40, 3, model_config(*model).n_vocab);
    const std::vector<int32_t> head(ps[0].begin(), ps[0].begin() + 5), tail(ps[1].begin(), ps[1].begin() + 37);
    SessionOptions so;
    so.n_ctx = 128, so.numerics = Numerics::Exact, so.n_threads = 2, so.n_batch = 5;
    auto edited = Session::create(model, so), fresh = Session::create(model, so);
    ASSERT_TRUE(edited && fresh);
    ASSERT_TRUE((*edited)->eval(ps[0], false));  // 40 tokens: 3 blocks, passes of 5
    (*edited)->truncate(5);  // keeps block 0, releases 1 and 2
    ASSERT_TRUE((*edited)->eval(tail, true));
    ASSERT_TRUE((*fresh)->eval(head, false));
    ASSERT_TRUE((*fresh)->eval(tail, true));
    ASSERT_EQ((*edited)->n_past(), 5 + 37);
    for (int64_t i = 0; i < (int64_t)tail.size(); ++i) {
        const auto a = (*edited)->logits(i), b = (*fresh)->logits(i);
        EXPECT_EQ(std::memcmp(a.data(), b.data(), a.size() * sizeof(float)), 0) << "row " << i;
    }
}

// The engine on Vulkan (lavapipe in CI): its paged pool on the device, the same block tables as on the CPU.
// Every step's logits agree with the CPU engine's within the Vulkan backend's tolerance (float weights here:
// the device accumulates in fp32, the CPU rounds activations to fp16 for F16 weights).
TEST(Engine, VulkanAgreesWithTheCpuEngine) {
    auto model = test::load_or_die(test::fixture_model("mistral-gqa", "F16"));
    ASSERT_TRUE(model);
    EngineOptions o = small_options();
    o.device = "vulkan";
    auto gpu = make_engine(model, o);
    if (gpu->options().device != "vulkan") GTEST_SKIP() << "the engine could not use Vulkan (see its message)";
    auto cpu = make_engine(model, small_options());
    std::vector<Request> reqs;
    for (const auto& p : test::make_prompts(4, 20, 37, model_config(*model).n_vocab)) reqs.push_back(greedy(p, 6));
    const auto want = test::run_requests(*cpu, reqs), got = test::run_requests(*gpu, reqs);
    for (size_t i = 0; i < reqs.size(); ++i) {
        ASSERT_EQ(got[i].logits.size(), want[i].logits.size());
        // Teacher-forced comparison only while the tokens agree (a near-tie may pick another token).
        for (size_t k = 0; k < want[i].logits.size(); ++k) {
            double max_diff = 0, max_ref = 0;
            for (size_t v = 0; v < want[i].logits[k].size(); ++v) {
                max_diff = std::max(max_diff, (double)std::fabs(want[i].logits[k][v] - got[i].logits[k][v]));
                max_ref = std::max(max_ref, (double)std::fabs(want[i].logits[k][v]));
            }
            EXPECT_LT(max_diff, 2e-2 * std::max(1.0, max_ref)) << "request " << i << " step " << k;
            if (k < want[i].tokens.size() && got[i].tokens[k] != want[i].tokens[k]) break;
        }
    }
    EXPECT_GT(gpu->stats().max_step_sequences, 1) << "the device ran several sequences per pass";
}

TEST(Engine, BatchingIsRealAndCountersAddUp) {
    auto model = test::load_or_die(test::fixture_model("mistral-gqa", "Q8_0"));
    ASSERT_TRUE(model);
    auto e = make_engine(model, small_options());
    std::vector<Request> reqs;
    for (const auto& p : test::make_prompts(16, 8, 3, model_config(*model).n_vocab)) reqs.push_back(greedy(p, 8));
    int64_t prompt_tokens = 0;
    for (const auto& r : reqs) prompt_tokens += (int64_t)r.prompt.size();
    auto out = test::run_requests(*e, reqs, {}, false);
    const EngineStats st = e->stats();
    EXPECT_EQ(st.max_step_sequences, 16);  // one pass carried every sequence
    EXPECT_EQ(st.requests_done, 16);
    EXPECT_EQ(st.generated_tokens, 16 * 8);
    EXPECT_EQ(st.prompt_tokens, prompt_tokens);
    EXPECT_EQ(st.running, 0);
    EXPECT_EQ(st.waiting, 0);
    EXPECT_EQ(st.kv_blocks_used, 0);
    // The prompts fit one step (512 tokens); then 7 decode steps carry all 16 sequences.
    EXPECT_EQ(st.steps, 8);
    EXPECT_EQ(st.step_sequences, 16 * 8);
    for (const Outcome& o : out) EXPECT_EQ(o.tokens.size(), 8u);
}

TEST(Engine, PrefixReuseComputesOnlyTheSuffix) {
    auto model = test::load_or_die(test::fixture_model("mistral-gqa", "Q8_0"));
    ASSERT_TRUE(model);
    auto e = make_engine(model, small_options());
    const auto base = test::make_prompts(1, 1024, 0, model_config(*model).n_vocab, 3)[0];
    auto a = base, b = base;
    const auto sa = test::make_prompts(1, 32, 0, model_config(*model).n_vocab, 4)[0];
    const auto sb = test::make_prompts(1, 32, 0, model_config(*model).n_vocab, 5)[0];
    a.insert(a.end(), sa.begin(), sa.end());
    b.insert(b.end(), sb.begin(), sb.end());
    auto first = test::run_requests(*e, {greedy(a, 4)});
    const EngineStats s1 = e->stats();
    auto second = test::run_requests(*e, {greedy(b, 4)});
    const EngineStats s2 = e->stats();
    const int64_t computed = s2.prompt_tokens - s1.prompt_tokens;
    EXPECT_LE(computed, 16 + 32) << "the second request computes at most one block plus its suffix";
    EXPECT_GE(second[0].result.n_cached, 1024 - 16);
    EXPECT_EQ(s2.prefix_hits - s1.prefix_hits, 1);
    // The same request again: everything but the last block comes from the cache, same logits.
    auto again = test::run_requests(*e, {greedy(b, 4)});
    test::expect_same(second, again, "prefix-cache hit");
    // A fresh engine (no cache) gives the same logits.
    auto e2 = make_engine(model, small_options());
    auto cold = test::run_requests(*e2, {greedy(b, 4)});
    test::expect_same(cold, second, "cold vs cached prefix");
}

// llm-bench's two serving-engine tests report what the engine did: a wrong counter, a missed cache hit or a
// batch that did not carry every sequence shows here.
TEST(Engine, BenchmarksReportWhatTheEngineDid) {
    auto model = test::load_or_die(test::fixture_model("mistral-gqa", "Q8_0"));
    ASSERT_TRUE(model);
    auto e = make_engine(model, small_options());
    auto reuse = run_prefix_reuse_bench(*e, 100, 20, 7);
    ASSERT_TRUE(reuse) << reuse.error_message();
    EXPECT_EQ(reuse->first.prompt, 120);
    EXPECT_EQ(reuse->first.cached, 0);
    EXPECT_EQ(reuse->first.computed, 120);
    EXPECT_EQ(reuse->second.prompt, 120);
    EXPECT_EQ(reuse->second.cached, 96) << "the prefix's 6 full 16-token blocks";
    EXPECT_EQ(reuse->second.computed, 24);
    EXPECT_GT(reuse->first.ttft_ms, 0);
    EXPECT_GT(reuse->second.ttft_ms, 0);
    EXPECT_NE(prefix_reuse_md(*reuse).find("| second  |    120 |         96 |       24 |"), std::string::npos)
        << prefix_reuse_md(*reuse);

    auto e2 = make_engine(model, small_options());
    auto row = run_batched_bench(*e2, 24, 5, 4, 16, 3);
    ASSERT_TRUE(row) << row.error_message();
    EXPECT_EQ(row->n_kv, 4 * (24 + 5));
    EXPECT_DOUBLE_EQ(row->occupancy, 1.0) << "every decode step carries the 4 sequences";
    EXPECT_EQ(row->prefix_hit_tokens, 0) << "prompts admitted in one step compute their shared block side by side";
    EXPECT_NEAR(row->speed_tg, 4 * 5 / row->t_tg, 1e-9);

    EngineOptions o = small_options();
    o.step_tokens = 24;  // one prompt per step: each later sequence finds the first one's block in the cache
    auto e3 = make_engine(model, o);
    row = run_batched_bench(*e3, 24, 5, 4, 16, 3);
    ASSERT_TRUE(row) << row.error_message();
    EXPECT_EQ(row->prefix_hit_tokens, 3 * 16) << "the shared 16-token block, for the 3 sequences after the first";
}

TEST(Engine, MemoryPressurePreemptsAndCompletes) {
    auto model = test::load_or_die(test::fixture_model("mistral-gqa", "Q8_0"));
    ASSERT_TRUE(model);
    EngineOptions o = small_options();
    o.n_ctx = 256;
    o.kv_pool_tokens = 4 * 256;
    std::vector<Request> reqs;
    for (const auto& p : test::make_prompts(16, 60, 5, model_config(*model).n_vocab)) reqs.push_back(greedy(p, 100));
    auto e = make_engine(model, o);
    auto together = test::run_requests(*e, reqs);
    const EngineStats st = e->stats();
    EXPECT_GT(st.preemptions, 0);
    EXPECT_EQ(st.requests_done, 16);
    EXPECT_EQ(st.kv_blocks_used, 0);
    std::vector<Outcome> alone;
    auto e1 = make_engine(model, o);
    for (const Request& r : reqs) alone.push_back(test::run_requests(*e1, {r})[0]);
    test::expect_same(alone, together, "under memory pressure");
    int preempted = 0;
    for (const Outcome& x : together) preempted += x.result.n_preempted;
    EXPECT_EQ(preempted, st.preemptions);
}

TEST(Engine, RefusesWhatCanNeverFit) {
    auto model = test::load_or_die(test::fixture_model("mistral-gqa", "Q8_0"));
    ASSERT_TRUE(model);
    EngineOptions o = small_options();
    o.n_ctx = 256;
    auto e = make_engine(model, o);
    auto id = e->submit(greedy(std::vector<int32_t>(200, 5), 100), {});
    ASSERT_FALSE(id);
    EXPECT_NE(id.error_message().find("needs 300 tokens"), std::string::npos) << id.error_message();
    EXPECT_NE(id.error_message().find("at most 256 fit"), std::string::npos) << id.error_message();
    EXPECT_FALSE(e->submit(greedy({}, 4), {}));
    EXPECT_FALSE(e->submit(greedy({1, 5000}, 4), {}));
    o.kv_pool_tokens = 128;
    auto small = make_engine(model, o);
    auto id2 = small->submit(greedy(std::vector<int32_t>(100, 5), 100), {});
    ASSERT_FALSE(id2);
    EXPECT_NE(id2.error_message().find("at most 128 fit"), std::string::npos) << id2.error_message();
    EngineOptions bad = small_options();
    bad.kv_pool_tokens = int64_t{1} << 40;
    auto huge = Engine::create(model, bad);
    ASSERT_FALSE(huge);
    EXPECT_NE(huge.error_message().find("MiB"), std::string::npos) << huge.error_message();
}

TEST(Engine, CancelFreesBlocks) {
    auto model = test::load_or_die(test::fixture_model("mistral-gqa", "Q8_0"));
    ASSERT_TRUE(model);
    auto e = make_engine(model, small_options());
    bool done = false;
    RequestResult res;
    auto id = e->submit(greedy(std::vector<int32_t>(100, 7), 50), {{}, [&](const RequestResult& r) { done = true, res = r; }});
    ASSERT_TRUE(id);
    auto keep = e->submit(greedy(std::vector<int32_t>(40, 9), 50), {});
    ASSERT_TRUE(keep);
    for (int i = 0; i < 3; ++i) e->step();
    const int64_t used = e->stats().kv_blocks_used;
    EXPECT_GT(used, 0);
    e->cancel(*id);
    e->step();
    EXPECT_TRUE(done);
    EXPECT_EQ(res.stop_reason, StopReason::Cancelled);
    EXPECT_EQ(e->stats().cancellations, 1);
    // Only the other request's blocks remain: (40 + 4 tokens) / 16 -> 3 blocks.
    EXPECT_EQ(e->stats().kv_blocks_used, 3);
    // Cancelled before its first step: on_done only.
    int events = 0;
    bool done2 = false;
    auto id3 = e->submit(greedy(std::vector<int32_t>(10, 7), 5),
                         {[&](const TokenEvent&) { ++events; }, [&](const RequestResult&) { done2 = true; }});
    e->cancel(*id3);
    e->run_until_idle();
    EXPECT_TRUE(done2);
    EXPECT_EQ(events, 0);
    EXPECT_EQ(e->stats().kv_blocks_used, 0);
}

TEST(Engine, StopsMaxTokensAndLogprobsAreConsistent) {
    auto model = test::load_or_die(test::fixture_model("mistral-gqa", "Q8_0"));
    ASSERT_TRUE(model);
    const Tokenizer* tok = model->tokenizer();
    ASSERT_TRUE(tok);
    auto e = make_engine(model, small_options());
    Request r = greedy(tok->encode("Once upon a time", true, false), 24);
    r.top_logprobs = 3;
    auto base = test::run_requests(*e, {r})[0];
    ASSERT_EQ(base.tokens.size(), 24u);
    EXPECT_EQ(base.result.stop_reason, StopReason::MaxTokens);
    EXPECT_EQ(base.streamed, base.text);
    EXPECT_EQ(base.text, tok->decode(base.tokens));
    for (size_t i = 0; i < base.events.size(); ++i) {
        const TokenEvent& ev = base.events[i];
        ASSERT_EQ(ev.top_logprobs.size(), 3u);
        EXPECT_EQ(ev.top_logprobs[0].token, ev.token);  // greedy: the best one
        EXPECT_FLOAT_EQ(ev.top_logprobs[0].logprob, ev.logprob);
        EXPECT_LE(ev.top_logprobs[1].logprob, ev.top_logprobs[0].logprob);
        // log-softmax of the raw logits
        const auto& l = base.logits[i];
        double sum = 0;
        const float mx = *std::max_element(l.begin(), l.end());
        for (float x : l) sum += std::exp((double)x - mx);
        EXPECT_NEAR(ev.logprob, l[ev.token] - mx - std::log(sum), 1e-5);
    }
    // A stop string taken from the middle of the text: the text ends before it, tokens up to where it completed.
    ASSERT_GT(base.text.size(), 12u);
    const std::string stop = base.text.substr(base.text.size() / 2, 4);
    Request rs = r;
    rs.stop = {stop};
    auto cut = test::run_requests(*e, {rs})[0];
    EXPECT_EQ(cut.result.stop_reason, StopReason::StopString);
    EXPECT_EQ(cut.text, base.text.substr(0, base.text.find(stop)));
    EXPECT_EQ(cut.streamed, cut.text);
    ASSERT_LE(cut.tokens.size(), base.tokens.size());
    EXPECT_TRUE(std::equal(cut.tokens.begin(), cut.tokens.end(), base.tokens.begin()));
    // A stop token: generation ends before it.
    Request rt = r;
    rt.stop_tokens = {base.tokens[5]};
    auto st = test::run_requests(*e, {rt})[0];
    const size_t first = std::find(base.tokens.begin(), base.tokens.end(), base.tokens[5]) - base.tokens.begin();
    EXPECT_EQ(st.tokens, std::vector<int32_t>(base.tokens.begin(), base.tokens.begin() + first));
}

TEST(Engine, OwnThreadServesConcurrentSubmits) {
    auto model = test::load_or_die(test::fixture_model("mistral-gqa", "Q8_0"));
    ASSERT_TRUE(model);
    auto e = make_engine(model, small_options());
    e->start();
    std::mutex mu;
    std::condition_variable cv;
    int done = 0;
    std::vector<std::vector<int32_t>> toks(8);
    auto prompts = test::make_prompts(8, 12, 5, model_config(*model).n_vocab);
    for (int i = 0; i < 8; ++i) {
        auto id = e->submit(greedy(prompts[i], 6), {{}, [&, i](const RequestResult& r) {
                                                        std::lock_guard l(mu);
                                                        toks[i] = r.tokens;
                                                        ++done;
                                                        cv.notify_all();
                                                    }});
        ASSERT_TRUE(id);
    }
    std::unique_lock l(mu);
    cv.wait(l, [&] { return done == 8; });
    l.unlock();
    e->stop();
    for (const auto& t : toks) EXPECT_EQ(t.size(), 6u);
}

TEST(Engine, EmbedIsMeanPooledAndNormalized) {
    auto model = test::load_or_die(test::fixture_model("mistral-gqa", "F16"));
    ASSERT_TRUE(model);
    auto e = make_engine(model, small_options());
    auto v = e->embed({1, 50, 60, 70}, true);
    ASSERT_TRUE(v) << v.error_message();
    ASSERT_EQ((int)v->size(), model_config(*model).d_model);
    double n = 0;
    for (float x : *v) n += (double)x * x;
    EXPECT_NEAR(n, 1.0, 1e-5);
    EXPECT_FALSE(e->embed({}, true));
}

}  // namespace
}  // namespace llm
