// Runtime values of the Jinja engine: Python-like undefined/none/bool/int/float/str/list/dict plus the
// template-only kinds (namespace, callables). Lists and dicts are immutable once built (the engine mirrors
// jinja2's ImmutableSandboxedEnvironment); only a namespace can be mutated, through `set ns.attr = ...`.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace llm::jinja {

struct Value;
struct List;
struct Dict;
struct Callable;

enum class Kind : uint8_t { Undefined, None, Bool, Int, Float, String, List, Dict, Namespace, Callable };

// The value model; cheap to copy (containers are shared, strings are copied).
struct Value {
    Kind kind = Kind::Undefined;
    bool b = false;
    int64_t i = 0;
    double f = 0.0;
    std::string s;                      // String; for Undefined: the name that was not found (for messages)
    std::shared_ptr<List> list;         // List (also tuples)
    std::shared_ptr<Dict> dict;         // Dict and Namespace (a namespace is a mutable dict)
    std::shared_ptr<Callable> fn;       // Callable

    static Value undefined(std::string hint = {}) { Value v; v.s = std::move(hint); return v; }
    static Value none() { Value v; v.kind = Kind::None; return v; }
    static Value boolean(bool x) { Value v; v.kind = Kind::Bool; v.b = x; return v; }
    static Value integer(int64_t x) { Value v; v.kind = Kind::Int; v.i = x; return v; }
    static Value floating(double x) { Value v; v.kind = Kind::Float; v.f = x; return v; }
    static Value string(std::string x) { Value v; v.kind = Kind::String; v.s = std::move(x); return v; }
    static Value make_list(std::vector<Value> items, bool tuple = false);
    static Value make_dict(std::vector<std::pair<std::string, Value>> items = {});
    static Value make_namespace(std::vector<std::pair<std::string, Value>> items = {});
    static Value callable(std::string name, std::function<Value(struct CallArgs&)> f);

    bool is_undefined() const { return kind == Kind::Undefined; }
    bool is_none() const { return kind == Kind::None; }
    bool is_string() const { return kind == Kind::String; }
    bool is_number() const { return kind == Kind::Int || kind == Kind::Float || kind == Kind::Bool; }
    bool is_list() const { return kind == Kind::List; }
    bool is_dict() const { return kind == Kind::Dict; }
    bool is_mapping() const { return kind == Kind::Dict || kind == Kind::Namespace; }
    double as_double() const { return kind == Kind::Float ? f : static_cast<double>(kind == Kind::Bool ? b : i); }
};

// Nesting depth of containers is capped (kMaxValueDepth) so printing, comparing, serializing and
// destroying a value never recurses deeply; namespaces are opaque (never recursed into), so the only
// possible reference cycles (through a namespace) are never walked.
constexpr int kMaxValueDepth = 128;
constexpr size_t kMaxListItems = 1 << 20;

struct List {
    std::vector<Value> items;
    bool tuple = false;  // only changes how it prints: (a, b) instead of [a, b]
    int depth = 1;
};

// Insertion-ordered like a Python dict; keys are strings (the only keys chat templates use).
struct Dict {
    std::vector<std::pair<std::string, Value>> items;
    int depth = 1;
    const Value* find(std::string_view key) const;
    void set(const std::string& key, Value v);
};

// Namespaces can hold themselves (`{% set ns.me = ns %}`), a shared_ptr cycle. While a ContainerArena is
// alive on a thread, every dict and list made there is recorded, and the arena empties them all when it
// ends, so a render never leaks whatever a template built.
class ContainerArena {
public:
    ContainerArena();
    ~ContainerArena();
    ContainerArena(const ContainerArena&) = delete;
    ContainerArena& operator=(const ContainerArena&) = delete;
    static void record(const std::shared_ptr<List>& l);
    static void record(const std::shared_ptr<Dict>& d);

private:
    ContainerArena* previous_;
    std::vector<std::weak_ptr<List>> lists_;
    std::vector<std::weak_ptr<Dict>> dicts_;
};

// Arguments of a call: positional then keyword, as written.
struct CallArgs {
    std::vector<Value> args;
    std::vector<std::pair<std::string, Value>> kwargs;
    // Positional `index` or keyword `name`, else `fallback` (returned by value: fallbacks are often temporaries).
    Value get(size_t index, std::string_view name, const Value& fallback) const;
};

struct Callable {
    std::string name;
    std::function<Value(CallArgs&)> fn;
};

// Python truthiness.
bool truthy(const Value& v);
// Container depth of a value as a child (0 for scalars and namespaces).
int child_depth(const Value& v);
// Python str(): what `{{ v }}` prints. Undefined prints as "".
std::string to_str(const Value& v);
// Python repr(), used for strings nested in printed lists/dicts.
std::string repr(const Value& v);
// Python ==.
bool equals(const Value& a, const Value& b);
// Python's float repr ("1.0", "0.1", "1e+16").
std::string format_float(double x);
// jinja2 type names for messages ("str", "int", "list", "dict", "undefined", ...).
const char* type_name(const Value& v);

}  // namespace llm::jinja
