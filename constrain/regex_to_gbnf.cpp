// JSON Schema `pattern` (a regular-expression subset) -> GBNF expression over the escaped contents of a JSON
// string. Parsed into a small tree of character sets, sequences, alternations and repetitions, then written
// out with every character in its JSON-escaped form.
#include <algorithm>

#include "constrain/json_schema.hpp"
#include "constrain/schema_internal.hpp"
#include "tokenizer/unicode.hpp"

namespace llm {
namespace {

using schema_detail::fail;
constexpr uint32_t kInf = UINT32_MAX;
constexpr uint32_t kMaxCount = 1000;

struct RegexNode {
    enum class Kind { Chars, Seq, Alt, Repeat } kind;
    std::vector<CharRange> chars;  // Chars
    std::vector<RegexNode> kids;   // Seq, Alt: the items; Repeat: one
    uint32_t min = 0, max = 0;     // Repeat
};

std::vector<CharRange> ascii_only(std::vector<CharRange> r) {
    std::vector<CharRange> out;
    for (CharRange x : r)
        if (x.lo <= 0x7F) out.push_back({x.lo, std::min<uint32_t>(x.hi, 0x7F)});
    return out;
}

std::vector<CharRange> shorthand(uint32_t c) {
    // Python's \d \w \s are Unicode-aware; the ASCII sets are a subset of them, and the negated forms are
    // restricted to ASCII for the same reason (so every generated string satisfies both Python and ECMA).
    std::vector<CharRange> r;
    switch (c | 0x20) {
        case 'd': r = {{'0', '9'}}; break;
        case 'w': r = {{'0', '9'}, {'A', 'Z'}, {'_', '_'}, {'a', 'z'}}; break;
        case 's': r = {{'\t', '\r'}, {' ', ' '}}; break;
    }
    if (c >= 'A' && c <= 'Z') r = ascii_only(complement_ranges(r));
    return r;
}

bool nullable(const RegexNode& n);

class RegexParser {
public:
    RegexParser(std::string_view pattern, uint32_t max_repeat) : max_repeat_(max_repeat) {
        for (size_t i = 0; i < pattern.size();) {
            if (!utf8::valid_seq_len(pattern, i)) fail("the pattern is not valid UTF-8");
            cp_.push_back(utf8::decode(pattern, i));
        }
    }

    RegexNode parse() {
        RegexNode n = parse_alt(0);
        if (pos_ < cp_.size()) fail("unbalanced ')' at offset {}", pos_);
        return n;
    }

private:
    bool more() const { return pos_ < cp_.size(); }
    uint32_t peek(size_t k = 0) const { return pos_ + k < cp_.size() ? cp_[pos_ + k] : 0; }

    RegexNode parse_alt(int depth) {
        if (depth > 64) fail("groups nested deeper than 64");
        RegexNode alt{RegexNode::Kind::Alt, {}, {}, 0, 0};
        alt.kids.push_back(parse_seq(depth));
        while (more() && peek() == '|') {
            ++pos_;
            alt.kids.push_back(parse_seq(depth));
        }
        return alt.kids.size() == 1 ? std::move(alt.kids[0]) : alt;
    }

    RegexNode parse_seq(int depth) {
        RegexNode seq{RegexNode::Kind::Seq, {}, {}, 0, 0};
        const size_t branch_start = pos_;
        while (more() && peek() != '|' && peek() != ')') {
            const uint32_t c = peek();
            if (c == '^') {
                if (depth != 0 || pos_ != branch_start) fail("anchor '^' inside the pattern is not supported");
                ++pos_;
                continue;
            }
            if (c == '$') {
                ++pos_;
                if (depth != 0 || (more() && peek() != '|')) fail("anchor '$' inside the pattern is not supported");
                continue;
            }
            if (c == '*' || c == '+' || c == '?') fail("nothing to repeat before '{}' at offset {}", static_cast<char>(c), pos_);
            RegexNode atom = parse_atom(depth);
            parse_quantifiers(atom);
            seq.kids.push_back(std::move(atom));
        }
        return seq;
    }

    RegexNode chars(std::vector<CharRange> r) {
        normalize_ranges(r);
        if (r.empty()) fail("a character class matches nothing");
        return {RegexNode::Kind::Chars, std::move(r), {}, 0, 0};
    }

    RegexNode parse_atom(int depth) {
        const uint32_t c = cp_[pos_++];
        if (c == '(') {
            if (peek() == '?') {
                const uint32_t k = peek(1);
                if (k == ':') {
                    pos_ += 2;
                } else if ((k == '<' && peek(2) != '=' && peek(2) != '!') || (k == 'P' && peek(2) == '<')) {
                    while (more() && peek() != '>') ++pos_;  // a named group: the name does not matter here
                    if (!more()) fail("unterminated group name");
                    ++pos_;
                } else if (k == '=' || k == '!' || k == '<') {
                    fail("lookaround assertions ((?=, (?!, (?<=, (?<!) are not supported");
                } else {
                    fail("inline flags and extensions '(?{}' are not supported", k ? std::string(1, static_cast<char>(k)) : std::string());
                }
            }
            RegexNode inner = parse_alt(depth + 1);
            if (!more() || peek() != ')') fail("unbalanced '(': expected ')'");
            ++pos_;
            return inner;
        }
        if (c == '[') return parse_class();
        if (c == '.') return chars(complement_ranges({{'\n', '\n'}, {'\r', '\r'}, {0x2028, 0x2029}}));
        if (c == '\\') return chars(parse_escape(false));
        return chars({{c, c}});
    }

    // After a backslash. Outside a class a shorthand or a single character; inside, the same.
    std::vector<CharRange> parse_escape(bool in_class) {
        if (!more()) fail("the pattern ends with a lone backslash");
        const uint32_t e = cp_[pos_++];
        switch (e) {
            case 'd': case 'D': case 'w': case 'W': case 's': case 'S': return shorthand(e);
            case 'n': return {{'\n', '\n'}};
            case 't': return {{'\t', '\t'}};
            case 'r': return {{'\r', '\r'}};
            case 'f': return {{'\f', '\f'}};
            case 'v': return {{'\v', '\v'}};
            case 'b':
                if (in_class) return {{'\b', '\b'}};
                fail("word boundaries (\\b) are not supported");
            case 'B': fail("word boundaries (\\B) are not supported");
            case 'A': case 'z': case 'Z': case 'G': fail("anchor '\\{}' is not supported", static_cast<char>(e));
            case 'p': case 'P': fail("Unicode property classes (\\{}{{...}}) are not supported", static_cast<char>(e));
            case 'k': fail("named backreferences (\\k<...>) are not supported");
            case 'x': case 'u': {
                const int n = e == 'x' ? 2 : 4;
                uint32_t v = 0;
                for (int i = 0; i < n; ++i) {
                    const uint32_t h = peek();
                    const int d = h >= '0' && h <= '9' ? h - '0' : (h | 0x20) >= 'a' && (h | 0x20) <= 'f' ? (h | 0x20) - 'a' + 10 : -1;
                    if (d < 0) fail("expected {} hex digits after '\\{}'", n, static_cast<char>(e));
                    v = v * 16 + d;
                    ++pos_;
                }
                if (v >= 0xD800 && v <= 0xDFFF) fail("surrogate escapes (\\u{:04X}) are not supported", v);
                return {{v, v}};
            }
        }
        if (e >= '1' && e <= '9') fail("backreferences (\\{}) are not supported", static_cast<char>(e));
        if (e == '0') fail("\\0 is not supported");
        if ((e >= 'a' && e <= 'z') || (e >= 'A' && e <= 'Z')) fail("unknown escape '\\{}'", static_cast<char>(e));
        return {{e, e}};  // escaped punctuation or any other character stands for itself
    }

    RegexNode parse_class() {
        bool negated = false;
        if (peek() == '^') negated = true, ++pos_;
        std::vector<CharRange> set;
        bool shorthand_used = false, first = true;
        while (true) {
            if (!more()) fail("unterminated character class: expected ']'");
            uint32_t c = cp_[pos_];
            if (c == ']' && !first) break;
            first = false;
            ++pos_;
            std::vector<CharRange> item;
            if (c == '\\') {
                const uint32_t e = peek();
                item = parse_escape(true);
                if (std::string_view("dDwWsS").find(static_cast<char>(e)) != std::string_view::npos) {
                    shorthand_used = true;
                    set.insert(set.end(), item.begin(), item.end());
                    continue;
                }
            } else {
                item = {{c, c}};
            }
            // A range "a-z" (a '-' before ']' is a literal).
            if (peek() == '-' && peek(1) != ']' && pos_ + 1 < cp_.size()) {
                ++pos_;
                uint32_t hi;
                if (peek() == '\\') {
                    ++pos_;
                    const auto h = parse_escape(true);
                    if (h.size() != 1 || h[0].lo != h[0].hi) fail("a class shorthand cannot end a range");
                    hi = h[0].lo;
                } else {
                    hi = cp_[pos_++];
                }
                if (hi < item[0].lo) fail("bad range in a character class: end below start");
                item = {{item[0].lo, hi}};
            }
            set.insert(set.end(), item.begin(), item.end());
        }
        ++pos_;  // ']'
        normalize_ranges(set);
        if (negated) {
            set = complement_ranges(set);
            if (shorthand_used) set = ascii_only(set);  // see shorthand()
        }
        return chars(std::move(set));
    }

    uint32_t parse_count() {
        uint64_t v = 0;
        while (more() && peek() >= '0' && peek() <= '9') {
            v = v * 10 + (cp_[pos_++] - '0');
            if (v > kMaxCount) fail("repetition count above {}", kMaxCount);
        }
        return static_cast<uint32_t>(v);
    }

    // Reads "{m}", "{m,}", "{m,n}" at pos_; false (pos_ unchanged) when the brace is a literal.
    bool parse_braces(uint32_t& lo, uint32_t& hi) {
        const size_t start = pos_;
        ++pos_;
        if (peek() == ',' && peek(1) >= '0' && peek(1) <= '9')
            fail("'{{,n}}' is a quantifier in Python but a literal in ECMA-262: write {{0,n}} or escape the brace");
        if (!(peek() >= '0' && peek() <= '9')) return pos_ = start, false;
        lo = parse_count();
        hi = lo;
        if (peek() == ',') {
            ++pos_;
            hi = (peek() >= '0' && peek() <= '9') ? parse_count() : kInf;
        }
        if (peek() != '}') return pos_ = start, false;
        ++pos_;
        if (hi < lo) fail("repetition {{{},{}}}: the maximum is below the minimum", lo, hi);
        return true;
    }

    void parse_quantifiers(RegexNode& atom) {
        while (more()) {
            uint32_t lo, hi;
            const uint32_t c = peek();
            if (c == '*') lo = 0, hi = kInf, ++pos_;
            else if (c == '+') lo = 1, hi = kInf, ++pos_;
            else if (c == '?') lo = 0, hi = 1, ++pos_;
            else if (c == '{') {
                if (!parse_braces(lo, hi)) {
                    // A literal '{' becomes the next atom, as in Python.
                    return;
                }
            } else {
                return;
            }
            // The caller's bound on open repetitions (a nullable atom keeps its error: (a*)* is ambiguous).
            if (hi == kInf && max_repeat_ > 0 && !nullable(atom)) hi = std::max(lo, max_repeat_);
            if (more() && peek() == '?') ++pos_;  // lazy: same language
            else if (more() && peek() == '+') fail("possessive quantifiers are not supported");
            RegexNode rep{RegexNode::Kind::Repeat, {}, {}, lo, hi};
            rep.kids.push_back(std::move(atom));
            atom = std::move(rep);
        }
    }

    std::vector<uint32_t> cp_;
    size_t pos_ = 0;
    uint32_t max_repeat_ = 0;
};

bool is_plain_literal(const RegexNode& n) {
    return n.kind == RegexNode::Kind::Chars && n.chars.size() == 1 && n.chars[0].lo == n.chars[0].hi &&
           n.chars[0].lo >= 0x20 && n.chars[0].lo != '"' && n.chars[0].lo != '\\';
}

bool nullable(const RegexNode& n) {
    switch (n.kind) {
        case RegexNode::Kind::Chars: return false;
        case RegexNode::Kind::Seq: return std::all_of(n.kids.begin(), n.kids.end(), nullable);
        case RegexNode::Kind::Alt: return std::any_of(n.kids.begin(), n.kids.end(), nullable);
        case RegexNode::Kind::Repeat: return n.min == 0 || nullable(n.kids[0]);
    }
    return false;
}

// True when a GBNF expression is not one item (a space or '|' outside literals, classes and parentheses), so
// a repetition must wrap it in parentheses.
bool needs_parens(const std::string& e) {
    int depth = 0;
    for (size_t i = 0; i < e.size(); ++i) {
        const char c = e[i];
        if (c == '"' || c == '[') {
            const char close = c == '"' ? '"' : ']';
            for (++i; i < e.size() && e[i] != close; ++i)
                if (e[i] == '\\') ++i;
        } else if (c == '(') {
            ++depth;
        } else if (c == ')') {
            --depth;
        } else if (depth == 0 && (c == ' ' || c == '|')) {
            return true;
        }
    }
    return false;
}

std::string emit(const RegexNode& n) {
    switch (n.kind) {
        case RegexNode::Kind::Chars: return schema_detail::json_char_expr(n.chars);
        case RegexNode::Kind::Seq: {
            std::string out, run;  // runs of plain characters become one literal
            auto append = [&](const std::string& e) {
                if (!out.empty()) out += ' ';
                out += e;
            };
            auto flush = [&] {
                if (run.empty()) return;
                append(gbnf_literal(run));
                run.clear();
            };
            for (const RegexNode& k : n.kids) {
                if (is_plain_literal(k)) {
                    utf8::append_codepoint(run, k.chars[0].lo);
                    continue;
                }
                flush();
                const std::string e = emit(k);
                if (!e.empty()) append(e);
            }
            flush();
            return out;
        }
        case RegexNode::Kind::Alt: {
            std::string out = "(";
            for (size_t i = 0; i < n.kids.size(); ++i) {
                const std::string e = emit(n.kids[i]);
                out += (i ? " | " : "") + (e.empty() ? std::string("\"\"") : e);
            }
            return out + ")";
        }
        case RegexNode::Kind::Repeat: {
            std::string e = emit(n.kids[0]);
            if (e.empty()) return "";
            // (x)* with x matching "" would be left-recursive in the grammar; (x){0,k} is fine.
            if (n.max == kInf && nullable(n.kids[0]))
                fail("an unbounded repetition of something that can match the empty string (like (a*)*) is not "
                     "supported; bound it ({{0,n}}) or drop the inner optional");
            if (needs_parens(e)) e = "(" + e + ")";
            if (n.min == 0 && n.max == kInf) return e + "*";
            if (n.min == 1 && n.max == kInf) return e + "+";
            if (n.min == 0 && n.max == 1) return e + "?";
            if (n.max == kInf) return fmt::format("{}{{{},}}", e, n.min);
            if (n.min == n.max) return fmt::format("{}{{{}}}", e, n.min);
            return fmt::format("{}{{{},{}}}", e, n.min, n.max);
        }
    }
    return "";
}

}  // namespace

Expected<std::string> regex_to_gbnf(std::string_view pattern, uint32_t max_repeat) {
    try {
        RegexParser p(pattern, max_repeat);
        const std::string e = emit(p.parse());
        return e.empty() ? std::string("\"\"") : e;
    } catch (const schema_detail::SchemaError& e) {
        return error("pattern \"{}\": {}", pattern, e.message);
    }
}

}  // namespace llm
