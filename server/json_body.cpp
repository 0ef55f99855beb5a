// Body checks before parsing: see json_body.hpp.
#include "server/json_body.hpp"

#include <fmt/format.h>

namespace llm::server {

bool is_valid_utf8(std::string_view s, size_t* bad_offset) {
    const auto* p = reinterpret_cast<const unsigned char*>(s.data());
    const size_t n = s.size();
    size_t i = 0;
    while (i < n) {
        const unsigned char c = p[i];
        if (c < 0x80) {
            ++i;
            continue;
        }
        int len = 0;
        uint32_t cp = 0, min = 0;
        if ((c & 0xE0) == 0xC0) len = 2, cp = c & 0x1F, min = 0x80;
        else if ((c & 0xF0) == 0xE0) len = 3, cp = c & 0x0F, min = 0x800;
        else if ((c & 0xF8) == 0xF0) len = 4, cp = c & 0x07, min = 0x10000;
        bool ok = len > 0 && i + len <= n;
        for (int k = 1; ok && k < len; ++k) {
            if ((p[i + k] & 0xC0) != 0x80) ok = false;
            else cp = (cp << 6) | (p[i + k] & 0x3F);
        }
        if (ok && (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))) ok = false;
        if (!ok) {
            if (bad_offset) *bad_offset = i;
            return false;
        }
        i += len;
    }
    return true;
}

std::optional<ApiError> parse_json_body(std::string_view body, const JsonLimits& limits, Json& out) {
    size_t bad = 0;
    if (!is_valid_utf8(body, &bad))
        return ApiError{400, "invalid_request_error", fmt::format("request body is not valid UTF-8 (byte {})", bad), "", "invalid_utf8"};
    // One pass over the text: depth outside strings, length of each string (escaped bytes).
    int depth = 0;
    bool in_string = false, escaped = false;
    size_t string_start = 0;
    for (size_t i = 0; i < body.size(); ++i) {
        const char c = body[i];
        if (in_string) {
            if (escaped) escaped = false;
            else if (c == '\\') escaped = true;
            else if (c == '"') {
                in_string = false;
                if (i - string_start > limits.max_string_bytes)
                    return ApiError{400, "invalid_request_error",
                                    fmt::format("a string of {} bytes at byte {} exceeds the limit of {} bytes",
                                                i - string_start, string_start, limits.max_string_bytes), "", "string_too_long"};
            }
        } else if (c == '"') {
            in_string = true, string_start = i + 1;
        } else if (c == '[' || c == '{') {
            if (++depth > limits.max_depth)
                return ApiError{400, "invalid_request_error",
                                fmt::format("JSON nested deeper than {} levels (byte {})", limits.max_depth, i), "", "json_too_deep"};
        } else if (c == ']' || c == '}') {
            --depth;
        }
    }
    if (in_string && body.size() - string_start > limits.max_string_bytes)
        return ApiError{400, "invalid_request_error", "unterminated string over the size limit", "", "string_too_long"};
    try {
        out = Json::parse(body);
    } catch (const nlohmann::json::exception& e) {
        std::string what = e.what();
        // "[json.exception.parse_error.101] parse error at line 1, column 2: ..." -> keep the part after "] "
        if (auto pos = what.find("] "); pos != std::string::npos) what = what.substr(pos + 2);
        return ApiError{400, "invalid_request_error", "malformed JSON body: " + what, "", "invalid_json"};
    }
    if (!out.is_object())
        return ApiError{400, "invalid_request_error", "request body must be a JSON object", "", "invalid_json"};
    return std::nullopt;
}

std::string dump_json(const Json& j) { return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace); }

}  // namespace llm::server
