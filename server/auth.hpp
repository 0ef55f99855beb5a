// API keys: "Authorization: Bearer KEY" (OpenAI) or "x-api-key: KEY" (Anthropic), compared in constant time.
#pragma once
#include <string>
#include <string_view>
#include <vector>

namespace llm::server {

// Equal contents, in time that depends on the lengths only (not on where the first difference is).
bool constant_time_equal(std::string_view a, std::string_view b);

// The key a request presents: the Bearer token of `authorization`, else `x_api_key` ("" = none).
std::string presented_key(std::string_view authorization, std::string_view x_api_key);

// True when no keys are configured or the presented key equals one of them. Every configured key is compared
// (no early exit), so timing does not say which one matched.
bool key_accepted(const std::vector<std::string>& keys, std::string_view presented);

}  // namespace llm::server
