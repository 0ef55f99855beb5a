// Request bodies from untrusted clients: UTF-8, nesting depth and string sizes are checked in one linear scan
// before nlohmann-json builds anything, so a hostile body costs O(bytes) and never deep recursion or a 5xx.
#pragma once
#include <nlohmann/json.hpp>
#include <optional>
#include <string_view>

#include "server/api_types.hpp"

namespace llm::server {

// Objects keep their key order (a JSON schema's properties are generated in it).
using Json = nlohmann::ordered_json;

struct JsonLimits {
    int max_depth = 64;                        // nested arrays/objects
    size_t max_string_bytes = 16u << 20;       // one string value or key (escaped form)
};

// Strict UTF-8 (no overlong forms, surrogates or code points past U+10FFFF). On failure *bad_offset is the
// byte offset of the first invalid sequence.
bool is_valid_utf8(std::string_view s, size_t* bad_offset = nullptr);

// Parses a request body into `out`; a 400 naming what is wrong (invalid UTF-8 at byte N, nesting deeper than
// the limit, a string over the limit, malformed JSON with its position, a body that is not an object).
std::optional<ApiError> parse_json_body(std::string_view body, const JsonLimits& limits, Json& out);

// Dumps with invalid UTF-8 replaced (token pieces can be partial characters) instead of throwing.
std::string dump_json(const Json& j);

}  // namespace llm::server
