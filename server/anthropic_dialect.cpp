// The Anthropic Messages dialect (see dialect.hpp) and POST /v1/messages/count_tokens. A stream is
//   message_start (usage with the prompt's size) -> ping -> per content block: content_block_start (a text
//   block carries "text": "", a tool_use block its id, name and "input": {}; sent once its call parsed) ->
//   content_block_delta* (text_delta, or input_json_delta pieces of the input's JSON text) -> content_block_stop
//   -> message_delta (stop_reason, stop_sequence, the final usage split between computed and cached tokens)
//   -> message_stop,
// every event with an `event:` line equal to its type (the SDKs dispatch on it); pings while waiting and
// `event: error` for a failure after the headers went out.
#include "server/anthropic_request.hpp"
#include "server/server_impl.hpp"
#include "server/sse.hpp"

namespace llm::server {
namespace {

std::string event(const char* name, const Json& data) { return sse_event(name, dump_json(data)); }

class AnthropicMessages final : public ApiDialect {
public:
    std::optional<ApiError> parse_request(const Json& body, ApiRequest& out) const override {
        return parse_messages_request(body, out);
    }
    // On the connection's thread, so the request being served is current_log()'s.
    Json error_body(const ApiError& e) const override { return anthropic_error_body(e, current_log().request_id); }
    const char* id_prefix() const override { return "msg_"; }
    int queue_full_status() const override { return 529; }
    ApiError context_error(int n_prompt, int max_tokens, int n_ctx) const override {
        (void)max_tokens;  // cut to fit (clamp_max_tokens): only the prompt can be too long
        return prompt_too_long(n_prompt, n_ctx);
    }

    Json response_body(const StreamContext& c, const ApiResult& r) const override {
        // A text block unless the answer is only tool calls (as the API does), then one tool_use block per call.
        Json content = Json::array();
        if (!r.text.empty() || r.tool_calls.empty()) content.push_back({{"type", "text"}, {"text", r.text}});
        for (const ToolCall& call : r.tool_calls)
            content.push_back({{"type", "tool_use"}, {"id", call.id}, {"name", call.name}, {"input", tool_input(call)}});
        return anthropic_message(c.meta.id, c.meta.model, content, anthropic_stop_reason(r, *c.request),
                                 stop_sequence(r), anthropic_usage(r));
    }
    std::string stream_start(const StreamContext& c) const override {
        const Json usage = {{"input_tokens", c.prompt_tokens}, {"cache_creation_input_tokens", 0},
                            {"cache_read_input_tokens", 0}, {"output_tokens", 0}};
        return event("message_start", {{"type", "message_start"},
                                        {"message", anthropic_message(c.meta.id, c.meta.model, Json::array(), nullptr,
                                                                      nullptr, usage)}}) +
               keepalive();
    }
    // Text first, then the calls' pieces: a call's first delta (id and name) opens its tool_use block, each
    // arguments fragment is an input_json_delta of the open block (calls stream one after the other, each only
    // once it parsed: server/tool_call_gate.hpp).
    std::string stream_delta(const StreamContext& c, const std::string& text, std::span<const TokenInfo>,
                             std::span<const ToolCallDelta> calls) const override {
        std::string out;
        if (!text.empty()) {
            out = open_text(c);  // sequenced before reading c.open_block
            out += event("content_block_delta", {{"type", "content_block_delta"},
                                                 {"index", c.open_block},
                                                 {"delta", {{"type", "text_delta"}, {"text", text}}}});
        }
        for (const ToolCallDelta& d : calls) {
            if (!d.name.empty()) {
                out += close_block(c);
                c.open_block = c.blocks_opened++;
                c.open_block_is_text = false;
                out += event("content_block_start",
                             {{"type", "content_block_start"},
                              {"index", c.open_block},
                              {"content_block",
                               {{"type", "tool_use"}, {"id", d.id}, {"name", d.name}, {"input", Json::object()}}}});
            }
            if (d.arguments.empty() || c.open_block < 0 || c.open_block_is_text) continue;
            out += event("content_block_delta",
                         {{"type", "content_block_delta"},
                          {"index", c.open_block},
                          {"delta", {{"type", "input_json_delta"}, {"partial_json", d.arguments}}}});
        }
        return out;
    }
    std::string stream_end(const StreamContext& c, const ApiResult& r) const override {
        // An answer with no text still has its (empty) text block, as the non-streamed body does.
        std::string out = c.blocks_opened == 0 ? open_text(c) : "";
        out += close_block(c);
        out += event("message_delta", {{"type", "message_delta"},
                                       {"delta", {{"stop_reason", anthropic_stop_reason(r, *c.request)},
                                                  {"stop_sequence", stop_sequence(r)}}},
                                       {"usage", anthropic_usage(r)}});
        return out + event("message_stop", {{"type", "message_stop"}});
    }
    std::string stream_error(const StreamContext&, const ApiError& e) const override {
        return event("error", anthropic_error_body(e, ""));
    }
    std::string keepalive() const override { return event("ping", {{"type", "ping"}}); }

private:
    // A call's input object (the parser hands out valid JSON text; anything else is kept as a string field).
    static Json tool_input(const ToolCall& call) {
        Json j = Json::parse(call.arguments, nullptr, /*allow_exceptions=*/false);
        return j.is_object() ? j : Json{{"arguments", call.arguments}};
    }
    static Json stop_sequence(const ApiResult& r) {
        return r.stop_reason == StopReason::StopString && !r.stop_sequence.empty() ? Json(r.stop_sequence) : Json(nullptr);
    }
    static std::string close_block(const StreamContext& c) {
        if (c.open_block < 0) return "";
        std::string out = event("content_block_stop", {{"type", "content_block_stop"}, {"index", c.open_block}});
        c.open_block = -1;
        return out;
    }
    // Opens a text block unless one is open (closing another kind first).
    static std::string open_text(const StreamContext& c) {
        if (c.open_block >= 0 && c.open_block_is_text) return "";
        std::string out = close_block(c);
        c.open_block = c.blocks_opened++;
        c.open_block_is_text = true;
        return out + event("content_block_start", {{"type", "content_block_start"},
                                                   {"index", c.open_block},
                                                   {"content_block", {{"type", "text"}, {"text", ""}}}});
    }
};

}  // namespace

const ApiDialect& anthropic_messages_dialect() {
    static const AnthropicMessages d;
    return d;
}

void HttpServer::Impl::handle_count_tokens(const httplib::Request& req, httplib::Response& res) {
    const ApiDialect& d = anthropic_messages_dialect();
    auto reg = registry();
    if (!reg) return send_error(d, res, ApiError{503, "server_error", "the model is loading; retry shortly", "", "model_loading"});
    Json body;
    if (auto e = parse_json_body(req.body, opts.json, body)) return send_error(d, res, *e);
    ApiRequest api;
    if (auto e = parse_messages_request(body, api, /*for_count=*/true)) return send_error(d, res, *e);
    std::optional<ApiError> err;
    const int index = pick_model(*reg, api.model, err);
    AcquiredModel model;
    if (!err) err = load_model(*reg, index, model);
    if (err) return send_error(d, res, *err);
    Backend* b = model.backend.get();
    std::vector<int32_t> tokens;
    if (auto e = render_prompt(api, *b, tokens)) return send_error(d, res, *e);
    current_log().model = api.model;
    current_log().prompt_tokens = (int)tokens.size();
    send_json(res, 200, Json{{"input_tokens", tokens.size()}});
}

}  // namespace llm::server
