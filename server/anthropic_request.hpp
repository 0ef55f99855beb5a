// Anthropic Messages API request bodies -> ApiRequest (POST /v1/messages and /v1/messages/count_tokens): every
// known field checked (a 400 naming it), unknown ones and the ones a local model has no use for accepted.
// Pure functions (no model, no I/O); limits that need the model (context length) are the server's.
#pragma once
#include <optional>
#include <string>
#include <string_view>

#include "server/api_types.hpp"
#include "server/json_body.hpp"

namespace llm::server {

// The messages, as one conversation for the chat template:
// - `system` (a string or text blocks) first; Claude Code's billing-header block
//   ("x-anthropic-billing-header: cc_version=...; cch=...;") is dropped, since its values change on every
//   request and would make each prompt differ from the cached one in its first tokens;
// - `role: "system"` messages inside `messages` rendered in place (Claude Code sends them after user turns), so
//   turn N+1's prompt extends turn N's;
// - text blocks of one message joined with a blank line; `thinking`/`redacted_thinking` history blocks dropped
//   (the models served do not think); `tool_use` blocks become the assistant's call text and `tool_result`
//   blocks `tool` messages (an error result prefixed "Error: "); image and document blocks refused (no
//   vision model is loaded);
// - `cache_control` on any block ignored: the prefix cache works on tokens, whatever the client marks.
// - `tools` / `tool_choice` (auto, any, tool, none; disable_parallel_tool_use) map to ApiRequest's tools and
//   ToolChoice (any = Required, tool = Named); with tools or tool blocks in the history the messages also go
//   to messages_json in OpenAI's shape (tool_use -> tool_calls with their ids, tool_result -> `tool` messages
//   with tool_call_id) and the tool prompt renderer renders them, as for OpenAI's route.
// `for_count` (count_tokens): max_tokens is not required.
std::optional<ApiError> parse_messages_request(const Json& body, ApiRequest& out, bool for_count = false);

// True for Claude Code's per-request billing-header system block.
bool is_billing_header(std::string_view text);

// Anthropic's `stop_reason` for a result: end_turn, max_tokens, stop_sequence, tool_use, or
// model_context_window_exceeded (the context ended the answer before the client's max_tokens did).
const char* anthropic_stop_reason(const ApiResult& r, const ApiRequest& request);

// `usage`: input_tokens (computed now) + cache_read_input_tokens (from the prefix cache) +
// cache_creation_input_tokens (0: blocks are cached as a side effect, nothing is billed for it) = the prompt's
// tokens, which is what count_tokens answers for the same body.
Json anthropic_usage(const ApiResult& r);

// The error envelope: {"type": "error", "error": {"type", "message"}, "request_id"}; the error type follows the
// status (400 invalid_request_error, 401 authentication_error, 403 permission_error, 404 not_found_error,
// 413 request_too_large, 429 rate_limit_error, 529 and 503 overloaded_error, other 5xx api_error).
Json anthropic_error_body(const ApiError& e, const std::string& request_id);

// The exact text Claude Code acts on (it compacts the conversation and retries): "prompt is too long: N tokens
// > M maximum", M = n_ctx - 1 (a prompt must leave room for one token).
ApiError prompt_too_long(int n_prompt, int n_ctx);

// The message object (non-streamed answer, and with empty content and null stop fields in message_start).
Json anthropic_message(const std::string& id, const std::string& model, const Json& content, const Json& stop_reason,
                       const Json& stop_sequence, const Json& usage);

}  // namespace llm::server
