// Filters (`x | trim`) and tests (`x is defined`) of the Jinja engine, following jinja2's definitions
// (and transformers' tojson override). An unknown filter or test is an error naming it.
#include <algorithm>
#include <charconv>
#include <cmath>

#include "tokenizer/chat/jinja_eval.hpp"
#include "tokenizer/chat/jinja_text.hpp"

namespace llm::jinja {
namespace {

const Value kUndef;

int64_t length_of(const Value& v) {
    switch (v.kind) {
        case Kind::Undefined: return 0;
        case Kind::String: return static_cast<int64_t>(utf8_length(v.s));
        case Kind::List: return static_cast<int64_t>(v.list->items.size());
        case Kind::Dict:
        case Kind::Namespace: return static_cast<int64_t>(v.dict->items.size());
        default: throw JinjaError(std::string("object of type '") + type_name(v) + "' has no len()");
    }
}

// Attribute path "a.b" as jinja2's make_attrgetter resolves it (dict keys; digits index lists).
Value attr_path(const Value& item, const std::string& path) {
    Value cur = item;
    size_t start = 0;
    while (true) {
        size_t dot = path.find('.', start);
        std::string part = path.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
        bool digits = !part.empty() && std::all_of(part.begin(), part.end(), [](char c) { return c >= '0' && c <= '9'; });
        if (cur.is_undefined()) return cur;
        if (digits) {  // jinja2 looks a digit part up as a Python int: one beyond int64 indexes nothing
            long long index = 0;
            const auto [end, ec] = std::from_chars(part.data(), part.data() + part.size(), index);
            cur = ec == std::errc() && end == part.data() + part.size() ? get_item(cur, Value::integer(index))
                                                                        : Value::undefined();
        } else {
            cur = get_item(cur, Value::string(part));
        }
        if (dot == std::string::npos) return cur;
        start = dot + 1;
    }
}

// select/reject/selectattr/rejectattr: args after the filter's own (attr) are: test name, test args...
Value select_impl(Interpreter& in, const Value& v, CallArgs& a, bool by_attr, bool keep) {
    size_t first = 0;
    std::string attr;
    if (by_attr) {
        const Value& at = a.get(0, "attribute", kUndef);
        if (at.kind != Kind::String) throw JinjaError("selectattr/rejectattr need an attribute name");
        attr = at.s;
        first = 1;
    }
    std::string test;
    CallArgs test_args;
    if (a.args.size() > first) {
        if (a.args[first].kind != Kind::String) throw JinjaError("select: the test name must be a string");
        test = a.args[first].s;
        test_args.args.assign(a.args.begin() + static_cast<long>(first) + 1, a.args.end());
    }
    std::vector<Value> out;
    for (const Value& item : iterate(v)) {
        in.step();
        Value x = by_attr ? attr_path(item, attr) : item;
        bool r = test.empty() ? truthy(x) : apply_test(in, test, x, test_args);
        if (r == keep) out.push_back(item);
    }
    return Value::make_list(std::move(out));
}

Value to_int(const Value& v, const Value& dflt) {
    switch (v.kind) {
        case Kind::Int: return v;
        case Kind::Bool: return Value::integer(v.b);
        case Kind::Float:
            if (!std::isfinite(v.f) || std::fabs(v.f) > 9.2e18) return dflt;
            return Value::integer(static_cast<int64_t>(v.f));
        case Kind::String: {
            std::string s = py_strip(v.s, true, true, std::nullopt);
            std::string digits;
            for (char c : s)
                if (c != '_') digits += c;
            if (digits.empty()) return dflt;
            char* end = nullptr;
            errno = 0;
            long long x = std::strtoll(digits.c_str(), &end, 10);
            if (*end == 0 && errno == 0) return Value::integer(x);
            double f = std::strtod(s.c_str(), &end);
            if (*end == 0 && std::isfinite(f) && std::fabs(f) < 9.2e18) return Value::integer(static_cast<int64_t>(f));
            return dflt;
        }
        default: return dflt;
    }
}

Value to_float(const Value& v, const Value& dflt) {
    switch (v.kind) {
        case Kind::Int: return Value::floating(static_cast<double>(v.i));
        case Kind::Bool: return Value::floating(v.b);
        case Kind::Float: return v;
        case Kind::String: {
            std::string s = py_strip(v.s, true, true, std::nullopt);
            char* end = nullptr;
            double f = std::strtod(s.c_str(), &end);
            if (s.empty() || *end != 0) return dflt;
            return Value::floating(f);
        }
        default: return dflt;
    }
}

// Python ordering for sort/min/max: numbers with numbers, strings with strings.
bool less_than(const Value& a, const Value& b, bool case_sensitive) {
    if (a.is_number() && b.is_number()) return a.as_double() < b.as_double();
    if (a.kind == Kind::String && b.kind == Kind::String)
        return case_sensitive ? a.s < b.s : py_lower(a.s) < py_lower(b.s);
    throw JinjaError(std::string("cannot order '") + type_name(a) + "' and '" + type_name(b) + "'");
}

}  // namespace

Value apply_filter(Interpreter& in, const std::string& name, const Value& v, CallArgs& a) {
    const std::string& n = name;
    if (n == "default" || n == "d") {
        const Value& dflt = a.get(0, "default_value", kUndef);
        bool boolean = truthy(a.get(1, "boolean", kUndef));
        if (v.is_undefined() || (boolean && !truthy(v))) return dflt.is_undefined() ? Value::string("") : dflt;
        return v;
    }
    if (n == "length" || n == "count") return Value::integer(length_of(v));
    if (n == "string") return v.kind == Kind::String ? v : Value::string(to_str(v));
    if (n == "safe") return v;
    if (n == "trim") {
        auto chars = a.get(0, "chars", kUndef);
        std::optional<std::string> set;
        if (chars.kind == Kind::String) set = chars.s;
        return Value::string(py_strip(to_str(v), true, true, set));
    }
    if (n == "upper") return Value::string(py_upper(to_str(v)));
    if (n == "lower") return Value::string(py_lower(to_str(v)));
    if (n == "capitalize") return Value::string(py_capitalize(to_str(v)));
    if (n == "title") return Value::string(jinja_title(to_str(v)));
    if (n == "replace") {
        const Value& from = a.get(0, "old", kUndef);
        const Value& to = a.get(1, "new", kUndef);
        if (from.kind != Kind::String || to.kind != Kind::String) throw JinjaError("filter 'replace' needs two strings");
        const Value& count = a.get(2, "count", kUndef);
        std::string r = py_replace(to_str(v), from.s, to.s, count.kind == Kind::Int ? count.i : -1);
        in.check_size(r.size());
        return Value::string(std::move(r));
    }
    if (n == "first" || n == "last") {
        std::vector<Value> items = iterate(v);
        if (items.empty()) return Value::undefined("'" + std::string(type_name(v)) + " object' has no " + n + " item");
        return n == "first" ? items.front() : items.back();
    }
    if (n == "join") {
        const Value& sep = a.get(0, "d", kUndef);
        const Value& attr = a.get(1, "attribute", kUndef);
        std::string out;
        bool first = true;
        for (const Value& item : iterate(v)) {
            if (!first) out += to_str(sep);
            first = false;
            out += to_str(attr.kind == Kind::String ? attr_path(item, attr.s) : item);
            in.check_size(out.size());
        }
        return Value::string(std::move(out));
    }
    if (n == "tojson") {
        // transformers: tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False)
        if (truthy(a.get(0, "ensure_ascii", kUndef))) throw JinjaError("unsupported: tojson(ensure_ascii=true)");
        if (!a.get(2, "separators", kUndef).is_undefined() && !a.get(2, "separators", kUndef).is_none())
            throw JinjaError("unsupported: tojson(separators=...)");
        const Value& ind = a.get(1, "indent", kUndef);
        std::optional<int> indent;
        if (ind.kind == Kind::Int) indent = static_cast<int>(std::clamp<int64_t>(ind.i, 0, 64));
        std::string out = to_json(v, indent, truthy(a.get(3, "sort_keys", kUndef)));
        in.check_size(out.size());
        return Value::string(std::move(out));
    }
    if ((n == "int" || n == "float") && v.is_undefined()) throw_undefined(v);
    if (n == "int") return to_int(v, a.get(0, "default", Value::integer(0)));
    if (n == "float") return to_float(v, a.get(0, "default", Value::floating(0.0)));
    if (n == "list") return Value::make_list(iterate(v));
    if (n == "items") {
        if (v.is_undefined()) return Value::make_list({});
        if (!v.is_mapping()) throw JinjaError(std::string("filter 'items' expects a mapping, got ") + type_name(v));
        std::vector<Value> out;
        for (const auto& [k, x] : v.dict->items) out.push_back(Value::make_list({Value::string(k), x}, true));
        return Value::make_list(std::move(out));
    }
    if (n == "selectattr" || n == "rejectattr") return select_impl(in, v, a, true, n == "selectattr");
    if (n == "select" || n == "reject") return select_impl(in, v, a, false, n == "select");
    if (n == "map") {
        std::vector<Value> out;
        const Value& attr = a.get(99, "attribute", kUndef);
        if (attr.kind == Kind::String) {
            const Value& dflt = a.get(99, "default", kUndef);
            for (const Value& item : iterate(v)) {
                Value x = attr_path(item, attr.s);
                out.push_back(x.is_undefined() && !dflt.is_undefined() ? dflt : x);
            }
            return Value::make_list(std::move(out));
        }
        if (a.args.empty() || a.args[0].kind != Kind::String) throw JinjaError("filter 'map' needs a filter name or attribute=");
        CallArgs rest;
        rest.args.assign(a.args.begin() + 1, a.args.end());
        rest.kwargs = a.kwargs;
        for (const Value& item : iterate(v)) {
            in.step();
            CallArgs copy = rest;
            out.push_back(apply_filter(in, a.args[0].s, item, copy));
        }
        return Value::make_list(std::move(out));
    }
    if (n == "reverse") {
        if (v.kind == Kind::String) {
            std::vector<uint32_t> cps = utf8_decode(v.s);
            std::reverse(cps.begin(), cps.end());
            return Value::string(utf8_encode(cps, 0, cps.size()));
        }
        std::vector<Value> items = iterate(v);
        std::reverse(items.begin(), items.end());
        return Value::make_list(std::move(items));
    }
    if (n == "sort" || n == "min" || n == "max" || n == "unique") {
        std::vector<Value> items = iterate(v);
        in.step(items.size() * 4);
        size_t ai = n == "sort" ? 2 : 1;  // sort(reverse, case_sensitive, attribute); min/max/unique(case_sensitive, attribute)
        bool cs = truthy(a.get(ai - 1, "case_sensitive", kUndef));
        const Value& attr = a.get(ai, "attribute", kUndef);
        auto key = [&](const Value& x) { return attr.kind == Kind::String ? attr_path(x, attr.s) : x; };
        if (n == "unique") {
            std::vector<Value> out, seen;
            for (const Value& x : items) {
                Value k = key(x);
                if (k.kind == Kind::String && !cs) k = Value::string(py_lower(k.s));
                bool dup = false;
                for (const Value& s : seen) dup |= equals(s, k);
                if (!dup) {
                    seen.push_back(k);
                    out.push_back(x);
                }
            }
            return Value::make_list(std::move(out));
        }
        std::stable_sort(items.begin(), items.end(),
                         [&](const Value& x, const Value& y) { return less_than(key(x), key(y), cs); });
        if (n == "sort") {
            if (truthy(a.get(0, "reverse", kUndef))) std::reverse(items.begin(), items.end());
            return Value::make_list(std::move(items));
        }
        if (items.empty()) return Value::undefined("min/max of an empty sequence");
        return n == "min" ? items.front() : items.back();
    }
    if (n == "sum") {
        const Value& attr = a.get(0, "attribute", kUndef);
        Value total = a.get(1, "start", Value::integer(0));
        for (const Value& x : iterate(v)) {
            Value item = attr.kind == Kind::String ? attr_path(x, attr.s) : x;
            if (!item.is_number() || !total.is_number()) throw JinjaError("filter 'sum' needs numbers");
            if (item.kind == Kind::Float || total.kind == Kind::Float) total = Value::floating(total.as_double() + item.as_double());
            else total = Value::integer(total.i + (item.kind == Kind::Bool ? item.b : item.i));
        }
        return total;
    }
    if (n == "abs") {
        if (v.kind == Kind::Float) return Value::floating(std::fabs(v.f));
        if (v.kind == Kind::Int) return Value::integer(v.i < 0 ? -v.i : v.i);
        throw JinjaError("filter 'abs' needs a number");
    }
    if (n == "round") {
        if (!v.is_number()) throw JinjaError("filter 'round' needs a number");
        const Value& prec = a.get(0, "precision", Value::integer(0));
        const Value& method = a.get(1, "method", Value::string("common"));
        double m = std::pow(10.0, static_cast<double>(prec.kind == Kind::Int ? prec.i : 0));
        double x = v.as_double() * m;
        // Python's round() is round-half-even, which nearbyint does in the default rounding mode.
        double r = method.s == "floor" ? std::floor(x) : method.s == "ceil" ? std::ceil(x) : std::nearbyint(x);
        return Value::floating(r / m);
    }
    if (n == "indent") {
        const Value& w = a.get(0, "width", Value::integer(4));
        std::string pad = w.kind == Kind::String ? w.s : std::string(static_cast<size_t>(std::clamp<int64_t>(w.i, 0, 256)), ' ');
        bool first = truthy(a.get(1, "first", kUndef)), blank = truthy(a.get(2, "blank", kUndef));
        std::string s = to_str(v), out;
        size_t start = 0;
        bool first_line = true;
        while (true) {
            size_t nl = s.find('\n', start);
            std::string line = s.substr(start, nl == std::string::npos ? std::string::npos : nl - start);
            bool indent_it = first_line ? first : (blank || !line.empty());
            if (indent_it) out += pad;
            out += line;
            if (nl == std::string::npos) break;
            out += '\n';
            start = nl + 1;
            first_line = false;
            in.check_size(out.size());
        }
        return Value::string(std::move(out));
    }
    if (n == "attr") {
        const Value& at = a.get(0, "name", kUndef);
        if (at.kind != Kind::String) throw JinjaError("filter 'attr' needs a name");
        return get_attr(v, at.s);
    }
    if (n == "wordcount") return Value::integer(static_cast<int64_t>(py_split(to_str(v), std::nullopt, -1).size()));
    throw JinjaError("unknown filter '" + name + "'");
}

bool apply_test(Interpreter& in, const std::string& name, const Value& v, CallArgs& a) {
    const std::string& n = name;
    const Value& arg = a.get(0, "other", kUndef);
    if (n == "defined") return !v.is_undefined();
    if (n == "undefined") return v.is_undefined();
    if (n == "none") return v.is_none();
    if (n == "string") return v.kind == Kind::String;
    if (n == "number") return v.kind == Kind::Int || v.kind == Kind::Float;
    if (n == "integer") return v.kind == Kind::Int;
    if (n == "float") return v.kind == Kind::Float;
    if (n == "boolean") return v.kind == Kind::Bool;
    if (n == "true") return v.kind == Kind::Bool && v.b;
    if (n == "false") return v.kind == Kind::Bool && !v.b;
    if (n == "mapping") return v.is_mapping();
    if (n == "iterable") return v.kind == Kind::String || v.kind == Kind::List || v.is_mapping() || v.is_undefined();
    if (n == "sequence") return v.kind == Kind::String || v.kind == Kind::List || v.is_mapping();
    if (n == "callable") return v.kind == Kind::Callable;
    if (n == "equalto" || n == "eq" || n == "==") return equals(v, arg);
    if (n == "ne" || n == "!=") return !equals(v, arg);
    if (n == "sameas") {
        if (v.kind != arg.kind) return false;
        if (v.kind == Kind::List) return v.list == arg.list;
        if (v.is_mapping()) return v.dict == arg.dict;
        if (v.kind == Kind::Callable) return v.fn == arg.fn;
        return equals(v, arg);
    }
    if (n == "lt" || n == "<" || n == "le" || n == "<=" || n == "gt" || n == ">" || n == "ge" || n == ">=") {
        if (!(v.is_number() && arg.is_number()) && !(v.is_string() && arg.is_string()))
            throw JinjaError("test '" + n + "' needs two numbers or two strings");
        bool lt = v.is_number() ? v.as_double() < arg.as_double() : v.s < arg.s;
        bool eq = equals(v, arg);
        if (n == "lt" || n == "<") return lt;
        if (n == "le" || n == "<=") return lt || eq;
        if (n == "gt" || n == ">") return !lt && !eq;
        return !lt;
    }
    if (n == "in") {
        if (arg.kind == Kind::String) return v.kind == Kind::String && arg.s.find(v.s) != std::string::npos;
        if (arg.is_mapping()) return v.kind == Kind::String && arg.dict->find(v.s) != nullptr;
        for (const Value& x : iterate(arg))
            if (equals(v, x)) return true;
        return false;
    }
    if (n == "odd" || n == "even" || n == "divisibleby") {
        if (v.kind != Kind::Int) throw JinjaError("test '" + n + "' needs an integer");
        if (n == "odd") return (v.i % 2) != 0;
        if (n == "even") return (v.i % 2) == 0;
        if (arg.kind != Kind::Int || arg.i == 0) throw JinjaError("test 'divisibleby' needs a non-zero integer");
        return v.i % arg.i == 0;
    }
    if (n == "lower" || n == "upper") {
        if (v.kind != Kind::String) return false;
        return n == "lower" ? py_lower(v.s) == v.s : py_upper(v.s) == v.s;
    }
    (void)in;
    throw JinjaError("unknown test '" + name + "'");
}

}  // namespace llm::jinja
