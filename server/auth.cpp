// API-key checks: see auth.hpp.
#include "server/auth.hpp"

#include <cstdint>

namespace llm::server {

bool constant_time_equal(std::string_view a, std::string_view b) {
    // Walk the longer length so the loop's duration does not depend on the secret's length either.
    const size_t n = a.size() > b.size() ? a.size() : b.size();
    volatile uint8_t diff = a.size() == b.size() ? 0 : 1;
    for (size_t i = 0; i < n; ++i) {
        const uint8_t x = i < a.size() ? (uint8_t)a[i] : 0, y = i < b.size() ? (uint8_t)b[i] : 0;
        diff = diff | (uint8_t)(x ^ y);
    }
    return diff == 0;
}

std::string presented_key(std::string_view authorization, std::string_view x_api_key) {
    auto trim = [](std::string_view s) {
        while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
        while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
        return s;
    };
    authorization = trim(authorization);
    if (authorization.size() > 7) {
        std::string scheme(authorization.substr(0, 7));
        for (char& c : scheme) c = (char)std::tolower((unsigned char)c);
        if (scheme == "bearer ") return std::string(trim(authorization.substr(7)));
    }
    return std::string(trim(x_api_key));
}

bool key_accepted(const std::vector<std::string>& keys, std::string_view presented) {
    if (keys.empty()) return true;
    bool ok = false;
    for (const std::string& k : keys) ok |= !presented.empty() && constant_time_equal(k, presented);
    return ok;
}

}  // namespace llm::server
