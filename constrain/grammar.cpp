// Grammar IR utilities: character-set algebra, the structural checks (left recursion), and printing as GBNF.
#include <algorithm>

#include "constrain/grammar.hpp"
#include "tokenizer/unicode.hpp"

namespace llm {

size_t Grammar::symbol_count() const {
    size_t n = 0;
    for (const auto& r : rules)
        for (const auto& a : r.alternatives) n += a.size();
    return n;
}

std::vector<CharRange> any_char_ranges() { return {{0, 0xD7FF}, {0xE000, 0x10FFFF}}; }

void normalize_ranges(std::vector<CharRange>& r) {
    std::sort(r.begin(), r.end(), [](const CharRange& a, const CharRange& b) { return a.lo < b.lo; });
    size_t out = 0;
    for (size_t i = 0; i < r.size(); ++i) {
        if (out > 0 && r[i].lo <= r[out - 1].hi + 1) r[out - 1].hi = std::max(r[out - 1].hi, r[i].hi);
        else r[out++] = r[i];
    }
    r.resize(out);
}

std::vector<CharRange> complement_ranges(const std::vector<CharRange>& r) {
    std::vector<CharRange> out;
    for (const CharRange& any : any_char_ranges()) {
        uint32_t next = any.lo;  // first code point of `any` not yet covered or emitted
        bool done = false;
        for (const CharRange& x : r) {
            if (x.hi < next || x.lo > any.hi) continue;
            if (x.lo > next) out.push_back({next, x.lo - 1});
            if (x.hi >= any.hi) {
                done = true;
                break;
            }
            next = x.hi + 1;
        }
        if (!done && next <= any.hi) out.push_back({next, any.hi});
    }
    return out;
}

namespace {

Status check_chars(const GrammarRule& rule, const std::vector<CharRange>& c) {
    if (c.empty()) return error("rule '{}': empty character set", rule.name);
    for (size_t i = 0; i < c.size(); ++i) {
        if (c[i].lo > c[i].hi || c[i].hi > 0x10FFFF || (i > 0 && c[i].lo <= c[i - 1].hi + 1))
            return error("rule '{}': malformed character set", rule.name);
    }
    // A set made only of surrogates has no UTF-8 encoding.
    for (const CharRange& x : c)
        if (x.lo < 0xD800 || x.hi > 0xDFFF) return {};
    return error("rule '{}': character set holds only surrogates (U+D800..U+DFFF), which UTF-8 cannot encode",
                 rule.name);
}

}  // namespace

Status check_grammar(const Grammar& g) {
    const size_t n = g.rules.size();
    if (g.root >= n) return error("grammar: root rule index {} out of range", g.root);
    for (const auto& rule : g.rules) {
        if (rule.alternatives.empty()) return error("rule '{}' has no alternatives", rule.name);
        for (const auto& alt : rule.alternatives)
            for (const auto& s : alt) {
                if (s.kind == GrammarSymbol::Kind::Rule && s.rule >= n)
                    return error("rule '{}' refers to rule index {}, out of range", rule.name, s.rule);
                if (s.kind == GrammarSymbol::Kind::Chars) LLM_TRY(check_chars(rule, s.chars));
            }
    }
    // nullable[r]: r can match the empty string (fixpoint).
    std::vector<char> nullable(n, 0);
    for (bool changed = true; changed;) {
        changed = false;
        for (size_t r = 0; r < n; ++r) {
            if (nullable[r]) continue;
            for (const auto& alt : g.rules[r].alternatives) {
                const bool all = std::all_of(alt.begin(), alt.end(), [&](const GrammarSymbol& s) {
                    return s.kind == GrammarSymbol::Kind::Rule && nullable[s.rule];
                });
                if (all) {
                    nullable[r] = changed = true;
                    break;
                }
            }
        }
    }
    // left[r]: rules r can call before consuming a character. A cycle is left recursion.
    std::vector<std::vector<uint32_t>> left(n);
    for (size_t r = 0; r < n; ++r)
        for (const auto& alt : g.rules[r].alternatives)
            for (const auto& s : alt) {
                if (s.kind != GrammarSymbol::Kind::Rule) break;
                left[r].push_back(s.rule);
                if (!nullable[s.rule]) break;
            }
    // Iterative DFS (grammars can be deep); color 1 = on the stack, 2 = done.
    std::vector<uint8_t> color(n, 0);
    std::vector<std::pair<uint32_t, size_t>> stack;
    for (uint32_t start = 0; start < n; ++start) {
        if (color[start]) continue;
        stack.push_back({start, 0});
        color[start] = 1;
        while (!stack.empty()) {
            auto& [r, next] = stack.back();
            if (next == left[r].size()) {
                color[r] = 2;
                stack.pop_back();
                continue;
            }
            const uint32_t to = left[r][next++];
            if (color[to] == 0) {
                color[to] = 1;
                stack.push_back({to, 0});
            } else if (color[to] == 1) {
                std::string cycle;
                size_t i = stack.size();
                while (i > 0 && stack[i - 1].first != to) --i;
                for (size_t k = i - 1; k < stack.size(); ++k) cycle += g.rules[stack[k].first].name + " -> ";
                cycle += g.rules[to].name;
                return error("left recursion: {} (a rule reaches itself before matching a character; rewrite "
                             "it as a repetition, e.g. expr ::= term (\"+\" term)*)",
                             cycle);
            }
        }
    }
    if (derivation_heights(g)[g.root] == kNoDerivation)
        return error("rule '{}' derives no finite string: every alternative needs a rule that never ends (for a "
                     "JSON schema: a required property whose value contains its own object again)",
                     g.rules[g.root].name);
    return {};
}

std::vector<uint32_t> derivation_heights(const Grammar& g) {
    std::vector<uint32_t> height(g.rules.size(), kNoDerivation);
    for (bool changed = true; changed;) {
        changed = false;
        for (size_t r = 0; r < g.rules.size(); ++r)
            for (const auto& alt : g.rules[r].alternatives) {
                uint32_t h = 0;
                for (const auto& s : alt)
                    if (s.kind == GrammarSymbol::Kind::Rule) h = std::max(h, height[s.rule]);
                if (h != kNoDerivation && h + 1 < height[r]) height[r] = h + 1, changed = true;
            }
    }
    return height;
}

void append_gbnf_char(std::string& out, uint32_t cp, bool in_class) {
    switch (cp) {
        case '\n': out += "\\n"; return;
        case '\r': out += "\\r"; return;
        case '\t': out += "\\t"; return;
        case '\\': out += "\\\\"; return;
        case '"': out += "\\\""; return;
    }
    if (in_class && (cp == '[' || cp == ']' || cp == '-' || cp == '^')) {
        if (cp == '^') out += "\\x5E";
        else (out += '\\') += static_cast<char>(cp);
        return;
    }
    if (cp < 0x20 || cp == 0x7F) out += fmt::format("\\x{:02X}", cp);
    else if (cp >= 0x80 && cp < 0xA0) out += fmt::format("\\u{:04X}", cp);
    else utf8::append_codepoint(out, cp);
}

std::string gbnf_literal(std::string_view text) {
    std::string out = "\"";
    for (size_t i = 0; i < text.size();) {
        const size_t n = utf8::valid_seq_len(text, i);
        if (n == 0) {  // not UTF-8: write the byte's code point (callers pass valid text)
            append_gbnf_char(out, static_cast<uint8_t>(text[i++]), false);
            continue;
        }
        append_gbnf_char(out, utf8::decode(text, i), false);
    }
    return out + "\"";
}

std::string gbnf_class(const std::vector<CharRange>& ranges) {
    std::string out = "[";
    for (const CharRange& r : ranges) {
        append_gbnf_char(out, r.lo, true);
        if (r.hi != r.lo) {
            if (r.hi > r.lo + 1) out += '-';
            append_gbnf_char(out, r.hi, true);
        }
    }
    return out + "]";
}

namespace {

bool single_char(const GrammarSymbol& s) {
    return s.kind == GrammarSymbol::Kind::Chars && s.chars.size() == 1 && s.chars[0].lo == s.chars[0].hi;
}

}  // namespace

std::string to_gbnf(const Grammar& g) {
    std::string out;
    for (const auto& rule : g.rules) {
        out += rule.name + " ::=";
        for (size_t a = 0; a < rule.alternatives.size(); ++a) {
            if (a) out += " |";
            const auto& alt = rule.alternatives[a];
            if (alt.empty()) out += " \"\"";
            for (size_t i = 0; i < alt.size();) {
                const GrammarSymbol& s = alt[i];
                out += ' ';
                if (s.kind == GrammarSymbol::Kind::Rule) {
                    out += g.rules[s.rule].name;
                    ++i;
                } else if (single_char(s)) {  // a run of single characters prints as one literal
                    out += '"';
                    for (; i < alt.size() && single_char(alt[i]); ++i) append_gbnf_char(out, alt[i].chars[0].lo, false);
                    out += '"';
                } else if (s.chars == any_char_ranges()) {
                    out += '.';
                    ++i;
                } else {
                    // Print the shorter of the set and its complement.
                    const auto comp = complement_ranges(s.chars);
                    const bool neg = !comp.empty() && comp.size() < s.chars.size();
                    const std::string cls = gbnf_class(neg ? comp : s.chars);
                    out += neg ? "[^" + cls.substr(1) : cls;
                    ++i;
                }
            }
        }
        out += '\n';
    }
    return out;
}

}  // namespace llm
