// The API-neutral request and result the server works with: each API's converter (openai_*.cpp, and the
// Anthropic one next) maps its JSON to an ApiRequest and an ApiResult back to its JSON; the HTTP layer and the
// backend only ever see these types.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "constrain/tool_calls.hpp"  // ToolSpec, ToolChoice, ToolCall
#include "runtime/generate.hpp"  // StopReason
#include "runtime/sampler.hpp"   // SamplerConfig
#include "tokenizer/chat/chat_template.hpp"  // ChatMessage

namespace llm::server {

// An error answered to the client. Converters and the HTTP layer build these; each API renders its own shape
// (OpenAI: {"error": {"message", "type", "param", "code"}}).
struct ApiError {
    int status = 400;
    std::string type = "invalid_request_error";  // invalid_request_error, authentication_error, not_found_error, ...
    std::string message;
    std::string param;  // the offending request field ("" = none)
    std::string code;   // machine-readable detail, e.g. context_length_exceeded ("" = none)
};

inline ApiError invalid_param(std::string param, std::string message) {
    return ApiError{400, "invalid_request_error", std::move(message), std::move(param), ""};
}

enum class ApiKind { Chat, Completion };

// What to generate, decided by the converter; the server turns it into tokens and an engine Request.
struct ApiRequest {
    ApiKind kind = ApiKind::Chat;
    std::string model;                       // as the client sent it ("" = not given)
    std::vector<ChatMessage> messages;       // Chat: rendered through the model's chat template
    // Chat with tools, or with tool calls/results in its history: the messages as sent, rendered by the tool
    // prompt renderer (constrain/tool_calls.hpp) for the model's tool format.
    bool tool_prompt = false;
    nlohmann::ordered_json messages_json;
    std::vector<ToolSpec> tools;
    ToolChoice tool_choice{ToolChoiceMode::None, "", true};  // mode None when no tools
    std::string prompt;                      // Completion: raw text...
    std::vector<int32_t> prompt_tokens;      // ...or token ids (then prompt is unused)
    bool prompt_is_tokens = false;
    SamplerConfig sampling;
    int max_tokens = -1;                     // -1: until end of generation or the context is full
    std::vector<std::string> stop;
    int top_logprobs = -1;                   // -1: none; 0: the chosen token's; n: also the n best
    bool stream = false;
    bool include_usage = false;              // stream_options.include_usage
    bool echo = false;                       // Completion: prepend the prompt to the text
    bool ignore_eos = false;                 // extension (as llama-server): end-of-generation tokens do not stop
    // Anthropic: a max_tokens beyond what the context leaves is cut to fit (Claude Code asks for 32000 or more
    // whatever the model); OpenAI refuses such a request instead.
    bool clamp_max_tokens = false;
    // The conversation this request continues (Anthropic: metadata.user_id, the X-Claude-Code-Session-Id header
    // wins; OpenAI: prompt_cache_key, else user), for the access log's divergence report and to keep the
    // session's main thread cached ("" = none).
    std::string session;
    // response_format: JSON Schema text the output must match ("" = free text). json_object maps to a schema
    // accepting any object.
    std::string json_schema;
};

struct TokenInfo {
    int32_t token = 0;
    std::string piece;  // raw bytes of the token (may be part of a UTF-8 character)
    float logprob = 0;
    std::vector<std::pair<std::string, float>> top;  // (piece, logprob), best first
};

// The outcome of one generation, what every API's response is built from.
struct ApiResult {
    std::string text;
    StopReason stop_reason = StopReason::MaxTokens;
    int prompt_tokens = 0;
    int cached_tokens = 0;       // prompt tokens served by the prefix cache
    int completion_tokens = 0;
    std::vector<TokenInfo> logprobs;  // one per generated token when logprobs were asked for
    std::string stop_sequence;        // StopReason::StopString: the stop string that ended the text
    std::vector<ToolCall> tool_calls; // calls parsed from the text (then `text` holds only the rest)
};

// OpenAI's finish_reason for a stop reason ("stop", "length"; a cancelled request never reaches a client).
const char* openai_finish_reason(StopReason r);

}  // namespace llm::server
