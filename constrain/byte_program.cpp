// Grammar IR -> ByteProgram: character sets to UTF-8 byte-range sequences, rules to flat element arrays.
#include "constrain/byte_program.hpp"

#include <map>

#include "tokenizer/unicode.hpp"

namespace llm {

void utf8_sequences(uint32_t lo, uint32_t hi, std::vector<Utf8Seq>& out) {
    // Split until each piece's encodings differ only in independent byte ranges (the algorithm of RE2 and
    // Rust's regex-syntax): first at the surrogate gap and the encoding-length boundaries, then wherever the
    // trailing 6-bit groups do not span their full range. A stack, lower half popped first, keeps the order.
    std::vector<std::pair<uint32_t, uint32_t>> todo{{lo, hi}};
    while (!todo.empty()) {
        auto [s, e] = todo.back();
        todo.pop_back();
        if (s > e) continue;
        if (s <= 0xDFFF && e >= 0xD800) {
            if (e > 0xDFFF) todo.push_back({0xE000, e});
            if (s < 0xD800) todo.push_back({s, 0xD7FF});
            continue;
        }
        bool split = false;
        for (uint32_t max : {0x7Fu, 0x7FFu, 0xFFFFu}) {
            if (s <= max && max < e) {
                todo.push_back({max + 1, e});
                todo.push_back({s, max});
                split = true;
                break;
            }
        }
        if (split) continue;
        if (e <= 0x7F) {
            Utf8Seq q;
            q.len = 1, q.lo[0] = static_cast<uint8_t>(s), q.hi[0] = static_cast<uint8_t>(e);
            out.push_back(q);
            continue;
        }
        for (int i = 1; i < 4 && !split; ++i) {
            const uint32_t m = (1u << (6 * i)) - 1;
            if ((s & ~m) != (e & ~m)) {
                if ((s & m) != 0) {
                    todo.push_back({(s | m) + 1, e});
                    todo.push_back({s, s | m});
                    split = true;
                } else if ((e & m) != m) {
                    todo.push_back({e & ~m, e});
                    todo.push_back({s, (e & ~m) - 1});
                    split = true;
                }
            }
        }
        if (split) continue;
        std::string a, b;
        utf8::append_codepoint(a, s);
        utf8::append_codepoint(b, e);
        Utf8Seq q;
        q.len = static_cast<uint8_t>(a.size());
        for (size_t k = 0; k < a.size(); ++k) q.lo[k] = static_cast<uint8_t>(a[k]), q.hi[k] = static_cast<uint8_t>(b[k]);
        out.push_back(q);
    }
}

namespace {

class Compiler {
public:
    explicit Compiler(const Grammar& g) : g_(g) {}

    ByteProgram run() {
        for (const auto& r : g_.rules) p_.rule_names.push_back(r.name);
        p_.root = g_.root;
        // Rules keep their indices; helper rules for character sets are appended after the grammar's rules.
        for (uint32_t r = 0; r < g_.rules.size(); ++r) {
            std::vector<std::vector<ByteElem>> alts;
            for (const auto& alt : g_.rules[r].alternatives) {
                std::vector<ByteElem> seq;
                for (const auto& s : alt) emit_symbol(s, seq);
                alts.push_back(std::move(seq));
            }
            pending_.push_back(std::move(alts));
        }
        for (auto& h : helper_alts_) pending_.push_back(std::move(h));
        p_.rule_alts.push_back(0);
        for (const auto& alts : pending_) {
            for (const auto& seq : alts) {
                p_.alt_starts.push_back(static_cast<uint32_t>(p_.elems.size()));
                p_.elems.insert(p_.elems.end(), seq.begin(), seq.end());
                p_.elems.push_back({ByteElem::End, 0});
            }
            p_.rule_alts.push_back(static_cast<uint32_t>(p_.alt_starts.size()));
        }
        return std::move(p_);
    }

private:
    uint32_t byte_set(const ByteSet& s) {
        auto [it, inserted] = set_ids_.emplace(s, static_cast<uint32_t>(p_.byte_sets.size()));
        if (inserted) p_.byte_sets.push_back(s);
        return it->second;
    }

    static ByteSet range_set(uint8_t lo, uint8_t hi) {
        ByteSet s{};
        for (unsigned b = lo; b <= hi; ++b) s[b >> 6] |= uint64_t{1} << (b & 63);
        return s;
    }

    // Sequences of the same length whose trailing ranges agree merge into one alternative whose first
    // element is the union of their lead-byte ranges ([E1-EC][80-BF][80-BF] and [EE-EF][80-BF][80-BF]).
    std::vector<std::vector<ByteSet>> byte_alternatives(const std::vector<CharRange>& chars) {
        std::vector<Utf8Seq> seqs;
        for (const CharRange& r : chars) utf8_sequences(r.lo, r.hi, seqs);
        std::vector<std::vector<ByteSet>> alts;
        std::map<std::string, size_t> by_tail;  // length and trailing ranges -> alternative
        for (const Utf8Seq& q : seqs) {
            std::string tail(1, static_cast<char>(q.len));
            for (int k = 1; k < q.len; ++k) tail += static_cast<char>(q.lo[k]), tail += static_cast<char>(q.hi[k]);
            auto it = by_tail.find(tail);
            const ByteSet lead = range_set(q.lo[0], q.hi[0]);
            if (it != by_tail.end()) {
                for (int w = 0; w < 4; ++w) alts[it->second][0][w] |= lead[w];
                continue;
            }
            by_tail.emplace(tail, alts.size());
            std::vector<ByteSet> alt{lead};
            for (int k = 1; k < q.len; ++k) alt.push_back(range_set(q.lo[k], q.hi[k]));
            alts.push_back(std::move(alt));
        }
        return alts;
    }

    void emit_symbol(const GrammarSymbol& s, std::vector<ByteElem>& seq) {
        if (s.kind == GrammarSymbol::Kind::Rule) {
            seq.push_back({ByteElem::Rule, s.rule});
            return;
        }
        auto cached = class_rules_.find(s.chars);
        if (cached != class_rules_.end()) {
            seq.push_back({ByteElem::Rule, cached->second});
            return;
        }
        const auto alts = byte_alternatives(s.chars);
        if (alts.size() == 1) {  // ASCII-only sets, single characters, ranges sharing their lead bytes: inline
            for (const ByteSet& b : alts[0]) seq.push_back({ByteElem::Bytes, byte_set(b)});
            return;
        }
        const uint32_t r = static_cast<uint32_t>(g_.rules.size() + helpers_);
        ++helpers_;
        std::vector<std::vector<ByteElem>> rule_alts;
        for (const auto& alt : alts) {
            std::vector<ByteElem> e;
            for (const ByteSet& b : alt) e.push_back({ByteElem::Bytes, byte_set(b)});
            rule_alts.push_back(std::move(e));
        }
        helper_alts_.push_back(std::move(rule_alts));
        p_.rule_names.push_back(fmt::format("<chars{}>", helpers_));
        class_rules_.emplace(s.chars, r);
        seq.push_back({ByteElem::Rule, r});
    }

    struct RangesLess {
        bool operator()(const std::vector<CharRange>& a, const std::vector<CharRange>& b) const {
            return std::lexicographical_compare(a.begin(), a.end(), b.begin(), b.end(),
                                                [](const CharRange& x, const CharRange& y) {
                                                    return x.lo != y.lo ? x.lo < y.lo : x.hi < y.hi;
                                                });
        }
    };

    const Grammar& g_;
    ByteProgram p_;
    std::vector<std::vector<std::vector<ByteElem>>> pending_;       // per rule: alternatives
    std::vector<std::vector<std::vector<ByteElem>>> helper_alts_;   // helper rules for character sets
    std::map<ByteSet, uint32_t> set_ids_;
    std::map<std::vector<CharRange>, uint32_t, RangesLess> class_rules_;
    uint32_t helpers_ = 0;
};

}  // namespace

ByteProgram compile_bytes(const Grammar& g) { return Compiler(g).run(); }

}  // namespace llm
