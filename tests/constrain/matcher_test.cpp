// The byte matcher: accept/reject tables, agreement with an independent recognizer on random and mutated
// strings, UTF-8 handling, checkpoints, and limits.
#include <gtest/gtest.h>

#include <random>

#include "constrain/byte_program.hpp"
#include "constrain/matcher.hpp"
#include "constrain_test_util.hpp"

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

const char* const kArith = R"GBNF(root  ::= (expr "=" ws term "\n")+
expr  ::= term ([-+*/] term)*
term  ::= ident | num | "(" ws expr ")" ws
ident ::= [a-z] [a-z0-9_]* ws
num   ::= [0-9]+ ws
ws    ::= [ \t\n]*
)GBNF";

struct Row {
    std::string input;
    bool full;    // a complete match
    bool viable;  // a prefix of some match
};

void check_table(const std::string& grammar, const std::vector<Row>& rows) {
    const auto g = must_parse(grammar);
    auto graph = graph_of(g);
    ReferenceRecognizer ref(g);
    for (const Row& r : rows) {
        llm::GrammarMatcher m(graph);
        const bool viable = m.accept_bytes(r.input);
        EXPECT_EQ(viable, r.viable) << "prefix: " << r.input;
        EXPECT_EQ(viable && m.is_accepting(), r.full) << "full: " << r.input;
        EXPECT_EQ(ref.matches(r.input), r.full) << "reference: " << r.input;
    }
}

}  // namespace

TEST(Matcher, JsonTable) {
    check_table(kJson, {
                           {"{}", true, true},
                           {"{\"a\": 1}", true, true},
                           {"{\"a\":[1, 2.5e3, \"x\\n\", true, null, {}]}\n", true, true},
                           {"{\"a\": \"\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80\"}", true, true},
                           {"{\"a\": ", false, true},
                           {"{\"a\" 1}", false, false},
                           {"[1]", false, false},
                           {"{} {}", false, false},
                           {"{\"a\": 01}", false, false},
                           {"{\"a\": \"\x01\"}", false, false},
                           {"{\"a\": \"\\x\"}", false, false},
                           {"{\"a\": \"\xC3\"}", false, false},       // a lone lead byte then a quote
                           {"{\"a\": \"\xED\xA0\x80\"}", false, false},  // an encoded surrogate
                           {"{\"a\": \"\xE2\x82", false, true},        // half a character is a prefix
                       });
}

TEST(Matcher, ArithmeticTable) {
    check_table(kArith, {
                            {"a=b\n", true, true},
                            {"(x1 + 2) * y = 3\n", false, false},  // spaces only where ws is
                            {"(x1+2)*y= 3\nz=4\n", true, true},
                            {"a=", false, true},
                            {"=a\n", false, false},
                        });
}

TEST(Matcher, RepetitionsAndClasses) {
    check_table("root ::= [a-c]{2,3} \"-\" [^a-z]? [0-9]{0,2} \".\"{2}\n",
                {
                    {"ab-..", true, true},
                    {"abc-X12..", true, true},
                    {"a-..", false, false},
                    {"abcd-..", false, false},
                    {"ab-123..", true, true},  // [^a-z]? takes the '1'
                    {"ab-1234..", false, false},
                    {"ab-\xE4\xB8\xAD..", true, true},
                    {"ab-.", false, true},
                });
}

TEST(Matcher, EmptyAlternativesAndNullableRules) {
    check_table("root ::= a b c\na ::= \"\" | \"x\"\nb ::= c*\nc ::= \"y\" | \"z\" d\nd ::= | \"!\"\n",
                {{"y", true, true}, {"xy", true, true}, {"yzzy", true, true}, {"z!", true, true}, {"x", false, true},
                 {"", false, true}, {"!", false, false}});
}

TEST(Matcher, AgreesWithReferenceOnRandomAndMutatedStrings) {
    const std::vector<std::string> grammars = {kJson, kArith,
                                               "root ::= (\"ab\" | \"a\" \"b\"? | [b-d]+)* \"!\"\n",
                                               "root ::= s\ns ::= \"(\" s \")\" s | \"[\" s \"]\" s | \"\"\n",
                                               "root ::= ([^\\n]{0,3} \"\\n\")+ [\\u0100-\\u07FF\\u4E00-\\u4E0F]*\n"};
    std::mt19937_64 rng(1234);
    for (const auto& text : grammars) {
        const auto g = must_parse(text);
        auto graph = graph_of(g);
        ReferenceRecognizer ref(g);
        SentenceGenerator gen(g, 99);
        int n_valid = 0;
        for (int i = 0; i < 150; ++i) {
            std::string s = gen.sentence(60, 12);
            EXPECT_TRUE(ref.matches(s)) << "generator produced a non-sentence: " << s;
            EXPECT_TRUE(matcher_matches(graph, s)) << "grammar:\n" << text << "rejected: " << s;
            // Every prefix is viable.
            llm::GrammarMatcher m(graph);
            for (char c : s) ASSERT_TRUE(m.accept_byte(static_cast<uint8_t>(c))) << s;
            n_valid += 1;
            // Mutations: the matcher and the reference must agree either way.
            for (int k = 0; k < 4; ++k) {
                std::string t = s;
                const size_t at = t.empty() ? 0 : rng() % t.size();
                const char ch = "(){}[]\"\\ab1:,!\n"[rng() % 15];
                switch (rng() % 3) {
                    case 0: t.insert(t.begin() + std::min(at, t.size()), ch); break;
                    case 1: if (!t.empty()) t.erase(at, 1); break;
                    default: if (!t.empty()) t[at] = ch; break;
                }
                EXPECT_EQ(matcher_matches(graph, t), ref.matches(t)) << "grammar:\n" << text << "input: " << t;
            }
        }
        EXPECT_EQ(n_valid, 150);
    }
}

TEST(Matcher, CopiesAreCheckpoints) {
    auto graph = graph_of(must_parse(kJson));
    llm::GrammarMatcher m(graph);
    ASSERT_TRUE(m.accept_bytes("{\"a\": [1, "));
    const llm::GrammarMatcher saved = m;
    ASSERT_TRUE(m.accept_bytes("2]}"));
    EXPECT_TRUE(m.is_accepting());
    EXPECT_FALSE(saved.is_accepting());
    llm::GrammarMatcher back = saved;
    EXPECT_FALSE(back.accept_bytes("}"));  // a failed advance leaves it unchanged
    EXPECT_TRUE(back.accept_bytes("\"x\"]}"));
    EXPECT_TRUE(back.is_accepting());
    back.reset();
    EXPECT_TRUE(back.accept_bytes("{}"));
}

TEST(Matcher, Utf8SequencesCoverExactlyTheRange) {
    // Every code point in and around a few ranges: the byte program accepts exactly those in the set.
    const std::pair<uint32_t, uint32_t> ranges[] = {{0x7E, 0x81}, {0x7FE, 0x801}, {0xD7F0, 0xE010}, {0xFFF0, 0x10010}, {0x10FFF0, 0x10FFFF}};
    for (auto [lo, hi] : ranges) {
        const auto g = must_parse(fmt::format("root ::= [\\U{:08X}-\\U{:08X}]\n", lo, hi));
        auto graph = graph_of(g);
        for (uint32_t c = lo > 0x20 ? lo - 0x20 : 0; c <= std::min<uint32_t>(hi + 0x20, 0x10FFFF); ++c) {
            if (c >= 0xD800 && c <= 0xDFFF) continue;
            std::string s;
            llm::utf8::append_codepoint(s, c);
            EXPECT_EQ(matcher_matches(graph, s), c >= lo && c <= hi && !(c >= 0xD800 && c <= 0xDFFF)) << std::hex << c;
        }
    }
}

TEST(Matcher, LimitsStopRunawayGrammars) {
    llm::MatcherLimits lim;
    lim.max_stacks = 4;
    auto graph = graph_of(must_parse(kJson), lim);
    llm::GrammarMatcher m(graph);
    EXPECT_FALSE(m.accept_bytes("{\"a\": "));  // value expands into more than 4 stacks
    std::lock_guard lock(graph->mutex());
    EXPECT_NE(graph->failure().find("parallel stacks"), std::string::npos) << graph->failure();
}

TEST(Matcher, DeepNestingIsLinear) {
    auto graph = graph_of(must_parse(kJson));
    llm::GrammarMatcher m(graph);
    std::string s = "{\"a\":";
    for (int i = 0; i < 2000; ++i) s += "[";
    ASSERT_TRUE(m.accept_bytes(s));
    for (int i = 0; i < 2000; ++i) ASSERT_TRUE(m.accept_byte(']'));
    ASSERT_TRUE(m.accept_byte('}'));
    EXPECT_TRUE(m.is_accepting());
}
