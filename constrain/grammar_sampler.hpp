// Random sentences of a grammar, by walking it: random alternatives until a length or depth budget is
// spent, then the alternative with the shortest derivation, which always terminates. For tests (random
// valid instances of a JSON schema), benchmarks (realistic matcher states) and fuzzing.
#pragma once
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "constrain/grammar.hpp"

namespace llm {

class GrammarSampler {
public:
    GrammarSampler(const Grammar& g, uint64_t seed);
    // A sentence of about `budget` bytes at most (more when the grammar forces it).
    std::string sentence(size_t budget = 200, int max_depth = 40);

private:
    uint32_t alt_height(const GrammarSequence& alt) const;
    void gen_rule(uint32_t r, int depth);

    const Grammar& g_;
    std::mt19937_64 rng_;
    std::vector<uint32_t> height_;  // height of the shortest derivation tree of each rule
    std::string out_;
    size_t budget_ = 0;
    int max_depth_ = 0;
};

}  // namespace llm
