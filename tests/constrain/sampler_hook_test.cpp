// The sampler's constraint hook (runtime/sampler.hpp TokenConstraint) with a GrammarConstraint on a synthetic
// vocabulary: masked tokens never win, whatever their logits and whatever the sampling settings; a dead end
// is reported instead of sampling a banned token.
#include <gtest/gtest.h>

#include <random>

#include "constrain/constraint.hpp"
#include "constrain_test_util.hpp"
#include "runtime/sampler.hpp"

using namespace constrain_test;

namespace {

// Tokens: 0 "{", 1 "}", 2 "\"a\"", 3 ":", 4 "1", 5 " ", 6 "x", 7 end of generation.
std::shared_ptr<const llm::VocabTrie> small_vocab() {
    const std::vector<std::string> pieces = {"{", "}", "\"a\"", ":", "1", " ", "x", ""};
    std::vector<bool> text(pieces.size(), true);
    text[7] = false;
    return std::make_shared<const llm::VocabTrie>(llm::VocabTrie::build(pieces, text, {7}));
}

}  // namespace

TEST(SamplerHook, MaskedTokensNeverWin) {
    const auto g = must_parse("root ::= \"{\" (\"\\\"a\\\"\" \":\" \" \"? [0-9]+)? \"}\"\n");
    auto c = llm::GrammarConstraint::create(g, small_vocab());
    ASSERT_TRUE(c.has_value()) << c.error_message();
    for (float temp : {0.0f, 0.7f, 1.5f}) {
        llm::SamplerConfig cfg;
        cfg.temperature = temp;
        cfg.top_k = 0, cfg.top_p = 1.0f, cfg.min_p = 0.0f;  // nothing else filters
        auto s = llm::Sampler::create(cfg, 8);
        ASSERT_TRUE(s.has_value());
        auto constraint = (*c)->fork();
        s->set_constraint(constraint);
        EXPECT_NE(s->describe().find("constraint"), std::string::npos);
        std::mt19937 rng(static_cast<unsigned>(temp * 10));
        for (int run = 0; run < 20; ++run) {
            constraint->reset();
            std::string text;
            for (int step = 0; step < 20; ++step) {
                std::vector<float> logits(8);
                for (auto& l : logits) l = std::uniform_real_distribution<float>(-5, 5)(rng);
                logits[6] = 100.0f;  // "x" is never allowed, however likely
                const int32_t t = s->sample(logits);
                ASSERT_GE(t, 0) << s->constraint_status().message();
                ASSERT_NE(t, 6);
                ASSERT_TRUE(constraint->accept(t).is_ok()) << "token " << t << " after " << text;
                if (t == 7) break;
                text += std::vector<std::string>{"{", "}", "\"a\"", ":", "1", " ", "x"}[t];
            }
            ASSERT_TRUE(constraint->is_complete()) << text;
            EXPECT_TRUE(matcher_matches(graph_of(g), text)) << text;
        }
    }
}

TEST(SamplerHook, DeadEndIsReported) {
    // Only "y" may come first, and no token holds it.
    auto c = llm::GrammarConstraint::create(must_parse("root ::= \"y\"\n"), small_vocab());
    ASSERT_TRUE(c.has_value());
    auto s = llm::Sampler::create(llm::SamplerConfig::greedy(), 8);
    ASSERT_TRUE(s.has_value());
    s->set_constraint(*c);
    std::vector<float> logits(8, 0.0f);
    EXPECT_EQ(s->sample(logits), -1);
    EXPECT_NE(s->constraint_status().message().find("no token"), std::string::npos) << s->constraint_status().message();
    s->set_constraint(nullptr);
    EXPECT_GE(s->sample(logits), 0);
}
