// Jinja parser: tokens -> AST (jinja_ast.hpp), with jinja2's operator precedence. Unknown tags and
// unsupported constructs are errors that name the construct and its line:col.
#pragma once
#include <string_view>

#include "tokenizer/chat/jinja_ast.hpp"

namespace llm::jinja {

// Throws JinjaError on a syntax error or an unsupported tag.
Program parse(std::string_view source);

}  // namespace llm::jinja
