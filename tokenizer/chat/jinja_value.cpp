// Value helpers: Python truthiness, str()/repr(), == and float formatting.
#include "tokenizer/chat/jinja_value.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>

#include "tokenizer/chat/jinja_error.hpp"
#include "tokenizer/chat/jinja_text.hpp"

namespace llm::jinja {

namespace {
thread_local ContainerArena* t_arena = nullptr;
}

ContainerArena::ContainerArena() : previous_(t_arena) { t_arena = this; }

ContainerArena::~ContainerArena() {
    t_arena = previous_;
    // Move the contents out before they are destroyed, so destruction never re-enters a container.
    for (auto& w : dicts_)
        if (auto d = w.lock()) std::vector<std::pair<std::string, Value>>().swap(d->items);
    for (auto& w : lists_)
        if (auto l = w.lock()) std::vector<Value>().swap(l->items);
}

void ContainerArena::record(const std::shared_ptr<List>& l) {
    if (t_arena) t_arena->lists_.push_back(l);
}
void ContainerArena::record(const std::shared_ptr<Dict>& d) {
    if (t_arena) t_arena->dicts_.push_back(d);
}

Value Value::make_list(std::vector<Value> items, bool tuple) {
    Value v;
    v.kind = Kind::List;
    v.list = std::make_shared<List>();
    ContainerArena::record(v.list);
    if (items.size() > kMaxListItems)
        throw JinjaError("list too large: more than " + std::to_string(kMaxListItems) + " items");
    int depth = 0;
    for (const Value& x : items) depth = std::max(depth, child_depth(x));
    if (depth + 1 > kMaxValueDepth) throw JinjaError("value nested too deeply (lists/dicts more than 128 levels)");
    v.list->items = std::move(items);
    v.list->tuple = tuple;
    v.list->depth = depth + 1;
    return v;
}

Value Value::make_dict(std::vector<std::pair<std::string, Value>> items) {
    Value v;
    v.kind = Kind::Dict;
    v.dict = std::make_shared<Dict>();
    ContainerArena::record(v.dict);
    for (auto& [k, x] : items) v.dict->set(k, std::move(x));
    return v;
}

Value Value::make_namespace(std::vector<std::pair<std::string, Value>> items) {
    Value v = make_dict(std::move(items));
    v.kind = Kind::Namespace;
    return v;
}

Value Value::callable(std::string name, std::function<Value(CallArgs&)> f) {
    Value v;
    v.kind = Kind::Callable;
    v.fn = std::make_shared<Callable>(Callable{std::move(name), std::move(f)});
    return v;
}

const Value* Dict::find(std::string_view key) const {
    for (const auto& [k, v] : items)
        if (k == key) return &v;
    return nullptr;
}

int child_depth(const Value& v) {
    if (v.kind == Kind::List) return v.list->depth;
    if (v.kind == Kind::Dict) return v.dict->depth;
    return 0;
}

void Dict::set(const std::string& key, Value v) {
    int d = child_depth(v) + 1;
    if (d > kMaxValueDepth) throw JinjaError("value nested too deeply (lists/dicts more than 128 levels)");
    depth = std::max(depth, d);
    for (auto& [k, x] : items)
        if (k == key) {
            x = std::move(v);
            return;
        }
    items.emplace_back(key, std::move(v));
}

Value CallArgs::get(size_t index, std::string_view name, const Value& fallback) const {
    if (index < args.size()) return args[index];
    for (const auto& [k, v] : kwargs)
        if (k == name) return v;
    return fallback;
}

bool truthy(const Value& v) {
    switch (v.kind) {
        case Kind::Undefined:
        case Kind::None: return false;
        case Kind::Bool: return v.b;
        case Kind::Int: return v.i != 0;
        case Kind::Float: return v.f != 0.0;
        case Kind::String: return !v.s.empty();
        case Kind::List: return !v.list->items.empty();
        case Kind::Dict: return !v.dict->items.empty();
        case Kind::Namespace:
        case Kind::Callable: return true;
    }
    return false;
}

std::string format_float(double x) {
    if (std::isnan(x)) return "nan";
    if (std::isinf(x)) return x > 0 ? "inf" : "-inf";
    if (x == 0.0) return std::signbit(x) ? "-0.0" : "0.0";
    // Shortest round-trip digits in scientific form, then Python's repr layout rule.
    char buf[64];
    auto res = std::to_chars(buf, buf + sizeof buf, x, std::chars_format::scientific);
    std::string sci(buf, res.ptr);
    bool neg = sci[0] == '-';
    if (neg) sci.erase(0, 1);
    size_t epos = sci.find('e');
    int exp = std::stoi(sci.substr(epos + 1));
    std::string digits;
    for (size_t k = 0; k < epos; ++k)
        if (sci[k] != '.') digits += sci[k];
    std::string out;
    if (exp >= -5 + 1 && exp < 16) {  // Python: fixed when -4 <= exp < 16
        if (exp >= 0) {
            if (digits.size() <= static_cast<size_t>(exp) + 1) {
                out = digits + std::string(exp + 1 - digits.size(), '0') + ".0";
            } else {
                out = std::string(digits.begin(), digits.begin() + exp + 1);
                out += '.';
                out.append(digits.begin() + exp + 1, digits.end());
            }
        } else {
            out = "0." + std::string(-exp - 1, '0') + digits;
        }
    } else {
        out = std::string(1, digits[0]);
        if (digits.size() > 1) {
            out += '.';
            out.append(digits.begin() + 1, digits.end());
        }
        char eb[16];
        std::snprintf(eb, sizeof eb, "e%c%02d", exp < 0 ? '-' : '+', exp < 0 ? -exp : exp);
        out += eb;
    }
    if (neg) out.insert(out.begin(), '-');
    return out;
}

static std::string repr_string(const std::string& s) {
    char quote = '\'';
    if (s.find('\'') != std::string::npos && s.find('"') == std::string::npos) quote = '"';
    std::string out(1, quote);
    for (unsigned char c : s) {
        if (c == '\\') out += "\\\\";
        else if (c == static_cast<unsigned char>(quote)) { out += '\\'; out += quote; }
        else if (c == '\n') out += "\\n";
        else if (c == '\r') out += "\\r";
        else if (c == '\t') out += "\\t";
        else if (c < 0x20 || c == 0x7f) {
            char b[8];
            std::snprintf(b, sizeof b, "\\x%02x", c);
            out += b;
        } else out += static_cast<char>(c);
    }
    out += quote;
    return out;
}

std::string repr(const Value& v) {
    switch (v.kind) {
        case Kind::String: return repr_string(v.s);
        case Kind::List: {
            const bool tuple = v.list->tuple;
            std::string out = tuple ? "(" : "[";
            for (size_t k = 0; k < v.list->items.size(); ++k) {
                if (k) out += ", ";
                out += repr(v.list->items[k]);
            }
            if (tuple && v.list->items.size() == 1) out += ",";
            return out + (tuple ? ")" : "]");
        }
        case Kind::Dict: {
            std::string out = "{";
            bool first = true;
            for (const auto& [k, x] : v.dict->items) {
                if (!first) out += ", ";
                first = false;
                out += repr_string(k) + ": " + repr(x);
            }
            return out + "}";
        }
        default: return to_str(v);
    }
}

std::string to_str(const Value& v) {
    switch (v.kind) {
        case Kind::Undefined: return "";
        case Kind::None: return "None";
        case Kind::Bool: return v.b ? "True" : "False";
        case Kind::Int: return std::to_string(v.i);
        case Kind::Float: return format_float(v.f);
        case Kind::String: return v.s;
        case Kind::List:
        case Kind::Dict: return repr(v);
        case Kind::Namespace: return "<Namespace>";
        case Kind::Callable: return "<function " + v.fn->name + ">";
    }
    return "";
}

bool equals(const Value& a, const Value& b) {
    if (a.is_number() && b.is_number()) {
        if (a.kind == Kind::Float || b.kind == Kind::Float) return a.as_double() == b.as_double();
        int64_t x = a.kind == Kind::Bool ? a.b : a.i, y = b.kind == Kind::Bool ? b.b : b.i;
        return x == y;
    }
    if (a.kind != b.kind) return false;
    switch (a.kind) {
        case Kind::Undefined:
        case Kind::None: return true;
        case Kind::String: return a.s == b.s;
        case Kind::List: {
            if (a.list == b.list) return true;
            if (a.list->items.size() != b.list->items.size()) return false;
            for (size_t k = 0; k < a.list->items.size(); ++k)
                if (!equals(a.list->items[k], b.list->items[k])) return false;
            return true;
        }
        case Kind::Dict: {
            if (a.dict == b.dict) return true;
            if (a.dict->items.size() != b.dict->items.size()) return false;
            for (const auto& [k, x] : a.dict->items) {
                const Value* y = b.dict->find(k);
                if (!y || !equals(x, *y)) return false;
            }
            return true;
        }
        case Kind::Namespace: return a.dict == b.dict;
        case Kind::Callable: return a.fn == b.fn;
        default: return false;
    }
}

const char* type_name(const Value& v) {
    switch (v.kind) {
        case Kind::Undefined: return "undefined";
        case Kind::None: return "NoneType";
        case Kind::Bool: return "bool";
        case Kind::Int: return "int";
        case Kind::Float: return "float";
        case Kind::String: return "str";
        case Kind::List: return v.list->tuple ? "tuple" : "list";
        case Kind::Dict: return "dict";
        case Kind::Namespace: return "Namespace";
        case Kind::Callable: return "function";
    }
    return "?";
}

}  // namespace llm::jinja
