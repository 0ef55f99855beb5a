// Python str semantics on UTF-8 text for the Jinja engine: code-point length/indexing/slicing, Python's
// whitespace set for strip/split, str.title()/capitalize()/upper()/lower() (ASCII case mapping only),
// and json.dumps(ensure_ascii=False) as Hugging Face's tojson uses it.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tokenizer/chat/jinja_value.hpp"

namespace llm::jinja {

// Decodes UTF-8 into code points; invalid bytes decode as themselves (0x80..0xFF) so nothing is lost.
std::vector<uint32_t> utf8_decode(std::string_view s);
std::string utf8_encode(const std::vector<uint32_t>& cps, size_t begin, size_t end);
void utf8_append(std::string& out, uint32_t cp);
size_t utf8_length(std::string_view s);
bool is_ascii(std::string_view s);

// Python str.isspace() for one code point.
bool py_isspace(uint32_t cp);
// str.strip()/lstrip()/rstrip(); `chars` = nullopt strips Python whitespace, else the given code points.
std::string py_strip(std::string_view s, bool left, bool right, const std::optional<std::string>& chars);
// str.split(sep=None, maxsplit=-1).
std::vector<std::string> py_split(std::string_view s, const std::optional<std::string>& sep, int64_t maxsplit);
std::string py_replace(std::string_view s, std::string_view from, std::string_view to, int64_t count);
std::string py_upper(std::string_view s);
std::string py_lower(std::string_view s);
std::string py_title(std::string_view s);       // str.title()
std::string jinja_title(std::string_view s);    // the |title filter (splits on -, whitespace, brackets)
std::string py_capitalize(std::string_view s);  // str.capitalize() and |capitalize

// Python slice semantics s[start:stop:step] over `n` items; returns the selected indices.
std::vector<int64_t> slice_indices(int64_t n, std::optional<int64_t> start, std::optional<int64_t> stop,
                                   std::optional<int64_t> step);

// json.dumps(v, ensure_ascii=False, indent=indent, sort_keys=sort_keys). Throws JinjaError on undefined.
std::string to_json(const Value& v, std::optional<int> indent, bool sort_keys);

}  // namespace llm::jinja
