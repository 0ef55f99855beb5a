// OpenAI request conversion: every parameter checked, 400s naming the parameter, defaults as OpenAI documents.
#include <gtest/gtest.h>

#include "server/openai_request.hpp"
#include "server/openai_response.hpp"

using namespace llm::server;

namespace {

std::optional<ApiError> chat(const std::string& body, ApiRequest& out) {
    Json j;
    if (auto e = parse_json_body(body, {}, j)) return e;
    return parse_chat_request(j, out);
}
std::string chat_param_error(const std::string& body) {
    ApiRequest r;
    auto e = chat(body, r);
    if (!e) return "<ok>";
    EXPECT_EQ(e->status, 400) << e->message;
    return e->param;
}

const char* kMsgs = R"("messages":[{"role":"user","content":"hi"}])";
std::string with(const std::string& extra) { return std::string("{") + kMsgs + (extra.empty() ? "" : "," + extra) + "}"; }

}  // namespace

TEST(OpenAiRequest, MinimalChatHasOpenAiDefaults) {
    ApiRequest r;
    ASSERT_FALSE(chat(with(""), r));
    ASSERT_EQ(r.messages.size(), 1u);
    EXPECT_EQ(r.messages[0].role, "user");
    EXPECT_EQ(r.messages[0].content, "hi");
    EXPECT_EQ(r.sampling.temperature, 1.0f);
    EXPECT_EQ(r.sampling.top_p, 1.0f);
    EXPECT_EQ(r.sampling.top_k, 0);
    EXPECT_EQ(r.sampling.min_p, 0.0f);
    EXPECT_EQ(r.sampling.seed, llm::SamplerConfig::kRandomSeed);
    EXPECT_EQ(r.max_tokens, -1);
    EXPECT_EQ(r.top_logprobs, -1);
    EXPECT_FALSE(r.stream);
}

TEST(OpenAiRequest, RolesAndContentParts) {
    ApiRequest r;
    ASSERT_FALSE(chat(R"({"messages":[{"role":"developer","content":"be brief"},{"role":"system","content":"s"},
        {"role":"user","content":[{"type":"text","text":"a"},{"type":"text","text":"b"}]},
        {"role":"assistant","content":null,"tool_calls":[{"id":"1","type":"function","function":{"name":"f","arguments":"{}"}}]},
        {"role":"tool","tool_call_id":"1","content":"42"}]})", r));
    ASSERT_EQ(r.messages.size(), 5u);
    EXPECT_EQ(r.messages[0].role, "system");  // developer is rendered as system
    EXPECT_EQ(r.messages[2].content, "ab");
    EXPECT_NE(r.messages[3].content.find("\"name\":\"f\""), std::string::npos);
    EXPECT_EQ(r.messages[4].role, "tool");
}

TEST(OpenAiRequest, MessageErrorsNameTheField) {
    EXPECT_EQ(chat_param_error(R"({})"), "messages");
    EXPECT_EQ(chat_param_error(R"({"messages":[]})"), "messages");
    EXPECT_EQ(chat_param_error(R"({"messages":"hi"})"), "messages");
    EXPECT_EQ(chat_param_error(R"({"messages":[{"role":"wizard","content":"x"}]})"), "messages[0].role");
    EXPECT_EQ(chat_param_error(R"({"messages":[{"content":"x"}]})"), "messages[0].role");
    EXPECT_EQ(chat_param_error(R"({"messages":[{"role":"user"}]})"), "messages[0].content");
    EXPECT_EQ(chat_param_error(R"({"messages":[{"role":"user","content":5}]})"), "messages[0].content");
    EXPECT_EQ(chat_param_error(R"({"messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"x"}}]}]})"),
              "messages[0].content[0]");
    EXPECT_EQ(chat_param_error(R"({"messages":[{"role":"user","content":[{"type":"text"}]}]})"), "messages[0].content[0].text");
    // Earlier calls in the history must be calls (a number among them reached the tool prompt renderer: fuzz input).
    const std::string call = R"({"id":"c","type":"function","function":{"name":"f","arguments":"{}"}})";
    EXPECT_EQ(chat_param_error(R"({"messages":[{"role":"assistant","content":null,"tool_calls":[1,)" + call + "]}]}"),
              "messages[0].tool_calls[0]");
    EXPECT_EQ(chat_param_error(R"({"messages":[{"role":"assistant","tool_calls":[{"function":3}]}]})"),
              "messages[0].tool_calls[0].function");
    EXPECT_EQ(chat_param_error(R"({"messages":[{"role":"assistant","tool_calls":[{"function":{"arguments":"{}"}}]}]})"),
              "messages[0].tool_calls[0].function.name");
    EXPECT_EQ(chat_param_error(R"({"messages":[{"role":"assistant","content":null,"tool_calls":[)" + call + "]}]}"), "<ok>");
}

TEST(OpenAiRequest, ParameterRangesAndTypes) {
    EXPECT_EQ(chat_param_error(with(R"("temperature":3)")), "temperature");
    EXPECT_EQ(chat_param_error(with(R"("temperature":"hot")")), "temperature");
    EXPECT_EQ(chat_param_error(with(R"("top_p":1.5)")), "top_p");
    EXPECT_EQ(chat_param_error(with(R"("top_k":-1)")), "top_k");
    EXPECT_EQ(chat_param_error(with(R"("presence_penalty":2.5)")), "presence_penalty");
    EXPECT_EQ(chat_param_error(with(R"("frequency_penalty":-3)")), "frequency_penalty");
    EXPECT_EQ(chat_param_error(with(R"("max_tokens":0)")), "max_tokens");
    EXPECT_EQ(chat_param_error(with(R"("max_tokens":2.5)")), "max_tokens");
    EXPECT_EQ(chat_param_error(with(R"("max_completion_tokens":"10")")), "max_completion_tokens");
    EXPECT_EQ(chat_param_error(with(R"("n":2)")), "n");
    EXPECT_EQ(chat_param_error(with(R"("seed":"x")")), "seed");
    EXPECT_EQ(chat_param_error(with(R"("stream":"yes")")), "stream");
    EXPECT_EQ(chat_param_error(with(R"("stream_options":{"include_usage":true})")), "stream_options");
    EXPECT_EQ(chat_param_error(with(R"("stop":[1])")), "stop");
    EXPECT_EQ(chat_param_error(with(R"("stop":[""])")), "stop");
    EXPECT_EQ(chat_param_error(with(R"("logit_bias":{"abc":1})")), "logit_bias");
    EXPECT_EQ(chat_param_error(with(R"("logit_bias":{"5":101})")), "logit_bias");
    EXPECT_EQ(chat_param_error(with(R"("top_logprobs":3)")), "top_logprobs");  // needs logprobs: true
    EXPECT_EQ(chat_param_error(with(R"("logprobs":true,"top_logprobs":21)")), "top_logprobs");
    EXPECT_EQ(chat_param_error(with(R"("response_format":{"type":"xml"})")), "response_format.type");
    EXPECT_EQ(chat_param_error(with(R"("response_format":{"type":"json_schema"})")), "response_format.json_schema");
    EXPECT_EQ(chat_param_error(with(R"("tools":[{"type":"function","function":{}}])")), "tools");
    EXPECT_EQ(chat_param_error(with(R"("tool_choice":"required")")), "tool_choice");  // needs tools
    // Nulls count as absent, unknown fields are ignored, n = 1 is fine.
    EXPECT_EQ(chat_param_error(with(R"("temperature":null,"max_tokens":null,"n":1,"vendor_extension":{"x":1})")), "<ok>");
}

TEST(OpenAiRequest, SamplingStopSeedMapping) {
    ApiRequest r;
    ASSERT_FALSE(chat(with(R"("temperature":0,"top_p":0.5,"top_k":7,"min_p":0.1,"seed":123,"max_completion_tokens":9,
        "stop":["a","bc"],"logprobs":true,"top_logprobs":2,"logit_bias":{"15":-100,"7":3},"stream":true,
        "stream_options":{"include_usage":true})"), r));
    EXPECT_EQ(r.sampling.temperature, 0.0f);
    EXPECT_EQ(r.sampling.top_p, 0.5f);
    EXPECT_EQ(r.sampling.top_k, 7);
    EXPECT_FLOAT_EQ(r.sampling.min_p, 0.1f);
    EXPECT_EQ(r.sampling.seed, 123u);
    EXPECT_EQ(r.max_tokens, 9);
    EXPECT_EQ(r.stop, (std::vector<std::string>{"a", "bc"}));
    EXPECT_EQ(r.top_logprobs, 2);
    EXPECT_TRUE(std::isinf(r.sampling.logit_bias.at(15)));
    EXPECT_EQ(r.sampling.logit_bias.at(7), 3.0f);
    EXPECT_TRUE(r.stream && r.include_usage);
    ApiRequest s;
    ASSERT_FALSE(chat(with(R"("stop":"END","seed":-1)"), s));
    EXPECT_EQ(s.stop, std::vector<std::string>{"END"});
    EXPECT_NE(s.sampling.seed, llm::SamplerConfig::kRandomSeed);  // a given seed always repeats
}

TEST(OpenAiRequest, ResponseFormat) {
    ApiRequest r;
    ASSERT_FALSE(chat(with(R"("response_format":{"type":"json_schema","json_schema":{"name":"x","schema":{"type":"object","properties":{"b":{"type":"integer"},"a":{"type":"string"}}}}})"), r));
    // Key order survives (properties are generated in schema order).
    EXPECT_LT(r.json_schema.find("\"b\""), r.json_schema.find("\"a\""));
    ASSERT_FALSE(chat(with(R"("response_format":{"type":"json_object"})"), r));
    EXPECT_NE(r.json_schema.find("object"), std::string::npos);
    ASSERT_FALSE(chat(with(R"("response_format":{"type":"text"})"), r));
    EXPECT_TRUE(r.json_schema.empty());
}

TEST(OpenAiRequest, Completions) {
    auto parse = [](const std::string& body, ApiRequest& r) {
        Json j;
        EXPECT_FALSE(parse_json_body(body, {}, j));
        return parse_completion_request(j, r);
    };
    ApiRequest r;
    ASSERT_FALSE(parse(R"({"prompt":"Once"})", r));
    EXPECT_EQ(r.prompt, "Once");
    EXPECT_EQ(r.max_tokens, 16);  // the legacy endpoint's default
    ASSERT_FALSE(parse(R"({"prompt":[[1,2,3]],"echo":true,"logprobs":2})", r));
    EXPECT_TRUE(r.prompt_is_tokens);
    EXPECT_EQ(r.prompt_tokens, (std::vector<int32_t>{1, 2, 3}));
    EXPECT_TRUE(r.echo);
    EXPECT_EQ(r.top_logprobs, 2);
    EXPECT_EQ(parse(R"({})", r)->param, "prompt");
    EXPECT_EQ(parse(R"({"prompt":""})", r)->param, "prompt");
    EXPECT_EQ(parse(R"({"prompt":["a","b"]})", r)->param, "prompt");
    EXPECT_EQ(parse(R"({"prompt":[1,-2]})", r)->param, "prompt");
    EXPECT_EQ(parse(R"({"prompt":"a","logprobs":6})", r)->param, "logprobs");
    EXPECT_EQ(parse(R"({"prompt":"a","best_of":2})", r)->param, "best_of");
    EXPECT_EQ(parse(R"({"prompt":"a","suffix":"z"})", r)->param, "suffix");
}

TEST(OpenAiRequest, Embeddings) {
    auto parse = [](const std::string& body, EmbeddingRequest& r) {
        Json j;
        EXPECT_FALSE(parse_json_body(body, {}, j));
        return parse_embedding_request(j, r);
    };
    EmbeddingRequest r;
    ASSERT_FALSE(parse(R"({"input":"hello","encoding_format":"base64"})", r));
    EXPECT_EQ(r.texts, std::vector<std::string>{"hello"});
    EXPECT_TRUE(r.base64);
    ASSERT_FALSE(parse(R"({"input":[[1,2],[3]]})", r));
    EXPECT_EQ(r.token_lists.size(), 2u);
    EXPECT_FALSE(r.base64);
    EXPECT_EQ(parse(R"({"input":[]})", r)->param, "input");
    EXPECT_EQ(parse(R"({"input":5})", r)->param, "input");
    EXPECT_EQ(parse(R"({"input":"x","encoding_format":"hex"})", r)->param, "encoding_format");
}

TEST(OpenAiRequest, BodyChecks) {
    Json j;
    EXPECT_EQ(parse_json_body("{\"a\":\"\xff\"}", {}, j)->code, "invalid_utf8");
    EXPECT_EQ(parse_json_body("{\"a\":\"\xed\xa0\x80\"}", {}, j)->code, "invalid_utf8");  // a UTF-16 surrogate
    EXPECT_EQ(parse_json_body("{\"a\":\"\xc0\xaf\"}", {}, j)->code, "invalid_utf8");      // overlong
    EXPECT_FALSE(parse_json_body("{\"a\":\"\xc3\xa9\xf0\x9f\x98\x80\"}", {}, j));
    EXPECT_EQ(parse_json_body("{\"a\":" + std::string(100, '[') + std::string(100, ']') + "}", {}, j)->code, "json_too_deep");
    EXPECT_EQ(parse_json_body("{\"a\":\"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[\"}", {}, j), std::nullopt);
    JsonLimits small;
    small.max_string_bytes = 4;
    EXPECT_EQ(parse_json_body(R"({"a":"hello"})", small, j)->code, "string_too_long");
    EXPECT_EQ(parse_json_body("{\"a\":", {}, j)->code, "invalid_json");
    EXPECT_EQ(parse_json_body("[1]", {}, j)->code, "invalid_json");
    EXPECT_EQ(parse_json_body("", {}, j)->code, "invalid_json");
}

TEST(OpenAiResponse, ShapesAndIds) {
    ApiResult r;
    r.text = "hi";
    r.stop_reason = llm::StopReason::MaxTokens;
    r.prompt_tokens = 5, r.cached_tokens = 3, r.completion_tokens = 2;
    r.logprobs = {TokenInfo{1, "h", -0.1f, {{"h", -0.1f}, {"x", -3.0f}}}, TokenInfo{2, "\xe2", -0.2f, {}}};
    ApiRequest req;
    ResponseMeta m{new_response_id("chatcmpl-"), 1, "m"};
    EXPECT_EQ(m.id.rfind("chatcmpl-", 0), 0u);
    EXPECT_NE(m.id, new_response_id("chatcmpl-"));
    Json b = chat_completion_body(m, r, true);
    EXPECT_EQ(b["object"], "chat.completion");
    EXPECT_EQ(b["choices"][0]["message"]["content"], "hi");
    EXPECT_EQ(b["choices"][0]["finish_reason"], "length");
    EXPECT_EQ(b["usage"]["total_tokens"], 7);
    EXPECT_EQ(b["usage"]["prompt_tokens_details"]["cached_tokens"], 3);
    EXPECT_EQ(b["choices"][0]["logprobs"]["content"][0]["top_logprobs"].size(), 2u);
    EXPECT_EQ(b["choices"][0]["logprobs"]["content"][1]["bytes"][0], 0xe2);
    EXPECT_FALSE(dump_json(b).empty());  // a partial UTF-8 piece does not throw
    Json c = completion_body(m, r, true, "pre");
    EXPECT_EQ(c["choices"][0]["text"], "prehi");
    EXPECT_EQ(c["choices"][0]["logprobs"]["text_offset"][1], 4);
    Json u = usage_chunk(m, r, true);
    EXPECT_TRUE(u["choices"].empty());
    EXPECT_EQ(u["usage"]["completion_tokens"], 2);
    Json k = chat_chunk(m, {{"content", "x"}}, nullptr, nullptr, false);
    EXPECT_FALSE(k.contains("usage"));
    EXPECT_TRUE(chat_chunk(m, {{"content", "x"}}, nullptr, "stop", true)["usage"].is_null());
    Json err = openai_error_body(invalid_param("n", "bad"));
    EXPECT_EQ(err["error"]["param"], "n");
    EXPECT_TRUE(err["error"]["code"].is_null());
    EXPECT_EQ(err["error"]["type"], "invalid_request_error");
}

TEST(OpenAiRequest, SessionFromPromptCacheKeyElseUser) {
    ApiRequest r;
    ASSERT_FALSE(chat(with(R"("user":"u-1")"), r));
    EXPECT_EQ(r.session, "u-1");
    ASSERT_FALSE(chat(with(R"("user":"u-1","prompt_cache_key":"conv-7")"), r));
    EXPECT_EQ(r.session, "conv-7");
    ASSERT_FALSE(chat(with(""), r));
    EXPECT_EQ(r.session, "");
    EXPECT_EQ(chat_param_error(with(R"("prompt_cache_key":7)")), "prompt_cache_key");
    EXPECT_EQ(chat_param_error(with(R"("user":{"id":1})")), "user");
}
