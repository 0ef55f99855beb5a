// ToolCallParser: finds call prefixes in the streamed text, re-scans the open call region on every push (regions
// are short) with an incremental JSON scanner that says "complete", "needs more text" or "malformed", and
// streams the name once known and the arguments text as it grows.
#include <algorithm>
#include <cctype>

#include "constrain/tool_calls.hpp"

namespace llm {
namespace {

enum class Scan { Done, More, Bad };

bool is_ws(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }
void skip_ws(std::string_view s, size_t& i) {
    while (i < s.size() && is_ws(s[i])) ++i;
}

// `lit` at s[i..]: Done (i past it), More (s ends inside a prefix of it) or Bad.
Scan literal(std::string_view s, size_t& i, std::string_view lit) {
    const size_t n = std::min(lit.size(), s.size() - i);
    if (s.compare(i, n, lit.substr(0, n)) != 0) return Scan::Bad;
    if (n < lit.size()) return Scan::More;
    i += n;
    return Scan::Done;
}

// One UTF-8 sequence at s[j] (its lead byte >= 0x80), RFC 3629: no overlong forms, no surrogates, at most
// U+10FFFF. Done (j on its last byte), More (s ends inside a valid prefix) or Bad.
Scan scan_utf8(std::string_view s, size_t& j) {
    const auto lead = static_cast<unsigned char>(s[j]);
    int n = 0;
    unsigned char lo = 0x80, hi = 0xBF;  // the range of the first continuation byte
    if (lead >= 0xC2 && lead <= 0xDF) n = 1;
    else if (lead >= 0xE0 && lead <= 0xEF) n = 2, lo = lead == 0xE0 ? 0xA0 : 0x80, hi = lead == 0xED ? 0x9F : 0xBF;
    else if (lead >= 0xF0 && lead <= 0xF4) n = 3, lo = lead == 0xF0 ? 0x90 : 0x80, hi = lead == 0xF4 ? 0x8F : 0xBF;
    else return Scan::Bad;
    for (int k = 1; k <= n; ++k) {
        if (j + k >= s.size()) return Scan::More;
        const auto c = static_cast<unsigned char>(s[j + k]);
        if (c < (k == 1 ? lo : 0x80) || c > (k == 1 ? hi : 0xBF)) return Scan::Bad;
    }
    j += n;
    return Scan::Done;
}

// A \uXXXX escape at s[j] (on the 'u'): j on its last hex digit; `cp` its value.
Scan scan_hex4(std::string_view s, size_t& j, unsigned& cp) {
    cp = 0;
    for (int k = 0; k < 4; ++k) {
        if (++j >= s.size()) return Scan::More;
        const char c = s[j];
        if (!std::isxdigit(static_cast<unsigned char>(c))) return Scan::Bad;
        cp = cp * 16 + (c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10);
    }
    return Scan::Done;
}

// A JSON string whose text is valid UTF-8 and whose \u escapes pair their surrogates, so that what the parser
// returns from it (names, arguments) is always valid JSON for the client.
Scan scan_string(std::string_view s, size_t& i) {
    if (i >= s.size()) return Scan::More;
    if (s[i] != '"') return Scan::Bad;
    for (size_t j = i + 1; j < s.size(); ++j) {
        const auto c = static_cast<unsigned char>(s[j]);
        if (c == '"') {
            i = j + 1;
            return Scan::Done;
        }
        if (c < 0x20) return Scan::Bad;
        if (c >= 0x80) {
            if (Scan r = scan_utf8(s, j); r != Scan::Done) return r;
            continue;
        }
        if (c != '\\') continue;
        if (++j >= s.size()) return Scan::More;
        if (s[j] != 'u') {
            if (std::string_view("\"\\/bfnrt").find(s[j]) == std::string_view::npos) return Scan::Bad;
            continue;
        }
        unsigned cp = 0;
        if (Scan r = scan_hex4(s, j, cp); r != Scan::Done) return r;
        if (cp >= 0xDC00 && cp <= 0xDFFF) return Scan::Bad;  // a low surrogate alone
        if (cp < 0xD800 || cp > 0xDBFF) continue;
        // A high surrogate: the next escape must be its low half.
        for (const char want : {'\\', 'u'}) {
            if (++j >= s.size()) return Scan::More;
            if (s[j] != want) return Scan::Bad;
        }
        if (Scan r = scan_hex4(s, j, cp); r != Scan::Done) return r;
        if (cp < 0xDC00 || cp > 0xDFFF) return Scan::Bad;
    }
    return Scan::More;
}

// The decoded text of a complete JSON string literal.
std::string decode_string(std::string_view lit) {
    try {
        return nlohmann::json::parse(lit).get<std::string>();
    } catch (...) {
        return std::string(lit);
    }
}

// A JSON string literal whose text is a JSON object (arguments sent as a string).
bool holds_object(std::string_view lit) {
    try {
        return nlohmann::json::parse(nlohmann::json::parse(lit).get<std::string>()).is_object();
    } catch (...) {
        return false;
    }
}

// Where the streamed part of s[from..] may end: not inside a UTF-8 sequence (each fragment the server sends is
// valid UTF-8 on its own).
size_t utf8_boundary(std::string_view s, size_t from) {
    size_t end = s.size();
    for (size_t k = 0; k < 3 && end > from; ++k) {
        const auto c = static_cast<unsigned char>(s[end - 1 - k]);
        if (c < 0x80) break;
        if (c >= 0xC0) {  // a lead byte: keep its sequence only if complete
            const size_t need = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : 2;
            if (k + 1 < need) end -= k + 1;
            break;
        }
    }
    return end;
}

Scan scan_number(std::string_view s, size_t& i) {
    size_t j = i;
    auto digits = [&]() {
        const size_t b = j;
        while (j < s.size() && std::isdigit(static_cast<unsigned char>(s[j]))) ++j;
        return j - b;
    };
    if (j < s.size() && s[j] == '-') ++j;
    if (j == s.size()) return Scan::More;
    if (s[j] == '0') ++j;
    else if (digits() == 0) return Scan::Bad;
    if (j < s.size() && s[j] == '.') {
        ++j;
        if (digits() == 0) return j == s.size() ? Scan::More : Scan::Bad;
    }
    if (j < s.size() && (s[j] == 'e' || s[j] == 'E')) {
        ++j;
        if (j < s.size() && (s[j] == '+' || s[j] == '-')) ++j;
        if (digits() == 0) return j == s.size() ? Scan::More : Scan::Bad;
    }
    if (j == s.size()) return Scan::More;  // the number may go on
    // Valid JSON but beyond a double (1e999): the server's JSON library refuses it, so the client would get
    // arguments it cannot use; the call is malformed instead (it comes back as text).
    if (!nlohmann::json::accept(s.substr(i, j - i))) return Scan::Bad;
    i = j;
    return Scan::Done;
}

Scan scan_value(std::string_view s, size_t& i, int depth);

// Shared by objects and arrays: items separated by ',' up to `close`.
Scan scan_container(std::string_view s, size_t& i, int depth, bool object) {
    const char close = object ? '}' : ']';
    size_t j = i + 1;
    skip_ws(s, j);
    if (j >= s.size()) return Scan::More;
    if (s[j] == close) {
        i = j + 1;
        return Scan::Done;
    }
    while (true) {
        if (object) {
            Scan r = scan_string(s, j);
            if (r != Scan::Done) return r;
            skip_ws(s, j);
            if (j >= s.size()) return Scan::More;
            if (s[j++] != ':') return Scan::Bad;
            skip_ws(s, j);
        }
        Scan r = scan_value(s, j, depth + 1);
        if (r != Scan::Done) return r;
        skip_ws(s, j);
        if (j >= s.size()) return Scan::More;
        if (s[j] == close) {
            i = j + 1;
            return Scan::Done;
        }
        if (s[j++] != ',') return Scan::Bad;
        skip_ws(s, j);
    }
}

Scan scan_value(std::string_view s, size_t& i, int depth) {
    if (depth > 128) return Scan::Bad;
    if (i >= s.size()) return Scan::More;
    switch (s[i]) {
        case '"': return scan_string(s, i);
        case '{': return scan_container(s, i, depth, true);
        case '[': return scan_container(s, i, depth, false);
        case 't': return literal(s, i, "true");
        case 'f': return literal(s, i, "false");
        case 'n': return literal(s, i, "null");
        default: return scan_number(s, i);
    }
}

struct CallScan {
    std::string name, id;
    bool has_name = false;
    size_t args_begin = std::string::npos, args_end = std::string::npos;  // into the region text
    bool args_done = false;
};

struct RegionScan {
    Scan status = Scan::More;
    size_t end = 0;  // Done: bytes of the region
    std::vector<CallScan> calls;
    std::string error;
};

// One {"name": ..., "arguments": ...} object; `calls.back()` is filled as far as the text goes.
Scan scan_call(std::string_view s, size_t& i, RegionScan& rs) {
    rs.calls.emplace_back();
    CallScan& c = rs.calls.back();
    skip_ws(s, i);
    if (i >= s.size()) return Scan::More;
    if (s[i] != '{') return rs.error = "expected '{' to open a call", Scan::Bad;
    size_t j = i + 1;
    bool first = true;
    while (true) {
        skip_ws(s, j);
        if (j >= s.size()) return Scan::More;
        if (s[j] == '}' && first) break;
        const size_t key_begin = j;
        Scan r = scan_string(s, j);
        if (r != Scan::Done) return r == Scan::Bad ? (rs.error = "expected a key in a call", r) : r;
        const std::string key = decode_string(s.substr(key_begin, j - key_begin));
        skip_ws(s, j);
        if (j >= s.size()) return Scan::More;
        if (s[j++] != ':') return rs.error = "expected ':' after a key", Scan::Bad;
        skip_ws(s, j);
        const size_t v = j;
        const bool args = key == "arguments" || key == "parameters";
        // A second name or arguments would change what was already streamed.
        if ((args && c.args_begin != std::string::npos) || (key == "name" && c.has_name))
            return rs.error = "a call with two '" + key + "' keys", Scan::Bad;
        if (args) {
            // An object, or a string holding one (checked once complete); nothing else is streamed.
            if (v >= s.size()) return Scan::More;
            if (s[v] != '{' && s[v] != '"') return rs.error = "'" + key + "' is not a JSON object", Scan::Bad;
            c.args_begin = v;
        }
        r = scan_value(s, j, 1);
        if (args) c.args_end = r == Scan::Done ? j : utf8_boundary(s, v);
        if (r == Scan::Bad) return rs.error = "malformed JSON in the value of '" + key + "'", r;
        if (r == Scan::More) return r;
        if (args && s[v] == '"' && !holds_object(s.substr(v, j - v)))
            return rs.error = "'" + key + "' is a string that does not hold a JSON object", Scan::Bad;
        if (args) c.args_done = true;
        if (key == "name" || key == "id") {
            if (s[v] != '"') return rs.error = "'" + key + "' is not a string", Scan::Bad;
            (key == "name" ? c.name : c.id) = decode_string(s.substr(v, j - v));
            c.has_name |= key == "name";
            if (key == "name" && c.name.empty()) return rs.error = "a call with an empty name", Scan::Bad;
        }
        first = false;
        skip_ws(s, j);
        if (j >= s.size()) return Scan::More;
        if (s[j] == '}') break;
        if (s[j++] != ',') return rs.error = "expected ',' or '}' in a call", Scan::Bad;
    }
    i = j + 1;
    if (!c.has_name || c.name.empty()) return rs.error = "a call without a name", Scan::Bad;
    return Scan::Done;
}

// Calls separated by ',' until ']' (after the '[').
Scan scan_call_list(std::string_view s, size_t& i, RegionScan& rs) {
    skip_ws(s, i);
    if (i >= s.size()) return Scan::More;
    if (s[i] == ']') return ++i, Scan::Done;
    while (true) {
        Scan r = scan_call(s, i, rs);
        if (r != Scan::Done) return r;
        skip_ws(s, i);
        if (i >= s.size()) return Scan::More;
        if (s[i] == ']') return ++i, Scan::Done;
        if (s[i++] != ',') return rs.error = "expected ',' or ']' between calls", Scan::Bad;
        skip_ws(s, i);
    }
}

#define LLM_SCAN(expr, what)                                          \
    do {                                                              \
        const Scan r_ = (expr);                                       \
        if (r_ == Scan::Bad && rs.error.empty()) rs.error = (what);   \
        if (r_ != Scan::Done) return rs.status = r_, rs;              \
    } while (0)

// The region of one call prefix (text starts at the trigger).
RegionScan scan_region(ToolFormat fmt, std::string_view s) {
    RegionScan rs;
    size_t i = 0;
    switch (fmt) {
        case ToolFormat::Generic: {
            LLM_SCAN(literal(s, i, "{"), "expected '{'");
            skip_ws(s, i);
            LLM_SCAN(literal(s, i, "\"tool_calls\""), "expected \"tool_calls\"");
            skip_ws(s, i);
            LLM_SCAN(literal(s, i, ":"), "expected ':' after \"tool_calls\"");
            skip_ws(s, i);
            LLM_SCAN(literal(s, i, "["), "expected '[' after \"tool_calls\":");
            LLM_SCAN(scan_call_list(s, i, rs), "malformed call list");
            skip_ws(s, i);
            LLM_SCAN(literal(s, i, "}"), "expected '}' after the call list");
            break;
        }
        case ToolFormat::Llama3: {
            if (s.substr(0, 1) != "{") {
                LLM_SCAN(literal(s, i, "<|python_tag|>"), "expected <|python_tag|>");
                skip_ws(s, i);
            }
            LLM_SCAN(scan_call(s, i, rs), "malformed call");
            break;
        }
        case ToolFormat::Hermes: {
            LLM_SCAN(literal(s, i, "<tool_call>"), "expected <tool_call>");
            LLM_SCAN(scan_call(s, i, rs), "malformed call");
            skip_ws(s, i);
            LLM_SCAN(literal(s, i, "</tool_call>"), "expected </tool_call> after the call");
            break;
        }
        case ToolFormat::MistralV3: {
            LLM_SCAN(literal(s, i, "[TOOL_CALLS]"), "expected [TOOL_CALLS]");
            skip_ws(s, i);
            LLM_SCAN(literal(s, i, "["), "expected '[' after [TOOL_CALLS]");
            LLM_SCAN(scan_call_list(s, i, rs), "malformed call list");
            break;
        }
    }
    rs.status = Scan::Done;
    rs.end = i;
    return rs;
}
#undef LLM_SCAN

uint64_t splitmix64(uint64_t& x) {
    uint64_t z = (x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

// A trigger is a list of parts matched with optional whitespace between them.
const std::vector<std::vector<std::string_view>>& trigger_patterns(ToolFormat fmt) {
    static const std::vector<std::vector<std::string_view>> generic{{"{", "\"tool_calls\""}};
    static const std::vector<std::vector<std::string_view>> llama3{{"{", "\"name\""}, {"<|python_tag|>"}};
    static const std::vector<std::vector<std::string_view>> hermes{{"<tool_call>"}};
    static const std::vector<std::vector<std::string_view>> mistral{{"[TOOL_CALLS]"}};
    switch (fmt) {
        case ToolFormat::Llama3: return llama3;
        case ToolFormat::Hermes: return hermes;
        case ToolFormat::MistralV3: return mistral;
        default: return generic;
    }
}

}  // namespace

TriggerMatch find_tool_trigger(ToolFormat fmt, std::string_view text, size_t from) {
    TriggerMatch m;
    const auto& pats = trigger_patterns(fmt);
    for (size_t p = from; p < text.size(); ++p) {
        for (const auto& parts : pats) {
            if (text[p] != parts[0][0]) continue;
            size_t i = p;
            Scan r = Scan::Done;
            for (size_t k = 0; k < parts.size() && r == Scan::Done; ++k) {
                if (k > 0) skip_ws(text, i);
                if (i >= text.size()) r = Scan::More;
                else r = literal(text, i, parts[k]);
            }
            if (r == Scan::Done) {
                m.start = p;
                return m;
            }
            if (r == Scan::More && m.partial == std::string::npos) m.partial = p;
        }
    }
    return m;
}

ToolCallParser::ToolCallParser(ToolFormat fmt, ToolParserOptions opts)
    : fmt_(fmt), opts_(std::move(opts)), rng_(opts_.id_seed) {}

std::string ToolCallParser::next_id() {
    static constexpr char kAlnum[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    // Mistral's template insists on 9 alphanumerics; the others take OpenAI's call_ shape.
    const int n = fmt_ == ToolFormat::MistralV3 ? 9 : 24;
    std::string id = fmt_ == ToolFormat::MistralV3 ? "" : "call_";
    for (int k = 0; k < n; ++k) id += kAlnum[splitmix64(rng_) % 62];
    return id;
}

void ToolCallParser::advance(bool final, ToolDelta& out) {
    auto emit_content = [&](size_t end) {
        out.content.append(buf_, pos_, end - pos_);
        result_.content.append(buf_, pos_, end - pos_);
        pos_ = end;
    };
    while (true) {
        if (failed_) return emit_content(buf_.size());
        if (!in_call_) {
            if (after_call_) {  // whitespace between and after calls is layout, not content
                size_t q = pos_;
                skip_ws(buf_, q);
                if (q == buf_.size() && !final) return;
                pos_ = q;
                after_call_ = false;
            }
            const TriggerMatch m = find_tool_trigger(fmt_, buf_, pos_);
            if (m.start != std::string::npos) {
                emit_content(m.start);
                in_call_ = true;
                open_.clear();
                continue;
            }
            return emit_content(final || m.partial == std::string::npos ? buf_.size() : m.partial);
        }
        const std::string_view region = std::string_view(buf_).substr(pos_);
        RegionScan rs = scan_region(fmt_, region);
        for (size_t k = 0; k < rs.calls.size() && rs.status != Scan::Bad; ++k) {
            const CallScan& c = rs.calls[k];
            if (k >= open_.size()) open_.emplace_back();
            OpenCall& oc = open_[k];
            if (!oc.announced) {
                if (!c.has_name) break;
                if (!opts_.tool_names.empty() &&
                    std::find(opts_.tool_names.begin(), opts_.tool_names.end(), c.name) == opts_.tool_names.end()) {
                    rs.status = Scan::Bad;
                    rs.error = "call to an unknown tool '" + c.name + "'";
                    break;
                }
                oc.announced = true;
                oc.name = c.name;
                oc.id = c.id.empty() ? next_id() : c.id;
                oc.index = n_announced_++;
                out.calls.push_back({oc.index, oc.id, oc.name, ""});
            }
            // Arguments given as a JSON string (holding JSON) are sent decoded, once complete.
            if (c.args_begin == std::string::npos || region[c.args_begin] == '"') continue;
            const size_t len = c.args_end - c.args_begin;
            if (len > oc.streamed) {
                ToolCallDelta d{oc.index, "", "",
                                std::string(region.substr(c.args_begin + oc.streamed, len - oc.streamed))};
                oc.streamed = len;
                out.calls.push_back(std::move(d));
            }
        }
        if (rs.status == Scan::Done) {
            for (size_t k = 0; k < rs.calls.size(); ++k) {
                const CallScan& c = rs.calls[k];
                OpenCall& oc = open_[k];
                ToolCall call{oc.id, oc.name, ""};
                if (c.args_begin == std::string::npos) call.arguments = "{}";
                else if (region[c.args_begin] == '"') call.arguments = decode_string(region.substr(c.args_begin, c.args_end - c.args_begin));
                else call.arguments = std::string(region.substr(c.args_begin, c.args_end - c.args_begin));
                if (call.arguments.size() > oc.streamed)
                    out.calls.push_back({oc.index, "", "", call.arguments.substr(oc.streamed)});
                result_.calls.push_back(std::move(call));
            }
            pos_ += rs.end;
            in_call_ = false;
            after_call_ = true;
            open_.clear();
            continue;
        }
        if (rs.status == Scan::More && !final) return;
        // Malformed or cut off: the region and everything after it is text.
        if (result_.warning.empty())
            result_.warning = fmt::format("tool call text did not parse ({}); returned as text",
                                          rs.status == Scan::More ? "cut off before its end" : rs.error);
        failed_ = true;
        in_call_ = false;
    }
}

ToolDelta ToolCallParser::push(std::string_view text) {
    ToolDelta out;
    buf_.append(text);
    advance(false, out);
    out.calls_parsed = result_.calls.size();
    return out;
}

ToolParseResult ToolCallParser::finish() {
    ToolDelta out;
    advance(true, out);
    ToolParseResult r = result_;
    r.unstreamed_content = out.content;
    return r;
}

ToolParseResult parse_tool_calls(ToolFormat fmt, std::string_view text, const ToolParserOptions& opts) {
    ToolCallParser p(fmt, opts);
    p.push(text);
    return p.finish();
}

}  // namespace llm
