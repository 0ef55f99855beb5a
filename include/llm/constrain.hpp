// Constrained decoding for programs: a GBNF grammar (llama.cpp syntax) or a JSON schema compiled to one, bound to
// a model's vocabulary as the sampler's TokenConstraint (Sampler::set_constraint; generate() advances it).
#pragma once
#include <memory>
#include <string>
#include <string_view>

#include "llm/export.hpp"
#include "llm/sampler.hpp"  // TokenConstraint
#include "llm/status.hpp"

namespace llm {

class Tokenizer;
struct Grammar;  // the parsed rules (library-internal: constrain/grammar.hpp)

struct JsonSchemaOptions {
    bool compact = false;  // no whitespace at all between tokens
    int max_indent = 20;   // spaces or tabs after a newline
    int max_depth = 128;   // nesting of schemas inside schemas (references do not count: they become rules)
    // Default bounds where the schema gives none (0 = unbounded). They shrink what the grammar generates,
    // never widen it: every output still validates.
    int max_string_length = 256;  // characters of a string (or extra key) without maxLength/pattern/format, and
                                  // repetitions of each open * + {m,} in a pattern
    int max_items = 32;           // items of an array without maxItems (at least minItems)
    int max_properties = 16;      // extra keys of an object (additionalProperties, free-form objects)
    int max_recursion = 4;        // expansions of a $ref inside itself; below that, optional parts are left out
    int max_value_depth = 4;      // nesting of free-form values (`{}`, `true`, untyped additionalProperties)
};

// JSON Schema (as JSON text) -> GBNF: the keywords APIs and configs use (constrain/json_schema.hpp lists them).
// A keyword the grammar cannot enforce is an error naming it and its JSON pointer ("/properties/tags/uniqueItems:
// ..."), never silently ignored.
LLM_API Expected<std::string> json_schema_to_gbnf(std::string_view schema, const JsonSchemaOptions& opts = {});

// A parsed grammar, cheap to copy; bind it to a vocabulary with constraint().
class LLM_API CompiledGrammar {
public:
    // GBNF text; errors say where ("line 3, column 7: ...").
    static Expected<CompiledGrammar> from_gbnf(std::string_view gbnf);
    // A new constraint at the grammar's start over tok's vocabulary (one per generation stream).
    Expected<std::shared_ptr<TokenConstraint>> constraint(const Tokenizer& tok) const;

private:
    explicit CompiledGrammar(std::shared_ptr<const Grammar> g) : grammar_(std::move(g)) {}
    std::shared_ptr<const Grammar> grammar_;
};

}  // namespace llm
