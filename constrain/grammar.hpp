// Grammar IR for constrained decoding: rules of alternatives of sequences of code-point sets and rule
// references. GBNF text (llama.cpp's syntax) and JSON-schema compilation produce it; the matcher compiles
// it to a byte-level program (constrain/byte_program.hpp).
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.hpp"

namespace llm {

struct CharRange {
    uint32_t lo, hi;  // inclusive code points
    bool operator==(const CharRange&) const = default;
};

// One item of a sequence: one code point out of a set, or a reference to a rule.
struct GrammarSymbol {
    enum class Kind : uint8_t { Chars, Rule };
    Kind kind = Kind::Chars;
    uint32_t rule = 0;             // Kind::Rule: index into Grammar::rules
    std::vector<CharRange> chars;  // Kind::Chars: sorted, disjoint, not adjacent, not empty
    bool operator==(const GrammarSymbol&) const = default;
};

using GrammarSequence = std::vector<GrammarSymbol>;

struct GrammarRule {
    std::string name;
    std::vector<GrammarSequence> alternatives;  // an empty sequence matches the empty string
};

struct Grammar {
    std::vector<GrammarRule> rules;
    uint32_t root = 0;
    size_t symbol_count() const;
};

// Bounds that keep hostile or mistaken input from exhausting memory or time. Exceeding one is an error.
struct GbnfLimits {
    size_t max_bytes = 4u << 20;       // grammar text
    int max_nesting = 128;             // depth of parentheses
    uint32_t max_repetition = 10000;   // m and n of {m,n}
    size_t max_symbols = 4u << 20;     // symbols in all rules after repetitions are expanded
};

// Parses llama.cpp's GBNF: `name ::= alternatives` rules, `|`, groups, `* + ? {m} {m,} {m,n}` (applied to the
// preceding item; a string literal repeats as a whole), "literals" and [classes] with \x \u \U \t \r \n \\ \"
// \[ \] \- escapes, [^negated classes], `.` (any character), `#` comments; newlines end a rule except inside
// parentheses or after `|`. The start rule is `root`. Errors name line:column and what was expected. Token
// references (<...>, <[id]>, !<...>) are not supported (this engine matches bytes) and are reported as such.
// The result passes check_grammar().
Expected<Grammar> parse_gbnf(std::string_view text, const GbnfLimits& limits = {});

// Structural checks every consumer relies on: rule references in range, character sets well formed (sorted,
// disjoint, within U+0000..U+10FFFF), and no left recursion (a rule that can reach itself without consuming
// a character: the matcher's expansion would never end). The message names the rules of the cycle. The root must
// derive at least one finite string (a grammar with none could never let a generation end).
Status check_grammar(const Grammar& g);

// Per rule, the height of its shortest derivation tree (1 for a rule with an alternative of characters only);
// kNoDerivation for a rule that derives no finite string. References must be in range.
constexpr uint32_t kNoDerivation = UINT32_MAX;
std::vector<uint32_t> derivation_heights(const Grammar& g);

// GBNF text that parse_gbnf() reads back into the same language (rule names kept; helper rules get names
// like `rule-3`). For debugging (`llm-run --print-grammar`) and round-trip tests.
std::string to_gbnf(const Grammar& g);

// Appends code point cp as GBNF writes it inside a "literal" (in_class false) or a [class] (in_class true),
// escaping what the syntax needs and control characters.
void append_gbnf_char(std::string& out, uint32_t cp, bool in_class);
// A GBNF "literal" matching the UTF-8 text exactly.
std::string gbnf_literal(std::string_view utf8_text);
// A GBNF [class] for normalized ranges.
std::string gbnf_class(const std::vector<CharRange>& ranges);

// Code points that UTF-8 can carry (U+0000..U+10FFFF without the surrogates): the set `.` stands for.
std::vector<CharRange> any_char_ranges();
// Sorts, merges overlapping and adjacent ranges.
void normalize_ranges(std::vector<CharRange>& r);
// Complement within any_char_ranges(); the input must be normalized.
std::vector<CharRange> complement_ranges(const std::vector<CharRange>& r);

}  // namespace llm
