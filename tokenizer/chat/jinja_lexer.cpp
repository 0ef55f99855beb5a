// Jinja lexer (see jinja_lexer.hpp). Mirrors jinja2's lexer rules so rendered whitespace is byte-identical.
#include "tokenizer/chat/jinja_lexer.hpp"

#include <cstring>

#include "tokenizer/chat/jinja_text.hpp"

namespace llm::jinja {
namespace {

// jinja2 uses Python's \s for `-` trimming; ASCII plus the Unicode spaces py_isspace knows.
size_t rstrip_len(const std::string& text) {
    std::vector<uint32_t> cps = utf8_decode(text);
    size_t e = cps.size();
    while (e > 0 && py_isspace(cps[e - 1])) --e;
    if (e == cps.size()) return text.size();
    return utf8_encode(cps, 0, e).size();
}

bool is_name_start(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
bool is_name_char(char c) { return is_name_start(c) || (c >= '0' && c <= '9'); }
bool is_digit(char c) { return c >= '0' && c <= '9'; }

class Lexer {
public:
    Lexer(std::string src, const LexOptions& o) : s_(std::move(src)), o_(o) {}

    std::vector<Token> run() {
        size_t pos = 0;
        bool line_starting = true;
        while (pos < s_.size()) {
            size_t start = find_tag(pos);
            std::string text = s_.substr(pos, (start == std::string::npos ? s_.size() : start) - pos);
            if (start == std::string::npos) {
                emit_text(std::move(text), pos);
                break;
            }
            char kind = s_[start + 1];  // '{', '%' or '#'
            char mod = start + 2 < s_.size() && (s_[start + 2] == '-' || s_[start + 2] == '+') ? s_[start + 2] : 0;
            if (mod == '-') {
                text.resize(rstrip_len(text));
            } else if (mod != '+' && o_.lstrip_blocks && kind != '{') {
                size_t nl = text.rfind('\n');
                size_t l_pos = nl == std::string::npos ? 0 : nl + 1;
                if (l_pos > 0 || line_starting) {
                    bool all_ws = l_pos < text.size();
                    for (size_t k = l_pos; k < text.size(); ++k)
                        if (!(text[k] == ' ' || text[k] == '\t' || text[k] == '\v' || text[k] == '\f' || text[k] == '\r'))
                            all_ws = false;
                    if (all_ws) text.resize(l_pos);
                }
            }
            emit_text(std::move(text), pos);
            size_t inner = start + 2 + (mod ? 1 : 0);
            if (kind == '#') {
                size_t e = s_.find("#}", inner);
                if (e == std::string::npos) throw JinjaError("unterminated comment: missing '#}'", at(start));
                // The lazy match in jinja2 sees "-#}" / "+#}" first when the comment ends with them.
                char endmod = e > inner && (s_[e - 1] == '-' || s_[e - 1] == '+') ? s_[e - 1] : 0;
                pos = after_end(e + 2, endmod, /*block=*/true);
            } else {
                tokens_.push_back({kind == '{' ? Tok::VarBegin : Tok::BlockBegin, {}, at(start)});
                pos = lex_tag(inner, kind == '{');
            }
            line_starting = pos > 0 && s_[pos - 1] == '\n';
        }
        tokens_.push_back({Tok::Eof, {}, at(s_.size())});
        return std::move(tokens_);
    }

private:
    std::string s_;
    LexOptions o_;
    std::vector<Token> tokens_;
    std::vector<size_t> line_starts_{0};
    bool lines_indexed_ = false;

    Pos at(size_t offset) {
        if (!lines_indexed_) {
            for (size_t k = 0; k < s_.size(); ++k)
                if (s_[k] == '\n') line_starts_.push_back(k + 1);
            lines_indexed_ = true;
        }
        size_t lo = 0, hi = line_starts_.size();
        while (hi - lo > 1) {
            size_t mid = (lo + hi) / 2;
            if (line_starts_[mid] <= offset) lo = mid;
            else hi = mid;
        }
        return {static_cast<int>(lo + 1), static_cast<int>(offset - line_starts_[lo] + 1)};
    }

    size_t find_tag(size_t from) const {
        for (size_t k = s_.find('{', from); k != std::string::npos; k = s_.find('{', k + 1))
            if (k + 1 < s_.size() && (s_[k + 1] == '{' || s_[k + 1] == '%' || s_[k + 1] == '#')) return k;
        return std::string::npos;
    }

    void emit_text(std::string text, size_t offset) {
        if (!text.empty()) tokens_.push_back({Tok::Text, std::move(text), at(offset)});
    }

    // Position after a tag end at `p` (just past the closing delimiter) given its modifier.
    size_t after_end(size_t p, char endmod, bool block) {
        if (endmod == '-') {
            std::vector<uint32_t> rest;  // skip Python whitespace, ASCII fast path first
            while (p < s_.size()) {
                unsigned char c = s_[p];
                if (c < 0x80) {
                    if (!py_isspace(c)) break;
                    ++p;
                    continue;
                }
                size_t len = (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 1;
                std::vector<uint32_t> cp = utf8_decode(std::string_view(s_).substr(p, len));
                if (cp.size() != 1 || !py_isspace(cp[0])) break;
                p += len;
            }
            return p;
        }
        if (endmod == 0 && block && o_.trim_blocks && p < s_.size() && s_[p] == '\n') return p + 1;
        return p;
    }

    size_t lex_tag(size_t p, bool var) {
        int depth = 0;
        const char* end = var ? "}}" : "%}";
        const char* dash_end = var ? "-}}" : "-%}";
        while (true) {
            while (p < s_.size() && (s_[p] == ' ' || s_[p] == '\t' || s_[p] == '\n' || s_[p] == '\r')) ++p;
            if (p >= s_.size())
                throw JinjaError(fmt_unclosed(var), tokens_.empty() ? at(p) : tokens_.back().pos);
            if (depth == 0) {
                if (s_.compare(p, 3, dash_end) == 0) {
                    tokens_.push_back({var ? Tok::VarEnd : Tok::BlockEnd, {}, at(p)});
                    return after_end(p + 3, '-', !var);
                }
                if (!var && s_.compare(p, 3, "+%}") == 0) {
                    tokens_.push_back({Tok::BlockEnd, {}, at(p)});
                    return p + 3;
                }
                if (s_.compare(p, 2, end) == 0) {
                    tokens_.push_back({var ? Tok::VarEnd : Tok::BlockEnd, {}, at(p)});
                    return after_end(p + 2, 0, !var);
                }
            }
            p = lex_token(p, depth);
        }
    }

    static std::string fmt_unclosed(bool var) {
        return var ? "unexpected end of template: '{{' was never closed with '}}'"
                   : "unexpected end of template: '{%' was never closed with '%}'";
    }

    size_t lex_token(size_t p, int& depth) {
        char c = s_[p];
        Pos pos = at(p);
        if (c == '\'' || c == '"') return lex_string(p);
        if (is_digit(c)) {
            size_t q = p;
            auto digits = [&] {
                while (q < s_.size() && (is_digit(s_[q]) || (s_[q] == '_' && q + 1 < s_.size() && is_digit(s_[q + 1]))))
                    ++q;
            };
            digits();
            bool is_float = false;
            if (q + 1 < s_.size() && s_[q] == '.' && is_digit(s_[q + 1])) {
                ++q;
                digits();
                is_float = true;
            }
            if (q < s_.size() && (s_[q] == 'e' || s_[q] == 'E')) {
                size_t r = q + 1;
                if (r < s_.size() && (s_[r] == '+' || s_[r] == '-')) ++r;
                if (r < s_.size() && is_digit(s_[r])) {
                    q = r;
                    digits();
                    is_float = true;
                }
            }
            std::string num;
            for (size_t k = p; k < q; ++k)
                if (s_[k] != '_') num += s_[k];
            tokens_.push_back({is_float ? Tok::Float : Tok::Int, num, pos});
            return q;
        }
        if (is_name_start(c)) {
            size_t q = p;
            while (q < s_.size() && is_name_char(s_[q])) ++q;
            tokens_.push_back({Tok::Name, s_.substr(p, q - p), pos});
            return q;
        }
        static const char* two[] = {"//", "**", "==", "!=", ">=", "<="};
        for (const char* op : two)
            if (s_.compare(p, 2, op) == 0) {
                tokens_.push_back({Tok::Op, op, pos});
                return p + 2;
            }
        if (std::strchr("+-/*%~<>=.,:|()[]{}", c) != nullptr && c != 0) {
            if (c == '(' || c == '[' || c == '{') ++depth;
            if (c == ')' || c == ']' || c == '}') {
                if (depth == 0) throw JinjaError(std::string("unexpected '") + c + "'", pos);
                --depth;
            }
            tokens_.push_back({Tok::Op, std::string(1, c), pos});
            return p + 1;
        }
        throw JinjaError(std::string("unexpected character '") + c + "' in tag", pos);
    }

    size_t lex_string(size_t p) {
        char quote = s_[p];
        Pos pos = at(p);
        std::string out;
        size_t q = p + 1;
        while (true) {
            if (q >= s_.size()) throw JinjaError("unterminated string literal", pos);
            char c = s_[q];
            if (c == quote) break;
            if (c != '\\') {
                out += c;
                ++q;
                continue;
            }
            if (q + 1 >= s_.size()) throw JinjaError("unterminated string literal", pos);
            char e = s_[q + 1];
            q += 2;
            // Python's unicode-escape decoding, which jinja2 applies to string literals.
            switch (e) {
                case 'n': out += '\n'; break;
                case 't': out += '\t'; break;
                case 'r': out += '\r'; break;
                case '\\': out += '\\'; break;
                case '\'': out += '\''; break;
                case '"': out += '"'; break;
                case 'a': out += '\a'; break;
                case 'b': out += '\b'; break;
                case 'f': out += '\f'; break;
                case 'v': out += '\v'; break;
                case '\n': break;
                case 'x':
                case 'u':
                case 'U': {
                    size_t len = e == 'x' ? 2 : e == 'u' ? 4 : 8;
                    if (q + len > s_.size()) throw JinjaError("truncated \\" + std::string(1, e) + " escape", pos);
                    uint32_t cp = 0;
                    for (size_t k = 0; k < len; ++k) {
                        char h = s_[q + k];
                        int d = h >= '0' && h <= '9' ? h - '0' : h >= 'a' && h <= 'f' ? h - 'a' + 10
                              : h >= 'A' && h <= 'F' ? h - 'A' + 10 : -1;
                        if (d < 0) throw JinjaError("invalid \\" + std::string(1, e) + " escape", pos);
                        cp = cp * 16 + static_cast<uint32_t>(d);
                    }
                    if (cp > 0x10ffff) throw JinjaError("invalid \\U escape", pos);
                    utf8_append(out, cp);
                    q += len;
                    break;
                }
                default:
                    if (e >= '0' && e <= '7') {
                        uint32_t cp = static_cast<uint32_t>(e - '0');
                        for (int k = 0; k < 2 && q < s_.size() && s_[q] >= '0' && s_[q] <= '7'; ++k, ++q)
                            cp = cp * 8 + static_cast<uint32_t>(s_[q] - '0');
                        utf8_append(out, cp);
                    } else {
                        out += '\\';  // unknown escapes stay as written
                        out += e;
                    }
            }
        }
        tokens_.push_back({Tok::String, std::move(out), pos});
        return q + 1;
    }
};

// jinja2 normalizes \r\n and \r to \n and drops one trailing newline (keep_trailing_newline=False).
std::string normalize(std::string_view src) {
    std::string out;
    out.reserve(src.size());
    for (size_t k = 0; k < src.size(); ++k) {
        if (src[k] == '\r') {
            out += '\n';
            if (k + 1 < src.size() && src[k + 1] == '\n') ++k;
        } else {
            out += src[k];
        }
    }
    if (!out.empty() && out.back() == '\n') out.pop_back();
    return out;
}

}  // namespace

std::vector<Token> lex(std::string_view source, const LexOptions& opts) {
    return Lexer(normalize(source), opts).run();
}

}  // namespace llm::jinja
