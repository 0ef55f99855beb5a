// The engine's internal error: thrown inside the lexer/parser/evaluator and turned into a Status with
// "line:col" at the public API (tokenizer/chat/chat_template.cpp). Never escapes the library.
#pragma once
#include <stdexcept>
#include <string>

namespace llm::jinja {

// A position in the template source, 1-based; line 0 means unknown.
struct Pos {
    int line = 0;
    int col = 0;
};

struct JinjaError : std::runtime_error {
    Pos pos;
    JinjaError(std::string msg, Pos p = {}) : std::runtime_error(std::move(msg)), pos(p) {}
};

// raise_exception(msg) from the template: reported as the template's own message.
struct TemplateRaised : JinjaError {
    using JinjaError::JinjaError;
};

}  // namespace llm::jinja
