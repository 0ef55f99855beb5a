// Jinja evaluator: statements, expressions and operators with Python semantics (see jinja_eval.hpp).
#include "tokenizer/chat/jinja_eval.hpp"

#include <cmath>
#include <limits>

#include "tokenizer/chat/jinja_text.hpp"

namespace llm::jinja {

Interpreter::Interpreter(const Program& program, const Limits& limits,
                         std::unordered_map<std::string, Value> globals)
    : program_(program), limits_(limits), globals_(std::move(globals)) {}

std::string Interpreter::render() {
    scopes_.assign(1, Scope{});
    std::string out;
    Flow f = exec(program_.body, out);
    if (f != Flow::Normal) throw JinjaError("'break' or 'continue' outside of a for loop");
    return out;
}

void Interpreter::step(uint64_t n) {
    steps_ += n;
    if (steps_ > limits_.max_steps)
        throw JinjaError("template exceeded the step limit (" + std::to_string(limits_.max_steps) +
                         " steps): runaway loop?");
}

void Interpreter::check_size(size_t bytes) const {
    if (bytes > limits_.max_output_bytes)
        throw JinjaError("template output or string value exceeds the limit of " +
                         std::to_string(limits_.max_output_bytes) + " bytes");
}

void Interpreter::emit(std::string& out, std::string_view text) const {
    check_size(out.size() + text.size());
    out.append(text);
}

// ---- statements ------------------------------------------------------------------------------
Interpreter::Flow Interpreter::exec(const Body& body, std::string& out) {
    for (const auto& s : body) {
        Flow f = exec_stmt(*s, out);
        if (f != Flow::Normal) return f;
    }
    return Flow::Normal;
}

Interpreter::Flow Interpreter::exec_stmt(const Stmt& s, std::string& out) {
    step();
    try {
        switch (s.kind) {
            case StmtKind::Text: emit(out, s.text); break;
            case StmtKind::Output: {
                Value v = eval(*s.expr);
                if (v.kind == Kind::String) emit(out, v.s);
                else emit(out, to_str(v));
                break;
            }
            case StmtKind::If: {
                for (size_t k = 0; k < s.conditions.size(); ++k)
                    if (truthy(eval(*s.conditions[k]))) return exec(s.bodies[k], out);
                if (s.bodies.size() > s.conditions.size()) return exec(s.bodies.back(), out);
                break;
            }
            case StmtKind::For: exec_for(s, out); break;
            case StmtKind::Set:
            case StmtKind::SetBlock: exec_set(s, out); break;
            case StmtKind::Macro: scopes_.back()[s.text] = make_macro(s); break;
            case StmtKind::Break:
            case StmtKind::Continue:
                if (loop_depth_ == 0) throw JinjaError("'" + std::string(s.kind == StmtKind::Break ? "break" : "continue") +
                                                       "' outside of a for loop");
                return s.kind == StmtKind::Break ? Flow::Break : Flow::Continue;
            case StmtKind::Block: return exec(s.bodies[0], out);
        }
    } catch (JinjaError& e) {
        if (e.pos.line == 0) e.pos = s.pos;
        throw;
    }
    return Flow::Normal;
}

void Interpreter::exec_for(const Stmt& s, std::string& out) {
    Value iterable = eval(*s.expr);
    if (iterable.kind == Kind::None) throw JinjaError("'NoneType' object is not iterable");
    // Iterate a list in place (kept alive by `iterable`); other iterables are materialized.
    std::vector<Value> owned;
    const std::vector<Value>* items = &owned;
    if (iterable.kind == Kind::List) items = &iterable.list->items;
    else owned = iterate(iterable);
    // Unpack targets of one item into a scope.
    auto bind = [&](Scope& scope, const Value& item) {
        if (s.targets.size() == 1) {
            scope.insert_or_assign(s.targets[0], item);
            return;
        }
        std::vector<Value> parts = iterate(item);
        if (parts.size() != s.targets.size())
            throw JinjaError("cannot unpack " + std::to_string(parts.size()) + " values into " +
                             std::to_string(s.targets.size()) + " loop variables");
        for (size_t k = 0; k < parts.size(); ++k) scope[s.targets[k]] = parts[k];
    };
    struct ScopeGuard {
        std::vector<Scope>& scopes;
        explicit ScopeGuard(std::vector<Scope>& sc) : scopes(sc) { scopes.emplace_back(); }
        ~ScopeGuard() { scopes.pop_back(); }
    };
    if (s.filter) {
        // `for x in xs if cond`: the filter sees the loop variables; loop.* counts only kept items.
        std::vector<Value> kept;
        ScopeGuard g(scopes_);
        for (const Value& item : *items) {
            scopes_.back().clear();
            bind(scopes_.back(), item);
            if (truthy(eval(*s.filter))) kept.push_back(item);
        }
        owned = std::move(kept);
        items = &owned;
    }
    if (items->empty()) {
        if (s.bodies.size() > 1) exec(s.bodies[1], out);
        return;
    }
    const int64_t n = static_cast<int64_t>(items->size());
    ++loop_depth_;
    struct LoopGuard {
        int& d;
        ~LoopGuard() { --d; }
    } guard{loop_depth_};
    // One loop object per for statement, updated in place each iteration (as jinja2's LoopContext is).
    Value loop = Value::make_dict({
        {"index", Value::integer(1)}, {"index0", Value::integer(0)}, {"revindex", Value::integer(n)},
        {"revindex0", Value::integer(n - 1)}, {"first", Value::boolean(true)}, {"last", Value::boolean(n == 1)},
        {"length", Value::integer(n)}, {"depth", Value::integer(1)}, {"depth0", Value::integer(0)},
        {"previtem", Value::undefined("loop.previtem")}, {"nextitem", Value::undefined("loop.nextitem")},
    });
    auto& slots = loop.dict->items;  // fixed order as built above
    ScopeGuard g(scopes_);
    for (int64_t k = 0; k < n; ++k) {
        step();
        slots[0].second.i = k + 1;
        slots[1].second.i = k;
        slots[2].second.i = n - k;
        slots[3].second.i = n - k - 1;
        slots[4].second.b = k == 0;
        slots[5].second.b = k == n - 1;
        slots[9].second = k > 0 ? (*items)[k - 1] : Value::undefined("loop.previtem");
        slots[10].second = k + 1 < n ? (*items)[k + 1] : Value::undefined("loop.nextitem");
        Scope& scope = scopes_.back();
        // Each iteration starts from the enclosing scope, as in jinja2: drop what the last one set
        // (only when it set something, so a plain loop reuses the map's nodes).
        if (scope.size() > s.targets.size() + 1) scope.clear();
        bind(scope, (*items)[k]);
        scope.insert_or_assign("loop", loop);
        if (exec(s.bodies[0], out) == Flow::Break) break;
    }
}

void Interpreter::exec_set(const Stmt& s, std::string& out) {
    Value v;
    if (s.kind == StmtKind::SetBlock) {
        std::string captured;
        exec(s.bodies[0], captured);
        v = Value::string(std::move(captured));
    } else {
        v = eval(*s.expr);
    }
    if (!s.attr.empty()) {
        Value target = lookup(s.targets[0]);
        if (target.kind != Kind::Namespace)
            throw JinjaError("cannot assign attribute '" + s.attr + "' on '" + s.targets[0] +
                             "': only a namespace() supports attribute assignment");
        target.dict->set(s.attr, std::move(v));
        return;
    }
    if (s.targets.size() == 1) {
        scopes_.back()[s.targets[0]] = std::move(v);
        return;
    }
    std::vector<Value> parts = iterate(v);
    if (parts.size() != s.targets.size())
        throw JinjaError("cannot unpack " + std::to_string(parts.size()) + " values into " +
                         std::to_string(s.targets.size()) + " variables");
    for (size_t k = 0; k < parts.size(); ++k) scopes_.back()[s.targets[k]] = parts[k];
}

Value Interpreter::make_macro(const Stmt& s) {
    const Stmt* def = &s;
    return Value::callable(s.text, [this, def](CallArgs& args) -> Value {
        if (++call_depth_ > limits_.max_call_depth) {
            --call_depth_;
            throw JinjaError("macro '" + def->text + "' recursed deeper than " +
                             std::to_string(limits_.max_call_depth) + " calls");
        }
        // A macro sees its parameters, the template's top-level names and the globals.
        Scope params;
        if (args.args.size() > def->params.size())
            throw JinjaError("macro '" + def->text + "' takes " + std::to_string(def->params.size()) +
                             " arguments, got " + std::to_string(args.args.size()));
        for (size_t k = 0; k < def->params.size(); ++k) {
            const auto& [pname, dflt] = def->params[k];
            Value undef = Value::undefined(pname);
            const Value& given = args.get(k, pname, undef);
            if (!given.is_undefined() || k < args.args.size()) params[pname] = given;
            else if (dflt) params[pname] = eval(*dflt);
            else params[pname] = Value::undefined(pname);
        }
        for (const auto& [k, v] : args.kwargs) {
            bool known = false;
            for (const auto& p : def->params) known |= p.first == k;
            if (!known) throw JinjaError("macro '" + def->text + "' has no parameter '" + k + "'");
        }
        std::vector<Scope> saved = std::move(scopes_);
        scopes_.clear();
        scopes_.push_back(saved.front());
        scopes_.push_back(std::move(params));
        std::string out;
        int saved_loop_depth = loop_depth_;
        loop_depth_ = 0;
        try {
            exec(def->bodies[0], out);
        } catch (...) {
            scopes_ = std::move(saved);
            loop_depth_ = saved_loop_depth;
            --call_depth_;
            throw;
        }
        scopes_ = std::move(saved);
        loop_depth_ = saved_loop_depth;
        --call_depth_;
        return Value::string(std::move(out));
    });
}

// ---- expressions -----------------------------------------------------------------------------
Value Interpreter::lookup(const std::string& name) const {
    for (auto it = scopes_.rbegin(); it != scopes_.rend(); ++it) {
        auto f = it->find(name);
        if (f != it->end()) return f->second;
    }
    auto g = globals_.find(name);
    if (g != globals_.end()) return g->second;
    return Value::undefined(name);
}

Value Interpreter::eval(const Expr& e) {
    step();
    try {
        return eval_inner(e);
    } catch (JinjaError& err) {
        if (err.pos.line == 0) err.pos = e.pos;
        throw;
    }
}

void Interpreter::collect_args(const Expr& e, size_t first, CallArgs& out) {
    for (size_t k = first; k < e.args.size(); ++k) out.args.push_back(eval(*e.args[k]));
    for (const auto& [k, v] : e.kwargs) out.kwargs.emplace_back(k, eval(*v));
}

Value Interpreter::eval_inner(const Expr& e) {
    switch (e.kind) {
        case ExprKind::Literal: return e.value;
        case ExprKind::Name: return lookup(e.name);
        case ExprKind::ListLit:
        case ExprKind::TupleLit: {
            std::vector<Value> items;
            for (const auto& a : e.args) items.push_back(eval(*a));
            return Value::make_list(std::move(items), e.kind == ExprKind::TupleLit);
        }
        case ExprKind::DictLit: {
            Value d = Value::make_dict();
            for (size_t k = 0; k + 1 < e.args.size(); k += 2) {
                Value key = eval(*e.args[k]);
                if (key.kind != Kind::String)
                    throw JinjaError(std::string("unsupported: dict key of type '") + type_name(key) +
                                     "' (only string keys are supported)");
                d.dict->set(key.s, eval(*e.args[k + 1]));
            }
            return d;
        }
        case ExprKind::Attr: return get_attr(eval(*e.args[0]), e.name);
        case ExprKind::Item: return get_item(eval(*e.args[0]), eval(*e.args[1]));
        case ExprKind::Slice: {
            Value obj = eval(*e.args[0]);
            std::optional<int64_t> parts[3];
            for (int k = 0; k < 3; ++k) {
                if (!e.args[k + 1]) continue;
                Value p = eval(*e.args[k + 1]);
                if (p.is_none()) continue;
                if (p.kind != Kind::Int && p.kind != Kind::Bool)
                    throw JinjaError("slice indices must be integers or none");
                parts[k] = p.kind == Kind::Bool ? p.b : p.i;
            }
            if (obj.kind == Kind::List) {
                auto idx = slice_indices(static_cast<int64_t>(obj.list->items.size()), parts[0], parts[1], parts[2]);
                std::vector<Value> items;
                for (int64_t k : idx) items.push_back(obj.list->items[k]);
                return Value::make_list(std::move(items), obj.list->tuple);
            }
            if (obj.kind == Kind::String) {
                if (is_ascii(obj.s)) {
                    auto idx = slice_indices(static_cast<int64_t>(obj.s.size()), parts[0], parts[1], parts[2]);
                    std::string s;
                    for (int64_t k : idx) s += obj.s[k];
                    return Value::string(std::move(s));
                }
                std::vector<uint32_t> cps = utf8_decode(obj.s);
                auto idx = slice_indices(static_cast<int64_t>(cps.size()), parts[0], parts[1], parts[2]);
                std::string s;
                for (int64_t k : idx) utf8_append(s, cps[k]);
                return Value::string(std::move(s));
            }
            if (obj.is_undefined()) throw_undefined(obj);
            throw JinjaError(std::string("'") + type_name(obj) + "' object is not subscriptable");
        }
        case ExprKind::Call: return eval_call(e);
        case ExprKind::Filter: {
            Value v = eval(*e.args[0]);
            CallArgs args;
            collect_args(e, 1, args);
            return apply_filter(*this, e.name, v, args);
        }
        case ExprKind::Test: {
            Value v;
            // `x.y is defined` must not fail when x exists but lacks y: evaluation yields Undefined.
            v = eval(*e.args[0]);
            CallArgs args;
            collect_args(e, 1, args);
            bool r = apply_test(*this, e.name, v, args);
            return Value::boolean(e.negated ? !r : r);
        }
        case ExprKind::Neg:
        case ExprKind::Pos: {
            Value v = eval(*e.args[0]);
            if (v.is_undefined()) throw_undefined(v);
            if (!v.is_number()) throw JinjaError(std::string("bad operand type for unary ") +
                                                 (e.kind == ExprKind::Neg ? "-" : "+") + ": '" + type_name(v) + "'");
            if (e.kind == ExprKind::Pos) return v.kind == Kind::Bool ? Value::integer(v.b) : v;
            if (v.kind == Kind::Float) return Value::floating(-v.f);
            int64_t x = v.kind == Kind::Bool ? v.b : v.i;
            if (x == std::numeric_limits<int64_t>::min()) throw JinjaError("integer overflow");
            return Value::integer(-x);
        }
        case ExprKind::Not: return Value::boolean(!truthy(eval(*e.args[0])));
        case ExprKind::And: {
            Value a = eval(*e.args[0]);
            return truthy(a) ? eval(*e.args[1]) : a;
        }
        case ExprKind::Or: {
            Value a = eval(*e.args[0]);
            return truthy(a) ? a : eval(*e.args[1]);
        }
        case ExprKind::Binary: return binary(e.name, eval(*e.args[0]), eval(*e.args[1]));
        case ExprKind::Compare: {
            Value left = eval(*e.args[0]);
            for (size_t k = 0; k < e.ops.size(); ++k) {
                Value right = eval(*e.args[k + 1]);
                if (!compare(e.ops[k], left, right)) return Value::boolean(false);
                left = std::move(right);
            }
            return Value::boolean(true);
        }
        case ExprKind::Cond: {
            if (truthy(eval(*e.args[1]))) return eval(*e.args[0]);
            return e.args[2] ? eval(*e.args[2]) : Value::undefined("conditional expression without else");
        }
    }
    throw JinjaError("internal: unknown expression kind");
}

Value Interpreter::eval_call(const Expr& e) {
    const Expr& callee = *e.args[0];
    CallArgs args;
    if (callee.kind == ExprKind::Attr) {
        Value obj = eval(*callee.args[0]);
        if (has_method(obj, callee.name)) {
            collect_args(e, 1, args);
            return call_method(*this, obj, callee.name, args);
        }
        Value fn = get_attr(obj, callee.name);
        if (fn.kind != Kind::Callable) {
            if (obj.kind == Kind::String || obj.kind == Kind::List || obj.kind == Kind::Dict)
                throw JinjaError(std::string("unsupported method '") + callee.name + "' on a " + type_name(obj) +
                                 " value");
            if (fn.is_undefined()) throw_undefined(fn);
            throw JinjaError("'" + callee.name + "' is not callable");
        }
        collect_args(e, 1, args);
        return fn.fn->fn(args);
    }
    Value fn = eval(callee);
    if (fn.kind != Kind::Callable) {
        if (fn.is_undefined() && callee.kind == ExprKind::Name)
            throw JinjaError("unknown function '" + callee.name + "'");
        if (fn.is_undefined()) throw_undefined(fn);
        throw JinjaError(std::string("'") + type_name(fn) + "' object is not callable");
    }
    collect_args(e, 1, args);
    return fn.fn->fn(args);
}

// ---- operators -------------------------------------------------------------------------------
namespace {

[[noreturn]] void bad_operands(const std::string& op, const Value& a, const Value& b) {
    throw JinjaError("unsupported operand type(s) for " + op + ": '" + type_name(a) + "' and '" + type_name(b) + "'");
}

int64_t as_int(const Value& v) { return v.kind == Kind::Bool ? v.b : v.i; }

}  // namespace

Value Interpreter::binary(const std::string& op, const Value& a, const Value& b) {
    if (op == "~") {
        std::string s = to_str(a);
        s += to_str(b);
        check_size(s.size());
        return Value::string(std::move(s));
    }
    if (a.is_undefined()) throw_undefined(a);
    if (b.is_undefined()) throw_undefined(b);
    const bool ints = (a.kind == Kind::Int || a.kind == Kind::Bool) && (b.kind == Kind::Int || b.kind == Kind::Bool);
    const bool nums = a.is_number() && b.is_number();
    if (op == "+") {
        if (ints) {
            int64_t r;
            if (__builtin_add_overflow(as_int(a), as_int(b), &r)) throw JinjaError("integer overflow");
            return Value::integer(r);
        }
        if (nums) return Value::floating(a.as_double() + b.as_double());
        if (a.kind == Kind::String && b.kind == Kind::String) {
            check_size(a.s.size() + b.s.size());
            return Value::string(a.s + b.s);
        }
        if (a.kind == Kind::List && b.kind == Kind::List) {
            size_t total = a.list->items.size() + b.list->items.size();
            if (total > kMaxListItems) throw JinjaError("list too large: more than " + std::to_string(kMaxListItems) + " items");
            step(total / 16);  // charged before copying
            std::vector<Value> items = a.list->items;
            items.insert(items.end(), b.list->items.begin(), b.list->items.end());
            return Value::make_list(std::move(items), a.list->tuple);
        }
        bad_operands(op, a, b);
    }
    if (op == "-") {
        if (ints) {
            int64_t r;
            if (__builtin_sub_overflow(as_int(a), as_int(b), &r)) throw JinjaError("integer overflow");
            return Value::integer(r);
        }
        if (nums) return Value::floating(a.as_double() - b.as_double());
        bad_operands(op, a, b);
    }
    if (op == "*") {
        if (ints) {
            int64_t r;
            if (__builtin_mul_overflow(as_int(a), as_int(b), &r)) throw JinjaError("integer overflow");
            return Value::integer(r);
        }
        if (nums) return Value::floating(a.as_double() * b.as_double());
        const Value* seq = a.kind == Kind::String || a.kind == Kind::List ? &a : &b;
        const Value* cnt = seq == &a ? &b : &a;
        if ((seq->kind == Kind::String || seq->kind == Kind::List) && (cnt->kind == Kind::Int || cnt->kind == Kind::Bool)) {
            int64_t n = std::max<int64_t>(0, as_int(*cnt));
            // An empty sequence repeated is empty, however large n (looping n times took minutes: found by
            // fuzz_chat_template); otherwise n is bounded below by the output / list size checks.
            const bool empty = seq->kind == Kind::String ? seq->s.empty() : seq->list->items.empty();
            if (empty) n = 0;
            if (seq->kind == Kind::String) {
                if (n > 0 && seq->s.size() > limits_.max_output_bytes / static_cast<uint64_t>(n)) check_size(SIZE_MAX);
                std::string s;
                for (int64_t k = 0; k < n; ++k) s += seq->s;
                return Value::string(std::move(s));
            }
            uint64_t total = static_cast<uint64_t>(n) * seq->list->items.size();
            if ((n > 0 && total / static_cast<uint64_t>(n) != seq->list->items.size()) || total > kMaxListItems)
                throw JinjaError("list too large: more than " + std::to_string(kMaxListItems) + " items");
            step(total);
            std::vector<Value> items;
            for (int64_t k = 0; k < n; ++k) items.insert(items.end(), seq->list->items.begin(), seq->list->items.end());
            return Value::make_list(std::move(items), seq->list->tuple);
        }
        bad_operands(op, a, b);
    }
    if (op == "/") {
        if (!nums) bad_operands(op, a, b);
        if (b.as_double() == 0.0) throw JinjaError("division by zero");
        return Value::floating(a.as_double() / b.as_double());
    }
    if (op == "//" || op == "%") {
        if (!nums) {
            if (op == "%" && a.kind == Kind::String) throw JinjaError("unsupported: printf-style '%' string formatting");
            bad_operands(op, a, b);
        }
        if (ints) {
            int64_t x = as_int(a), y = as_int(b);
            if (y == 0) throw JinjaError(op == "%" ? "modulo by zero" : "integer division by zero");
            if (x == std::numeric_limits<int64_t>::min() && y == -1) throw JinjaError("integer overflow");
            int64_t q = x / y, r = x % y;
            if (r != 0 && ((r < 0) != (y < 0))) {  // Python floors toward negative infinity
                --q;
                r += y;
            }
            return Value::integer(op == "%" ? r : q);
        }
        double x = a.as_double(), y = b.as_double();
        if (y == 0.0) throw JinjaError(op == "%" ? "float modulo by zero" : "float floor division by zero");
        double r = std::fmod(x, y);
        if (r != 0 && ((r < 0) != (y < 0))) r += y;
        if (op == "%") return Value::floating(r);
        return Value::floating(std::floor(x / y));
    }
    if (op == "**") {
        if (ints && as_int(b) >= 0) {
            int64_t base = as_int(a), e = as_int(b), r = 1;
            for (int64_t k = 0; k < e; ++k) {
                if (__builtin_mul_overflow(r, base, &r)) throw JinjaError("integer overflow");
                if (r == 0 || r == 1) break;
                step();
            }
            return Value::integer(r);
        }
        if (nums) return Value::floating(std::pow(a.as_double(), b.as_double()));
        bad_operands(op, a, b);
    }
    throw JinjaError("unknown operator '" + op + "'");
}

bool Interpreter::compare(const std::string& op, const Value& a, const Value& b) {
    if (op == "==") return equals(a, b);
    if (op == "!=") return !equals(a, b);
    if (op == "in" || op == "not in") {
        bool found = false;
        if (b.kind == Kind::String) {
            if (a.kind != Kind::String)
                throw JinjaError(std::string("'in <string>' requires string as left operand, not ") + type_name(a));
            found = b.s.find(a.s) != std::string::npos;
        } else if (b.kind == Kind::List) {
            for (const Value& x : b.list->items)
                if (equals(a, x)) {
                    found = true;
                    break;
                }
        } else if (b.is_mapping()) {
            found = a.kind == Kind::String && b.dict->find(a.s) != nullptr;
        } else if (b.is_undefined()) {
            found = false;  // jinja2's Undefined iterates as empty
        } else {
            throw JinjaError(std::string("argument of type '") + type_name(b) + "' is not iterable");
        }
        return op == "in" ? found : !found;
    }
    int c;
    if (a.is_number() && b.is_number()) {
        double x = a.as_double(), y = b.as_double();
        if ((a.kind != Kind::Float) && (b.kind != Kind::Float)) {
            int64_t p = as_int(a), q = as_int(b);
            c = p < q ? -1 : p > q ? 1 : 0;
        } else {
            if (std::isnan(x) || std::isnan(y)) return false;
            c = x < y ? -1 : x > y ? 1 : 0;
        }
    } else if (a.kind == Kind::String && b.kind == Kind::String) {
        c = a.s.compare(b.s);  // UTF-8 byte order equals code point order
        c = c < 0 ? -1 : c > 0 ? 1 : 0;
    } else {
        if (a.is_undefined()) throw_undefined(a);
        if (b.is_undefined()) throw_undefined(b);
        throw JinjaError("'" + op + "' not supported between instances of '" + type_name(a) + "' and '" +
                         type_name(b) + "'");
    }
    if (op == "<") return c < 0;
    if (op == ">") return c > 0;
    if (op == "<=") return c <= 0;
    return c >= 0;
}

}  // namespace llm::jinja
