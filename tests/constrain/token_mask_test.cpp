// Token masks against the brute-force reference: at random states, each token is checked by feeding its
// bytes to a fresh copy of the matcher. Synthetic vocabularies (every option of the masker exercised) and,
// when cached, SmolLM2's 49k vocabulary.
#include <gtest/gtest.h>

#include <random>

#include "constrain/constraint.hpp"
#include "constrain/json_schema.hpp"
#include "constrain/token_mask.hpp"
#include "constrain_test_util.hpp"
#include "formats/gguf.hpp"
#include "tokenizer/tokenizer.hpp"

using namespace constrain_test;

namespace {

const char* const kJson = R"GBNF(root   ::= object
value  ::= object | array | string | number | ("true" | "false" | "null") ws
object ::= "{" ws ( string ":" ws value ("," ws string ":" ws value)* )? "}" ws
array  ::= "[" ws ( value ("," ws value)* )? "]" ws
string ::= "\"" ( [^"\\\x7F\x00-\x1F] | "\\" (["\\bfnrt] | "u" [0-9a-fA-F]{4}) )* "\"" ws
number ::= ("-"? ([0-9] | [1-9] [0-9]{0,15})) ("." [0-9]+)? ([eE] [-+]? [0-9] [1-9]{0,15})? ws
ws ::= | " " | "\n" [ \t]{0,20}
)GBNF";

// A vocabulary like a BPE one for JSON-ish text: every byte, pieces of sample sentences at random cuts
// (so tokens cross grammar boundaries: `":`, `"},`, ` {"`), a few specials, and an end-of-generation token.
struct SyntheticVocab {
    std::vector<std::string> pieces;
    std::vector<bool> text;
    std::vector<int32_t> eog;
};

SyntheticVocab make_vocab(const std::vector<std::string>& samples, uint64_t seed) {
    SyntheticVocab v;
    for (int b = 0; b < 256; ++b) v.pieces.push_back(std::string(1, static_cast<char>(b)));
    std::mt19937_64 rng(seed);
    for (const auto& s : samples)
        for (size_t i = 0; i < s.size();) {
            const size_t n = 1 + rng() % 6;
            v.pieces.push_back(s.substr(i, n));
            i += n;
        }
    for (const char* p : {"\": \"", "\"}", "\"},", " {\"", "\":[", "true", "false", "null", "\n  ", "  ", "\\n", "\\u00",
                          "\xC3\xA9", "\xE2\x82", "\xAC\"", "}}", "]}", "\": {\"", "0.", "e+", "-1"})
        v.pieces.push_back(p);
    v.text.assign(v.pieces.size(), true);
    v.pieces.push_back("<|special|>"), v.text.push_back(false);
    v.pieces.push_back("{"), v.text.push_back(false);  // a special token whose text would be allowed
    v.pieces.push_back(""), v.text.push_back(false);   // end of generation
    v.eog.push_back(static_cast<int32_t>(v.pieces.size() - 1));
    return v;
}

// Compares the masker with the reference at every prefix of `walk` (a valid sentence).
void compare_along(const llm::Grammar& g, const SyntheticVocab& sv, const std::vector<std::string>& walks,
                   llm::MaskOptions opts, const std::string& label) {
    auto graph = graph_of(g);
    auto vocab = std::make_shared<const llm::VocabTrie>(llm::VocabTrie::build(sv.pieces, sv.text, sv.eog));
    llm::TokenMasker masker(graph, vocab, opts);
    std::vector<uint64_t> mask(masker.mask_words());
    int states = 0;
    for (const auto& walk : walks) {
        llm::GrammarMatcher m(graph);
        for (size_t i = 0; i <= walk.size(); ++i) {
            masker.fill(m.state(), mask);
            for (size_t id = 0; id < sv.pieces.size(); ++id) {
                bool want;
                if (std::find(sv.eog.begin(), sv.eog.end(), static_cast<int32_t>(id)) != sv.eog.end()) {
                    want = m.is_accepting();
                } else if (!sv.text[id]) {
                    want = false;
                } else {
                    llm::GrammarMatcher copy = m;
                    want = copy.accept_bytes(sv.pieces[id]);
                }
                const bool got = (mask[id / 64] >> (id % 64)) & 1;
                ASSERT_EQ(got, want) << label << ": token " << id << " '" << sv.pieces[id] << "' after '"
                                     << walk.substr(0, i) << "'";
            }
            ++states;
            if (i < walk.size()) {
                ASSERT_TRUE(m.accept_byte(static_cast<uint8_t>(walk[i])));
            }
        }
    }
    EXPECT_GT(states, 10);
}

std::vector<std::string> sentences(const llm::Grammar& g, int n, uint64_t seed, size_t budget = 80) {
    SentenceGenerator gen(g, seed);
    std::vector<std::string> out;
    for (int i = 0; i < n; ++i) out.push_back(gen.sentence(budget, 10));
    return out;
}

}  // namespace

TEST(TokenMask, MatchesBruteForceOnJsonWithEveryOption) {
    const auto g = must_parse(kJson);
    const auto walks = sentences(g, 12, 5);
    const auto vocab = make_vocab(sentences(g, 40, 6), 7);
    llm::MaskOptions defaults;
    compare_along(g, vocab, walks, defaults, "defaults");
    llm::MaskOptions shallow;  // cut right below the top: nearly everything uncertain, then deepened
    shallow.first_cut_depth = 1, shallow.max_uncertain = 8, shallow.mask_cache_entries = 0;
    compare_along(g, vocab, walks, shallow, "shallow");
    llm::MaskOptions no_deepen;  // never deepen: everything past the cut checked against the real stack
    no_deepen.first_cut_depth = 2, no_deepen.max_uncertain = SIZE_MAX, no_deepen.mask_cache_entries = 2;
    compare_along(g, vocab, walks, no_deepen, "no_deepen");
}

TEST(TokenMask, MatchesBruteForceOnOtherGrammars) {
    const std::vector<std::string> grammars = {
        "root  ::= (expr \"=\" ws term \"\\n\")+\nexpr  ::= term ([-+*/] term)*\nterm  ::= ident | num | \"(\" ws expr \")\" ws\n"
        "ident ::= [a-z] [a-z0-9_]* ws\nnum   ::= [0-9]+ ws\nws    ::= [ \\t\\n]*\n",
        "root ::= s\ns ::= \"(\" s \")\" s | \"{\" s \"}\" s | \"\"\n",
        "root ::= (\"ab\" | \"a\" \"b\"? | [b-d]+ | [\\u00e0-\\u00ff]{1,2})* \"!\"\n",
        "root ::= \"x\"{0,5} \"}\"\n",
    };
    for (const auto& text : grammars) {
        const auto g = must_parse(text);
        llm::MaskOptions o;
        o.first_cut_depth = 1, o.max_uncertain = 16;
        compare_along(g, make_vocab(sentences(g, 30, 11), 12), sentences(g, 8, 13), o, text);
    }
}

TEST(TokenMask, MatchesBruteForceOnSchemaGrammars) {
    const char* schemas[] = {
        R"({"type":"object","properties":{"name":{"type":"string","maxLength":12},"age":{"type":"integer","minimum":0,"maximum":130},
            "tags":{"type":"array","items":{"enum":["a","b","c\"d"]},"maxItems":3},"email":{"type":"string","format":"email"}},
            "required":["name"]})",
        R"({"$defs":{"node":{"type":"object","properties":{"v":{"type":"number"},"kids":{"type":"array","items":{"$ref":"#/$defs/node"}}},
            "required":["v","kids"],"additionalProperties":false}},"$ref":"#/$defs/node"})",
        R"({"type":"object","additionalProperties":{"type":"boolean"},"properties":{"id":{"type":"string","pattern":"^[A-Z]{2}-\\d{3}$"}}})",
    };
    for (const char* schema : schemas) {
        auto gbnf = llm::json_schema_to_gbnf(schema);
        ASSERT_TRUE(gbnf.has_value()) << gbnf.error_message();
        const auto g = must_parse(*gbnf);
        llm::MaskOptions o;
        compare_along(g, make_vocab(sentences(g, 30, 21, 150), 22), sentences(g, 6, 23, 150), o, schema);
    }
}

TEST(TokenMask, ConstraintRejectsSpecialAndEarlyEnd) {
    const auto g = must_parse("root ::= \"ab\"\n");
    const auto sv = make_vocab({"ab"}, 1);
    auto vocab = std::make_shared<const llm::VocabTrie>(llm::VocabTrie::build(sv.pieces, sv.text, sv.eog));
    auto c = llm::GrammarConstraint::create(g, vocab);
    ASSERT_TRUE(c.has_value()) << c.error_message();
    auto& con = **c;
    const int32_t eog = sv.eog[0], special = eog - 2, a = 'a', b = 'b';
    EXPECT_FALSE(con.accept(eog).is_ok());      // not complete yet
    EXPECT_FALSE(con.accept(special).is_ok());  // never
    EXPECT_FALSE(con.accept(b).is_ok());
    EXPECT_TRUE(con.accept(a).is_ok());
    auto fork = con.fork();
    EXPECT_TRUE(con.accept(b).is_ok());
    EXPECT_TRUE(con.is_complete());
    auto allowed = con.allowed_tokens();
    ASSERT_TRUE(allowed.has_value());
    // Only end of generation remains.
    for (size_t id = 0; id < sv.pieces.size(); ++id)
        EXPECT_EQ(((*allowed)[id / 64] >> (id % 64)) & 1, static_cast<uint64_t>(static_cast<int32_t>(id) == eog)) << id;
    EXPECT_TRUE(con.accept(eog).is_ok());
    EXPECT_FALSE(fork->is_complete());  // the fork kept its own position
    EXPECT_TRUE(fork->accept(b).is_ok());
}

TEST(TokenMask, SmolLM2VocabularyMatchesBruteForce) {
    const std::string path = find_smollm2();
    if (path.empty()) GTEST_SKIP() << "SmolLM2 not in the cache: run scripts/fetch-smollm2.sh";
    auto f = llm::GgufFile::open(path);
    ASSERT_TRUE(f.has_value()) << f.error_message();
    auto tok = llm::Tokenizer::from_gguf(*f);
    ASSERT_TRUE(tok.has_value()) << tok.error_message();
    auto vocab = llm::VocabTrie::from_tokenizer(**tok);
    EXPECT_GT(vocab->n_text_tokens, 48000u);
    auto gbnf = llm::json_schema_to_gbnf(
        R"({"type":"object","properties":{"title":{"type":"string"},"year":{"type":"integer","minimum":1900,"maximum":2100},
            "ok":{"type":"boolean"},"scores":{"type":"array","items":{"type":"number"},"maxItems":4}},"required":["title","year"]})");
    ASSERT_TRUE(gbnf.has_value()) << gbnf.error_message();
    const auto g = must_parse(*gbnf);
    auto graph = graph_of(g);
    llm::TokenMasker masker(graph, vocab);
    std::vector<uint64_t> mask(masker.mask_words());
    const std::string walk = "{\"title\": \"Caf\xC3\xA9 \\\"du\\\" Nord\", \"year\": 1987, \"ok\": true, \"scores\": [1.5, -2]}";
    llm::GrammarMatcher m(graph);
    std::mt19937 rng(3);
    int checked = 0;
    for (size_t i = 0; i <= walk.size(); ++i) {
        if (i % 3 == 0 || i == walk.size()) {
            masker.fill(m.state(), mask);
            for (int32_t id = 0; id < (*tok)->n_vocab(); ++id) {
                bool want;
                if ((*tok)->is_end_of_generation(id)) want = m.is_accepting();
                else if (vocab->node_of_token[id] == llm::VocabTrie::kNoNode) { want = false; }
                else {
                    llm::GrammarMatcher copy = m;
                    want = copy.accept_bytes((*tok)->token_to_piece(id));
                }
                const bool got = (mask[id / 64] >> (id % 64)) & 1;
                ASSERT_EQ(got, want) << "token " << id << " '" << (*tok)->token_to_piece(id) << "' after '" << walk.substr(0, i) << "'";
            }
            ++checked;
        }
        if (i < walk.size()) {
            ASSERT_TRUE(m.accept_byte(static_cast<uint8_t>(walk[i]))) << walk.substr(0, i + 1);
        }
    }
    EXPECT_GT(checked, 20);
}
