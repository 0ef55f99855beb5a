// The OpenAI dialects (chat.completion and text_completion streams): see dialect.hpp.
#include <fmt/format.h>

#include "server/dialect.hpp"
#include "server/openai_request.hpp"
#include "server/sse.hpp"

namespace llm::server {

// OpenAI's words (context_length_exceeded); the default for every dialect.
ApiError ApiDialect::context_error(int n_prompt, int max_tokens, int n_ctx) const {
    std::string msg = max_tokens > 0
        ? fmt::format("This model's maximum context length is {} tokens. However, you requested {} tokens ({} in the "
                      "messages, {} in the completion). Please reduce the length of the messages or completion.",
                      n_ctx, n_prompt + max_tokens, n_prompt, max_tokens)
        : fmt::format("This model's maximum context length is {} tokens. However, your messages resulted in {} tokens. "
                      "Please reduce the length of the messages.", n_ctx, n_prompt);
    return ApiError{400, "invalid_request_error", msg, "messages", "context_length_exceeded"};
}

namespace {

class OpenAiChat final : public ApiDialect {
public:
    std::optional<ApiError> parse_request(const Json& body, ApiRequest& out) const override {
        return parse_chat_request(body, out);
    }
    Json error_body(const ApiError& e) const override { return openai_error_body(e); }
    const char* id_prefix() const override { return "chatcmpl-"; }
    Json response_body(const StreamContext& c, const ApiResult& r) const override {
        return chat_completion_body(c.meta, r, c.request->top_logprobs >= 0);
    }
    std::string stream_start(const StreamContext& c) const override {
        return sse_data(dump_json(chat_chunk(c.meta, {{"role", "assistant"}, {"content", ""}}, nullptr, nullptr,
                                             c.request->include_usage)));
    }
    std::string stream_delta(const StreamContext& c, const std::string& text, std::span<const TokenInfo> tokens,
                             std::span<const ToolCallDelta> calls) const override {
        const bool lp = c.request->top_logprobs >= 0 && !tokens.empty();
        std::string out;
        if (!text.empty() || lp)
            out = sse_data(dump_json(chat_chunk(c.meta, {{"content", text}}, lp ? chat_logprobs(tokens) : Json(nullptr),
                                                nullptr, c.request->include_usage)));
        if (!calls.empty())
            out += sse_data(dump_json(chat_chunk(c.meta, {{"tool_calls", tool_call_deltas(calls)}}, nullptr, nullptr,
                                                 c.request->include_usage)));
        return out;
    }
    std::string stream_end(const StreamContext& c, const ApiResult& r) const override {
        std::string out = sse_data(dump_json(chat_chunk(c.meta, Json::object(), nullptr, openai_finish_reason(r),
                                                        c.request->include_usage)));
        if (c.request->include_usage) out += sse_data(dump_json(usage_chunk(c.meta, r, true)));
        out += sse_done();
        return out;
    }
    std::string stream_error(const StreamContext&, const ApiError& e) const override {
        return sse_data(dump_json(openai_error_body(e))) + sse_done();
    }
    std::string keepalive() const override { return sse_comment(); }
};

class OpenAiCompletion final : public ApiDialect {
public:
    std::optional<ApiError> parse_request(const Json& body, ApiRequest& out) const override {
        return parse_completion_request(body, out);
    }
    Json error_body(const ApiError& e) const override { return openai_error_body(e); }
    const char* id_prefix() const override { return "cmpl-"; }
    Json response_body(const StreamContext& c, const ApiResult& r) const override {
        return completion_body(c.meta, r, c.request->top_logprobs >= 0, c.echo);
    }
    std::string stream_start(const StreamContext& c) const override {
        // No role chunk in this API; echo goes first, else a comment so headers and a first byte leave now.
        if (!c.echo.empty())
            return sse_data(dump_json(completion_chunk(c.meta, c.echo, nullptr, nullptr, c.request->include_usage)));
        return sse_comment("admitted");
    }
    std::string stream_delta(const StreamContext& c, const std::string& text, std::span<const TokenInfo> tokens,
                             std::span<const ToolCallDelta>) const override {
        const bool lp = c.request->top_logprobs >= 0 && !tokens.empty();
        if (text.empty() && !lp) return "";
        return sse_data(dump_json(completion_chunk(c.meta, text, lp ? completion_logprobs(tokens, 0) : Json(nullptr),
                                                   nullptr, c.request->include_usage)));
    }
    std::string stream_end(const StreamContext& c, const ApiResult& r) const override {
        std::string out = sse_data(dump_json(completion_chunk(c.meta, "", nullptr, openai_finish_reason(r.stop_reason),
                                                              c.request->include_usage)));
        if (c.request->include_usage) out += sse_data(dump_json(usage_chunk(c.meta, r, false)));
        out += sse_done();
        return out;
    }
    std::string stream_error(const StreamContext&, const ApiError& e) const override {
        return sse_data(dump_json(openai_error_body(e))) + sse_done();
    }
    std::string keepalive() const override { return sse_comment(); }
};

}  // namespace

const ApiDialect& openai_chat_dialect() {
    static const OpenAiChat d;
    return d;
}
const ApiDialect& openai_completion_dialect() {
    static const OpenAiCompletion d;
    return d;
}

}  // namespace llm::server
