// How one API speaks: its error body, its complete response and the pieces of its event stream. The generation
// path (generation.cpp) is written once against this interface; OpenAI chat and completions are two dialects
// (openai_dialect.cpp) and the Anthropic Messages API is a third, with no change to the HTTP or engine side.
#pragma once
#include <optional>
#include <span>
#include <string>

#include "server/api_types.hpp"
#include "server/json_body.hpp"
#include "server/openai_response.hpp"

namespace llm::server {

// What a dialect knows about the stream it is writing.
struct StreamContext {
    ResponseMeta meta;
    const ApiRequest* request = nullptr;
    std::string echo;       // completions with echo=true: the prompt text
    int prompt_tokens = 0;  // known at admission (the cache split is not: it comes with the result)
    // Streams with structure (Anthropic's content blocks) track what is open: the index of the open block (-1:
    // none), whether it is a text block, and how many were opened. Only the connection's thread touches these.
    mutable int open_block = -1;
    mutable bool open_block_is_text = false;
    mutable int blocks_opened = 0;
};

class ApiDialect {
public:
    virtual ~ApiDialect() = default;
    // Request body -> ApiRequest (every field checked; a 400 naming the one that is wrong).
    virtual std::optional<ApiError> parse_request(const Json& body, ApiRequest& out) const = 0;
    virtual Json error_body(const ApiError& e) const = 0;
    virtual const char* id_prefix() const = 0;
    // Status when the queue is full (OpenAI 429; Anthropic 529).
    virtual int queue_full_status() const { return 429; }
    // A prompt that does not fit the context (with max_tokens when the API refuses rather than cuts it).
    virtual ApiError context_error(int n_prompt, int max_tokens, int n_ctx) const;

    virtual Json response_body(const StreamContext& c, const ApiResult& r) const = 0;
    // Stream text: sent at admission (headers go with it) ...
    virtual std::string stream_start(const StreamContext& c) const = 0;
    // ... for each batch of new text, the tokens it came from (tokens carry logprobs when asked) and the tool-call
    // fragments parsed from it (after the text) ...
    virtual std::string stream_delta(const StreamContext& c, const std::string& text, std::span<const TokenInfo> tokens,
                                     std::span<const ToolCallDelta> calls = {}) const = 0;
    // ... at the end (finish reason, usage, terminator; r.tool_calls non-empty: the turn ended in tool calls) ...
    virtual std::string stream_end(const StreamContext& c, const ApiResult& r) const = 0;
    // ... or on a failure after the headers went out.
    virtual std::string stream_error(const StreamContext& c, const ApiError& e) const = 0;
    // While waiting (queued, prefilling): something every client of this API skips.
    virtual std::string keepalive() const = 0;
};

const ApiDialect& openai_chat_dialect();
const ApiDialect& openai_completion_dialect();
const ApiDialect& anthropic_messages_dialect();  // anthropic_dialect.cpp

}  // namespace llm::server
