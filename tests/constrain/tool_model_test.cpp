// Tool calls against real vocabularies and SmolLM2: the lazy constraint switches on at the call prefix, the
// formats' special tokens are allowed where the call syntax has them, and with a forced tool SmolLM2 writes
// arguments that validate against the tool's schema (Python jsonschema) for every request (50 of 50 in the long
// tier, every 5th in the test command), streamed fragments concatenating to the final arguments.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "constrain/constraint.hpp"
#include "constrain/tool_calls.hpp"
#include "constrain_test_util.hpp"
#include "formats/gguf.hpp"
#include "llm/llm.hpp"
#include "runtime/generate.hpp"
#include "runtime/sampler.hpp"
#include "tokenizer/chat/chat_template.hpp"
#include "tokenizer/tokenizer.hpp"

using namespace constrain_test;
using json = nlohmann::ordered_json;

namespace {

std::unique_ptr<llm::Tokenizer> vocab_tokenizer(const std::string& path) {
    if (!std::filesystem::exists(path)) return nullptr;
    auto f = llm::GgufFile::open(path);
    if (!f) return nullptr;
    auto tok = llm::Tokenizer::from_gguf(*f);
    return tok ? std::move(*tok) : nullptr;
}

bool allowed(std::span<const uint64_t> mask, int32_t id) { return (mask[id / 64] >> (id % 64)) & 1; }

size_t count(std::span<const uint64_t> mask) {
    size_t n = 0;
    for (uint64_t w : mask) n += __builtin_popcountll(w);
    return n;
}

json load(const std::string& rel) {
    std::ifstream f(std::string(LLM_SOURCE_DIR) + "/" + rel);
    return json::parse(f);
}

}  // namespace

TEST(ToolLazy, FreeUntilThePrefixThenTheCallSyntax) {
    auto tok = vocab_tokenizer(std::string(LLM_FIXTURES_DIR) + "/tokenizer/ggml-vocab-gpt-2.gguf");
    ASSERT_TRUE(tok) << "fixture vocabulary missing";
    auto tools = llm::parse_tools(load("tests/constrain/data/tool_prompts.json")["tools"]);
    ASSERT_TRUE(tools.has_value());
    auto vocab = llm::tool_vocab(*tok, llm::ToolFormat::Generic);
    auto c = llm::make_tool_constraint(llm::ToolFormat::Generic, *tools, llm::ToolChoice{}, vocab);
    ASSERT_TRUE(c.has_value()) << c.error_message();
    llm::TokenConstraint& lazy = **c;
    const std::string free_text = "Let me look that up for you. ";
    const std::string call = "{\"tool_calls\": [{\"name\": \"get_weather\", \"arguments\": {\"location\": \"Paris\", \"unit\": \"celsius\"}}]}";
    const auto ids = tok->encode(free_text + call, false, false);
    std::string seen;
    bool switched = false;
    for (int32_t id : ids) {
        auto mask = lazy.allowed_tokens();
        ASSERT_TRUE(mask.has_value()) << mask.error_message();
        ASSERT_TRUE(allowed(*mask, id)) << "token '" << tok->token_to_piece(id) << "' after '" << seen << "'";
        if (seen.find("{\"tool_calls\"") == std::string::npos) {  // free until the prefix is complete
            EXPECT_EQ(count(*mask), static_cast<size_t>(tok->n_vocab())) << "free text: every token allowed";
            EXPECT_TRUE(lazy.is_complete());
        } else {
            switched = true;
            EXPECT_LT(count(*mask), static_cast<size_t>(tok->n_vocab())) << "inside the call: constrained after '" << seen << "'";
        }
        ASSERT_TRUE(lazy.accept(id).is_ok()) << seen;
        seen += tok->token_to_piece(id);
    }
    EXPECT_TRUE(switched);
    EXPECT_TRUE(lazy.is_complete());
    auto mask = lazy.allowed_tokens();
    ASSERT_TRUE(mask.has_value());
    EXPECT_TRUE(allowed(*mask, tok->eos_id())) << "after the call: end of generation";
    EXPECT_EQ(count(*mask), 1u) << "and nothing else";
    // A call to an unknown tool cannot even start.
    lazy.reset();
    for (int32_t id : tok->encode("{\"tool_calls\": [{\"name\": \"", false, false)) ASSERT_TRUE(lazy.accept(id).is_ok());
    EXPECT_FALSE(lazy.accept(tok->encode("launch", false, false)[0]).is_ok());
}

// The formats' special tokens (<tool_call>, <|python_tag|>, [TOOL_CALLS]) are single tokens of their models;
// tool_vocab() puts them into the trie as their text. llama.cpp's vocab-only GGUFs lack those added tokens, so
// the trie here is GPT-2's pieces plus the format's special token as an extra id, as tool_vocab() builds it.
TEST(ToolLazy, SpecialTokenPrefixesAreAllowedWhereTheSyntaxHasThem) {
    auto tok = vocab_tokenizer(std::string(LLM_FIXTURES_DIR) + "/tokenizer/ggml-vocab-gpt-2.gguf");
    ASSERT_TRUE(tok) << "fixture vocabulary missing";
    auto tools = llm::parse_tools(load("tests/constrain/data/tool_prompts.json")["tools"]);
    ASSERT_TRUE(tools.has_value());
    struct Case {
        llm::ToolFormat fmt;
        const char* special;
    };
    for (const Case& k : {Case{llm::ToolFormat::Hermes, "<tool_call>"}, Case{llm::ToolFormat::Llama3, "<|python_tag|>"},
                          Case{llm::ToolFormat::MistralV3, "[TOOL_CALLS]"}}) {
        SCOPED_TRACE(k.special);
        std::vector<std::string> pieces;
        std::vector<bool> text;
        for (int32_t id = 0; id < tok->n_vocab(); ++id) {
            pieces.push_back(tok->token_to_piece(id));
            text.push_back(!tok->is_end_of_generation(id));
        }
        const int32_t special = tok->n_vocab();
        pieces.push_back(k.special), text.push_back(true);
        auto vocab = std::make_shared<const llm::VocabTrie>(llm::VocabTrie::build(pieces, text, {tok->eos_id()}));
        auto c = llm::make_tool_constraint(k.fmt, *tools, llm::ToolChoice{llm::ToolChoiceMode::Required, "", true}, vocab);
        ASSERT_TRUE(c.has_value()) << c.error_message();
        auto mask = (*c)->allowed_tokens();
        ASSERT_TRUE(mask.has_value());
        EXPECT_TRUE(allowed(*mask, special));
        ASSERT_TRUE((*c)->accept(special).is_ok());
        // Auto: the special token alone switches the lazy constraint on.
        auto lazy = llm::make_tool_constraint(k.fmt, *tools, llm::ToolChoice{}, vocab);
        ASSERT_TRUE(lazy.has_value());
        for (int32_t t : tok->encode("Sure.\n", false, false)) ASSERT_TRUE((*lazy)->accept(t).is_ok());
        EXPECT_EQ(count(*(*lazy)->allowed_tokens()), pieces.size());
        ASSERT_TRUE((*lazy)->accept(special).is_ok());
        EXPECT_LT(count(*(*lazy)->allowed_tokens()), pieces.size() / 2);
        EXPECT_FALSE((*lazy)->is_complete());
    }
}

// SmolLM2 has no tool format of its own: the generic one, forced to the named tool, greedy. The prompt (five
// tools in the system message) is evaluated once; each request reuses its common prefix. All 50 requests take
// about a minute on 2 idle cores, over the suite's budget: the test command runs every 5th (10, each of the five
// tools twice); LLM_TOOL_PROMPTS_EVERY=1 runs all 50 (scripts/test-long.sh schemas).
TEST(ToolModel, SmolLM2ForcedToolArgumentsValidate) {
    const char* every_env = std::getenv("LLM_TOOL_PROMPTS_EVERY");
    const int every = std::max(1, every_env ? std::atoi(every_env) : 5);
    const std::string path = find_smollm2();
    if (path.empty()) GTEST_SKIP() << "SmolLM2 not in the cache: run scripts/fetch-smollm2.sh";
    llm::LoadOptions lo;
    lo.n_threads = 2;
    auto model = llm::Model::load(path, lo);
    ASSERT_TRUE(model.has_value()) << model.error_message();
    const llm::Tokenizer& tok = *(*model)->tokenizer();
    const llm::ToolFormat fmt = llm::detect_tool_format(tok.chat_template());
    ASSERT_EQ(fmt, llm::ToolFormat::Generic);
    auto tmpl = llm::ChatTemplate::parse(tok.chat_template());
    ASSERT_TRUE(tmpl.has_value());
    const json data = load("tests/constrain/data/tool_prompts.json");
    auto tools = llm::parse_tools(data["tools"]);
    ASSERT_TRUE(tools.has_value()) << tools.error_message();
    std::vector<std::string> names;
    std::map<std::string, json> schema_of;
    for (const auto& t : *tools) names.push_back(t.name), schema_of[t.name] = t.parameters;
    auto vocab = llm::tool_vocab(tok, fmt);
    llm::SessionOptions so;
    so.n_threads = 2, so.n_ctx = 2048;
    auto session = llm::Session::create(*model, so);
    ASSERT_TRUE(session.has_value()) << session.error_message();
    llm::ChatTemplateOptions topts;
    topts.bos_token = tok.bos_text(), topts.eos_token = tok.eos_text();

    json cases = json::array();
    int valid_calls = 0, n_cases = 0;
    std::vector<int32_t> held;  // tokens in the session
    for (size_t i = 0; i < data["cases"].size(); i += every) {
        const json& req = data["cases"][i];
        ++n_cases;
        const std::string want = req["tool"];
        SCOPED_TRACE(req["prompt"].get<std::string>());
        const json messages = json::array({{{"role", "user"}, {"content", req["prompt"]}}});
        auto prompt = llm::render_tool_prompt(*tmpl, fmt, messages, *tools, topts);
        ASSERT_TRUE(prompt.has_value()) << prompt.error_message();
        const std::vector<int32_t> ids = tok.encode(*prompt, tok.add_bos(), true);
        size_t common = 0;
        while (common < held.size() && common + 1 < ids.size() && held[common] == ids[common]) ++common;
        (*session)->truncate(static_cast<int64_t>(common));
        held.assign(ids.begin(), ids.end());

        auto c = llm::make_tool_constraint(fmt, *tools, {llm::ToolChoiceMode::Named, want}, vocab);
        ASSERT_TRUE(c.has_value()) << c.error_message();
        auto sampler = llm::Sampler::create(llm::SamplerConfig::greedy(), tok.n_vocab());
        ASSERT_TRUE(sampler.has_value());
        sampler->set_constraint(*c);
        llm::ToolCallParser parser(fmt, {.tool_names = names});
        std::string streamed_args, streamed_name, streamed_content;
        auto on_text = [&](std::string_view piece) {
            const llm::ToolDelta d = parser.push(piece);
            streamed_content += d.content;
            for (const auto& cd : d.calls) {
                EXPECT_EQ(cd.index, 0);
                streamed_name += cd.name;
                streamed_args += cd.arguments;
            }
            return true;
        };
        llm::GenerateOptions g;
        g.max_tokens = 512;
        auto r = llm::generate(**session, tok, *sampler, std::span(ids).subspan(common), g, on_text);
        ASSERT_TRUE(r.has_value()) << r.error_message();
        held.insert(held.end(), r->tokens.begin(), r->tokens.end());
        const llm::ToolParseResult res = parser.finish();
        EXPECT_EQ(r->stop_reason, llm::StopReason::EndOfGeneration) << r->text;
        EXPECT_EQ(res.warning, "") << r->text;
        EXPECT_EQ(streamed_content + res.unstreamed_content, "") << r->text;
        ASSERT_EQ(res.calls.size(), 1u) << r->text;
        EXPECT_EQ(res.calls[0].name, want);
        EXPECT_EQ(streamed_name, want);
        EXPECT_EQ(streamed_args, res.calls[0].arguments) << "streamed fragments concatenate to the arguments";
        valid_calls += json::accept(res.calls[0].arguments);
        std::printf("%-16s %3zu tokens %s\n", want.c_str(), r->tokens.size(), res.calls[0].arguments.c_str());
        std::fflush(stdout);
        cases.push_back({{"name", want + ": " + req["prompt"].get<std::string>()},
                         {"schema", schema_of[want]},
                         {"instances", json::array({res.calls[0].arguments})}});
    }
    EXPECT_EQ(valid_calls, n_cases);
    EXPECT_EQ(n_cases, (static_cast<int>(data["cases"].size()) + every - 1) / every);
    if (!python_has_jsonschema()) GTEST_SKIP() << "python3 with jsonschema not available: arguments parsed only";
    const std::string failures = python_validate(cases.dump());
    EXPECT_EQ(failures, "") << failures;
}
