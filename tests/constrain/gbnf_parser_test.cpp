// GBNF parser: llama.cpp's own grammars parse and round-trip through to_gbnf; malformed grammars fail with
// line:column and what was expected; garbage never crashes or hangs.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <random>

#include "constrain/grammar.hpp"
#include "constrain_test_util.hpp"

using namespace constrain_test;

TEST(GbnfParser, ParsesLlamaCppGrammarsAndRoundTrips) {
    const std::string dir = llama_cpp_grammars_dir();
    if (dir.empty()) GTEST_SKIP() << "llama.cpp's grammars not fetched (scripts/fetch-vocabs.sh)";
    int n = 0;
    for (const auto& e : std::filesystem::directory_iterator(dir)) {
        if (e.path().extension() != ".gbnf") continue;
        const std::string text = read_file(e.path().string());
        auto g = llm::parse_gbnf(text);
        ASSERT_TRUE(g.has_value()) << e.path() << ": " << g.error_message();
        // Printing and parsing again gives the same grammar, printed the same way.
        const std::string printed = llm::to_gbnf(*g);
        auto g2 = llm::parse_gbnf(printed);
        ASSERT_TRUE(g2.has_value()) << e.path() << ": reparse: " << g2.error_message() << "\n" << printed;
        // Rules may come in another order (indices follow first use), so compare the sorted lines.
        auto lines = [](const std::string& t) {
            std::vector<std::string> out;
            for (size_t i = 0, j; i < t.size(); i = j + 1) {
                j = t.find('\n', i);
                if (j == std::string::npos) j = t.size();
                out.push_back(t.substr(i, j - i));
            }
            std::sort(out.begin(), out.end());
            return out;
        };
        EXPECT_EQ(lines(llm::to_gbnf(*g2)), lines(printed)) << e.path();
        EXPECT_EQ(g2->symbol_count(), g->symbol_count());
        ++n;
    }
    EXPECT_GE(n, 8);
}

TEST(GbnfParser, Syntax) {
    // Comments, newlines inside groups and after '|', CRLF, repetition forms, escapes, UTF-8, '.'.
    const std::string text =
        "# comment\r\n"
        "root ::= item+ tail? # trailing comment\r\n"
        "item ::= (\"a\" |\n   \"b\"\n) [0-9]{2} [x-z]{1,} \"\\x41\\u00e9\\U0001F600\\t\\\"\" |\n"
        "  [^\\]\\-\\\\] . \"ü\"{0,2}\n"
        "tail ::= \"\" | \"END\"\n";
    auto g = llm::parse_gbnf(text);
    ASSERT_TRUE(g.has_value()) << g.error_message();
    auto graph = graph_of(*g);
    EXPECT_TRUE(matcher_matches(graph, "a12xA\xC3\xA9\xF0\x9F\x98\x80\t\""));
    EXPECT_TRUE(matcher_matches(graph, "b00zzzA\xC3\xA9\xF0\x9F\x98\x80\t\"END"));
    EXPECT_TRUE(matcher_matches(graph, "q\xE2\x82\xAC\xC3\xBC\xC3\xBC"));  // [^...] . "ü"{0,2}
    EXPECT_FALSE(matcher_matches(graph, "]x"));                           // ']' excluded by the class
    EXPECT_FALSE(matcher_matches(graph, "a1xA\xC3\xA9"));  // "a1" "xA" as two second-form items, then "é" alone
}

TEST(GbnfParser, ErrorsNamePositionAndExpectation) {
    struct Case {
        std::string text, want;
    };
    const Case cases[] = {
        {"root ::= \"abc", "1:14: expected a closing '\"', found the end of the input"},
        {"root ::= foo", "1:10: undefined rule 'foo'"},
        {"root = \"a\"", "1:6: expected '::=' after rule name 'root'"},
        {"a ::= \"x\"\n", "no 'root' rule"},
        {"", "no 'root' rule"},
        {"root ::= (\"a\"", "1:10: unbalanced '('"},
        {"root ::= (\"a\" ]", "1:15: expected a rule name, a \"literal\", a [class], '(', '.', '|', ')' or an operator, found ']'"},
        {"root ::= [a-", "unterminated character class"},
        {"root ::= \"\\q\"", "1:11: unknown escape '\\q'"},
        {"root ::= \"\\x4\"", "expected 2 hex digits after '\\x'"},
        {"root ::= *", "1:10: expected an item before '*'"},
        {"root ::= \"a\"{3,2}", "maximum is below the minimum"},
        {"root ::= \"a\"{100000}", "repetition count above the limit"},
        {"root ::= \"a\"{3", "expected ',' or '}' in the repetition"},
        {"root ::= <think>", "1:10: token references (<...>) are not supported"},
        {"root ::= \"a\"\nroot ::= \"b\"", "2:1: rule 'root' is defined twice (first on line 1)"},
        {"root ::= [z-a]", "range end U+0061 is below its start U+007A"},
        {"root ::= \"a\" )", "1:14: expected a newline or the end of the input after rule 'root', found ')'"},
        {"root ::= [^\\x00-\\U0010FFFF]", "the negated class excludes every character"},
        {"root ::= []", "empty character class"},
        {"root ::= \"\\U00110000\"", "U+110000 is not a Unicode scalar value"},
        {"root ::= \"\\uD800\"", "U+D800 is not a Unicode scalar value"},
        {"root ::= \"a\" @", "1:14: expected a rule name, a \"literal\", a [class], '(', '.', '|' or an operator, found '@'"},
        {"root ::= \"\xff\"", "1:11: invalid UTF-8"},
        {"root ::= x\nx ::= x \"a\" | \"b\"", "left recursion: x -> x"},
        {"root ::= e\ne ::= t \"+\" e | t\nt ::= f | \"(\" e \")\"\nf ::= n? e\nn ::= \"-\"",
         "left recursion: e -> t -> f -> e"},
        {"root ::= (\"a\"?)*", "left recursion"},
        {"root ::= \"a\" root", "rule 'root' derives no finite string"},
        {"root ::= \"{\" n \"}\"\nn ::= \"[\" n \"]\" | \"(\" n \")\"", "rule 'root' derives no finite string"},
        {"root ::= \"\"*", "repetition of an empty item"},
        {"root ::= \"a\"{5000}{5000}", "symbols"},
    };
    for (const auto& c : cases) {
        auto g = llm::parse_gbnf(c.text);
        ASSERT_FALSE(g.has_value()) << "accepted: " << c.text;
        EXPECT_NE(g.error_message().find(c.want), std::string::npos)
            << "grammar: " << c.text << "\nmessage: " << g.error_message() << "\nwanted: " << c.want;
    }
}

TEST(GbnfParser, Limits) {
    std::string deep = "root ::= ";
    for (int i = 0; i < 300; ++i) deep += "(";
    deep += "\"a\"";
    for (int i = 0; i < 300; ++i) deep += ")";
    auto g = llm::parse_gbnf(deep);
    ASSERT_FALSE(g.has_value());
    EXPECT_NE(g.error_message().find("nested deeper than 128"), std::string::npos) << g.error_message();
    llm::GbnfLimits small;
    small.max_bytes = 10;
    EXPECT_FALSE(llm::parse_gbnf("root ::= \"abcdefgh\"", small).has_value());
}

TEST(GbnfParser, GarbageNeverCrashes) {
    // Mutations of a real grammar and random bytes; the property is only "returns" (no crash, no hang).
    const std::string base = "root ::= obj\nobj ::= \"{\" ws (str \":\" ws val (\",\" ws str \":\" ws val)*)? \"}\"\n"
                             "val ::= obj | str | [0-9]+ | \"true\"\nstr ::= \"\\\"\" [^\"\\\\]* \"\\\"\"\nws ::= [ \\t\\n]{0,8}\n";
    ASSERT_TRUE(llm::parse_gbnf(base).has_value());
    std::mt19937 rng(7);
    const std::string alphabet = "()[]{}|*+?\".:=#\\^-,09az \n\t\xC3\xA9<>!";
    int ok = 0;
    for (int iter = 0; iter < 3000; ++iter) {
        std::string s = base;
        const int edits = 1 + rng() % 4;
        for (int e = 0; e < edits; ++e) {
            const size_t at = rng() % (s.size() + 1);
            switch (rng() % 3) {
                case 0: s.insert(s.begin() + at, alphabet[rng() % alphabet.size()]); break;
                case 1: if (at < s.size()) s.erase(at, 1); break;
                default: if (at < s.size()) s[at] = alphabet[rng() % alphabet.size()]; break;
            }
        }
        auto g = llm::parse_gbnf(s);
        if (g) {
            ++ok;
            // Whatever parses also compiles and matches without trouble.
            auto graph = graph_of(*g);
            llm::GrammarMatcher m(graph);
            (void)m.accept_bytes("{\"a\": 1}");
        } else {
            EXPECT_FALSE(g.error_message().empty());
        }
    }
    EXPECT_GT(ok, 100);
}
