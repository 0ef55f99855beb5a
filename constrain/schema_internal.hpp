// Internals shared by the JSON-schema compiler's files: the error type and the grammar pieces for strings,
// numbers and formats. Not part of the library's interface.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "constrain/grammar.hpp"

namespace llm::schema_detail {

// Thrown inside the compiler (deep recursion reads better without an error check per call) and turned into
// a Status at json_schema_to_gbnf()'s boundary; never escapes the library.
struct SchemaError {
    std::string message;
};

template <typename... Args>
[[noreturn]] void fail(fmt::format_string<Args...> f, Args&&... args) {
    throw SchemaError{fmt::format(f, std::forward<Args>(args)...)};
}

// One character of `set` inside a JSON string, as it must be written there: safe characters raw, '"' and
// '\' backslash-escaped, control characters as \u00XX. A GBNF expression.
std::string json_char_expr(const std::vector<CharRange>& set);

// Integers in [lo, hi] (either side open), no leading zeros, at most 16 digits. GBNF expression without
// trailing whitespace; fails when the range is empty.
std::string integer_expr(std::optional<int64_t> lo, std::optional<int64_t> hi);

struct NumberBound {
    int64_t value;
    bool exclusive;
};
// Numbers (integer part, optional fraction, no exponent) within integer-valued bounds.
std::string number_expr(std::optional<NumberBound> lo, std::optional<NumberBound> hi);

// The rules of a string format ("date", ...): name -> body, the first being the format itself; nullptr when
// the format is unknown. Bodies refer to each other by these names.
const std::vector<std::pair<std::string, std::string>>* format_rules(std::string_view format);
std::string supported_formats();

}  // namespace llm::schema_detail
