// The Anthropic Messages routes over the fake backend: message shape, the SSE event grammar, count_tokens, the
// error envelope for auth/404/413/529/over-long prompts, pings while queued, cancel on disconnect, streamed tool
// calls (a tool_use block only for a call that parsed; the official SDK's accumulator where installed).
#include <gtest/gtest.h>

#include <atomic>
#include <csignal>
#include <cstdio>
#include <future>
#include <thread>

#include <sys/wait.h>
#include <unistd.h>

#include "fake_backend.hpp"
#include "http_client.hpp"
#include "served.hpp"
#include "server/http_server.hpp"
#include "server/json_body.hpp"

using namespace llm::server;
using namespace llm::server::testing;

namespace {

std::string msg_with(const std::string& extra) {
    return R"({"model":"claude-sonnet-4-5","max_tokens":64,"messages":[{"role":"user","content":"hi"}])" +
           (extra.empty() ? "" : "," + extra) + "}";
}

struct Event {
    std::string name;
    Json data;
};

// Splits an SSE body into events; every data line must parse as JSON.
std::vector<Event> events_of(const std::string& body) {
    std::vector<Event> out;
    size_t pos = 0;
    while (pos < body.size()) {
        size_t end = body.find("\n\n", pos);
        if (end == std::string::npos) end = body.size();
        Event e;
        std::string block = body.substr(pos, end - pos);
        for (size_t a = 0; a < block.size();) {
            size_t b = block.find('\n', a);
            if (b == std::string::npos) b = block.size();
            std::string line = block.substr(a, b - a);
            if (line.rfind("event: ", 0) == 0) e.name = line.substr(7);
            if (line.rfind("data: ", 0) == 0) e.data = Json::parse(line.substr(6));
            a = b + 1;
        }
        if (!e.name.empty() || !e.data.is_null()) out.push_back(std::move(e));
        pos = end + 2;
    }
    return out;
}

// The grammar of a complete stream: names equal types, message_start first, message_stop last, blocks opened
// and closed in order with their deltas inside; returns the text.
std::string check_stream(const std::vector<Event>& ev) {
    EXPECT_GE(ev.size(), 4u);
    if (ev.size() < 4) return "";
    EXPECT_EQ(ev.front().name, "message_start");
    EXPECT_EQ(ev.back().name, "message_stop");
    int open = -1, next = 0;
    bool saw_delta = false;
    std::string text;
    for (const Event& e : ev) {
        EXPECT_EQ(e.name, e.data["type"].get<std::string>());
        if (e.name == "content_block_start") {
            EXPECT_EQ(open, -1);
            EXPECT_EQ(e.data["index"], next);
            open = next++;
            if (e.data["content_block"]["type"] == "text") {
                EXPECT_EQ(e.data["content_block"]["text"], "");
            }
        } else if (e.name == "content_block_delta") {
            EXPECT_EQ(e.data["index"], open);
            if (e.data["delta"]["type"] == "text_delta") text += e.data["delta"]["text"].get<std::string>();
        } else if (e.name == "content_block_stop") {
            EXPECT_EQ(e.data["index"], open);
            open = -1;
        } else if (e.name == "message_delta") {
            EXPECT_EQ(open, -1);
            saw_delta = true;
        }
    }
    EXPECT_TRUE(saw_delta);
    EXPECT_GE(next, 1);
    return text;
}

}  // namespace

TEST(AnthropicHttp, Message) {
    Served s;
    auto r = s.post("/v1/messages?beta=true", msg_with(R"("metadata":{"user_id":"u"},"context_management":{"edits":[]})"),
                    {"anthropic-version: 2023-06-01", "anthropic-beta: claude-code-20250219,context-management-2025-06-27"});
    ASSERT_EQ(r.status, 200) << r.body;
    Json j = Json::parse(r.body);
    EXPECT_EQ(j["type"], "message");
    EXPECT_EQ(j["role"], "assistant");
    EXPECT_EQ(j["model"], "claude-sonnet-4-5");
    EXPECT_EQ(j["id"].get<std::string>().rfind("msg_", 0), 0u);
    EXPECT_EQ(j["content"][0]["type"], "text");
    EXPECT_EQ(j["content"][0]["text"], s.backend->reply());
    EXPECT_EQ(j["stop_reason"], "end_turn");
    EXPECT_TRUE(j["stop_sequence"].is_null());
    EXPECT_EQ(j["usage"]["output_tokens"], (int)s.backend->reply().size());
    EXPECT_FALSE(r.headers["request-id"].empty());

    auto c = s.post("/v1/messages/count_tokens", msg_with(""));
    ASSERT_EQ(c.status, 200) << c.body;
    const Json u = j["usage"];
    EXPECT_EQ(Json::parse(c.body)["input_tokens"], u["input_tokens"].get<int>() + u["cache_read_input_tokens"].get<int>() +
                                                       u["cache_creation_input_tokens"].get<int>());
}

TEST(AnthropicHttp, StreamGrammarStopSequenceMaxTokens) {
    Served s;
    auto r = s.post("/v1/messages", msg_with(R"("stream":true)"));
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(r.headers["content-type"].rfind("text/event-stream", 0), 0u);
    auto ev = events_of(r.body);
    EXPECT_EQ(check_stream(ev), s.backend->reply());
    EXPECT_EQ(ev[ev.size() - 2].data["delta"]["stop_reason"], "end_turn");
    EXPECT_EQ(ev[0].data["message"]["content"], Json::array());

    auto st = s.post("/v1/messages", msg_with(R"("stream":true,"stop_sequences":["fake"])"));
    ev = events_of(st.body);
    EXPECT_EQ(check_stream(ev), "Hello from the ");
    EXPECT_EQ(ev[ev.size() - 2].data["delta"]["stop_reason"], "stop_sequence");
    EXPECT_EQ(ev[ev.size() - 2].data["delta"]["stop_sequence"], "fake");
    auto ns = Json::parse(s.post("/v1/messages", msg_with(R"("stop_sequences":["fake"])")).body);
    EXPECT_EQ(ns["stop_reason"], "stop_sequence");
    EXPECT_EQ(ns["stop_sequence"], "fake");
    EXPECT_EQ(ns["content"][0]["text"], "Hello from the ");

    auto mt = Json::parse(s.post("/v1/messages", R"({"model":"m","max_tokens":3,"messages":[{"role":"user","content":"hi"}]})").body);
    EXPECT_EQ(mt["stop_reason"], "max_tokens");
    EXPECT_EQ(mt["content"][0]["text"], "Hel");

    s.backend->set_reply("");  // no text: still one (empty) text block
    ev = events_of(s.post("/v1/messages", msg_with(R"("stream":true)")).body);
    EXPECT_EQ(check_stream(ev), "");
}

TEST(AnthropicHttp, MaxTokensBeyondTheContextIsCut) {
    Served s;
    s.backend->set_n_ctx(256);
    s.backend->set_reply(std::string(300, 'y'));
    auto r = s.post("/v1/messages", R"({"model":"m","max_tokens":32000,"messages":[{"role":"user","content":"hi"}]})");
    ASSERT_EQ(r.status, 200) << r.body;
    Json j = Json::parse(r.body);
    EXPECT_EQ(j["stop_reason"], "model_context_window_exceeded");
    EXPECT_EQ(j["usage"]["input_tokens"].get<int>() + j["usage"]["output_tokens"].get<int>(), 256);
}

TEST(AnthropicHttp, PromptTooLongIsTheExactMessageBeforeTheEngine) {
    Served s;
    s.backend->set_n_ctx(64);
    const std::string body = msg_with("\"system\":\"" + std::string(200, 'x') + "\"");
    auto r = s.post("/v1/messages", body);
    ASSERT_EQ(r.status, 400);
    Json j = Json::parse(r.body);
    EXPECT_EQ(j["type"], "error");
    EXPECT_EQ(j["error"]["type"], "invalid_request_error");
    // count_tokens still counts (it is how a client learns how much to drop).
    auto c = s.post("/v1/messages/count_tokens", body);
    ASSERT_EQ(c.status, 200) << c.body;
    const int n = Json::parse(c.body)["input_tokens"];
    EXPECT_GT(n, 200);
    EXPECT_EQ(j["error"]["message"], "prompt is too long: " + std::to_string(n) + " tokens > 63 maximum");
    EXPECT_EQ(s.backend->submitted(), 0);
}

TEST(AnthropicHttp, ErrorsInTheEnvelope) {
    ServerOptions o;
    o.api_keys = {"k1"};
    o.max_body = 4096;
    Served s(o);
    auto type_of = [](const RawResponse& r) {
        Json j = Json::parse(r.body);
        EXPECT_EQ(j["type"], "error") << r.body;
        EXPECT_TRUE(j["error"]["message"].is_string());
        return j["error"]["type"].get<std::string>();
    };
    auto none = s.post("/v1/messages", msg_with(""));
    EXPECT_EQ(none.status, 401);
    EXPECT_EQ(type_of(none), "authentication_error");
    auto wrong = s.post("/v1/messages", msg_with(""), {"x-api-key: nope"});
    EXPECT_EQ(wrong.status, 401);
    EXPECT_EQ(type_of(wrong), "authentication_error");
    EXPECT_EQ(s.post("/v1/messages", msg_with(""), {"x-api-key: k1"}).status, 200);
    EXPECT_EQ(s.post("/v1/messages", msg_with(""), {"Authorization: Bearer k1"}).status, 200);
    const std::vector<std::string> key = {"x-api-key: k1"};
    auto nf = s.post("/v1/messages/batches", msg_with(""), key);
    EXPECT_EQ(nf.status, 404);
    EXPECT_EQ(type_of(nf), "not_found_error");
    auto big = s.post("/v1/messages", msg_with("\"pad\":\"" + std::string(5000, 'x') + "\""), key);
    EXPECT_EQ(big.status, 413);
    EXPECT_EQ(type_of(big), "request_too_large");
    for (const std::string body : {"{bad", "[]", R"({"model":"m","max_tokens":5,"messages":"hi"})", "\xff\xfe",
                                   R"({"model":"m","max_tokens":5,"messages":[{"role":"user","content":[{"type":"image","source":{"type":"base64","media_type":"image/png","data":"AA=="}}]}]})"}) {
        auto r = s.post("/v1/messages", body, key);
        EXPECT_EQ(r.status, 400) << body;
        EXPECT_EQ(type_of(r), "invalid_request_error");
        EXPECT_EQ(r.headers["x-should-retry"], "false");
    }
}

TEST(AnthropicHttp, QueueFullIs529Overloaded) {
    ServerOptions o;
    o.parallel = 1;
    o.max_queue = 1;
    Served s(o);
    s.backend->close_gate();
    std::vector<std::future<RawResponse>> fs;
    for (int i = 0; i < 4; ++i)
        fs.push_back(std::async(std::launch::async, [&] { return s.post("/v1/messages", msg_with("")); }));
    int done = 0;
    for (int t = 0; t < 3000 && done < 2; ++t) {
        done = 0;
        for (auto& f : fs) done += f.wait_for(std::chrono::seconds(0)) == std::future_status::ready;
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    s.backend->open_gate();
    int overloaded = 0, ok = 0;
    for (auto& f : fs) {
        auto r = f.get();
        ok += r.status == 200;
        if (r.status == 529) {
            ++overloaded;
            EXPECT_EQ(r.headers["retry-after"], "1");
            EXPECT_EQ(Json::parse(r.body)["error"]["type"], "overloaded_error");
        }
    }
    EXPECT_EQ(ok, 2);
    EXPECT_EQ(overloaded, 2);
}

TEST(AnthropicHttp, PingsWhileQueuedAndCancelOnDisconnect) {
    ServerOptions o;
    o.keepalive_s = 0.05;
    Served s(o);
    s.backend->close_gate();
    // The gate opens once the client has read three pings (not after a fixed time: under ThreadSanitizer the
    // server's threads run several times slower), or after 20 s, when the count below fails.
    std::atomic<bool> three_pings{false};
    std::thread opener([&] {
        for (int t = 0; t < 2000 && !three_pings; ++t) std::this_thread::sleep_for(std::chrono::milliseconds(10));
        s.backend->open_gate();
    });
    auto r = s.post("/v1/messages", msg_with(R"("stream":true)"), {}, [&](const std::string& body) {
        size_t n = 0;
        for (size_t p = body.find("event: ping"); p != std::string::npos; p = body.find("event: ping", p + 1)) ++n;
        if (n >= 3) three_pings = true;
        return false;  // read to the end of the stream
    });
    opener.join();
    auto ev = events_of(r.body);
    check_stream(ev);
    int pings = 0;
    for (const Event& e : ev) pings += e.name == "ping";
    EXPECT_GE(pings, 3);

    s.backend->set_token_delay(std::chrono::milliseconds(50));
    s.backend->set_reply(std::string(200, 'z'));
    auto d = s.post("/v1/messages", msg_with(R"("stream":true)"), {},
                    [](const std::string& body) { return body.find("content_block_delta") != std::string::npos; });
    EXPECT_EQ(d.status, 200);
    for (int t = 0; t < 200 && s.backend->cancelled() == 0; ++t) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    EXPECT_EQ(s.backend->cancelled(), 1);
}

// ---- streamed tool calls: a tool_use block opens only once its call parsed -----------------------------------

namespace {

const char* kWeatherTool =
    R"("tools":[{"name":"get_weather","description":"Weather for a city","input_schema":{"type":"object","properties":{"city":{"type":"string"}}}}])";

// The content blocks of a stream in order: text blocks as {"type": "text", "text"}, tool_use blocks as their start
// with "input" parsed from the concatenated input_json_delta pieces ("pieces": how many; "raw": the text).
Json blocks_of(const std::vector<Event>& ev) {
    Json blocks = Json::array();
    std::string json;
    for (const Event& e : ev) {
        if (e.name == "content_block_start") {
            blocks.push_back(e.data["content_block"]);
            blocks.back()["pieces"] = 0;
            json.clear();
        } else if (e.name == "content_block_delta" && e.data["delta"]["type"] == "text_delta") {
            blocks.back()["text"] = blocks.back()["text"].get<std::string>() + e.data["delta"]["text"].get<std::string>();
        } else if (e.name == "content_block_delta" && e.data["delta"]["type"] == "input_json_delta") {
            json += e.data["delta"]["partial_json"].get<std::string>();
            blocks.back()["pieces"] = blocks.back()["pieces"].get<int>() + 1;
            blocks.back()["raw"] = json;
            blocks.back()["input"] = Json::parse(json, nullptr, /*allow_exceptions=*/false);  // discarded: null
        }
    }
    return blocks;
}

// The official SDK (PyPI `anthropic`) streaming a request from the server and accumulating it, in ONE Python
// process per test run: importing the SDK takes about a second, and a process per request made these checks most of
// the server suite's time. Requests and answers travel as JSON lines over the process's stdin and stdout.
class AnthropicSdk {
public:
    // Null when Python or the SDK is missing (the SDK checks are then skipped, the rest of each test runs).
    static AnthropicSdk* get() {
        static AnthropicSdk sdk;
        return sdk.ready_ ? &sdk : nullptr;
    }

    // Its final message for `request` sent to the server on `port`; a stream it cannot accumulate fails the test
    // with the SDK's words (and returns null).
    Json final_message(int port, const Json& request) {
        std::fprintf(to_, "%s\n", Json{{"port", port}, {"request", request}}.dump().c_str());
        std::fflush(to_);
        Json answer = Json::parse(read_line(), nullptr, false);
        EXPECT_TRUE(answer.contains("message")) << answer.dump();
        return answer.contains("message") ? answer["message"] : Json();
    }

    AnthropicSdk(const AnthropicSdk&) = delete;
    AnthropicSdk& operator=(const AnthropicSdk&) = delete;

    ~AnthropicSdk() {
        if (to_) std::fclose(to_);  // end of input: the loop ends
        if (from_) std::fclose(from_);
        if (pid_ > 0) ::waitpid(pid_, nullptr, 0);
    }

private:
    static constexpr const char* kScript =
        "import json, sys\n"
        "try:\n"
        "    import anthropic\n"
        "except ImportError:\n"
        "    print('{\"missing\": true}', flush=True); sys.exit(0)\n"
        "print('{\"ready\": true}', flush=True)\n"
        "for line in sys.stdin:\n"
        "    q = json.loads(line)\n"
        "    try:\n"
        // A client per request, closed after it: a kept-alive connection would hold the test's server open
        // until its keep-alive timeout.
        "        with anthropic.Anthropic(base_url='http://127.0.0.1:%d' % q['port'], api_key='k', max_retries=0) as c:\n"
        "            with c.messages.stream(**q['request']) as s:\n"
        "                m = s.get_final_message()\n"
        "        print(json.dumps({'message': m.model_dump(mode='json')}), flush=True)\n"
        "    except Exception as e:\n"
        "        print(json.dumps({'error': repr(e)}), flush=True)\n";

    AnthropicSdk() {
        std::signal(SIGPIPE, SIG_IGN);  // a worker that died fails the next check instead of killing the test
        int in[2], out[2];
        if (::pipe(in) != 0) return;
        if (::pipe(out) != 0) {
            ::close(in[0]), ::close(in[1]);
            return;
        }
        pid_ = ::fork();
        if (pid_ == 0) {
            ::dup2(in[0], 0);
            ::dup2(out[1], 1);
            for (int fd : {in[0], in[1], out[0], out[1]}) ::close(fd);
            ::execlp("python3", "python3", "-c", kScript, static_cast<char*>(nullptr));
            ::_exit(127);
        }
        ::close(in[0]), ::close(out[1]);
        to_ = ::fdopen(in[1], "w");
        from_ = ::fdopen(out[0], "r");
        ready_ = pid_ > 0 && to_ && from_ && Json::parse(read_line(), nullptr, false).contains("ready");
    }

    std::string read_line() {
        std::string line;
        for (int c; from_ && (c = std::fgetc(from_)) != EOF && c != '\n';) line += static_cast<char>(c);
        return line;
    }

    pid_t pid_ = -1;
    FILE* to_ = nullptr;
    FILE* from_ = nullptr;
    bool ready_ = false;
};

Json tool_request(bool stream, int max_tokens = 200) {
    return Json::parse(R"({"model":"claude-x","max_tokens":)" + std::to_string(max_tokens) +
                       (stream ? R"(,"stream":true)" : "") +
                       R"(,"messages":[{"role":"user","content":"Weather in Paris?"}],)" + kWeatherTool + "}");
}

}  // namespace

TEST(AnthropicHttp, AStreamedToolCallIsSentOnceItParsed) {
    Served s;
    s.backend->set_token_delay(std::chrono::milliseconds(1));  // many small batches: the call arrives in pieces
    s.backend->set_reply(R"({"tool_calls": [{"name": "get_weather", "arguments": {"city": "Paris", "unit": "C"}}]})");
    auto r = s.post("/v1/messages", tool_request(true).dump());
    ASSERT_EQ(r.status, 200) << r.body;
    auto ev = events_of(r.body);
    check_stream(ev);
    EXPECT_EQ(ev[ev.size() - 2].data["delta"]["stop_reason"], "tool_use");
    Json blocks = blocks_of(ev);
    ASSERT_EQ(blocks.size(), 1u) << blocks;
    EXPECT_EQ(blocks[0]["type"], "tool_use");
    EXPECT_EQ(blocks[0]["name"], "get_weather");
    EXPECT_EQ(blocks[0]["input"], Json::parse(R"({"city": "Paris", "unit": "C"})")) << blocks[0];
    EXPECT_GT(blocks[0]["pieces"].get<int>(), 1);
    // The same call not streamed.
    Json m = Json::parse(s.post("/v1/messages", tool_request(false).dump()).body);
    EXPECT_EQ(m["content"].back()["input"], blocks[0]["input"]) << m;
    EXPECT_EQ(m["stop_reason"], "tool_use");
}

// A call whose name was out before its text broke never opens a block: the client gets it back as text (the
// parser's fallback) and a stop_reason saying how the turn ended, never a tool_use whose input is a cut prefix.
TEST(AnthropicHttp, AStreamedToolCallThatBreaksAfterItsNameComesBackAsText) {
    Served s;
    s.backend->set_token_delay(std::chrono::milliseconds(1));
    struct Case {
        std::string reply;
        int max_tokens;
        const char* stop_reason;
    };
    const std::string good = R"({"tool_calls": [{"name": "get_weather", "arguments": {"city": "Paris"}}]})";
    const std::vector<Case> cases = {
        {R"(Checking. {"tool_calls": [{"name": "get_weather", "arguments": {"city": "Paris", "days": 3]}]})", 200, "end_turn"},
        {good, 50, "max_tokens"},  // cut inside its arguments
        {R"({"tool_calls": [{"name": "get_weather", "arguments": {"city": "Paris"}}, {"name": "get_weather", "arguments": {"city": 1.}}]})",
         200, "end_turn"},  // the second call breaks the list: both are text
    };
    for (const Case& c : cases) {
        s.backend->set_reply(c.reply);
        auto r = s.post("/v1/messages", tool_request(true, c.max_tokens).dump());
        ASSERT_EQ(r.status, 200) << r.body;
        auto ev = events_of(r.body);
        const std::string text = check_stream(ev);
        EXPECT_EQ(text, c.reply.substr(0, c.max_tokens)) << r.body;
        EXPECT_EQ(ev[ev.size() - 2].data["delta"]["stop_reason"], c.stop_reason) << c.reply;
        for (const Json& b : blocks_of(ev)) EXPECT_EQ(b["type"], "text") << c.reply << "\n" << r.body;
    }
}

// Hermes: one region per call. The first parses and is sent as its region ends; the second breaks and comes
// back as text after it, with stop_reason tool_use for the call that stands.
TEST(AnthropicHttp, HermesCallsAreSentRegionByRegion) {
    Served s;
    s.backend->set_token_delay(std::chrono::milliseconds(1));
    s.backend->set_format(llm::ToolFormat::Hermes);
    const std::string broken = "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": 7,}}\n</tool_call>";
    s.backend->set_reply("<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}\n</tool_call>\n" + broken);
    auto r = s.post("/v1/messages", tool_request(true).dump());
    ASSERT_EQ(r.status, 200) << r.body;
    auto ev = events_of(r.body);
    EXPECT_EQ(check_stream(ev), broken);
    EXPECT_EQ(ev[ev.size() - 2].data["delta"]["stop_reason"], "tool_use");
    Json blocks = blocks_of(ev);
    ASSERT_EQ(blocks.size(), 2u) << blocks;
    EXPECT_EQ(blocks[0]["type"], "tool_use");
    EXPECT_EQ(blocks[0]["input"], Json::parse(R"({"city": "Paris"})")) << blocks[0];
    EXPECT_EQ(blocks[1]["type"], "text");
}

// The official SDK's stream accumulator over the streamed tool-call cases above (one SDK process for them all): its
// final message holds the blocks of the raw stream (a call that parsed as tool_use with the same input, a call that
// broke as the same text) and the stop_reason the stream ended with.
TEST(AnthropicHttp, TheOfficialSdkAccumulatesStreamedToolCalls) {
    AnthropicSdk* sdk = AnthropicSdk::get();
    if (!sdk) GTEST_SKIP() << "the official SDK (PyPI anthropic) is not installed";
    Served s;
    s.backend->set_token_delay(std::chrono::milliseconds(1));
    struct Case {
        llm::ToolFormat format;
        std::string reply;
        int max_tokens;
        const char* stop_reason;
    };
    const std::string call = R"({"tool_calls": [{"name": "get_weather", "arguments": {"city": "Paris", "unit": "C"}}]})";
    const std::string hermes = "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}\n</tool_call>\n";
    const std::vector<Case> cases = {
        {llm::ToolFormat::Generic, call, 200, "tool_use"},
        {llm::ToolFormat::Generic, R"(Checking. {"tool_calls": [{"name": "get_weather", "arguments": {"city": "Paris", "days": 3]}]})", 200,
         "end_turn"},
        {llm::ToolFormat::Generic, call, 50, "max_tokens"},
        {llm::ToolFormat::Generic,
         R"({"tool_calls": [{"name": "get_weather", "arguments": {"city": "Paris"}}, {"name": "get_weather", "arguments": {"city": 1.}}]})",
         200, "end_turn"},
        {llm::ToolFormat::Hermes, hermes + "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": 7,}}\n</tool_call>", 200,
         "tool_use"},
    };
    for (const Case& c : cases) {
        SCOPED_TRACE(c.reply.substr(0, c.max_tokens));
        s.backend->set_format(c.format);
        s.backend->set_reply(c.reply);
        auto r = s.post("/v1/messages", tool_request(true, c.max_tokens).dump());
        ASSERT_EQ(r.status, 200) << r.body;
        const Json blocks = blocks_of(events_of(r.body));
        const Json m = sdk->final_message(s.port, tool_request(false, c.max_tokens));
        ASSERT_TRUE(m.is_object());
        EXPECT_EQ(m["stop_reason"], c.stop_reason) << m;
        ASSERT_EQ(m["content"].size(), blocks.size()) << m << "\n" << blocks;
        for (size_t i = 0; i < blocks.size(); ++i) {
            EXPECT_EQ(m["content"][i]["type"], blocks[i]["type"]) << m;
            if (blocks[i]["type"] == "text") {
                EXPECT_EQ(m["content"][i]["text"], blocks[i]["text"]) << m;
            } else {
                EXPECT_EQ(m["content"][i]["name"], blocks[i]["name"]) << m;
                EXPECT_EQ(m["content"][i]["input"], blocks[i]["input"]) << m;
            }
        }
    }
}

// A call long in the making sends nothing until it parsed: pings keep the connection warm meanwhile.
TEST(AnthropicHttp, PingsWhileAToolCallIsHeldBack) {
    ServerOptions o;
    o.keepalive_s = 0.05;
    Served s(o);
    s.backend->set_n_ctx(4096);
    s.backend->set_token_delay(std::chrono::milliseconds(2));
    s.backend->set_reply(R"({"tool_calls": [{"name": "get_weather", "arguments": {"city": ")" + std::string(200, 'P') + R"("}}]})");
    auto ev = events_of(s.post("/v1/messages", tool_request(true, 400).dump()).body);
    check_stream(ev);
    int pings = 0;
    for (const Event& e : ev) pings += e.name == "ping";
    EXPECT_GE(pings, 4);  // ~0.5 s of tokens at one ping per 50 ms, the one at admission included
    EXPECT_EQ(blocks_of(ev)[0]["type"], "tool_use");
}
