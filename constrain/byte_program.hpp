// The grammar compiled to bytes, which is what the matcher runs: each character set becomes UTF-8 byte-range
// sequences (one byte-set element for ASCII-only sets, an inline sequence when one suffices, else a helper
// rule with one alternative per sequence shape), so the matcher never decodes UTF-8 and a token that ends in
// the middle of a character is handled like any other prefix.
#pragma once
#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "constrain/grammar.hpp"

namespace llm {

// One element: what to do at a position. Alternatives are laid out back to back, each closed by End.
struct ByteElem {
    enum Op : uint8_t { End, Bytes, Rule };
    Op op;
    uint32_t arg;  // Bytes: index into ByteProgram::byte_sets; Rule: rule index
};

using ByteSet = std::array<uint64_t, 4>;

inline bool byte_set_has(const ByteSet& s, uint8_t b) { return (s[b >> 6] >> (b & 63)) & 1; }

struct ByteProgram {
    std::vector<ByteElem> elems;
    std::vector<uint32_t> alt_starts;   // positions (into elems) where alternatives start
    std::vector<uint32_t> rule_alts;    // rule r's alternatives: alt_starts[rule_alts[r] .. rule_alts[r + 1])
    std::vector<ByteSet> byte_sets;
    std::vector<std::string> rule_names;
    uint32_t root = 0;

    size_t n_rules() const { return rule_names.size(); }
};

// Compiles a grammar that passed check_grammar().
ByteProgram compile_bytes(const Grammar& g);

// UTF-8 encodings of the code points lo..hi (surrogates skipped) as sequences of byte ranges, in code-point
// order. Each sequence is 1..4 ranges; together they match exactly the encodings of the range.
struct Utf8Seq {
    uint8_t len = 0;
    std::array<uint8_t, 4> lo{}, hi{};
};
void utf8_sequences(uint32_t lo, uint32_t hi, std::vector<Utf8Seq>& out);

}  // namespace llm
