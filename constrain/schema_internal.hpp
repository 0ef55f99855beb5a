// Internals shared by the JSON-schema compiler's files: the error type and the grammar pieces for strings,
// numbers and formats. Not part of the library's interface.
#pragma once
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

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

// Positive integers of at most `digits` digits without leading zeros that are multiples of k: adds its rules
// through `add` (a body -> the name of its rule) and returns the name of the set's rule.
std::string positive_multiples_rule(uint32_t k, int digits, const std::function<std::string(std::string)>& add);

// The rules of a string format ("date", ...): name -> body, the first being the format itself; nullptr when
// the format is unknown. Bodies refer to each other by these names.
const std::vector<std::pair<std::string, std::string>>* format_rules(std::string_view format);
std::string supported_formats();

// ---- keywords (json_schema_keywords.cpp) ----
using json = nlohmann::ordered_json;
std::string pointer_token(const std::string& s);  // one JSON-pointer segment: ~ -> ~0, / -> ~1
std::string where(const std::string& ptr);        // the pointer, "/" for the root
bool is_annotation(const std::string& k);
bool constrains(const std::string& k);  // a keyword that restricts instances and that the compiler enforces
// Fails naming the first keyword of `s` that is neither enforced nor an annotation.
void check_keywords(const json& s, const std::string& ptr);
std::vector<std::string> type_list(const json& t, const std::string& ptr);
bool value_has_type(const json& v, const std::string& t);
// The rule names a GBNF body refers to (words outside literals, classes and {m,n} counts).
std::vector<std::string> referenced_names(const std::string& b);
// allOf: merges keyword k = v of one part into `out`, or fails when the parts cannot be combined.
void merge_keyword(json& out, const std::string& k, const json& v, const std::string& ptr);
// `not` where it only names types ({"not": {"type": "null"}}): `types` (all when empty) without them.
std::vector<std::string> types_without(std::vector<std::string> types, const json& n, const std::string& ptr);
// The types implied by type-specific keywords when `type` is absent.
std::vector<std::string> inferred_types(const json& s);
// A non-negative integer keyword (minItems, maxLength, ...) up to 10000, nullopt when absent.
std::optional<uint64_t> count(const json& s, const char* k, const std::string& ptr);

}  // namespace llm::schema_detail
