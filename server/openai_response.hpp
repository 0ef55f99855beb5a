// ApiResult -> OpenAI response bodies and stream chunks (chat.completion, chat.completion.chunk,
// text_completion). Pure functions: the stream's order (role chunk, deltas, finish chunk, optional usage chunk,
// [DONE]) is the HTTP layer's job, the shape of each piece is here.
#pragma once
#include <cstdint>
#include <span>
#include <string>

#include "server/api_types.hpp"
#include "server/json_body.hpp"

namespace llm::server {

// Identity shared by every chunk of one stream (one id per stream).
struct ResponseMeta {
    std::string id;        // "chatcmpl-..." / "cmpl-..."
    int64_t created = 0;   // unix seconds
    std::string model;     // the id the client asked for (or the served model's)
};

Json openai_usage(const ApiResult& r);
// "tool_calls" when the turn ended in calls, else openai_finish_reason(r.stop_reason).
const char* openai_finish_reason(const ApiResult& r);
// Stream fragments of tool calls: [{"index", "id", "type", "function": {"name", "arguments"}}], id/type/name
// on a call's first fragment only (as OpenAI streams them).
Json tool_call_deltas(std::span<const ToolCallDelta> calls);

// Logprobs objects. Chat: {"content": [{"token","logprob","bytes","top_logprobs"}]}.
// Completions: {"tokens","token_logprobs","top_logprobs","text_offset"} (text_offset counted from start_offset).
Json chat_logprobs(std::span<const TokenInfo> tokens);
Json completion_logprobs(std::span<const TokenInfo> tokens, size_t start_offset);

Json chat_completion_body(const ResponseMeta& m, const ApiResult& r, bool with_logprobs);
// `echo` is prepended to the text (the prompt, for echo=true).
Json completion_body(const ResponseMeta& m, const ApiResult& r, bool with_logprobs, const std::string& echo);

// Stream pieces. `usage_field`: include "usage": null in every chunk (stream_options.include_usage), as OpenAI does.
Json chat_chunk(const ResponseMeta& m, const Json& delta, const Json& logprobs, const char* finish_reason, bool usage_field);
Json completion_chunk(const ResponseMeta& m, const std::string& text, const Json& logprobs, const char* finish_reason,
                      bool usage_field);
// The usage-only final chunk (choices empty), sent only when include_usage was asked for.
Json usage_chunk(const ResponseMeta& m, const ApiResult& r, bool chat);

// A fresh id with the given prefix ("chatcmpl-", "cmpl-", "req-"): 24 random hex digits.
std::string new_response_id(const char* prefix);

}  // namespace llm::server
