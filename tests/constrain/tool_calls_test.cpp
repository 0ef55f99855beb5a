// Tool calls: recorded outputs of each family parse into the right calls or fall back to text (whole and
// streamed in chunks of every size), the call grammars generate only text the parser accepts, and the lazy
// constraint switches on at the call prefix.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <random>

#include "constrain/constraint.hpp"
#include "constrain/grammar_sampler.hpp"
#include "constrain/tool_calls.hpp"
#include "constrain_test_util.hpp"

using json = nlohmann::ordered_json;

namespace {

json load(const std::string& rel) {
    std::ifstream f(std::string(LLM_SOURCE_DIR) + "/" + rel);
    return json::parse(f);
}

llm::ToolFormat format_of(const std::string& s) {
    if (s == "llama3") return llm::ToolFormat::Llama3;
    if (s == "hermes") return llm::ToolFormat::Hermes;
    if (s == "mistral") return llm::ToolFormat::MistralV3;
    return llm::ToolFormat::Generic;
}

const json kTools = json::parse(R"([
  {"type": "function", "function": {"name": "get_weather", "description": "Current weather in a city.",
   "parameters": {"type": "object", "properties": {"location": {"type": "string", "maxLength": 40},
                  "unit": {"enum": ["celsius", "fahrenheit"]}}, "required": ["location"]}}},
  {"type": "function", "function": {"name": "get_time", "description": "Time in a time zone.",
   "parameters": {"type": "object", "properties": {"tz": {"type": "string", "maxLength": 30}}, "required": ["tz"],
                  "additionalProperties": false}}},
  {"name": "make_tree", "description": "Anthropic shape, recursive schema.",
   "input_schema": {"$defs": {"node": {"type": "object", "properties": {"label": {"type": "string", "maxLength": 8},
                    "children": {"type": "array", "items": {"$ref": "#/$defs/node"}, "maxItems": 2}}, "required": ["label"]}},
                    "type": "object", "properties": {"root": {"$ref": "#/$defs/node"}}, "required": ["root"]}}
])");

struct Streamed {
    std::string content;
    std::vector<llm::ToolCall> calls;  // from the deltas
    llm::ToolParseResult final;
};

Streamed stream(llm::ToolFormat fmt, const std::string& text, size_t chunk, uint64_t seed,
                const std::vector<std::string>& names) {
    llm::ToolCallParser p(fmt, {.tool_names = names, .id_seed = 7});
    Streamed s;
    std::mt19937_64 rng(seed);
    for (size_t i = 0; i < text.size();) {
        size_t n = chunk ? chunk : 1 + rng() % 9;
        n = std::min(n, text.size() - i);
        llm::ToolDelta d = p.push(std::string_view(text).substr(i, n));
        i += n;
        s.content += d.content;
        for (const auto& c : d.calls) {
            if (c.index == static_cast<int>(s.calls.size())) {
                EXPECT_FALSE(c.name.empty()) << "a call's first delta names it";
                EXPECT_FALSE(c.id.empty());
                s.calls.push_back({c.id, c.name, ""});
            } else {
                EXPECT_LT(c.index, static_cast<int>(s.calls.size()));
                EXPECT_TRUE(c.name.empty() && c.id.empty()) << "name and id only on the first delta";
            }
            if (c.index < static_cast<int>(s.calls.size())) s.calls[c.index].arguments += c.arguments;
        }
    }
    s.final = p.finish();
    s.content += s.final.unstreamed_content;
    return s;
}

}  // namespace

TEST(ToolParser, RecordedOutputsParseOrFallBackToText) {
    const json data = load("tests/constrain/data/tool_outputs.json");
    const std::vector<std::string> names = {"get_weather", "get_time"};
    for (const auto& c : data["cases"]) {
        SCOPED_TRACE(c["name"].get<std::string>());
        const auto fmt = format_of(c["format"]);
        const std::string text = c["text"];
        const llm::ToolParseResult r = llm::parse_tool_calls(fmt, text, {.tool_names = names});
        EXPECT_EQ(r.content, c["content"].get<std::string>());
        EXPECT_EQ(!r.warning.empty(), c.value("warning", false)) << r.warning;
        ASSERT_EQ(r.calls.size(), c["calls"].size());
        for (size_t i = 0; i < r.calls.size(); ++i) {
            EXPECT_EQ(r.calls[i].name, c["calls"][i]["name"].get<std::string>());
            ASSERT_TRUE(json::accept(r.calls[i].arguments)) << r.calls[i].arguments;
            EXPECT_EQ(json::parse(r.calls[i].arguments), c["calls"][i]["arguments"]) << r.calls[i].arguments;
            if (c["calls"][i].contains("id")) EXPECT_EQ(r.calls[i].id, c["calls"][i]["id"].get<std::string>());
            else if (fmt == llm::ToolFormat::MistralV3) EXPECT_EQ(r.calls[i].id.size(), 9u);
            else EXPECT_EQ(r.calls[i].id.rfind("call_", 0), 0u);
        }
        // Streamed in chunks of every size: the same content, and the deltas rebuild the same calls.
        for (size_t chunk : {1, 2, 3, 5, 8, 13, 0, 0, 0}) {
            SCOPED_TRACE("chunk " + std::to_string(chunk));
            const Streamed s = stream(fmt, text, chunk, chunk * 31 + text.size(), names);
            EXPECT_EQ(s.content, r.content);
            EXPECT_EQ(s.final.content, r.content);
            EXPECT_EQ(s.final.warning, r.warning);
            ASSERT_EQ(s.final.calls.size(), r.calls.size());
            if (r.warning.empty()) {
                ASSERT_EQ(s.calls.size(), r.calls.size());
                for (size_t i = 0; i < r.calls.size(); ++i) {
                    EXPECT_EQ(s.calls[i].name, r.calls[i].name);
                    EXPECT_EQ(s.calls[i].id, s.final.calls[i].id);
                    EXPECT_EQ(s.calls[i].arguments, s.final.calls[i].arguments);
                    EXPECT_EQ(s.final.calls[i].arguments, r.calls[i].arguments);
                }
            }
        }
    }
}

TEST(ToolParser, NameIsStreamedBeforeArgumentsEnd) {
    llm::ToolCallParser p(llm::ToolFormat::Hermes);
    EXPECT_EQ(p.push("Checking.\n<tool").content, "Checking.\n");  // a possible prefix is held back
    llm::ToolDelta d = p.push("_call>\n{\"name\": \"get_weather\", \"arguments\": {\"loc");
    ASSERT_EQ(d.calls.size(), 2u);
    EXPECT_EQ(d.calls[0].name, "get_weather");
    EXPECT_EQ(d.calls[1].arguments, "{\"loc");
    d = p.push("ation\": \"Paris\"}}\n</tool_call>");
    ASSERT_EQ(d.calls.size(), 1u);
    EXPECT_EQ(d.calls[0].arguments, "ation\": \"Paris\"}");
    const auto r = p.finish();
    ASSERT_EQ(r.calls.size(), 1u);
    EXPECT_EQ(r.calls[0].arguments, "{\"location\": \"Paris\"}");
    EXPECT_EQ(r.content, "Checking.\n");
    EXPECT_EQ(r.unstreamed_content, "");
}

// What comes back as a call is valid JSON for the client: arguments with invalid UTF-8 (the fuzz target's first
// find), lone surrogate escapes, non-object arguments, a repeated name or arguments key, or an empty name make
// the call text with a warning, in every format.
// No sequence cut at either end (the test's text is valid UTF-8, so checking the ends suffices).
static bool complete_utf8(const std::string& s) {
    if (s.empty()) return true;
    if ((static_cast<unsigned char>(s.front()) & 0xC0) == 0x80) return false;
    size_t k = s.size();
    while (k > 0 && (static_cast<unsigned char>(s[k - 1]) & 0xC0) == 0x80) --k;
    if (k == 0) return false;
    const auto lead = static_cast<unsigned char>(s[k - 1]);
    const size_t need = lead < 0x80 ? 1 : lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : 2;
    return s.size() - (k - 1) == need;
}

TEST(ToolParser, CallsThatWouldNotBeValidJsonAreText) {
    const std::vector<std::pair<llm::ToolFormat, std::string>> wraps = {
        {llm::ToolFormat::Generic, "{\"tool_calls\": [%]}"},
        {llm::ToolFormat::Llama3, "<|python_tag|>%"},
        {llm::ToolFormat::Hermes, "<tool_call>\n%\n</tool_call>"},
        {llm::ToolFormat::MistralV3, "[TOOL_CALLS] [%]"},
    };
    const std::vector<std::string> bad_calls = {
        "{\"name\": \"get_weather\", \"arguments\": {\"location\": \"\xd1\xff\xff\xffs\"}}",  // the fuzz input
        "{\"name\": \"get_weather\", \"arguments\": {\"location\": \"\xc0\xaf\"}}",            // overlong
        "{\"name\": \"get_weather\", \"arguments\": {\"location\": \"\xed\xa0\x80\"}}",        // UTF-8 surrogate
        "{\"name\": \"get_weather\", \"arguments\": {\"location\": \"\xf4\x90\x80\x80\"}}",    // above U+10FFFF
        "{\"name\": \"get_\xff\", \"arguments\": {}}",
        "{\"name\": \"get_weather\", \"arguments\": {\"location\": \"\\ud800\"}}",
        "{\"name\": \"get_weather\", \"arguments\": {\"location\": \"\\udc00\\ud800\"}}",
        "{\"name\": \"get_weather\", \"arguments\": \"{\\\"a\\\": \\\"\\\\ud800\\\"}\"}",
        "{\"name\": \"get_weather\", \"arguments\": \"Paris\"}",
        "{\"name\": \"get_weather\", \"arguments\": [1, 2]}",
        "{\"name\": \"get_weather\", \"arguments\": null}",
        "{\"name\": \"get_weather\", \"arguments\": {}, \"parameters\": {\"a\": 1}}",
        "{\"name\": \"get_weather\", \"name\": \"get_time\", \"arguments\": {}}",
        "{\"name\": \"\", \"arguments\": {}}",
        "{\"name\": \"get_weather\", \"arguments\": {\"temp\": -1.5e555555}}",  // beyond a double (a fuzz input)
        "{\"name\": \"get_weather\", \"arguments\": {\"days\": 1e400}}",
    };
    for (const auto& [fmt, wrap] : wraps) {
        for (const std::string& call : bad_calls) {
            std::string text = wrap;
            text.replace(text.find('%'), 1, call);
            SCOPED_TRACE(std::string(llm::tool_format_name(fmt)) + ": " + text);
            const llm::ToolParseResult r = llm::parse_tool_calls(fmt, text);
            EXPECT_TRUE(r.calls.empty());
            EXPECT_FALSE(r.warning.empty());
            EXPECT_EQ(r.content, text);
        }
    }
    // Valid multi-byte text and surrogate pairs are kept as they are; a fragment never ends inside a character.
    const std::string ok = "[TOOL_CALLS] [{\"name\": \"f\", \"arguments\": "
                           "{\"city\": \"Z\xc3\xbcrich \xf0\x9f\x98\x80 \\ud83d\\ude00\"}}]";
    const llm::ToolParseResult r = llm::parse_tool_calls(llm::ToolFormat::MistralV3, ok);
    ASSERT_EQ(r.calls.size(), 1u) << r.warning;
    EXPECT_EQ(json::parse(r.calls[0].arguments)["city"], "Z\xc3\xbcrich \xf0\x9f\x98\x80 \xf0\x9f\x98\x80");
    llm::ToolCallParser p(llm::ToolFormat::MistralV3);
    std::string streamed;
    for (char c : ok) {
        for (const auto& d : p.push(std::string_view(&c, 1)).calls) {
            EXPECT_TRUE(complete_utf8(d.arguments)) << "fragment: " << d.arguments;
            streamed += d.arguments;
        }
    }
    p.finish();
    EXPECT_EQ(streamed, r.calls[0].arguments);
}

TEST(ToolFormat, DetectedFromTheTemplate) {
    auto read = [](const std::string& rel) {
        std::ifstream f(std::string(LLM_SOURCE_DIR) + "/" + rel);
        return std::string(std::istreambuf_iterator<char>(f), {});
    };
    const std::string t = "tests/chat/data/templates/";
    const std::string c = "tests/constrain/data/templates/";
    EXPECT_EQ(llm::detect_tool_format(read(t + "llama3_1_instruct.jinja")), llm::ToolFormat::Llama3);
    EXPECT_EQ(llm::detect_tool_format(read(t + "llama3_2_instruct.jinja")), llm::ToolFormat::Llama3);
    EXPECT_EQ(llm::detect_tool_format(read(t + "mistral_instruct_v0.3.jinja")), llm::ToolFormat::MistralV3);
    EXPECT_EQ(llm::detect_tool_format(read(c + "qwen2_5_instruct.jinja")), llm::ToolFormat::Hermes);
    EXPECT_EQ(llm::detect_tool_format(read(c + "hermes_3_llama_3_1.jinja")), llm::ToolFormat::Hermes);
    EXPECT_EQ(llm::detect_tool_format(read(c + "mistral_nemo_instruct.jinja")), llm::ToolFormat::MistralV3);
    for (const char* g : {"smollm2_instruct.jinja", "phi3_5_mini.jinja", "phi3_mini_4k_128k.jinja", "llama3_instruct.jinja",
                          "chatml.jinja", "zephyr.jinja", "llama2_chat.jinja"})
        EXPECT_EQ(llm::detect_tool_format(read(t + g)), llm::ToolFormat::Generic) << g;
}

TEST(ToolTools, ParsedFromOpenAiAndAnthropicShapesWithErrorsNamed) {
    auto tools = llm::parse_tools(kTools);
    ASSERT_TRUE(tools.has_value()) << tools.error_message();
    ASSERT_EQ(tools->size(), 3u);
    EXPECT_EQ((*tools)[2].name, "make_tree");
    EXPECT_EQ((*tools)[2].raw["function"]["parameters"], kTools[2]["input_schema"]);
    EXPECT_EQ(llm::parse_tools(json::parse(R"([{"type": "function", "function": {"description": "x"}}])")).error_message(),
              "tools[0].function.name: expected a non-empty string");
    EXPECT_EQ(llm::parse_tools(json::parse(R"([{"name": "a"}, {"name": "a"}])")).error_message(),
              "tools[1].name: 'a' is defined twice");
    EXPECT_EQ(llm::parse_tools(json::parse(R"([{"name": "a", "input_schema": 3}])")).error_message(),
              "tools[0].input_schema: expected a JSON schema object");
    EXPECT_EQ(llm::tool_call_grammar(llm::ToolFormat::Generic, *tools, {llm::ToolChoiceMode::Named, "nope"}).error_message(),
              "tool_choice: no tool named 'nope'");
}

// Claude Code sends tools whose schemas use what the grammar cannot enforce (its SendMessage tool: an allOf of
// two patterns). The call grammar leaves out exactly the refused keywords: calls are still possible, the rest of
// the schema (types, required properties, the other pattern, no extra keys) still holds.
TEST(ToolGrammar, UnenforceableArgumentKeywordsAreLeftOutNotRefused) {
    auto tools = llm::parse_tools(json::parse(R"([{"name": "send", "input_schema": {"type": "object", "properties": {
        "to": {"allOf": [{"type": "string", "pattern": "^[^\\n\\r]*$"}, {"pattern": "^[\\s\\S]{0,300}$"}]},
        "tags": {"type": "array", "items": {"type": "string"}, "uniqueItems": true},
        "n": {"type": "integer"}, "a b": {"type": "string", "format": "hostname"}}, "required": ["to", "n"],
        "additionalProperties": false}}])"));
    ASSERT_TRUE(tools.has_value()) << tools.error_message();
    auto gbnf = llm::tool_call_grammar(llm::ToolFormat::Generic, *tools, {llm::ToolChoiceMode::Required});
    ASSERT_TRUE(gbnf.has_value()) << gbnf.error_message();
    const auto graph = constrain_test::graph_of(constrain_test::must_parse(*gbnf));
    auto call = [&](const std::string& args) {
        return constrain_test::matcher_matches(graph, R"({"tool_calls": [{"name": "send", "arguments": )" + args + "}]}");
    };
    EXPECT_TRUE(call(R"({"to": "team", "tags": ["a", "a"], "n": 1})"));  // uniqueItems left out
    EXPECT_TRUE(call(R"({"to": "team", "n": 1})"));
    EXPECT_TRUE(call(R"({"to": "team", "n": 1, "a b": "any text"})"));  // its unsupported format left out
    EXPECT_FALSE(call(R"({"to": "a\nb", "n": 1})"));           // the first pattern still holds
    EXPECT_FALSE(call(R"({"to": "team", "n": "1"})"));           // types still hold
    EXPECT_FALSE(call(R"({"to": "team"})"));                     // required still holds
    EXPECT_FALSE(call(R"({"to": "team", "n": 1, "cc": "x"})"));  // no extra keys
    // A refused part at the schema's root is left out the same way; a forced (named) call of such a tool works.
    auto root = llm::parse_tools(json::parse(R"([{"name": "f", "input_schema": {"allOf": [{"pattern": "a"}, {"pattern": "b"}]}}])"));
    ASSERT_TRUE(root.has_value());
    auto g2 = llm::tool_call_grammar(llm::ToolFormat::Hermes, *root, {llm::ToolChoiceMode::Named, "f"});
    ASSERT_TRUE(g2.has_value()) << g2.error_message();
}

// Every sentence a call grammar generates parses into calls of the allowed tools, without a warning.
TEST(ToolGrammar, GeneratedCallsParse) {
    auto tools = llm::parse_tools(kTools);
    ASSERT_TRUE(tools.has_value());
    std::vector<std::string> names;
    for (const auto& t : *tools) names.push_back(t.name);
    for (auto fmt : {llm::ToolFormat::Generic, llm::ToolFormat::Llama3, llm::ToolFormat::Hermes, llm::ToolFormat::MistralV3}) {
        for (const llm::ToolChoice& choice : {llm::ToolChoice{llm::ToolChoiceMode::Required},
                                              llm::ToolChoice{llm::ToolChoiceMode::Named, "make_tree"},
                                              llm::ToolChoice{llm::ToolChoiceMode::Required, "", false}}) {
            SCOPED_TRACE(std::string(llm::tool_format_name(fmt)) + " " + choice.name);
            auto gbnf = llm::tool_call_grammar(fmt, *tools, choice);
            ASSERT_TRUE(gbnf.has_value()) << gbnf.error_message();
            auto g = llm::parse_gbnf(*gbnf);
            ASSERT_TRUE(g.has_value()) << g.error_message() << "\n" << *gbnf;
            llm::GrammarSampler gs(*g, 11);
            size_t most = 0;
            for (int k = 0; k < 40; ++k) {
                const std::string s = gs.sentence(300);
                const auto r = llm::parse_tool_calls(fmt, s, {.tool_names = names});
                EXPECT_EQ(r.warning, "") << s;
                EXPECT_EQ(r.content, "") << s;
                ASSERT_GE(r.calls.size(), 1u) << s;
                most = std::max(most, r.calls.size());
                for (const auto& c : r.calls) {
                    EXPECT_TRUE(json::accept(c.arguments)) << s;
                    if (choice.mode == llm::ToolChoiceMode::Named) EXPECT_EQ(c.name, "make_tree");
                }
            }
            const bool multi = choice.parallel && choice.mode != llm::ToolChoiceMode::Named && fmt != llm::ToolFormat::Llama3;
            if (!multi) EXPECT_EQ(most, 1u);
            else EXPECT_GT(most, 1u);
        }
    }
}
