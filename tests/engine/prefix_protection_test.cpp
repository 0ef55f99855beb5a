// Prefix-cache eviction policy (issues 13, 14): short side requests between the turns of a conversation must not
// evict its cached prefix (a long one, or one marked as a session's main thread), and a pool full of long chains
// still evicts (nothing deadlocks).
#include <gtest/gtest.h>

#include "engine_test_util.hpp"
#include "runtime/kv_pool.hpp"

namespace llm {
namespace {

using test::greedy;
using test::Outcome;

// Registers and releases a chain of n fresh blocks (hashes from `tag`), last block first as the engine does.
std::vector<int32_t> cache_chain(BlockAllocator& a, int n, uint64_t tag, bool long_chain) {
    std::vector<int32_t> blocks;
    for (int i = 0; i < n; ++i) {
        const int32_t b = a.allocate();
        EXPECT_GE(b, 0);
        EXPECT_TRUE(a.register_hash(b, tag * 1000 + i));
        blocks.push_back(b);
    }
    for (auto it = blocks.rbegin(); it != blocks.rend(); ++it) a.release(*it, long_chain);
    return blocks;
}

TEST(PrefixProtection, ColdBlocksAreEvictedBeforeProtectedOnes) {
    BlockAllocator a(16);  // protected cap 12
    cache_chain(a, 6, 1, true);
    EXPECT_EQ(a.n_protected(), 6);
    for (uint64_t t = 2; t < 40; ++t) cache_chain(a, 3, t, false);  // ~7 pools of short chains
    for (int i = 0; i < 6; ++i) EXPECT_GE(a.lookup(1000 + i), 0) << "protected block " << i << " evicted";
    EXPECT_GT(a.evictions(), 0);
    // Only protected blocks left to evict: they go too, tail first (the head stays reachable longest).
    std::vector<int32_t> held;
    for (int i = 0; i < 16 - 6 + 2; ++i) held.push_back(a.allocate());
    for (int32_t b : held) EXPECT_GE(b, 0);
    EXPECT_GE(a.lookup(1000 + 0), 0);
    EXPECT_GE(a.lookup(1000 + 3), 0);
    EXPECT_LT(a.lookup(1000 + 5), 0);
    EXPECT_LT(a.lookup(1000 + 4), 0);
    for (int i = 0; i < 4; ++i) held.push_back(a.allocate());
    EXPECT_EQ(a.allocate(), -1) << "every block referenced";
    for (int32_t b : held) a.release(b);
    EXPECT_EQ(a.n_available(), 16);
}

TEST(PrefixProtection, ProtectedShareIsCapped) {
    BlockAllocator a(16);  // cap 12: the oldest protected blocks turn cold beyond it
    cache_chain(a, 8, 1, true);
    cache_chain(a, 8, 2, true);
    EXPECT_EQ(a.n_protected(), 12);
    EXPECT_EQ(a.n_cached(), 16);
    cache_chain(a, 4, 3, false);  // evicts the 4 cold ones: the first chain's tail
    for (int i = 0; i < 4; ++i) EXPECT_GE(a.lookup(1000 + i), 0);
    for (int i = 4; i < 8; ++i) EXPECT_LT(a.lookup(1000 + i), 0);
    for (int i = 0; i < 8; ++i) EXPECT_GE(a.lookup(2000 + i), 0);
}

std::unique_ptr<Engine> small_pool_engine(std::shared_ptr<const Model> m) {
    EngineOptions o;
    o.n_ctx = 512;
    o.kv_pool_tokens = 64 * 16;  // 64 blocks; a chain is long from 8 blocks (an eighth of the pool)
    o.n_threads = 2;
    auto e = Engine::create(std::move(m), o);
    EXPECT_TRUE(e) << e.error_message();
    return e ? std::move(*e) : nullptr;
}

// A conversation's turn of conv_tokens, 48 distinct side requests of 60 tokens (+4 generated: 4 blocks each), 8 at
// a time (3 pools' worth), then the conversation's next turn: returns how many of its tokens came from the cache.
int cached_after_side_requests(Engine& e, int n_vocab, int conv_tokens, bool keep_prefix) {
    const auto conv = test::make_prompts(1, conv_tokens, 0, n_vocab, 11)[0];
    Request first = greedy(conv, 8);
    first.keep_prefix = keep_prefix;
    auto turn1 = test::run_requests(e, {first}, {}, false);
    const int64_t ev0 = e.stats().prefix_evictions;
    const auto sides = test::make_prompts(48, 60, 0, n_vocab, 12);
    for (size_t i = 0; i < sides.size(); i += 8) {
        std::vector<Request> burst;
        for (size_t j = i; j < i + 8; ++j) burst.push_back(greedy(sides[j], 4));
        test::run_requests(e, burst, {}, false);
    }
    EXPECT_GT(e.stats().prefix_evictions - ev0, 64) << "the side requests did cycle the pool";
    // The next turn: the previous prompt and answer plus a new user message.
    auto turn2 = conv;
    turn2.insert(turn2.end(), turn1[0].tokens.begin(), turn1[0].tokens.end());
    const auto user = test::make_prompts(1, 40, 0, n_vocab, 13)[0];
    turn2.insert(turn2.end(), user.begin(), user.end());
    Request second = greedy(turn2, 4);
    second.keep_prefix = keep_prefix;
    auto next = test::run_requests(e, {second}, {}, false);
    EXPECT_EQ(e.stats().kv_blocks_used, 0);
    return next[0].result.n_cached;
}

TEST(PrefixProtection, SideRequestsKeepTheConversationPrefix) {
    auto model = test::load_or_die(test::fixture_model("mistral-gqa", "Q8_0"));
    ASSERT_TRUE(model);
    auto e = small_pool_engine(model);
    ASSERT_TRUE(e);
    // 400 tokens: 25 full blocks, a long chain (from 8 blocks) without being marked.
    EXPECT_GE(cached_after_side_requests(*e, model_config(*model).n_vocab, 400, false), 400 / 16 * 16)
        << "the conversation's prefix was evicted";
}

TEST(PrefixProtection, AMainThreadIsKeptHoweverShort) {
    auto model = test::load_or_die(test::fixture_model("mistral-gqa", "Q8_0"));
    ASSERT_TRUE(model);
    const int n_vocab = model_config(*model).n_vocab;
    // 100 tokens: 6 full blocks, short of a long chain. Unmarked, the side requests evict it; marked as the
    // session's main thread (Request::keep_prefix), it stays.
    auto e = small_pool_engine(model);
    ASSERT_TRUE(e);
    EXPECT_LT(cached_after_side_requests(*e, n_vocab, 100, false), 16) << "unmarked, it should have been evicted";
    auto kept = small_pool_engine(model);
    ASSERT_TRUE(kept);
    EXPECT_GE(cached_after_side_requests(*kept, n_vocab, 100, true), 100 / 16 * 16)
        << "the main thread's prefix was evicted";
}

TEST(PrefixProtection, PoolFullOfLongChainsStillEvicts) {
    auto model = test::load_or_die(test::fixture_model("mistral-gqa", "Q8_0"));
    ASSERT_TRUE(model);
    auto e = small_pool_engine(model);
    ASSERT_TRUE(e);
    // Long chains (13+ blocks each) released one after the other, then several at once: five pools' worth.
    const auto longs = test::make_prompts(24, 200, 0, model_config(*model).n_vocab, 21);
    for (size_t i = 0; i < 8; ++i) test::run_requests(*e, {greedy(longs[i], 8)}, {}, false);
    std::vector<Request> together;
    for (size_t i = 8; i < longs.size(); ++i) together.push_back(greedy(longs[i], 8));
    auto out = test::run_requests(*e, together, {}, false);
    for (const Outcome& o : out) EXPECT_EQ(o.tokens.size(), 8u);
    const EngineStats st = e->stats();
    EXPECT_EQ(st.requests_done, 24);
    EXPECT_GT(st.prefix_evictions, 0);
    EXPECT_EQ(st.kv_blocks_used, 0);
}

}  // namespace
}  // namespace llm
