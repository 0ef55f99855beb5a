// JSON Schema -> GBNF for constrained decoding. Covers what APIs and configs use: type (and type lists),
// properties/required/additionalProperties, enum, const, items/prefixItems/minItems/maxItems, anyOf/oneOf,
// allOf (merged where the parts are objects or agree), $ref/$defs/definitions (local, recursion allowed),
// minLength/maxLength, pattern (a regex subset), formats date/time/date-time/uuid/email/uri/ipv4, integer
// and number minimum/maximum/exclusive* (integer-valued bounds for numbers), nullable (OpenAPI).
// The grammar generates a subset of what the schema accepts: properties in schema order, no duplicate keys,
// no extra properties unless additionalProperties asks for them (or the object has no properties at all),
// numbers of at most 16 digits per part, and whitespace only where pretty printers put it (after { [ , : and
// before } ]), bounded to one space or a newline and an indent of at most `max_indent` spaces or tabs, so a
// small model cannot loop on spaces; nothing after the last closing bracket. Where the schema leaves a
// repetition open (no maxLength, maxItems, bound on extra keys or on recursion), JsonSchemaOptions bounds it:
// a small model under a constraint otherwise loops until the token limit (an endless array, a string that
// repeats a syllable, a map that keeps adding keys, a comment that replies to itself forever).
// A keyword the grammar cannot enforce is an error naming it and its JSON pointer, never silently ignored;
// annotations (title, description, default, examples, $comment, ...) are ignored.
#pragma once
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "core/status.hpp"
#include "llm/constrain.hpp"

namespace llm {

// JsonSchemaOptions and json_schema_to_gbnf(text) are public: include/llm/constrain.hpp.

// The bounds for tool-call arguments: as the defaults, but strings unbounded (file contents, commands and
// edits are long, and cutting them would change what the tool does).
JsonSchemaOptions tool_arguments_schema_options();
// The same for an already parsed schema (objects keep their key order: properties are generated in it).
Expected<std::string> json_schema_value_to_gbnf(const nlohmann::ordered_json& schema, const JsonSchemaOptions& opts = {});

// A JSON-Schema `pattern` as a GBNF expression for the contents of a JSON string (between the quotes, in
// escaped form) that fully matches it; a leading ^ and trailing $ are optional (a full match also satisfies
// the unanchored search JSON Schema specifies). Supported: literals and escapes, [classes] and [^negated],
// ., \d \w \s \D \W \S, groups (capturing, (?:...), named), |, * + ? {m} {m,} {m,n} (lazy forms too).
// Anything else (backreferences, lookaround, \b, inline flags, \p{...}, anchors inside) is an error naming it.
// max_repeat > 0 bounds the open repetitions (* + {m,}) to at most max(m, max_repeat) times.
Expected<std::string> regex_to_gbnf(std::string_view pattern, uint32_t max_repeat = 0);

}  // namespace llm
