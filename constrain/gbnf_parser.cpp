// GBNF text -> Grammar IR. A hand-written recursive-descent parser over llama.cpp's syntax that reports the
// first error as "line:column: what was expected, what was found" and never reads past the input.
#include <algorithm>
#include <unordered_map>

#include "constrain/grammar.hpp"
#include "tokenizer/unicode.hpp"

namespace llm {
namespace {

constexpr uint32_t kNone = UINT32_MAX;
constexpr uint64_t kUnbounded = UINT64_MAX;

bool is_word_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-';
}
bool is_digit(char c) { return c >= '0' && c <= '9'; }

class GbnfParser {
public:
    GbnfParser(std::string_view src, const GbnfLimits& limits) : src_(src), lim_(limits) {}

    Expected<Grammar> run() {
        if (src_.size() > lim_.max_bytes)
            return error("grammar is {} bytes, more than the limit of {}", src_.size(), lim_.max_bytes);
        skip_space(true);
        while (ok() && pos_ < src_.size()) parse_rule();
        if (!ok()) return status_;
        for (uint32_t r = 0; r < g_.rules.size(); ++r)
            if (helper_parent_[r] == kNone && !defined_[r])
                return fail_at(first_ref_[r], fmt::format("undefined rule '{}'", g_.rules[r].name)), status_;
        auto root = ids_.find("root");
        if (root == ids_.end() || !defined_[root->second])
            return error("the grammar has no 'root' rule (the start rule must be called root)");
        g_.root = root->second;
        name_helpers();
        LLM_TRY(check_grammar(g_));
        return std::move(g_);
    }

private:
    bool ok() const { return status_.is_ok(); }
    char peek(size_t ahead = 0) const { return pos_ + ahead < src_.size() ? src_[pos_ + ahead] : '\0'; }
    bool at_end() const { return pos_ >= src_.size(); }

    std::string describe_here() const {
        if (at_end()) return "the end of the input";
        const unsigned char c = static_cast<unsigned char>(src_[pos_]);
        if (c == '\n' || c == '\r') return "a newline";
        if (c < 0x20 || c == 0x7F) return fmt::format("byte 0x{:02X}", c);
        const size_t n = utf8::valid_seq_len(src_, pos_);
        return fmt::format("'{}'", n ? src_.substr(pos_, n) : std::string_view("\xEF\xBF\xBD"));
    }

    // Records the first error only; later calls are no-ops so the unwinding code stays simple.
    bool fail_at(size_t at, const std::string& what) {
        if (!ok()) return false;
        size_t line = 1, line_start = 0;
        for (size_t i = 0; i < at && i < src_.size(); ++i)
            if (src_[i] == '\n') ++line, line_start = i + 1;
        size_t col = 1;  // in characters, not bytes
        for (size_t i = line_start; i < at && i < src_.size(); ++i)
            if ((static_cast<unsigned char>(src_[i]) & 0xC0) != 0x80) ++col;
        status_ = error("{}:{}: {}", line, col, what);
        return false;
    }
    bool fail(const std::string& expected) { return fail_at(pos_, expected + ", found " + describe_here()); }

    void skip_space(bool newline_ok) {
        while (!at_end()) {
            const char c = src_[pos_];
            if (c == ' ' || c == '\t' || (newline_ok && (c == '\n' || c == '\r'))) {
                ++pos_;
            } else if (c == '#') {
                while (!at_end() && src_[pos_] != '\n' && src_[pos_] != '\r') ++pos_;
            } else {
                break;
            }
        }
    }

    uint32_t rule_id(std::string_view name, size_t ref_pos) {
        auto [it, inserted] = ids_.emplace(std::string(name), static_cast<uint32_t>(g_.rules.size()));
        if (inserted) {
            g_.rules.push_back({std::string(name), {}});
            defined_.push_back(false);
            first_ref_.push_back(ref_pos);
            helper_parent_.push_back(kNone);
        }
        return it->second;
    }

    uint32_t new_helper(uint32_t owner) {
        g_.rules.push_back({});
        defined_.push_back(true);
        first_ref_.push_back(pos_);
        helper_parent_.push_back(helper_parent_[owner] == kNone ? owner : helper_parent_[owner]);
        return static_cast<uint32_t>(g_.rules.size() - 1);
    }

    bool count_symbols(uint64_t n) {
        n_symbols_ += n;
        if (n_symbols_ > lim_.max_symbols)
            return fail_at(pos_, fmt::format("the grammar expands to more than {} symbols (repetitions are "
                                              "expanded); reduce repetition counts",
                                              lim_.max_symbols));
        return true;
    }

    void parse_rule() {
        const size_t start = pos_;
        while (!at_end() && is_word_char(src_[pos_])) ++pos_;
        if (pos_ == start) return (void)fail("expected a rule name (letters, digits, '-')");
        const std::string_view name = src_.substr(start, pos_ - start);
        skip_space(false);
        if (src_.substr(pos_, 3) != "::=") return (void)fail(fmt::format("expected '::=' after rule name '{}'", name));
        pos_ += 3;
        const uint32_t id = rule_id(name, start);
        if (defined_[id]) {
            const size_t prev = def_pos_.at(id);
            size_t line = 1;
            for (size_t i = 0; i < prev; ++i) line += src_[i] == '\n';
            fail_at(start, fmt::format("rule '{}' is defined twice (first on line {})", name, line));
            return;
        }
        defined_[id] = true;
        def_pos_[id] = start;
        skip_space(true);
        if (!parse_alternates(id, false, 0)) return;
        if (peek() == '\r') pos_ += peek(1) == '\n' ? 2 : 1;
        else if (peek() == '\n') ++pos_;
        else if (!at_end()) return (void)fail(fmt::format("expected a newline or the end of the input after rule '{}'", name));
        skip_space(true);
    }

    bool parse_alternates(uint32_t rule, bool nested, int depth) {
        std::vector<GrammarSequence> alts;
        alts.emplace_back();
        if (!parse_sequence(rule, nested, depth, alts.back())) return false;
        while (peek() == '|') {
            ++pos_;
            skip_space(true);
            alts.emplace_back();
            if (!parse_sequence(rule, nested, depth, alts.back())) return false;
        }
        g_.rules[rule].alternatives = std::move(alts);
        return true;
    }

    // One code point of a literal or class: an escape or one UTF-8 character.
    bool parse_char(uint32_t& cp) {
        if (at_end()) return fail("expected a character");
        if (src_[pos_] == '\\') {
            const size_t esc = pos_;
            const char e = peek(1);
            int hex = 0;
            switch (e) {
                case 'x': hex = 2; break;
                case 'u': hex = 4; break;
                case 'U': hex = 8; break;
                case 't': cp = '\t'; pos_ += 2; return true;
                case 'r': cp = '\r'; pos_ += 2; return true;
                case 'n': cp = '\n'; pos_ += 2; return true;
                case '\\': case '"': case '[': case ']': case '-':
                    cp = static_cast<uint8_t>(e);
                    pos_ += 2;
                    return true;
                default: {
                    const size_t n = pos_ + 1 < src_.size() ? std::max<size_t>(1, utf8::valid_seq_len(src_, pos_ + 1)) : 0;
                    return fail_at(esc, fmt::format("unknown escape '\\{}' (known: \\x \\u \\U \\t \\r \\n \\\\ \\\" \\[ "
                                                    "\\] \\-)",
                                                    src_.substr(pos_ + 1, n)));
                }
            }
            pos_ += 2;
            uint64_t v = 0;
            for (int i = 0; i < hex; ++i, ++pos_) {
                const char c = peek();
                int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
                if (d < 0) return fail(fmt::format("expected {} hex digits after '\\{}'", hex, e));
                v = v * 16 + d;
            }
            if (v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF))
                return fail_at(esc, fmt::format("U+{:X} is not a Unicode scalar value", v));
            cp = static_cast<uint32_t>(v);
            return true;
        }
        const size_t n = utf8::valid_seq_len(src_, pos_);
        if (n == 0) return fail_at(pos_, "invalid UTF-8 in the grammar");
        cp = utf8::decode(src_, pos_);
        return true;
    }

    bool parse_literal(GrammarSequence& out) {
        ++pos_;  // opening quote
        while (true) {
            if (at_end()) return fail("expected a closing '\"'");
            if (peek() == '"') break;
            uint32_t cp;
            if (!parse_char(cp) || !count_symbols(1)) return false;
            out.push_back({GrammarSymbol::Kind::Chars, 0, {{cp, cp}}});
        }
        ++pos_;
        return true;
    }

    bool parse_class(GrammarSequence& out) {
        const size_t open = pos_++;
        bool negated = false;
        if (peek() == '^') negated = true, ++pos_;
        std::vector<CharRange> ranges;
        while (peek() != ']') {
            if (at_end()) return fail_at(open, "unterminated character class: expected ']'");
            uint32_t lo = 0, hi = 0;
            if (!parse_char(lo)) return false;
            hi = lo;
            if (peek() == '-' && peek(1) != ']' && pos_ + 1 < src_.size()) {
                ++pos_;
                const size_t at = pos_;
                if (!parse_char(hi)) return false;
                if (hi < lo) return fail_at(at, fmt::format("range end U+{:04X} is below its start U+{:04X}", hi, lo));
            }
            ranges.push_back({lo, hi});
        }
        ++pos_;
        if (ranges.empty()) return fail_at(open, "empty character class '[]'");
        normalize_ranges(ranges);
        if (negated) ranges = complement_ranges(ranges);
        if (ranges.empty()) return fail_at(open, "the negated class excludes every character");
        if (!count_symbols(1)) return false;
        out.push_back({GrammarSymbol::Kind::Chars, 0, std::move(ranges)});
        return true;
    }

    bool parse_uint(uint64_t& v) {
        if (!is_digit(peek())) return fail("expected a number");
        v = 0;
        while (is_digit(peek())) {
            v = v * 10 + (src_[pos_++] - '0');
            if (v > lim_.max_repetition) return fail_at(pos_ - 1, fmt::format("repetition count above the limit of {}", lim_.max_repetition));
        }
        return true;
    }

    // Rewrites out[item_start, end) as that item repeated m..n times (n == kUnbounded: no maximum), with
    // helper rules as llama.cpp does: X{m,n} = X..X (m times) R(n-m), R(k) ::= X R(k-1) | "" ; X* uses
    // R ::= X R | "" (a tail call: the matcher's stack does not grow with the count).
    bool apply_repetition(uint32_t owner, GrammarSequence& out, size_t item_start, uint64_t m, uint64_t n) {
        if (item_start == out.size()) return fail("expected an item before the repetition operator");
        GrammarSequence item(out.begin() + item_start, out.end());
        const uint64_t copies = m + (n == kUnbounded ? 1 : n - m);
        if (!count_symbols(item.size() * copies + copies)) return false;
        out.resize(item_start);
        for (uint64_t i = 0; i < m; ++i) out.insert(out.end(), item.begin(), item.end());
        if (n == kUnbounded) {
            const uint32_t r = new_helper(owner);
            GrammarSequence loop = item;
            loop.push_back({GrammarSymbol::Kind::Rule, r, {}});
            g_.rules[r].alternatives = {std::move(loop), {}};
            out.push_back({GrammarSymbol::Kind::Rule, r, {}});
        } else if (n > m) {
            uint32_t prev = kNone;
            for (uint64_t k = 0; k < n - m; ++k) {
                const uint32_t r = new_helper(owner);
                GrammarSequence alt = item;
                if (prev != kNone) alt.push_back({GrammarSymbol::Kind::Rule, prev, {}});
                g_.rules[r].alternatives = {std::move(alt), {}};
                prev = r;
            }
            out.push_back({GrammarSymbol::Kind::Rule, prev, {}});
        }
        return true;
    }

    bool parse_sequence(uint32_t owner, bool nested, int depth, GrammarSequence& out) {
        size_t item_start = out.size();
        bool have_item = false;
        while (!at_end()) {
            const char c = src_[pos_];
            const size_t start = out.size();
            if (c == '"') {
                if (!parse_literal(out)) return false;
            } else if (c == '[') {
                if (!parse_class(out)) return false;
            } else if (c == '.') {
                ++pos_;
                if (!count_symbols(1)) return false;
                out.push_back({GrammarSymbol::Kind::Chars, 0, any_char_ranges()});
            } else if (is_word_char(c)) {
                const size_t name_start = pos_;
                while (!at_end() && is_word_char(src_[pos_])) ++pos_;
                if (!count_symbols(1)) return false;
                out.push_back({GrammarSymbol::Kind::Rule, rule_id(src_.substr(name_start, pos_ - name_start), name_start), {}});
            } else if (c == '(') {
                if (depth + 1 > lim_.max_nesting)
                    return fail_at(pos_, fmt::format("parentheses nested deeper than {}", lim_.max_nesting));
                const size_t open = pos_++;
                skip_space(true);
                const uint32_t group = new_helper(owner);
                if (!parse_alternates(group, true, depth + 1)) return false;
                if (peek() != ')') {
                    if (at_end()) return fail_at(open, "unbalanced '(': expected ')' before the end of the input");
                    return fail("expected ')' or '|'");
                }
                ++pos_;
                if (!count_symbols(1)) return false;
                out.push_back({GrammarSymbol::Kind::Rule, group, {}});
            } else if (c == '*' || c == '+' || c == '?' || c == '{') {
                if (!have_item) return fail(fmt::format("expected an item before '{}'", c));
                uint64_t m = 0, n = kUnbounded;
                ++pos_;
                if (c == '+') m = 1;
                else if (c == '?') n = 1;
                else if (c == '{') {
                    skip_space(nested);
                    if (!parse_uint(m)) return false;
                    skip_space(nested);
                    if (peek() == '}') {
                        n = m;
                    } else if (peek() == ',') {
                        ++pos_;
                        skip_space(nested);
                        if (is_digit(peek())) {
                            if (!parse_uint(n)) return false;
                            if (n < m) return fail_at(pos_ - 1, fmt::format("repetition {{{},{}}}: the maximum is below the minimum", m, n));
                            skip_space(nested);
                        }
                        if (peek() != '}') return fail("expected '}' to close the repetition");
                    } else {
                        return fail("expected ',' or '}' in the repetition");
                    }
                    ++pos_;
                }
                if (item_start == out.size()) return fail_at(pos_ - 1, "repetition of an empty item (\"\")");
                if (!apply_repetition(owner, out, item_start, m, n)) return false;
                skip_space(nested);
                continue;
            } else if (c == '<' || (c == '!' && peek(1) == '<')) {
                return fail_at(pos_, "token references (<...>) are not supported: this engine constrains text, "
                                     "write the token's text as a \"literal\"");
            } else {
                break;
            }
            item_start = start;
            have_item = true;
            skip_space(nested);
        }
        if (!at_end()) {
            const char c = src_[pos_];
            const bool can_end = c == '|' || c == ')' || c == '\n' || c == '\r';
            if (!can_end)
                return fail(nested ? "expected a rule name, a \"literal\", a [class], '(', '.', '|', ')' or an operator"
                                   : "expected a rule name, a \"literal\", a [class], '(', '.', '|' or an operator");
        }
        return true;
    }

    // Helper rules get the name of the rule they came from plus a number, avoiding every defined name.
    void name_helpers() {
        std::unordered_map<uint32_t, int> counter;
        for (uint32_t r = 0; r < g_.rules.size(); ++r) {
            if (helper_parent_[r] == kNone) continue;
            const std::string& base = g_.rules[helper_parent_[r]].name;
            std::string name;
            do name = fmt::format("{}-{}", base, ++counter[helper_parent_[r]]);
            while (ids_.count(name));
            ids_.emplace(name, r);
            g_.rules[r].name = std::move(name);
        }
    }

    std::string_view src_;
    const GbnfLimits& lim_;
    size_t pos_ = 0;
    Status status_;
    Grammar g_;
    std::unordered_map<std::string, uint32_t> ids_;
    std::vector<bool> defined_;
    std::vector<size_t> first_ref_;
    std::unordered_map<uint32_t, size_t> def_pos_;
    std::vector<uint32_t> helper_parent_;  // the named rule a helper (group, repetition) belongs to
    uint64_t n_symbols_ = 0;
};

}  // namespace

Expected<Grammar> parse_gbnf(std::string_view text, const GbnfLimits& limits) {
    return GbnfParser(text, limits).run();
}

}  // namespace llm
