// Anthropic request conversion (pure): messages -> the conversation the chat template sees, every field checked,
// Claude Code's billing header and cache_control kept out of the prompt, errors in Anthropic's envelope.
#include <gtest/gtest.h>

#include "server/anthropic_request.hpp"
#include "server/prompt_history.hpp"

using namespace llm::server;
using llm::StopReason;

namespace {

Json body_with(const std::string& extra) {
    return Json::parse(R"({"model":"claude-x","max_tokens":16,)" + extra + "}");
}

std::optional<ApiError> parse(const Json& body, ApiRequest& out) { return parse_messages_request(body, out); }

std::string render(const ApiRequest& r) {
    std::string s;
    for (const auto& m : r.messages) s += m.role + ": " + m.content + "|";
    return s;
}

}  // namespace

TEST(AnthropicRequest, SystemStringOrBlocksBillingHeaderDropped) {
    ApiRequest a, b, c;
    ASSERT_FALSE(parse(body_with(R"("system":"Be terse.","messages":[{"role":"user","content":"hi"}])"), a));
    ASSERT_FALSE(parse(body_with(R"("system":[{"type":"text","text":"x-anthropic-billing-header: cc_version=2.1.3; cch=1a2b;"},
                                            {"type":"text","text":"Be terse.","cache_control":{"type":"ephemeral"}}],
                                  "messages":[{"role":"user","content":[{"type":"text","text":"hi"}]}])"), b));
    // A new billing value and moved cache_control: the same conversation.
    ASSERT_FALSE(parse(body_with(R"("system":[{"type":"text","text":"x-anthropic-billing-header: cc_version=2.1.3; cch=ffff;"},
                                            {"type":"text","text":"Be terse."}],
                                  "messages":[{"role":"user","content":[{"type":"text","text":"hi","cache_control":{"type":"ephemeral"}}]}])"), c));
    EXPECT_EQ(render(a), "system: Be terse.|user: hi|");
    EXPECT_EQ(render(b), render(a));
    EXPECT_EQ(render(c), render(a));
    EXPECT_TRUE(is_billing_header("x-anthropic-billing-header: cc_version=2.1.332.73b; cc_entrypoint=sdk-cli;"));
    EXPECT_FALSE(is_billing_header("You are Claude Code"));
}

TEST(AnthropicRequest, MidConversationSystemMessagesRenderedInPlace) {
    ApiRequest r;
    ASSERT_FALSE(parse(body_with(R"("messages":[{"role":"user","content":[{"type":"text","text":"a"},{"type":"text","text":"b"}]},
                                               {"role":"system","content":[{"type":"text","text":"env"}]},
                                               {"role":"assistant","content":[{"type":"thinking","thinking":"hm","signature":"s"},{"type":"text","text":"ok"}]},
                                               {"role":"user","content":"next"}])"), r));
    EXPECT_EQ(render(r), "user: a\n\nb|system: env|assistant: ok|user: next|");
    // Turn 2 sends the same system message as a string: the same text.
    ApiRequest s;
    ASSERT_FALSE(parse(body_with(R"("messages":[{"role":"user","content":"x"},{"role":"system","content":"env"}])"), s));
    EXPECT_EQ(render(s), "user: x|system: env|");
}

TEST(AnthropicRequest, ToolUseAndToolResultsInHistory) {
    ApiRequest r;
    ASSERT_FALSE(parse(body_with(R"("messages":[{"role":"user","content":"weather?"},
        {"role":"assistant","content":[{"type":"text","text":"Checking."},{"type":"tool_use","id":"toolu_1","name":"get_weather","input":{"city":"Paris"}}]},
        {"role":"user","content":[{"type":"tool_result","tool_use_id":"toolu_1","content":"sunny"},
                                  {"type":"tool_result","tool_use_id":"toolu_2","content":[{"type":"text","text":"boom"}],"is_error":true},
                                  {"type":"text","text":"thanks"}]}])"), r));
    EXPECT_EQ(render(r), "user: weather?|assistant: Checking.\n\n{\"tool_calls\":[{\"name\":\"get_weather\",\"arguments\":"
                         "{\"city\":\"Paris\"}}]}|tool: sunny|tool: Error: boom|user: thanks|");
}

TEST(AnthropicRequest, ToolsToolChoiceAndTheToolPromptMessages) {
    const char* tools = R"("tools":[{"name":"get_weather","description":"w","input_schema":{"type":"object","properties":{"city":{"type":"string"}}}},
                                    {"name":"get_time","input_schema":{"type":"object"}}])";
    ApiRequest a;
    ASSERT_FALSE(parse(body_with(std::string(tools) + R"(,"messages":[{"role":"user","content":"hi"}])"), a));
    ASSERT_EQ(a.tools.size(), 2u);
    EXPECT_EQ(a.tools[0].name, "get_weather");
    EXPECT_EQ(a.tool_choice.mode, llm::ToolChoiceMode::Auto);
    EXPECT_TRUE(a.tool_choice.parallel);
    EXPECT_TRUE(a.tool_prompt);
    EXPECT_EQ(dump_json(a.messages_json), R"([{"role":"user","content":"hi"}])");
    ApiRequest n;
    ASSERT_FALSE(parse(body_with(std::string(tools) + R"(,"messages":[{"role":"user","content":"hi"}],
        "tool_choice":{"type":"tool","name":"get_time","disable_parallel_tool_use":true})"), n));
    EXPECT_EQ(n.tool_choice.mode, llm::ToolChoiceMode::Named);
    EXPECT_EQ(n.tool_choice.name, "get_time");
    EXPECT_FALSE(n.tool_choice.parallel);
    ApiRequest any, none;
    ASSERT_FALSE(parse(body_with(std::string(tools) + R"(,"messages":[{"role":"user","content":"hi"}],"tool_choice":{"type":"any"})"), any));
    EXPECT_EQ(any.tool_choice.mode, llm::ToolChoiceMode::Required);
    ASSERT_FALSE(parse(body_with(std::string(tools) + R"(,"messages":[{"role":"user","content":"hi"}],"tool_choice":{"type":"none"})"), none));
    EXPECT_EQ(none.tool_choice.mode, llm::ToolChoiceMode::None);
    EXPECT_TRUE(none.tool_prompt);  // the tools stay in the prompt, as OpenAI's route keeps them
    // History without tools: calls and results in OpenAI's shape for the tool prompt renderer.
    ApiRequest h;
    ASSERT_FALSE(parse(body_with(R"("system":"S","messages":[{"role":"user","content":"weather?"},
        {"role":"assistant","content":[{"type":"text","text":"Checking."},{"type":"tool_use","id":"toolu_1","name":"get_weather","input":{"city":"Paris"}}]},
        {"role":"user","content":[{"type":"tool_result","tool_use_id":"toolu_1","content":"sunny","is_error":false},{"type":"text","text":"thanks"}]}])"), h));
    EXPECT_TRUE(h.tool_prompt);
    EXPECT_EQ(dump_json(h.messages_json),
              R"([{"role":"system","content":"S"},{"role":"user","content":"weather?"},)"
              R"({"role":"assistant","content":"Checking.","tool_calls":[{"id":"toolu_1","type":"function","function":{"name":"get_weather","arguments":{"city":"Paris"}}}]},)"
              R"({"role":"tool","tool_call_id":"toolu_1","content":"sunny"},{"role":"user","content":"thanks"}])");
    ApiRequest plain;
    ASSERT_FALSE(parse(body_with(R"("messages":[{"role":"user","content":"hi"}])"), plain));
    EXPECT_FALSE(plain.tool_prompt);
}

TEST(AnthropicRequest, FieldsAndDefaults) {
    ApiRequest r;
    ASSERT_FALSE(parse(body_with(R"("messages":[{"role":"user","content":"hi"}],"temperature":0,"top_k":5,"top_p":0.5,
        "stop_sequences":["END","\n\n"],"stream":true,"metadata":{"user_id":"u"},"thinking":{"type":"enabled","budget_tokens":1024},
        "context_management":{"edits":[]},"output_config":{"effort":"high"},"service_tier":"auto","some_future_field":[1,2],
        "tools":[],"tool_choice":{"type":"auto"})"), r));
    EXPECT_EQ(r.max_tokens, 16);
    EXPECT_TRUE(r.clamp_max_tokens);
    EXPECT_EQ(r.sampling.temperature, 0.0f);
    EXPECT_EQ(r.sampling.top_k, 5);
    EXPECT_EQ(r.sampling.top_p, 0.5f);
    EXPECT_EQ(r.stop, (std::vector<std::string>{"END", "\n\n"}));
    EXPECT_TRUE(r.stream);
    ApiRequest d;
    ASSERT_FALSE(parse(body_with(R"("messages":[{"role":"user","content":"hi"}])"), d));
    EXPECT_EQ(d.sampling.temperature, 1.0f);  // Anthropic's default
    EXPECT_FALSE(d.stream);
    // count_tokens does not need max_tokens.
    ApiRequest c;
    EXPECT_FALSE(parse_messages_request(Json::parse(R"({"model":"m","messages":[{"role":"user","content":"hi"}]})"), c, true));
}

TEST(AnthropicRequest, BadFieldsAre400sNamingThem) {
    const std::pair<const char*, const char*> cases[] = {
        {R"({"max_tokens":5,"messages":[{"role":"user","content":"hi"}]})", "model"},
        {R"({"model":"m","messages":[{"role":"user","content":"hi"}]})", "max_tokens"},
        {R"({"model":"m","max_tokens":0,"messages":[{"role":"user","content":"hi"}]})", "max_tokens"},
        {R"({"model":"m","max_tokens":5})", "messages"},
        {R"({"model":"m","max_tokens":5,"messages":[]})", "messages"},
        {R"({"model":"m","max_tokens":5,"messages":{}})", "messages"},
        {R"({"model":"m","max_tokens":5,"messages":[{"role":"bot","content":"hi"}]})", "messages[0].role"},
        {R"({"model":"m","max_tokens":5,"messages":[{"role":"user"}]})", "messages[0].content"},
        {R"({"model":"m","max_tokens":5,"messages":[{"role":"user","content":[{"type":"image","source":{}}]}]})", "messages[0].content[0]"},
        {R"({"model":"m","max_tokens":5,"messages":[{"role":"user","content":[{"type":"document","source":{}}]}]})", "messages[0].content[0]"},
        {R"({"model":"m","max_tokens":5,"messages":[{"role":"user","content":[{"type":"hologram"}]}]})", "messages[0].content[0].type"},
        {R"({"model":"m","max_tokens":5,"messages":[{"role":"user","content":[{"type":"text"}]}]})", "messages[0].content[0].text"},
        {R"({"model":"m","max_tokens":5,"messages":[{"role":"user","content":[{"type":"tool_use","name":"f","input":{}}]}]})", "messages[0].content[0].type"},
        {R"({"model":"m","max_tokens":5,"messages":[{"role":"user","content":"hi"}],"temperature":1.5})", "temperature"},
        {R"({"model":"m","max_tokens":5,"messages":[{"role":"user","content":"hi"}],"top_k":-1})", "top_k"},
        {R"({"model":"m","max_tokens":5,"messages":[{"role":"user","content":"hi"}],"stop_sequences":"x"})", "stop_sequences"},
        {R"({"model":"m","max_tokens":5,"messages":[{"role":"user","content":"hi"}],"stream":"yes"})", "stream"},
        {R"({"model":"m","max_tokens":5,"messages":[{"role":"user","content":"hi"}],"system":5})", "system"},
        {R"({"model":"m","max_tokens":5,"messages":[{"role":"user","content":"hi"}],"tool_choice":{"type":"maybe"}})", "tool_choice.type"},
        {R"({"model":"m","max_tokens":5,"messages":[{"role":"user","content":"hi"}],"metadata":"x"})", "metadata"},
        {R"({"model":"m","max_tokens":5,"messages":[{"role":"user","content":"hi"}],"tool_choice":{"type":"any"}})", "tool_choice"},
        {R"({"model":"m","max_tokens":5,"messages":[{"role":"user","content":"hi"}],"tools":[{"name":"f"}],"tool_choice":{"type":"tool","name":"g"}})", "tool_choice.name"},
        {R"({"model":"m","max_tokens":5,"messages":[{"role":"user","content":"hi"}],"tools":[{"name":"f"}],"tool_choice":{"type":"auto","disable_parallel_tool_use":1}})", "tool_choice.disable_parallel_tool_use"},
        {R"({"model":"m","max_tokens":5,"messages":[{"role":"user","content":"hi"}],"tools":[{"description":"no name"}]})", "tools"},
    };
    for (const auto& [body, param] : cases) {
        ApiRequest r;
        auto e = parse(Json::parse(body), r);
        ASSERT_TRUE(e.has_value()) << body;
        EXPECT_EQ(e->status, 400) << body;
        EXPECT_EQ(e->param, param) << body << ": " << e->message;
        EXPECT_NE(e->message.find(param), std::string::npos) << e->message;
    }
}

TEST(AnthropicResponse, StopReasonsUsageErrors) {
    ApiRequest req;
    req.max_tokens = 100;
    ApiResult r;
    r.stop_reason = StopReason::EndOfGeneration;
    EXPECT_STREQ(anthropic_stop_reason(r, req), "end_turn");
    r.stop_reason = StopReason::StopString;
    EXPECT_STREQ(anthropic_stop_reason(r, req), "stop_sequence");
    r.stop_reason = StopReason::MaxTokens, r.completion_tokens = 100;
    EXPECT_STREQ(anthropic_stop_reason(r, req), "max_tokens");
    r.completion_tokens = 40;  // cut by the context, not by the client's max_tokens
    EXPECT_STREQ(anthropic_stop_reason(r, req), "model_context_window_exceeded");
    r.stop_reason = StopReason::ContextFull;
    EXPECT_STREQ(anthropic_stop_reason(r, req), "model_context_window_exceeded");

    r.prompt_tokens = 1000, r.cached_tokens = 960, r.completion_tokens = 7;
    Json u = anthropic_usage(r);
    EXPECT_EQ(u["input_tokens"], 40);
    EXPECT_EQ(u["cache_read_input_tokens"], 960);
    EXPECT_EQ(u["input_tokens"].get<int>() + u["cache_read_input_tokens"].get<int>() +
                  u["cache_creation_input_tokens"].get<int>(), 1000);
    EXPECT_EQ(u["output_tokens"], 7);

    EXPECT_EQ(prompt_too_long(9000, 8192).message, "prompt is too long: 9000 tokens > 8191 maximum");
    const std::pair<int, const char*> types[] = {{400, "invalid_request_error"}, {401, "authentication_error"},
                                                 {403, "permission_error"},      {404, "not_found_error"},
                                                 {413, "request_too_large"},     {429, "rate_limit_error"},
                                                 {500, "api_error"},             {529, "overloaded_error"}};
    for (const auto& [status, type] : types) {
        Json e = anthropic_error_body(ApiError{status, "whatever", "msg", "", ""}, "req_1");
        EXPECT_EQ(e["type"], "error");
        EXPECT_EQ(e["error"]["type"], type);
        EXPECT_EQ(e["error"]["message"], "msg");
        EXPECT_EQ(e["request_id"], "req_1");
    }
}

TEST(PromptHistory, SaysWhereAPromptLeftItsSession) {
    PromptHistory h(2);
    auto diverged = [&](const char* s, std::vector<int32_t> t) { return h.record(s, t).diverged_at; };
    EXPECT_EQ(diverged("s", {1, 2, 3}), -1);          // first prompt
    EXPECT_EQ(diverged("s", {1, 2, 3, 4, 5}), -1);    // extends it
    EXPECT_EQ(diverged("s", {9, 9}), 0);              // a side request: nothing in common (kept as a new thread)
    EXPECT_EQ(diverged("s", {1, 2, 3, 4, 5, 6}), -1);  // the main thread goes on
    EXPECT_EQ(diverged("s", {1, 2, 7, 4, 5, 6, 7}), 2);  // changed at token 2
    EXPECT_EQ(diverged("t", {1}), -1);
    EXPECT_EQ(diverged("u", {1}), -1);                // "s" is forgotten (2 sessions at most)
    EXPECT_EQ(diverged("s", {5}), -1);
}

TEST(PromptHistory, TellsTheMainThreadFromSideRequests) {
    PromptHistory h;
    EXPECT_TRUE(h.record("s", {1, 2, 3, 4}).main_thread);         // the session's first prompt
    EXPECT_FALSE(h.record("s", {9, 9}).main_thread);              // a short side request (a title)
    EXPECT_TRUE(h.record("s", {1, 2, 3, 4, 5, 6}).main_thread);   // the conversation's next turn
    EXPECT_FALSE(h.record("s", {1, 2, 3, 8}).main_thread);        // a summary of an earlier point of it
    EXPECT_FALSE(h.record("s", {9, 9, 9}).main_thread);           // the side thread grows, still shorter
    const PromptHistory::Recorded next = h.record("s", {1, 2, 3, 4, 5, 6, 7});
    EXPECT_TRUE(next.main_thread);
    EXPECT_EQ(next.diverged_at, -1) << "the summary replaced the conversation it branched off";
    EXPECT_TRUE(h.record("t", {7}).main_thread);                  // another session is its own
}
