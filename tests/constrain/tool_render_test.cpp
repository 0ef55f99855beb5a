// Prompts with tools, byte-identical to Python jinja2 (tests/constrain/make_tool_goldens.py): native tool
// templates of each family and the generic treatment of templates without tool support.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "constrain/tool_calls.hpp"
#include "tokenizer/chat/chat_template.hpp"

using json = nlohmann::ordered_json;

namespace {

std::string read_file(const std::string& rel) {
    std::ifstream f(std::string(LLM_SOURCE_DIR) + "/" + rel, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(f), {});
}

}  // namespace

TEST(ToolRender, ByteIdenticalToJinja2) {
    std::ifstream f(std::string(LLM_SOURCE_DIR) + "/tests/constrain/data/tool_goldens.json");
    const json data = json::parse(f);
    ASSERT_GE(data["cases"].size(), 80u);
    std::map<std::string, int> per_format;
    for (const auto& c : data["cases"]) {
        const std::string name = c["template"].get<std::string>() + " / " + c["conversation"].get<std::string>() +
                                 (c["add_generation_prompt"].get<bool>() ? " +gen" : "");
        SCOPED_TRACE(name);
        const std::string source = read_file(c["template"]);
        ASSERT_FALSE(source.empty());
        const llm::ToolFormat fmt = llm::detect_tool_format(source);
        EXPECT_EQ(llm::tool_format_name(fmt), c["format"].get<std::string>());
        auto tmpl = llm::ChatTemplate::parse(source);
        ASSERT_TRUE(tmpl.has_value()) << tmpl.error_message();
        auto tools = llm::parse_tools(c["tools"]);
        ASSERT_TRUE(tools.has_value()) << tools.error_message();
        llm::ChatTemplateOptions opts;
        opts.bos_token = c["bos_token"];
        opts.eos_token = c["eos_token"];
        opts.add_generation_prompt = c["add_generation_prompt"];
        for (const auto& [k, v] : c["extra_vars"].items()) opts.extra_vars.emplace_back(k, v.get<std::string>());
        auto out = llm::render_tool_prompt(*tmpl, fmt, c["messages"], *tools, opts);
        if (c["raises"].get<bool>()) {
            EXPECT_FALSE(out.has_value());
            continue;
        }
        ASSERT_TRUE(out.has_value()) << out.error_message();
        EXPECT_EQ(*out, c["output"].get<std::string>());
        ++per_format[c["format"]];
    }
    for (const char* f : {"generic", "llama3", "hermes", "mistral"}) EXPECT_GE(per_format[f], 8) << f;
}

TEST(ToolRender, NoToolsRendersTheMessagesAsTheyAre) {
    auto tmpl = llm::ChatTemplate::parse(read_file("tests/chat/data/templates/chatml.jinja"));
    ASSERT_TRUE(tmpl.has_value());
    const json msgs = json::parse(R"([{"role": "user", "content": "hi"}])");
    llm::ChatTemplateOptions opts;
    auto a = llm::render_tool_prompt(*tmpl, llm::ToolFormat::Generic, msgs, {}, opts);
    auto b = tmpl->render({{"user", "hi"}}, opts);
    ASSERT_TRUE(a.has_value() && b.has_value());
    EXPECT_EQ(*a, *b);
    EXPECT_EQ(llm::render_tool_prompt(*tmpl, llm::ToolFormat::Generic, json::parse(R"([{"content": "x"}])"), {}, opts).error_message(),
              "messages[0]: expected an object with a string 'role'");
}
