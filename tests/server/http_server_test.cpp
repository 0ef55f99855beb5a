// HTTP behaviour of llm-serve's server over a fake backend: routes, SSE order, auth, limits, admission, disconnects.
#include <gtest/gtest.h>

#include <future>
#include <thread>

#include "fake_backend.hpp"
#include "http_client.hpp"
#include "served.hpp"
#include "server/http_server.hpp"
#include "server/json_body.hpp"
#include "server/tool_call_gate.hpp"

using namespace llm::server;
using namespace llm::server::testing;

namespace {

const std::string kChat = R"({"model":"fake-model","messages":[{"role":"user","content":"hi"}]})";
std::string chat_with(const std::string& extra) {
    return R"({"model":"fake-model","messages":[{"role":"user","content":"hi"}],)" + extra + "}";
}

Json parse(const std::string& s) { return Json::parse(s); }

}  // namespace

TEST(HttpServer, HealthIs503UntilTheModelIsLoaded) {
    Served s({}, false);
    EXPECT_EQ(s.get("/health").status, 503);
    EXPECT_EQ(s.post("/v1/chat/completions", kChat).status, 503);
    s.server.set_backend(s.backend);
    EXPECT_EQ(s.get("/health").status, 200);
}

TEST(HttpServer, ChatCompletion) {
    Served s;
    auto r = s.post("/v1/chat/completions", kChat);
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(r.headers["content-type"], "application/json");
    Json j = parse(r.body);
    EXPECT_EQ(j["object"], "chat.completion");
    EXPECT_EQ(j["model"], "fake-model");
    EXPECT_EQ(j["choices"][0]["message"]["content"], s.backend->reply());
    EXPECT_EQ(j["choices"][0]["finish_reason"], "stop");
    EXPECT_EQ(j["usage"]["completion_tokens"], (int)s.backend->reply().size());
    EXPECT_EQ(j["usage"]["prompt_tokens"], (int)std::string("user: hi\nassistant: ").size());
    EXPECT_FALSE(r.headers["x-request-id"].empty());
}

TEST(HttpServer, ChatStreamOrderOneIdNoUsageUnlessAsked) {
    Served s;
    for (bool usage : {false, true}) {
        auto r = s.post("/v1/chat/completions",
                        chat_with(usage ? R"("stream":true,"stream_options":{"include_usage":true})" : R"("stream":true)"));
        ASSERT_EQ(r.status, 200);
        ASSERT_TRUE(r.ok);
        EXPECT_EQ(r.headers["content-type"], "text/event-stream");
        auto data = sse_payloads(r.body);
        ASSERT_GE(data.size(), 4u);
        EXPECT_EQ(data.back(), "[DONE]");
        Json first = parse(data[0]);
        EXPECT_EQ(first["choices"][0]["delta"]["role"], "assistant");
        std::string text, finish;
        const std::string id = first["id"];
        size_t n_usage = 0;
        for (size_t i = 0; i + 1 < data.size(); ++i) {
            Json c = parse(data[i]);
            EXPECT_EQ(c["id"], id);
            EXPECT_EQ(c["object"], "chat.completion.chunk");
            EXPECT_EQ(c.contains("usage"), usage);
            if (c.contains("usage") && !c["usage"].is_null()) {
                ++n_usage;
                EXPECT_TRUE(c["choices"].empty());
                EXPECT_EQ(i + 2, data.size());  // the usage chunk is the last before [DONE]
                EXPECT_EQ(c["usage"]["completion_tokens"], (int)s.backend->reply().size());
                continue;
            }
            ASSERT_EQ(c["choices"].size(), 1u);
            const Json& ch = c["choices"][0];
            if (ch["delta"].contains("content")) text += ch["delta"]["content"].get<std::string>();
            if (!ch["finish_reason"].is_null()) {
                EXPECT_TRUE(finish.empty());
                finish = ch["finish_reason"];
            }
        }
        EXPECT_EQ(text, s.backend->reply());
        EXPECT_EQ(finish, "stop");
        EXPECT_EQ(n_usage, usage ? 1u : 0u);
    }
}

TEST(HttpServer, StopAndMaxTokensAndLogprobs) {
    Served s;
    Json j = parse(s.post("/v1/chat/completions", chat_with(R"("stop":["fake"])")).body);
    EXPECT_EQ(j["choices"][0]["message"]["content"], "Hello from the ");
    EXPECT_EQ(j["choices"][0]["finish_reason"], "stop");
    j = parse(s.post("/v1/chat/completions", chat_with(R"("max_tokens":3,"logprobs":true,"top_logprobs":2)")).body);
    EXPECT_EQ(j["choices"][0]["message"]["content"], "Hel");
    EXPECT_EQ(j["choices"][0]["finish_reason"], "length");
    const Json& lp = j["choices"][0]["logprobs"]["content"];
    ASSERT_EQ(lp.size(), 3u);
    EXPECT_EQ(lp[0]["token"], "H");
    EXPECT_EQ(lp[0]["top_logprobs"].size(), 2u);
    j = parse(s.post("/v1/completions", R"({"prompt":"abc","max_tokens":4,"echo":true,"logprobs":1})").body);
    EXPECT_EQ(j["object"], "text_completion");
    EXPECT_EQ(j["choices"][0]["text"], "abcHell");
    EXPECT_EQ(j["choices"][0]["logprobs"]["tokens"].size(), 4u);
}

TEST(HttpServer, CompletionStream) {
    Served s;
    auto r = s.post("/v1/completions", R"({"prompt":"abc","stream":true,"max_tokens":5})");
    ASSERT_EQ(r.status, 200);
    auto data = sse_payloads(r.body);
    std::string text;
    for (size_t i = 0; i + 1 < data.size(); ++i) text += parse(data[i])["choices"][0]["text"].get<std::string>();
    EXPECT_EQ(text, "Hello");
    EXPECT_EQ(parse(data[data.size() - 2])["choices"][0]["finish_reason"], "length");
}

TEST(HttpServer, BadRequestsAre4xxInOpenAiShape) {
    ServerOptions o;
    o.max_body = 4096;
    Served s(o);
    struct Case {
        std::string body;
        int status;
        std::string param, code;
    };
    const std::vector<Case> cases = {
        {"{not json", 400, "", "invalid_json"},
        {"", 400, "", "invalid_json"},
        {R"({"messages":[]})", 400, "messages", ""},
        {R"({"model":"x"})", 400, "messages", ""},
        {R"({"messages":[{"role":"robot","content":"x"}]})", 400, "messages[0].role", ""},
        {R"({"messages":[{"role":"user","content":"x"}],"temperature":"warm"})", 400, "temperature", ""},
        {R"({"messages":[{"role":"user","content":"x"}],"n":3})", 400, "n", ""},
        {"{\"messages\":[{\"role\":\"user\",\"content\":\"\xc3\x28\"}]}", 400, "", "invalid_utf8"},
        {"{\"messages\":" + std::string(200, '[') + std::string(200, ']') + "}", 400, "", "json_too_deep"},
        {chat_with("\"pad\":\"" + std::string(5000, 'x') + "\""), 413, "", "request_too_large"},
        {R"({"messages":[{"role":"user","content":"x"}],"response_format":{"type":"json_schema","json_schema":{"schema":{"uniqueItems":true}}}})",
         400, "response_format", ""},
    };
    for (const Case& c : cases) {
        auto r = s.post("/v1/chat/completions", c.body);
        EXPECT_EQ(r.status, c.status) << c.body.substr(0, 80) << " -> " << r.body;
        ASSERT_FALSE(r.body.empty()) << c.body.substr(0, 80);
        Json j = parse(r.body);
        ASSERT_TRUE(j.contains("error")) << r.body;
        for (const char* k : {"message", "type", "param", "code"}) EXPECT_TRUE(j["error"].contains(k)) << k;
        if (!c.param.empty()) {
            EXPECT_EQ(j["error"]["param"], c.param) << r.body;
        }
        if (!c.code.empty()) {
            EXPECT_EQ(j["error"]["code"], c.code) << r.body;
        }
        if (c.status != 413) {
            EXPECT_EQ(r.headers["x-should-retry"], "false");
        }
    }
    EXPECT_EQ(s.backend->submitted(), 0);
    auto nf = s.get("/v1/nothing");
    EXPECT_EQ(nf.status, 404);
    EXPECT_EQ(parse(nf.body)["error"]["code"], "not_found");
}

TEST(HttpServer, OverLongPromptRefusedBeforeTheEngine) {
    Served s;
    s.backend->set_n_ctx(64);
    auto r = s.post("/v1/chat/completions", R"({"messages":[{"role":"user","content":")" + std::string(100, 'a') + "\"}]}");
    EXPECT_EQ(r.status, 400);
    Json j = parse(r.body);
    EXPECT_EQ(j["error"]["code"], "context_length_exceeded");
    EXPECT_NE(j["error"]["message"].get<std::string>().find("maximum context length is 64 tokens"), std::string::npos);
    r = s.post("/v1/chat/completions", chat_with(R"("max_tokens":60)"));
    EXPECT_EQ(parse(r.body)["error"]["code"], "context_length_exceeded");
    EXPECT_EQ(s.backend->submitted(), 0);
}

TEST(HttpServer, AuthMatrix) {
    ServerOptions o;
    o.api_keys = {"sekret"};
    Served s(o);
    EXPECT_EQ(s.get("/health").status, 200);
    auto none = s.post("/v1/chat/completions", kChat);
    EXPECT_EQ(none.status, 401);
    EXPECT_EQ(parse(none.body)["error"]["code"], "invalid_api_key");
    EXPECT_EQ(s.post("/v1/chat/completions", kChat, {"Authorization: Bearer wrong"}).status, 401);
    EXPECT_EQ(s.post("/v1/chat/completions", kChat, {"x-api-key: sekre"}).status, 401);
    EXPECT_EQ(s.post("/v1/chat/completions", kChat, {"Authorization: Bearer sekret"}).status, 200);
    EXPECT_EQ(s.post("/v1/chat/completions", kChat, {"x-api-key: sekret"}).status, 200);
    EXPECT_EQ(s.get("/v1/models").status, 401);
    EXPECT_EQ(s.get("/metrics").status, 401);
    EXPECT_EQ(s.get("/v1/models", {"Authorization: bearer sekret"}).status, 200);
}

TEST(HttpServer, ModelsAliasesAndStrictModels) {
    ServerOptions o;
    o.aliases = {"gpt-4o", "claude-sonnet-local"};
    Served lax(o);
    Json m = parse(lax.get("/v1/models").body);
    ASSERT_EQ(m["data"].size(), 3u);
    EXPECT_EQ(m["data"][0]["id"], "fake-model");
    EXPECT_EQ(m["data"][2]["id"], "claude-sonnet-local");
    EXPECT_EQ(m["data"][0]["object"], "model");
    auto r = lax.post("/v1/chat/completions", R"({"model":"some-other","messages":[{"role":"user","content":"x"}]})");
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(parse(r.body)["model"], "some-other");
    o.strict_models = true;
    Served strict(o);
    r = strict.post("/v1/chat/completions", R"({"model":"some-other","messages":[{"role":"user","content":"x"}]})");
    EXPECT_EQ(r.status, 404);
    EXPECT_EQ(parse(r.body)["error"]["code"], "model_not_found");
    EXPECT_EQ(strict.post("/v1/chat/completions", R"({"model":"gpt-4o","messages":[{"role":"user","content":"x"}]})").status, 200);
    EXPECT_EQ(strict.get("/v1/models/nope").status, 404);
    EXPECT_EQ(strict.get("/v1/models/gpt-4o").status, 200);
}

TEST(HttpServer, QueueLimitRejectsExactlyTheExcess) {
    ServerOptions o;
    o.parallel = 2;
    o.max_queue = 3;
    Served s(o);
    s.backend->close_gate();  // nothing finishes until every request has been admitted or rejected
    const int total = o.parallel + o.max_queue + 4;
    std::vector<std::future<RawResponse>> fs;
    for (int i = 0; i < total; ++i)
        fs.push_back(std::async(std::launch::async, [&] { return s.post("/v1/chat/completions", chat_with(R"("max_tokens":2)")); }));
    // Wait until every request has been admitted or rejected, then let the admitted ones run.
    auto answered = [&] {
        int n = 0;
        for (auto& f : fs) n += f.wait_for(std::chrono::seconds(0)) == std::future_status::ready;
        return n;
    };
    for (int t = 0; t < 3000 && (s.backend->submitted() < o.parallel + o.max_queue || answered() < 4); ++t)
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    s.backend->open_gate();
    int ok = 0, rejected = 0;
    for (auto& f : fs) {
        auto r = f.get();
        if (r.status == 200) ++ok;
        if (r.status == 429) {
            ++rejected;
            EXPECT_EQ(r.headers["retry-after"], "1");
            EXPECT_EQ(parse(r.body)["error"]["type"], "rate_limit_error");
        }
    }
    EXPECT_EQ(ok, o.parallel + o.max_queue);
    EXPECT_EQ(rejected, 4);
}

TEST(HttpServer, DisconnectCancelsTheRequest) {
    Served s;
    s.backend->set_token_delay(std::chrono::milliseconds(50));
    s.backend->set_reply(std::string(200, 'z'));
    auto r = s.post("/v1/chat/completions", chat_with(R"("stream":true)"), {},
                    [](const std::string& body) { return sse_payloads(body).size() >= 3; });
    EXPECT_EQ(r.status, 200);
    for (int t = 0; t < 200 && s.backend->cancelled() == 0; ++t) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    EXPECT_EQ(s.backend->cancelled(), 1);
    auto m = s.get("/metrics");
    EXPECT_NE(m.body.find("llm_client_disconnects_total 1"), std::string::npos);
}

TEST(HttpServer, DisconnectCancelsANonStreamedRequest) {
    // The client gives up waiting for a non-streamed answer (nothing was written to it): its request is cancelled.
    Served s;
    s.backend->set_token_delay(std::chrono::milliseconds(50));
    s.backend->set_reply(std::string(200, 'z'));
    auto r = raw_http(s.port, "POST", "/v1/chat/completions", chat_with(R"("stream":false)"), {}, nullptr, 300);
    EXPECT_EQ(r.status, 0);  // hung up before any answer
    for (int t = 0; t < 200 && s.backend->cancelled() == 0; ++t) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    EXPECT_EQ(s.backend->cancelled(), 1);
    EXPECT_NE(s.get("/metrics").body.find("llm_client_disconnects_total 1"), std::string::npos);
    // A client that stays gets its answer.
    s.backend->set_reply("short");
    EXPECT_EQ(parse(s.post("/v1/chat/completions", chat_with(R"("stream":false)")).body)["choices"][0]["message"]["content"], "short");
    EXPECT_EQ(s.backend->cancelled(), 1);
}

TEST(HttpServer, KeepAlivesWhileQueued) {
    ServerOptions o;
    o.keepalive_s = 0.05;
    Served s(o);
    s.backend->close_gate();
    std::thread opener([&] {
        // Held 400 ms from its submission (not from the post: under an emulator the request takes that long to
        // reach the backend).
        while (s.backend->submitted() == 0) std::this_thread::sleep_for(std::chrono::milliseconds(5));
        std::this_thread::sleep_for(std::chrono::milliseconds(400));
        s.backend->open_gate();
    });
    auto r = s.post("/v1/chat/completions", chat_with(R"("stream":true)"));
    opener.join();
    int comments = 0;
    auto data = sse_payloads(r.body, &comments);
    EXPECT_GE(comments, 3) << r.body;
    EXPECT_EQ(data.back(), "[DONE]");
}

TEST(HttpServer, MetricsEmbeddingsCors) {
    ServerOptions o;
    Served s(o);
    ASSERT_EQ(s.post("/v1/chat/completions", kChat).status, 200);
    auto m = s.get("/metrics");
    ASSERT_EQ(m.status, 200);
    for (const char* name : {"vllm:num_requests_waiting ", "vllm:num_requests_running ", "vllm:gpu_cache_usage_perc 0.25",
                             "llm_requests_total{route=\"/v1/chat/completions\",status=\"200\"} 1",
                             "llm_time_to_first_token_seconds_bucket", "llm_inter_token_latency_seconds_count",
                             "llm_queue_depth", "llm_prefix_cache_hits_total", "llm_preemptions_total",
                             "llm_kv_cache_usage_ratio"})
        EXPECT_NE(m.body.find(name), std::string::npos) << name;
    EXPECT_TRUE(s.get("/health").headers.count("access-control-allow-origin") == 0);

    Json e = parse(s.post("/v1/embeddings", R"({"input":["ab","c"]})").body);
    ASSERT_EQ(e["data"].size(), 2u);
    EXPECT_EQ(e["data"][0]["embedding"].size(), 4u);
    EXPECT_EQ(e["data"][0]["embedding"][0], 98.0);  // 'a' + 1
    Json b = parse(s.post("/v1/embeddings", R"({"input":"ab","encoding_format":"base64"})").body);
    EXPECT_EQ(b["data"][0]["embedding"], "AADEQgAAxkIAAAAAAAAAAA==");  // 98.0f, 99.0f, 0, 0 little-endian
    EXPECT_EQ(b["usage"]["prompt_tokens"], 2);

    ServerOptions c;
    c.cors_origin = "https://app.example";
    c.api_keys = {"k"};
    Served cs(c);
    auto pre = raw_http(cs.port, "OPTIONS", "/v1/chat/completions", "");
    EXPECT_EQ(pre.status, 204);
    EXPECT_EQ(pre.headers["access-control-allow-origin"], "https://app.example");
    EXPECT_EQ(cs.get("/health").headers["access-control-allow-origin"], "https://app.example");
}

TEST(HttpServer, ToolCallsFromTheModelsText) {
    Served s;
    s.backend->set_reply(R"({"tool_calls": [{"name": "get_weather", "arguments": {"city": "Paris"}}]})");
    const std::string body = R"({"messages":[{"role":"user","content":"weather?"}],"tool_choice":"required",
        "tools":[{"type":"function","function":{"name":"get_weather","parameters":{"type":"object","properties":{"city":{"type":"string"}}}}}]})";
    auto r = s.post("/v1/chat/completions", body);
    ASSERT_EQ(r.status, 200) << r.body;
    Json j = parse(r.body);
    const Json& msg = j["choices"][0]["message"];
    EXPECT_EQ(j["choices"][0]["finish_reason"], "tool_calls");
    EXPECT_TRUE(msg["content"].is_null());
    ASSERT_EQ(msg["tool_calls"].size(), 1u);
    EXPECT_EQ(msg["tool_calls"][0]["type"], "function");
    EXPECT_EQ(msg["tool_calls"][0]["function"]["name"], "get_weather");
    EXPECT_EQ(Json::parse(msg["tool_calls"][0]["function"]["arguments"].get<std::string>()), Json::parse(R"({"city": "Paris"})"));
    const std::string final_args = msg["tool_calls"][0]["function"]["arguments"];

    // Streamed: the argument fragments concatenate to the same arguments; one id and name on the first fragment.
    auto st = s.post("/v1/chat/completions", body.substr(0, body.size() - 1) + R"(,"stream":true})");
    ASSERT_EQ(st.status, 200);
    std::string args, name, finish;
    int ids = 0;
    for (const std::string& d : sse_payloads(st.body)) {
        if (d == "[DONE]") continue;
        Json c = parse(d);
        const Json& ch = c["choices"][0];
        if (ch["delta"].contains("tool_calls"))
            for (const Json& tc : ch["delta"]["tool_calls"]) {
                EXPECT_EQ(tc["index"], 0);
                if (tc.contains("id")) ++ids;
                if (tc["function"].contains("name")) name += tc["function"]["name"].get<std::string>();
                args += tc["function"]["arguments"].get<std::string>();
            }
        if (!ch["finish_reason"].is_null()) finish = ch["finish_reason"];
    }
    EXPECT_EQ(ids, 1);
    EXPECT_EQ(name, "get_weather");
    EXPECT_EQ(Json::parse(args), Json::parse(final_args));
    EXPECT_EQ(finish, "tool_calls");
}

TEST(HttpServer, ToolRequestErrorsNameTheField) {
    Served s;
    auto param = [&](const std::string& extra) {
        auto r = s.post("/v1/chat/completions", chat_with(extra));
        EXPECT_EQ(r.status, 400) << r.body;
        return parse(r.body)["error"]["param"].get<std::string>();
    };
    EXPECT_EQ(param(R"("tools":[{"type":"function","function":{}}])"), "tools");
    EXPECT_EQ(param(R"("tools":[{"type":"function","function":{"name":"f"}}],"tool_choice":{"type":"function","function":{"name":"g"}})"), "tool_choice");
    EXPECT_EQ(param(R"("tool_choice":"required")"), "tool_choice");
    EXPECT_EQ(param(R"("tools":[{"type":"function","function":{"name":"f"}}],"tool_choice":"sometimes")"), "tool_choice");
}

TEST(HttpServer, MalformedToolCallFallsBackToText) {
    // The model's text looks like a call but does not parse (cut off, or an unknown tool): it comes back as
    // content with finish_reason from the stop reason, never a 5xx.
    Served s;
    s.backend->set_token_delay(std::chrono::milliseconds(1));  // many small batches: the name is out before the break
    const std::string tools = R"("tools":[{"type":"function","function":{"name":"get_weather"}}])";
    for (const std::string& reply : {std::string(R"({"tool_calls": [{"name": "get_weather", "argum)"),  // cut off
                                    // broken after its name and its first argument were out
                                    std::string(R"({"tool_calls": [{"name": "get_weather", "arguments": {"city": "Paris", "days": 3]}]})"),
                                    std::string(R"({"tool_calls": [{"name": "other_tool", "arguments": {}}]})"),
                                    std::string("Just text, no call.")}) {
        s.backend->set_reply(reply);
        auto r = s.post("/v1/chat/completions", chat_with(tools));
        ASSERT_EQ(r.status, 200) << r.body;
        const Json ch = parse(r.body)["choices"][0];
        EXPECT_EQ(ch["message"]["content"], reply);
        EXPECT_FALSE(ch["message"].contains("tool_calls")) << r.body;
        EXPECT_NE(ch["finish_reason"], "tool_calls");
        auto st = s.post("/v1/chat/completions", chat_with(tools + R"(,"stream":true)"));
        ASSERT_EQ(st.status, 200);
        std::string content;
        for (const std::string& d : sse_payloads(st.body)) {
            if (d == "[DONE]") continue;
            const Json c = parse(d)["choices"][0];
            // Calls are held back until they parse (server/tool_call_gate.hpp): one that breaks, even after its
            // name, is never announced, so no client accumulates a call with cut arguments.
            EXPECT_FALSE(c["delta"].contains("tool_calls")) << d;
            if (c["delta"].contains("content")) content += c["delta"]["content"].get<std::string>();
        }
        EXPECT_EQ(content, reply);
    }
}

TEST(HttpServer, ToolHistoryRendersThroughTheToolPrompt) {
    // An assistant turn with tool_calls and a tool result, with or without tools in the request: 200.
    Served s;
    s.backend->set_reply("It is sunny.");
    const std::string msgs = R"("messages":[{"role":"user","content":"weather?"},
        {"role":"assistant","content":null,"tool_calls":[{"id":"call_1","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Paris\"}"}}]},
        {"role":"tool","tool_call_id":"call_1","content":"sunny"}])";
    for (const std::string& extra : {std::string(""), std::string(R"(,"tools":[{"type":"function","function":{"name":"get_weather"}}])")}) {
        auto r = s.post("/v1/chat/completions", "{" + msgs + extra + "}");
        ASSERT_EQ(r.status, 200) << r.body;
        EXPECT_EQ(parse(r.body)["choices"][0]["message"]["content"], "It is sunny.");
    }
}

TEST(ToolCallGate, ReleasesACallOnceItParsedWithItsPieces) {
    ToolCallGate g;
    EXPECT_TRUE(g.pass({{0, "c0", "f", ""}, {0, "", "", "{\"a\""}}, 0).empty());
    auto out = g.pass({{0, "", "", ": 1}"}, {1, "c1", "g", "{"}}, 1);  // call 0 parsed, call 1 announced
    ASSERT_EQ(out.size(), 3u);
    EXPECT_EQ(out[0].name, "f");
    EXPECT_EQ(out[1].arguments + out[2].arguments, "{\"a\": 1}");
    // Call 1 broke (its text came back as content): its pieces are dropped. A call the stream never announced
    // (parsed only at the end) is sent whole.
    out = g.finish({{"c0", "f", "{\"a\": 1}"}});
    EXPECT_TRUE(out.empty());
    ToolCallGate h;
    out = h.finish({{"c0", "f", "{}"}});
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(out[0].id, "c0");
    EXPECT_EQ(out[0].arguments, "{}");
}
