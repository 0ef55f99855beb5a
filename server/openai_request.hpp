// OpenAI request bodies -> ApiRequest: every parameter checked, errors are 400s naming it in OpenAI's shape.
// Pure functions (no model, no I/O); limits that need the model (context length, vocabulary) are the server's.
#pragma once
#include <optional>
#include <string>
#include <vector>

#include "server/api_types.hpp"
#include "server/json_body.hpp"

namespace llm::server {

// POST /v1/chat/completions. Roles system, developer (rendered as system), user, assistant, tool; content a
// string or text parts. Unknown fields are ignored (clients send vendor extensions); known ones are checked.
std::optional<ApiError> parse_chat_request(const Json& body, ApiRequest& out);
// POST /v1/completions: prompt as a string, token ids, or a one-element list of either.
std::optional<ApiError> parse_completion_request(const Json& body, ApiRequest& out);

struct EmbeddingRequest {
    std::string model;
    std::vector<std::string> texts;                 // string inputs...
    std::vector<std::vector<int32_t>> token_lists;  // ...or token-id inputs (one of the two is used)
    bool base64 = false;                            // encoding_format "base64" (the openai SDK's default)
};
// POST /v1/embeddings.
std::optional<ApiError> parse_embedding_request(const Json& body, EmbeddingRequest& out);

// The body of an OpenAI error response.
Json openai_error_body(const ApiError& e);

}  // namespace llm::server
