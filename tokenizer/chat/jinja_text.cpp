// Python str semantics on UTF-8 (see jinja_text.hpp) and json.dumps for |tojson.
#include "tokenizer/chat/jinja_text.hpp"

#include <algorithm>
#include <cstdio>

#include "tokenizer/chat/jinja_error.hpp"

namespace llm::jinja {

std::vector<uint32_t> utf8_decode(std::string_view s) {
    std::vector<uint32_t> out;
    out.reserve(s.size());
    size_t i = 0;
    while (i < s.size()) {
        unsigned char c = s[i];
        int n = c < 0x80 ? 0 : (c >> 5) == 6 ? 1 : (c >> 4) == 14 ? 2 : (c >> 3) == 30 ? 3 : -1;
        uint32_t cp = n > 0 ? (c & (0x3f >> n)) : c;
        bool ok = n >= 0 && i + n < s.size();
        for (int k = 1; ok && k <= n; ++k) {
            unsigned char d = s[i + k];
            if ((d & 0xc0) != 0x80) ok = false;
            cp = (cp << 6) | (d & 0x3f);
        }
        if (!ok || n == 0) {
            out.push_back(c);  // ASCII, or an invalid byte kept as itself
            ++i;
            continue;
        }
        out.push_back(cp);
        i += n + 1;
    }
    return out;
}

void utf8_append(std::string& out, uint32_t cp) {
    if (cp < 0x80) {
        out += static_cast<char>(cp);
    } else if (cp < 0x800) {
        out += static_cast<char>(0xc0 | (cp >> 6));
        out += static_cast<char>(0x80 | (cp & 0x3f));
    } else if (cp < 0x10000) {
        out += static_cast<char>(0xe0 | (cp >> 12));
        out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
        out += static_cast<char>(0x80 | (cp & 0x3f));
    } else {
        out += static_cast<char>(0xf0 | (cp >> 18));
        out += static_cast<char>(0x80 | ((cp >> 12) & 0x3f));
        out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
        out += static_cast<char>(0x80 | (cp & 0x3f));
    }
}

std::string utf8_encode(const std::vector<uint32_t>& cps, size_t begin, size_t end) {
    std::string out;
    for (size_t k = begin; k < end; ++k) utf8_append(out, cps[k]);
    return out;
}

bool is_ascii(std::string_view s) {
    for (unsigned char c : s)
        if (c >= 0x80) return false;
    return true;
}

size_t utf8_length(std::string_view s) {
    if (is_ascii(s)) return s.size();
    return utf8_decode(s).size();
}

bool py_isspace(uint32_t cp) {
    if (cp == ' ' || (cp >= 0x09 && cp <= 0x0d) || (cp >= 0x1c && cp <= 0x1f)) return true;
    if (cp < 0x80) return false;
    return cp == 0x85 || cp == 0xa0 || cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200a) || cp == 0x2028 ||
           cp == 0x2029 || cp == 0x202f || cp == 0x205f || cp == 0x3000;
}

std::string py_strip(std::string_view s, bool left, bool right, const std::optional<std::string>& chars) {
    std::vector<uint32_t> cps = utf8_decode(s);
    std::vector<uint32_t> set;
    if (chars) set = utf8_decode(*chars);
    auto strip_it = [&](uint32_t cp) {
        return chars ? std::find(set.begin(), set.end(), cp) != set.end() : py_isspace(cp);
    };
    size_t b = 0, e = cps.size();
    if (left)
        while (b < e && strip_it(cps[b])) ++b;
    if (right)
        while (e > b && strip_it(cps[e - 1])) --e;
    return utf8_encode(cps, b, e);
}

std::vector<std::string> py_split(std::string_view s, const std::optional<std::string>& sep, int64_t maxsplit) {
    std::vector<std::string> out;
    if (sep) {
        if (sep->empty()) throw JinjaError("split(): empty separator");
        size_t start = 0;
        while (maxsplit < 0 || static_cast<int64_t>(out.size()) < maxsplit) {
            size_t at = s.find(*sep, start);
            if (at == std::string_view::npos) break;
            out.emplace_back(s.substr(start, at - start));
            start = at + sep->size();
        }
        out.emplace_back(s.substr(start));
        return out;
    }
    // Whitespace split: runs of whitespace separate, no empty strings.
    std::vector<uint32_t> cps = utf8_decode(s);
    size_t k = 0, n = cps.size();
    while (true) {
        while (k < n && py_isspace(cps[k])) ++k;
        if (k >= n) break;
        if (maxsplit >= 0 && static_cast<int64_t>(out.size()) == maxsplit) {
            size_t e = n;
            while (e > k && py_isspace(cps[e - 1])) --e;
            out.push_back(utf8_encode(cps, k, e));
            break;
        }
        size_t b = k;
        while (k < n && !py_isspace(cps[k])) ++k;
        out.push_back(utf8_encode(cps, b, k));
    }
    return out;
}

std::string py_replace(std::string_view s, std::string_view from, std::string_view to, int64_t count) {
    std::string out;
    if (from.empty()) {
        // Python inserts `to` between every character (and at both ends).
        std::vector<uint32_t> cps = utf8_decode(s);
        int64_t done = 0;
        for (size_t k = 0; k <= cps.size(); ++k) {
            if (count < 0 || done < count) {
                out += to;
                ++done;
            }
            if (k < cps.size()) utf8_append(out, cps[k]);
        }
        return out;
    }
    size_t start = 0;
    int64_t done = 0;
    while (count < 0 || done < count) {
        size_t at = s.find(from, start);
        if (at == std::string_view::npos) break;
        out.append(s.substr(start, at - start));
        out.append(to);
        start = at + from.size();
        ++done;
    }
    out.append(s.substr(start));
    return out;
}

static bool is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
static char up(char c) { return c >= 'a' && c <= 'z' ? static_cast<char>(c - 32) : c; }
static char low(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c; }

std::string py_upper(std::string_view s) {
    std::string out(s);
    for (char& c : out) c = up(c);
    return out;
}

std::string py_lower(std::string_view s) {
    std::string out(s);
    for (char& c : out) c = low(c);
    return out;
}

std::string py_title(std::string_view s) {
    std::string out(s);
    bool prev_cased = false;
    for (char& c : out) {
        if (is_alpha(c)) {
            c = prev_cased ? low(c) : up(c);
            prev_cased = true;
        } else {
            // Non-ASCII bytes are left alone and, like Python's uncased characters, end a word.
            prev_cased = false;
        }
    }
    return out;
}

std::string py_capitalize(std::string_view s) {
    std::string out(s);
    for (size_t k = 0; k < out.size(); ++k) out[k] = k == 0 ? up(out[k]) : low(out[k]);
    return out;
}

std::string jinja_title(std::string_view s) {
    // jinja2: "".join(w[0].upper() + w[1:].lower() for w in re.split(r"([-\s({\[<]+)", s) if w)
    std::string out(s);
    bool word_start = true;
    for (char& c : out) {
        bool sep = c == '-' || c == '(' || c == '{' || c == '[' || c == '<' || c == ' ' || (c >= 0x09 && c <= 0x0d);
        if (sep) {
            word_start = true;
            continue;
        }
        c = word_start ? up(c) : low(c);
        word_start = false;
    }
    return out;
}

std::vector<int64_t> slice_indices(int64_t n, std::optional<int64_t> start, std::optional<int64_t> stop,
                                   std::optional<int64_t> step_opt) {
    int64_t step = step_opt.value_or(1);
    if (step == 0) throw JinjaError("slice step cannot be zero");
    auto clamp = [&](std::optional<int64_t> v, int64_t dflt, int64_t lo, int64_t hi) {
        if (!v) return dflt;
        int64_t x = *v;
        if (x < 0) x += n;
        return std::clamp(x, lo, hi);
    };
    std::vector<int64_t> out;
    if (step > 0) {
        int64_t b = clamp(start, 0, 0, n), e = clamp(stop, n, 0, n);
        for (int64_t k = b; k < e; k += step) out.push_back(k);
    } else {
        int64_t b = clamp(start, n - 1, -1, n - 1), e = clamp(stop, -1, -1, n - 1);
        if (stop && *stop < 0 && *stop + n < 0) e = -1;
        for (int64_t k = b; k > e; k += step) out.push_back(k);
    }
    return out;
}

static void json_string(std::string& out, std::string_view s) {
    out += '"';
    for (unsigned char c : s) {
        switch (c) {
            case '"': out += "\\\""; break;
            case '\\': out += "\\\\"; break;
            case '\n': out += "\\n"; break;
            case '\r': out += "\\r"; break;
            case '\t': out += "\\t"; break;
            case '\b': out += "\\b"; break;
            case '\f': out += "\\f"; break;
            default:
                if (c < 0x20) {
                    char b[8];
                    std::snprintf(b, sizeof b, "\\u%04x", c);
                    out += b;
                } else {
                    out += static_cast<char>(c);
                }
        }
    }
    out += '"';
}

static void json_dump(std::string& out, const Value& v, std::optional<int> indent, bool sort_keys, int depth) {
    if (depth > 256) throw JinjaError("tojson: value nested too deeply");
    auto newline = [&](int d) {
        out += '\n';
        out.append(static_cast<size_t>(*indent) * d, ' ');
    };
    const char* item_sep = indent ? "," : ", ";
    switch (v.kind) {
        case Kind::Undefined: throw JinjaError("tojson: cannot serialize an undefined value");
        case Kind::None: out += "null"; return;
        case Kind::Bool: out += v.b ? "true" : "false"; return;
        case Kind::Int: out += std::to_string(v.i); return;
        case Kind::Float: {
            std::string f = format_float(v.f);
            out += f == "nan" ? "NaN" : f == "inf" ? "Infinity" : f == "-inf" ? "-Infinity" : f;
            return;
        }
        case Kind::String: json_string(out, v.s); return;
        case Kind::List: {
            if (v.list->items.empty()) {
                out += "[]";
                return;
            }
            out += '[';
            for (size_t k = 0; k < v.list->items.size(); ++k) {
                if (k) out += item_sep;
                if (indent) newline(depth + 1);
                json_dump(out, v.list->items[k], indent, sort_keys, depth + 1);
            }
            if (indent) newline(depth);
            out += ']';
            return;
        }
        case Kind::Dict:
        case Kind::Namespace: {
            if (v.dict->items.empty()) {
                out += "{}";
                return;
            }
            std::vector<const std::pair<std::string, Value>*> items;
            for (const auto& kv : v.dict->items) items.push_back(&kv);
            if (sort_keys)
                std::stable_sort(items.begin(), items.end(), [](auto* a, auto* b) { return a->first < b->first; });
            out += '{';
            for (size_t k = 0; k < items.size(); ++k) {
                if (k) out += item_sep;
                if (indent) newline(depth + 1);
                json_string(out, items[k]->first);
                out += ": ";
                json_dump(out, items[k]->second, indent, sort_keys, depth + 1);
            }
            if (indent) newline(depth);
            out += '}';
            return;
        }
        case Kind::Callable: throw JinjaError("tojson: cannot serialize a function");
    }
}

std::string to_json(const Value& v, std::optional<int> indent, bool sort_keys) {
    std::string out;
    json_dump(out, v, indent, sort_keys, 0);
    return out;
}

}  // namespace llm::jinja
