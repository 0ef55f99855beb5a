// GrammarSampler: random derivations with a budget.
#include "constrain/grammar_sampler.hpp"

#include <algorithm>

#include "tokenizer/unicode.hpp"

namespace llm {
namespace {
constexpr uint32_t kInf = kNoDerivation;
}

GrammarSampler::GrammarSampler(const Grammar& g, uint64_t seed) : g_(g), rng_(seed), height_(derivation_heights(g)) {}

uint32_t GrammarSampler::alt_height(const GrammarSequence& alt) const {
    uint32_t h = 0;
    for (const auto& s : alt)
        if (s.kind == GrammarSymbol::Kind::Rule) h = std::max(h, height_[s.rule]);
    return h;
}

std::string GrammarSampler::sentence(size_t budget, int max_depth) {
    out_.clear();
    budget_ = budget;
    max_depth_ = max_depth;
    if (g_.root < g_.rules.size() && height_[g_.root] != kInf) gen_rule(g_.root, 0);
    return out_;
}

void GrammarSampler::gen_rule(uint32_t r, int depth) {
    const auto& alts = g_.rules[r].alternatives;
    size_t pick = 0;
    if (out_.size() >= budget_ || depth >= max_depth_) {
        for (size_t a = 1; a < alts.size(); ++a)
            if (alt_height(alts[a]) < alt_height(alts[pick])) pick = a;
    } else {
        // Random among the alternatives that can terminate.
        do pick = std::uniform_int_distribution<size_t>(0, alts.size() - 1)(rng_);
        while (alt_height(alts[pick]) == kInf);
    }
    for (const auto& s : alts[pick]) {
        if (s.kind == GrammarSymbol::Kind::Rule) {
            gen_rule(s.rule, depth + 1);
            continue;
        }
        // Mostly ASCII (what JSON mostly holds, and readable), sometimes any code point of the set.
        std::vector<CharRange> ascii;
        for (auto c : s.chars)
            if (c.lo < 0x80) ascii.push_back({c.lo, std::min<uint32_t>(c.hi, 0x7F)});
        const auto& pool = (!ascii.empty() && rng_() % 8 != 0) ? ascii : s.chars;
        const auto& range = pool[rng_() % pool.size()];
        const uint32_t span = std::min<uint32_t>(range.hi - range.lo, 0x3FFF);
        utf8::append_codepoint(out_, range.lo + static_cast<uint32_t>(rng_() % (span + 1)));
    }
}

}  // namespace llm
