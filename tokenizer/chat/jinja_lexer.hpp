// Jinja lexer: splits a template into text and tag tokens, applying whitespace control exactly as jinja2
// does with Hugging Face's settings: `{%-`/`-%}` trims, trim_blocks (drop the newline after `%}`/`#}`),
// lstrip_blocks (drop indentation before `{%`/`{#`), `+` opt-outs, newline normalization and the dropped
// single trailing newline (keep_trailing_newline=False).
#pragma once
#include <string>
#include <string_view>
#include <vector>

#include "tokenizer/chat/jinja_error.hpp"

namespace llm::jinja {

enum class Tok { Text, VarBegin, VarEnd, BlockBegin, BlockEnd, Name, String, Int, Float, Op, Eof };

struct Token {
    Tok type;
    std::string value;  // text, name, decoded string literal, number spelling, or operator
    Pos pos;
};

struct LexOptions {
    bool trim_blocks = true;
    bool lstrip_blocks = true;
};

// Throws JinjaError (with position) on an unterminated tag, comment or string, or an unexpected character.
std::vector<Token> lex(std::string_view source, const LexOptions& opts = {});

}  // namespace llm::jinja
