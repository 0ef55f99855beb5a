// Constrained generation end to end: SmolLM2-135M-Instruct with five schemas, greedy; every answer parses,
// completes the grammar, and validates with Python's jsonschema. Then llm-run's --schema/--grammar as a user
// drives them. Skips the model parts when SmolLM2 is not in the cache.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <array>
#include <nlohmann/json.hpp>

#include "constrain/constraint.hpp"
#include "constrain/json_schema.hpp"
#include "constrain_test_util.hpp"
#include "llm/llm.hpp"
#include "runtime/chat_session.hpp"
#include "runtime/generate.hpp"
#include "runtime/sampler.hpp"
#include "tokenizer/tokenizer.hpp"

using namespace constrain_test;
using json = nlohmann::ordered_json;

namespace {

struct Task {
    const char* name;
    const char* prompt;
    const char* schema;
};

const Task kTasks[] = {
    {"person", "Describe a fictional person as JSON with a name and an age.",
     R"({"type":"object","properties":{"name":{"type":"string","maxLength":24},"age":{"type":"integer","minimum":0,"maximum":120}},
         "required":["name","age"],"additionalProperties":false})"},
    {"city", "Give facts about Paris as JSON.",
     R"({"type":"object","properties":{"city":{"type":"string","maxLength":30},"country":{"enum":["France","Germany","Italy","Spain"]},
         "population":{"type":"integer","minimum":0},"capital":{"type":"boolean"}},"required":["city","country","population","capital"]})"},
    {"colors", "List three primary colors as a JSON array.",
     R"({"type":"array","items":{"type":"string","maxLength":12},"minItems":3,"maxItems":3})"},
    {"tool-call", "What is the weather in Berlin? Call the weather tool with JSON.",
     R"({"type":"object","properties":{"name":{"const":"get_weather"},"arguments":{"type":"object","properties":{
         "location":{"type":"string","maxLength":30},"unit":{"enum":["celsius","fahrenheit"]}},"required":["location","unit"],
         "additionalProperties":false}},"required":["name","arguments"],"additionalProperties":false})"},
    {"book", "Describe a famous novel as JSON.",
     R"({"$defs":{"genre":{"enum":["fiction","drama","romance","adventure","satire"]}},"type":"object","properties":{
         "title":{"type":"string","maxLength":40},"year":{"type":"integer","minimum":1000,"maximum":2030},
         "genres":{"type":"array","items":{"$ref":"#/$defs/genre"},"minItems":1,"maxItems":3},"rating":{"type":"number","minimum":0,"maximum":5}},
         "required":["title","year","genres","rating"]})"},
};

struct RunResult {
    int exit_code = -1;
    std::string output;
};

RunResult run_tool(const std::string& args) {
    const std::string cmd = std::string(LLM_BINARY_DIR) + "/llm-run " + args + " 2>&1";
    RunResult r;
    FILE* p = popen(cmd.c_str(), "r");
    std::array<char, 4096> buf;
    size_t n;
    while ((n = std::fread(buf.data(), 1, buf.size(), p)) > 0) r.output.append(buf.data(), n);
    const int status = pclose(p);
    r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    return r;
}

std::string quote_arg(const std::string& s) {
    std::string out = "'";
    for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
    return out + "'";
}

}  // namespace

TEST(EndToEnd, SmolLM2GreedyOutputValidates) {
    const std::string path = find_smollm2();
    if (path.empty()) GTEST_SKIP() << "SmolLM2 not in the cache: run scripts/fetch-smollm2.sh";
    llm::LoadOptions lo;
    lo.n_threads = 2;
    auto model = llm::Model::load(path, lo);
    ASSERT_TRUE(model.has_value()) << model.error_message();
    const llm::Tokenizer& tok = *(*model)->tokenizer();
    auto vocab = llm::VocabTrie::from_tokenizer(tok);
    json cases = json::array();
    for (const Task& t : kTasks) {
        SCOPED_TRACE(t.name);
        auto grammar = llm::grammar_from_text(llm::ConstraintSource::JsonSchema, t.schema);
        ASSERT_TRUE(grammar.has_value()) << grammar.error_message();
        auto constraint = llm::GrammarConstraint::create(*grammar, vocab);
        ASSERT_TRUE(constraint.has_value()) << constraint.error_message();
        llm::SessionOptions so;
        so.n_threads = 2, so.n_ctx = 1024;
        auto session = llm::Session::create(*model, so);
        ASSERT_TRUE(session.has_value()) << session.error_message();
        auto sampler = llm::Sampler::create(llm::SamplerConfig::greedy(), tok.n_vocab());
        ASSERT_TRUE(sampler.has_value());
        sampler->set_constraint(*constraint);
        auto chat = llm::ChatSession::create(**session, tok, tok.chat_template(), "Answer with JSON only.");
        ASSERT_TRUE(chat.has_value()) << chat.error_message();
        llm::GenerateOptions g;
        g.max_tokens = 256;
        auto r = chat->respond(t.prompt, *sampler, g, nullptr);
        ASSERT_TRUE(r.has_value()) << r.error_message();
        std::printf("%s: %s  [%zu tokens, %s]\n", t.name, r->text.c_str(), r->tokens.size(), llm::stop_reason_name(r->stop_reason));
        EXPECT_EQ(r->stop_reason, llm::StopReason::EndOfGeneration) << r->text;
        EXPECT_TRUE(json::accept(r->text)) << r->text;
        auto graph = std::make_shared<llm::GrammarGraph>(llm::compile_bytes(*grammar));
        EXPECT_TRUE(matcher_matches(graph, r->text)) << r->text;
        cases.push_back({{"name", t.name}, {"schema", json::parse(t.schema)}, {"instances", json::array({r->text})}});
    }
    if (!python_has_jsonschema()) GTEST_SKIP() << "python3 with jsonschema not available: outputs parsed and matched only";
    const std::string failures = python_validate(cases.dump());
    EXPECT_EQ(failures, "") << failures;
}

TEST(LlmRunConstraint, SchemaAndGrammarErrorsAreOneLine) {
    struct Case {
        std::string args, want;
    };
    const std::string dir = std::string(LLM_BINARY_DIR) + "/constrain_test_tmp";
    std::filesystem::create_directories(dir);
    std::ofstream(dir + "/bad.gbnf") << "root ::= \"a\" item\nitem ::= [0-9\n";
    std::ofstream(dir + "/bad_schema.json") << R"({"type": "array", "uniqueItems": true})";
    const Case cases[] = {
        {"--schema " + quote_arg(R"({"type":"object","properties":{"a":{"type":"string","format":"hostname"}}})") + " -p x",
         "llm-run: error: --schema: /properties/a/format: unsupported format 'hostname'"},
        {"--schema " + dir + "/bad_schema.json -p x",
         "llm-run: error: --schema " + dir + "/bad_schema.json: unsupported keyword 'uniqueItems' at /uniqueItems"},
        {"--schema " + quote_arg("{\"type\": ") + " -p x", "llm-run: error: --schema: not valid JSON"},
        {"--schema /nonexistent/schema.json -p x", "llm-run: error: --schema: cannot open '/nonexistent/schema.json'"},
        {"--grammar " + dir + "/bad.gbnf -p x", "llm-run: error: --grammar " + dir + "/bad.gbnf: 2:10: unterminated character class"},
        {"--grammar " + dir + "/bad.gbnf --schema '{}' -p x", "llm-run: error: --schema and --grammar exclude each other"},
    };
    for (const auto& c : cases) {
        const RunResult r = run_tool(c.args);
        EXPECT_NE(r.exit_code, 0) << c.args;
        EXPECT_EQ(r.output.rfind(c.want, 0), 0u) << c.args << "\noutput: " << r.output << "\nwanted: " << c.want;
        EXPECT_EQ(std::count(r.output.begin(), r.output.end(), '\n'), 1) << "one line: " << r.output;
    }
    const RunResult p = run_tool("--schema " + quote_arg(R"({"type":"boolean"})") + " --print-grammar");
    EXPECT_EQ(p.exit_code, 0);
    EXPECT_NE(p.output.find("root ::= "), std::string::npos) << p.output;
    // --json-max-string: the bound of strings the schema leaves open (256 by default, 0 = none).
    const std::string str = " --print-grammar --schema " + quote_arg(R"({"type":"string"})");
    EXPECT_NE(run_tool(str).output.find("(char){0,256}"), std::string::npos);
    EXPECT_NE(run_tool(str + " --json-max-string 5").output.find("(char){0,5}"), std::string::npos);
    const RunResult open = run_tool(str + " --json-max-string 0");
    EXPECT_EQ(open.exit_code, 0);
    EXPECT_EQ(open.output.find("{0,"), std::string::npos) << open.output;
    const RunResult neg = run_tool(str + " --json-max-string -1");
    EXPECT_EQ(neg.exit_code, 2);
    EXPECT_NE(neg.output.find("--json-max-string must be 0 (unbounded) or more"), std::string::npos) << neg.output;
}

TEST(LlmRunConstraint, SchemaConstrainsTheAnswer) {
    const std::string path = find_smollm2();
    if (path.empty()) GTEST_SKIP() << "SmolLM2 not in the cache: run scripts/fetch-smollm2.sh";
    const std::string schema = R"({"type":"object","properties":{"answer":{"enum":["yes","no"]},"confidence":{"type":"integer","minimum":0,"maximum":100}},"required":["answer","confidence"]})";
    const RunResult r = run_tool("-m " + path + " -t 2 --temp 0 -n 64 --json --schema " + quote_arg(schema) + " -p " +
                                 quote_arg("Is the sky blue? Reply in JSON."));
    ASSERT_EQ(r.exit_code, 0) << r.output;
    const auto line = r.output.substr(r.output.find('{'));
    const json out = json::parse(line);
    const json answer = json::parse(out["text"].get<std::string>());
    EXPECT_TRUE(answer["answer"] == "yes" || answer["answer"] == "no") << answer.dump();
    EXPECT_TRUE(answer["confidence"].is_number_integer());
    EXPECT_EQ(out["stop_reason"], "eos");

    std::ofstream(std::string(LLM_BINARY_DIR) + "/constrain_test_tmp/yesno.gbnf") << "root ::= (\"Yes\" | \"No\") \", because \" [a-z ]{1,40} \".\"\n";
    const RunResult g = run_tool("-m " + path + " -t 2 --temp 0 -n 64 --json --grammar " + std::string(LLM_BINARY_DIR) +
                                 "/constrain_test_tmp/yesno.gbnf -p " + quote_arg("Is water wet?"));
    ASSERT_EQ(g.exit_code, 0) << g.output;
    const json gout = json::parse(g.output.substr(g.output.find('{')));
    const std::string text = gout["text"];
    EXPECT_TRUE(text.rfind("Yes, because ", 0) == 0 || text.rfind("No, because ", 0) == 0) << text;
    EXPECT_EQ(text.back(), '.') << text;
}
