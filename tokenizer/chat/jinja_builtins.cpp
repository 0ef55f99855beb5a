// Builtins of the Jinja engine other than filters and tests: member access (jinja2's getattr/getitem
// fallbacks), iteration, Python str/dict methods, and the global functions (range, namespace, dict,
// raise_exception, strftime_now). No file, environment or system access is reachable from here.
#include <algorithm>
#include <ctime>

#include "tokenizer/chat/jinja_eval.hpp"
#include "tokenizer/chat/jinja_text.hpp"

namespace llm::jinja {

[[noreturn]] void throw_undefined(const Value& v) {
    // A hint that is already a sentence ("'dict object' has no attribute 'x'") is used as is.
    if (v.s.find(' ') != std::string::npos) throw JinjaError(v.s);
    throw JinjaError("'" + (v.s.empty() ? std::string("value") : v.s) + "' is undefined");
}

std::vector<Value> iterate(const Value& v) {
    switch (v.kind) {
        case Kind::Undefined: return {};
        case Kind::List: return v.list->items;
        case Kind::Dict:
        case Kind::Namespace: {
            std::vector<Value> keys;
            for (const auto& [k, x] : v.dict->items) keys.push_back(Value::string(k));
            return keys;
        }
        case Kind::String: {
            std::vector<Value> chars;
            for (uint32_t cp : utf8_decode(v.s)) {
                std::string c;
                utf8_append(c, cp);
                chars.push_back(Value::string(std::move(c)));
            }
            return chars;
        }
        default: throw JinjaError(std::string("'") + type_name(v) + "' object is not iterable");
    }
}

static std::string no_attribute(const Value& obj, const std::string& name) {
    return std::string("'") + type_name(obj) + " object' has no attribute '" + name + "'";
}

// Python attributes of a dict. jinja2's getattr tries the Python attribute before the key, so
// `spec.items` is the bound method even when the dict has an "items" key (JSON schemas do).
static bool is_dict_attribute(const std::string& name) {
    static const char* const kNames[] = {"clear", "copy", "fromkeys", "get", "items", "keys",
                                         "pop", "popitem", "setdefault", "update", "values"};
    for (const char* n : kNames)
        if (name == n) return true;
    return false;
}

Value get_attr(const Value& obj, const std::string& name) {
    if (obj.is_undefined()) throw_undefined(obj);
    if (obj.kind == Kind::Dict && is_dict_attribute(name)) {
        // A bound method value; it is only ever printed, tested or called (calls normally go through
        // call_method directly, this covers `f = d.items` then `f()`).
        Value self = obj;
        return Value::callable(name, [self, name](CallArgs& args) -> Value {
            if (!has_method(self, name))
                throw JinjaError("unsupported method '" + name + "' (the sandbox makes dicts immutable)");
            throw JinjaError("unsupported: calling the bound method '" + name + "' indirectly");
        });
    }
    if (obj.is_mapping()) {
        if (const Value* v = obj.dict->find(name)) return *v;
    }
    return Value::undefined(no_attribute(obj, name));
}

Value get_item(const Value& obj, const Value& key) {
    if (obj.is_undefined()) throw_undefined(obj);
    if (obj.is_mapping()) {
        if (key.kind == Kind::String)
            if (const Value* v = obj.dict->find(key.s)) return *v;
        return Value::undefined(no_attribute(obj, to_str(key)));
    }
    if ((obj.kind == Kind::List || obj.kind == Kind::String) && (key.kind == Kind::Int || key.kind == Kind::Bool)) {
        int64_t i = key.kind == Kind::Bool ? key.b : key.i;
        if (obj.kind == Kind::List) {
            int64_t n = static_cast<int64_t>(obj.list->items.size());
            if (i < 0) i += n;
            if (i < 0 || i >= n) return Value::undefined(std::string("list object has no element ") + to_str(key));
            return obj.list->items[static_cast<size_t>(i)];
        }
        std::vector<uint32_t> cps = utf8_decode(obj.s);
        int64_t n = static_cast<int64_t>(cps.size());
        if (i < 0) i += n;
        if (i < 0 || i >= n) return Value::undefined(std::string("str object has no element ") + to_str(key));
        std::string c;
        utf8_append(c, cps[static_cast<size_t>(i)]);
        return Value::string(std::move(c));
    }
    if (key.kind == Kind::String) return get_attr(obj, key.s);
    return Value::undefined(std::string("'") + type_name(obj) + " object' has no element " + to_str(key));
}

// ---- methods ---------------------------------------------------------------------------------
namespace {

const char* const kStringMethods[] = {"strip", "lstrip", "rstrip", "startswith", "endswith", "split", "upper",
                                      "lower", "title", "capitalize", "replace", "find", "count", "join",
                                      "isdigit", "isalpha", "isspace", "islower", "isupper"};
const char* const kDictMethods[] = {"get", "items", "keys", "values"};

std::optional<std::string> opt_string(const Value& v, const char* what) {
    if (v.is_none() || v.is_undefined()) return std::nullopt;
    if (v.kind != Kind::String) throw JinjaError(std::string(what) + " must be a string or none");
    return v.s;
}

int64_t int_arg(const Value& v, int64_t fallback, const char* what) {
    if (v.is_undefined() || v.is_none()) return fallback;
    if (v.kind == Kind::Int) return v.i;
    if (v.kind == Kind::Bool) return v.b;
    throw JinjaError(std::string(what) + " must be an integer");
}

bool affix_match(const std::string& s, const Value& affix, bool prefix) {
    auto one = [&](const Value& a) {
        if (a.kind != Kind::String) throw JinjaError(prefix ? "startswith() needs a string" : "endswith() needs a string");
        if (a.s.size() > s.size()) return false;
        return prefix ? s.compare(0, a.s.size(), a.s) == 0 : s.compare(s.size() - a.s.size(), a.s.size(), a.s) == 0;
    };
    if (affix.kind == Kind::List) {
        for (const Value& a : affix.list->items)
            if (one(a)) return true;
        return false;
    }
    return one(affix);
}

bool all_of(const std::string& s, bool (*pred)(char)) {
    if (s.empty()) return false;
    for (char c : s)
        if (!pred(c)) return false;
    return true;
}

}  // namespace

bool has_method(const Value& obj, const std::string& name) {
    if (obj.kind == Kind::String) {
        for (const char* m : kStringMethods)
            if (name == m) return true;
    } else if (obj.kind == Kind::Dict) {
        for (const char* m : kDictMethods)
            if (name == m) return true;
    }
    return false;
}

Value call_method(Interpreter& in, const Value& obj, const std::string& name, CallArgs& a) {
    static const Value kUndef;
    if (obj.kind == Kind::Dict) {
        if (name == "get") {
            const Value& key = a.get(0, "key", kUndef);
            if (key.kind == Kind::String)
                if (const Value* v = obj.dict->find(key.s)) return *v;
            const Value& d = a.get(1, "default", kUndef);
            return d.is_undefined() ? Value::none() : d;
        }
        std::vector<Value> out;
        in.step(obj.dict->items.size());
        for (const auto& [k, v] : obj.dict->items) {
            if (name == "keys") out.push_back(Value::string(k));
            else if (name == "values") out.push_back(v);
            else out.push_back(Value::make_list({Value::string(k), v}, /*tuple=*/true));
        }
        return Value::make_list(std::move(out));
    }
    const std::string& s = obj.s;
    in.step(s.size() / 64);
    if (name == "strip" || name == "lstrip" || name == "rstrip") {
        auto chars = opt_string(a.get(0, "chars", kUndef), "strip() argument");
        return Value::string(py_strip(s, name != "rstrip", name != "lstrip", chars));
    }
    if (name == "startswith" || name == "endswith") return Value::boolean(affix_match(s, a.get(0, "prefix", kUndef), name == "startswith"));
    if (name == "split") {
        auto sep = opt_string(a.get(0, "sep", kUndef), "split() separator");
        std::vector<Value> parts;
        for (auto& p : py_split(s, sep, int_arg(a.get(1, "maxsplit", kUndef), -1, "maxsplit")))
            parts.push_back(Value::string(std::move(p)));
        return Value::make_list(std::move(parts));
    }
    if (name == "upper") return Value::string(py_upper(s));
    if (name == "lower") return Value::string(py_lower(s));
    if (name == "title") return Value::string(py_title(s));
    if (name == "capitalize") return Value::string(py_capitalize(s));
    if (name == "replace") {
        const Value& from = a.get(0, "old", kUndef);
        const Value& to = a.get(1, "new", kUndef);
        if (from.kind != Kind::String || to.kind != Kind::String) throw JinjaError("replace() needs two strings");
        std::string r = py_replace(s, from.s, to.s, int_arg(a.get(2, "count", kUndef), -1, "count"));
        in.check_size(r.size());
        return Value::string(std::move(r));
    }
    if (name == "find" || name == "count") {
        const Value& sub = a.get(0, "sub", kUndef);
        if (sub.kind != Kind::String) throw JinjaError(name + "() needs a string");
        if (name == "find") {
            size_t at = s.find(sub.s);
            return Value::integer(at == std::string::npos ? -1 : static_cast<int64_t>(utf8_length(s.substr(0, at))));
        }
        if (sub.s.empty()) return Value::integer(static_cast<int64_t>(utf8_length(s)) + 1);
        int64_t n = 0;
        for (size_t at = s.find(sub.s); at != std::string::npos; at = s.find(sub.s, at + sub.s.size())) ++n;
        return Value::integer(n);
    }
    if (name == "join") {
        std::string out;
        bool first = true;
        for (const Value& v : iterate(a.get(0, "iterable", kUndef))) {
            if (v.kind != Kind::String) throw JinjaError("join(): sequence item is not a string");
            if (!first) out += s;
            first = false;
            out += v.s;
            in.check_size(out.size());
        }
        return Value::string(std::move(out));
    }
    if (name == "isdigit") return Value::boolean(all_of(s, [](char c) { return c >= '0' && c <= '9'; }));
    if (name == "isalpha") return Value::boolean(all_of(s, [](char c) { return (c | 32) >= 'a' && (c | 32) <= 'z'; }));
    if (name == "isspace") return Value::boolean(all_of(s, [](char c) { return py_isspace(static_cast<unsigned char>(c)); }));
    if (name == "islower" || name == "isupper") {
        bool cased = false, ok = true;
        for (char c : s) {
            if (c >= 'a' && c <= 'z') { cased = true; ok &= name == "islower"; }
            if (c >= 'A' && c <= 'Z') { cased = true; ok &= name == "isupper"; }
        }
        return Value::boolean(cased && ok);
    }
    throw JinjaError("unsupported method '" + name + "'");
}

// ---- globals ---------------------------------------------------------------------------------
void add_builtin_globals(std::unordered_map<std::string, Value>& g) {
    g["raise_exception"] = Value::callable("raise_exception", [](CallArgs& a) -> Value {
        static const Value kUndef;
        throw TemplateRaised(to_str(a.get(0, "message", kUndef)));
    });
    g["namespace"] = Value::callable("namespace", [](CallArgs& a) -> Value {
        Value ns = Value::make_namespace();
        for (const Value& init : a.args) {
            if (!init.is_mapping()) throw JinjaError("namespace() positional argument must be a dict");
            for (const auto& [k, v] : init.dict->items) ns.dict->set(k, v);
        }
        for (auto& [k, v] : a.kwargs) ns.dict->set(k, v);
        return ns;
    });
    g["dict"] = Value::callable("dict", [](CallArgs& a) -> Value {
        Value d = Value::make_dict();
        for (const Value& init : a.args) {
            if (!init.is_mapping()) throw JinjaError("dict() positional argument must be a dict");
            for (const auto& [k, v] : init.dict->items) d.dict->set(k, v);
        }
        for (auto& [k, v] : a.kwargs) d.dict->set(k, v);
        return d;
    });
    g["range"] = Value::callable("range", [](CallArgs& a) -> Value {
        std::vector<int64_t> n;
        for (const Value& v : a.args) {
            if (v.kind != Kind::Int && v.kind != Kind::Bool) throw JinjaError("range() arguments must be integers");
            n.push_back(v.kind == Kind::Bool ? v.b : v.i);
        }
        if (n.empty() || n.size() > 3) throw JinjaError("range() takes 1 to 3 arguments");
        int64_t start = n.size() > 1 ? n[0] : 0, stop = n.size() > 1 ? n[1] : n[0], step = n.size() > 2 ? n[2] : 1;
        if (step == 0) throw JinjaError("range() step must not be zero");
        // jinja2's sandbox caps range() at MAX_RANGE = 100000 items.
        __int128 count = step > 0 ? (static_cast<__int128>(stop) - start + step - 1) / step
                                  : (static_cast<__int128>(start) - stop - step - 1) / -step;
        if (count > 100000) throw JinjaError("range() too big: more than 100000 items (sandbox limit)");
        std::vector<Value> items;
        items.reserve(static_cast<size_t>(std::max<__int128>(count, 0)));
        for (__int128 k = 0; k < count; ++k) items.push_back(Value::integer(static_cast<int64_t>(start + k * step)));
        return Value::make_list(std::move(items));
    });
    g["strftime_now"] = Value::callable("strftime_now", [](CallArgs& a) -> Value {
        static const Value kUndef;
        const Value& f = a.get(0, "format", kUndef);
        if (f.kind != Kind::String) throw JinjaError("strftime_now() needs a format string");
        if (f.s.size() > 256) throw JinjaError("strftime_now() format too long");
        std::time_t now = std::time(nullptr);
        std::tm tm{};
        localtime_r(&now, &tm);
        char buf[1024];
        size_t n = std::strftime(buf, sizeof buf, f.s.c_str(), &tm);
        return Value::string(std::string(buf, n));
    });
}

}  // namespace llm::jinja
