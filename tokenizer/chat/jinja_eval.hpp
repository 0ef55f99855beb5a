// The Jinja evaluator: walks the AST with Python/jinja2 semantics (scoping per loop iteration, Undefined
// that prints as "" but errors on attribute access, short-circuit and/or), sandboxed and bounded: every
// statement and expression costs a step, output and string values are capped, macro recursion is capped.
#pragma once
#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include "tokenizer/chat/jinja_ast.hpp"

namespace llm::jinja {

struct Limits {
    size_t max_output_bytes = 1 << 20;
    uint64_t max_steps = 10'000'000;
    int max_call_depth = 64;
};

class Interpreter {
public:
    Interpreter(const Program& program, const Limits& limits,
                std::unordered_map<std::string, Value> globals);
    // Renders the whole template; throws JinjaError / TemplateRaised.
    std::string render();

    // Used by the builtins (jinja_builtins.cpp).
    void step(uint64_t n = 1);
    void check_size(size_t bytes) const;
    const Limits& limits() const { return limits_; }

private:
    enum class Flow { Normal, Break, Continue };
    using Scope = std::unordered_map<std::string, Value>;

    const Program& program_;
    Limits limits_;
    std::unordered_map<std::string, Value> globals_;
    std::vector<Scope> scopes_;
    uint64_t steps_ = 0;
    int call_depth_ = 0;
    int loop_depth_ = 0;

    Flow exec(const Body& body, std::string& out);
    Flow exec_stmt(const Stmt& s, std::string& out);
    void exec_for(const Stmt& s, std::string& out);
    void exec_set(const Stmt& s, std::string& out);
    Value make_macro(const Stmt& s);
    void emit(std::string& out, std::string_view text) const;

    Value eval(const Expr& e);
    Value eval_inner(const Expr& e);
    Value lookup(const std::string& name) const;
    Value eval_call(const Expr& e);
    Value binary(const std::string& op, const Value& a, const Value& b);
    bool compare(const std::string& op, const Value& a, const Value& b);
    void collect_args(const Expr& e, size_t first, CallArgs& out);
};

// ---- builtins (jinja_builtins.cpp) ----------------------------------------------------------------
// Items of an iterable: list items, dict keys, string characters; undefined iterates as empty.
std::vector<Value> iterate(const Value& v);
// obj.name / obj[key] with jinja2's getattr/getitem fallbacks; a missing member is Undefined.
Value get_attr(const Value& obj, const std::string& name);
Value get_item(const Value& obj, const Value& key);
Value apply_filter(Interpreter& in, const std::string& name, const Value& v, CallArgs& args);
bool apply_test(Interpreter& in, const std::string& name, const Value& v, CallArgs& args);
// Python str/dict/list methods (`s.strip()`, `d.get(k)`); throws naming the method when unknown.
Value call_method(Interpreter& in, const Value& obj, const std::string& name, CallArgs& args);
bool has_method(const Value& obj, const std::string& name);
// Global functions every render sees: range, namespace, dict, raise_exception, strftime_now.
void add_builtin_globals(std::unordered_map<std::string, Value>& globals);
// The error for using an Undefined where a value is needed.
[[noreturn]] void throw_undefined(const Value& v);

}  // namespace llm::jinja
