// libFuzzer target for constrained decoding's parsers: GBNF text, JSON schemas and schema regexes. The first
// input byte picks the parser (and the rest is its input). Whatever parses must also compile and hold the
// invariants: random sentences of the grammar are accepted by the matcher, to_gbnf() reparses, sentences of
// a schema's grammar are JSON, and token masks over a small vocabulary equal the brute-force check.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "constrain/byte_program.hpp"
#include "constrain/grammar.hpp"
#include "constrain/grammar_sampler.hpp"
#include "constrain/json_schema.hpp"
#include "constrain/matcher.hpp"
#include "constrain/token_mask.hpp"

namespace {

void check_grammar_invariants(const llm::Grammar& g, bool json_sentences) {
    // Round trip through the printer (the root keeps its name only when it is "root").
    if (g.rules[g.root].name == "root" && !llm::parse_gbnf(llm::to_gbnf(g)).has_value()) std::abort();
    llm::MatcherLimits lim;
    lim.max_nodes = 1 << 16, lim.max_states = 1 << 12, lim.max_stacks = 256;
    auto graph = std::make_shared<llm::GrammarGraph>(llm::compile_bytes(g), lim);
    llm::GrammarSampler sampler(g, 1);
    std::vector<std::string> sentences;
    for (int i = 0; i < 4; ++i) sentences.push_back(sampler.sentence(64, 16));
    for (const auto& s : sentences) {
        llm::GrammarMatcher m(graph);
        const bool ok = m.accept_bytes(s) && m.is_accepting();
        std::lock_guard lock(graph->mutex());
        if (!ok && graph->failure().empty()) std::abort();  // a sentence the matcher rejects (limits aside)
        if (json_sentences && !nlohmann::json::accept(s)) std::abort();
    }
    // Masks against brute force on a vocabulary cut from the sentences, at each prefix of the first one.
    std::vector<std::string> pieces;
    for (int b = 0; b < 128; ++b) pieces.push_back(std::string(1, static_cast<char>(b)));
    for (const auto& s : sentences)
        for (size_t i = 0; i + 1 < s.size(); i += 3) pieces.push_back(s.substr(i, 2 + i % 3));
    auto vocab = std::make_shared<const llm::VocabTrie>(llm::VocabTrie::build(pieces, std::vector<bool>(pieces.size(), true), {}));
    llm::MaskOptions mo;
    mo.first_cut_depth = 1, mo.max_uncertain = 4;
    llm::TokenMasker masker(graph, vocab, mo);
    std::vector<uint64_t> mask(masker.mask_words());
    llm::GrammarMatcher m(graph);
    for (size_t i = 0; i <= sentences[0].size() && i < 24; ++i) {
        masker.fill(m.state(), mask);
        {
            std::lock_guard lock(graph->mutex());
            if (!graph->failure().empty()) return;
        }
        for (size_t id = 0; id < pieces.size(); ++id) {
            llm::GrammarMatcher copy = m;
            const bool want = copy.accept_bytes(pieces[id]);
            if (want != static_cast<bool>((mask[id / 64] >> (id % 64)) & 1)) {
                std::lock_guard lock(graph->mutex());
                if (graph->failure().empty()) std::abort();
            }
        }
        if (i < sentences[0].size() && !m.accept_byte(static_cast<uint8_t>(sentences[0][i]))) return;
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size == 0 || size > 4096) return 0;
    const std::string_view text(reinterpret_cast<const char*>(data + 1), size - 1);
    llm::GbnfLimits lim;
    lim.max_symbols = 20000, lim.max_repetition = 200;
    switch (data[0] % 3) {
        case 0: {
            auto g = llm::parse_gbnf(text, lim);
            if (g) check_grammar_invariants(*g, false);
            break;
        }
        case 1: {
            auto gbnf = llm::json_schema_to_gbnf(text);
            if (!gbnf) break;
            auto g = llm::parse_gbnf(*gbnf, lim);  // may fail: left recursion ({"$ref": "#"}) or the limits
            if (g) check_grammar_invariants(*g, true);
            break;
        }
        default: {
            auto e = llm::regex_to_gbnf(text);
            if (!e) break;
            auto g = llm::parse_gbnf("root ::= \"\\\"\" (" + *e + ") \"\\\"\"\n", lim);
            if (g) check_grammar_invariants(*g, true);
            break;
        }
    }
    return 0;
}
