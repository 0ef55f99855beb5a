// Recursive-descent parser for the Jinja subset. Precedence (loosest first), as in jinja2's parser.py:
// a if c else b / or / and / not / comparisons, in, not in / + - / ~ / * / // % / ** / unary - +
// / primary with postfix . [] () and then filters `|f` and tests `is t`.
#include "tokenizer/chat/jinja_parser.hpp"

#include <cerrno>
#include <cstdlib>
#include <initializer_list>

#include "tokenizer/chat/jinja_lexer.hpp"

namespace llm::jinja {
namespace {

constexpr int kMaxNesting = 200;  // expression and block nesting; bounds recursion in parser and evaluator

class Parser {
public:
    explicit Parser(std::vector<Token> toks) : t_(std::move(toks)) {}

    Program program() {
        Program p;
        std::string end;
        p.body = body({}, end);
        return p;
    }

private:
    std::vector<Token> t_;
    size_t i_ = 0;
    int depth_ = 0;

    struct DepthGuard {
        Parser& p;
        DepthGuard(Parser& pp, Pos pos) : p(pp) {
            if (++p.depth_ > kMaxNesting) throw JinjaError("template nested too deeply", pos);
        }
        ~DepthGuard() { --p.depth_; }
    };

    const Token& cur() const { return t_[i_]; }
    const Token& peek(size_t k = 1) const { return t_[std::min(i_ + k, t_.size() - 1)]; }
    Token next() { return t_[i_ < t_.size() - 1 ? i_++ : i_]; }
    bool is_op(std::string_view op) const { return cur().type == Tok::Op && cur().value == op; }
    bool is_name(std::string_view n) const { return cur().type == Tok::Name && cur().value == n; }
    bool skip_op(std::string_view op) {
        if (!is_op(op)) return false;
        ++i_;
        return true;
    }
    bool skip_name(std::string_view n) {
        if (!is_name(n)) return false;
        ++i_;
        return true;
    }

    static std::string describe(const Token& t) {
        switch (t.type) {
            case Tok::Text: return "template text";
            case Tok::VarBegin: return "'{{'";
            case Tok::VarEnd: return "'}}'";
            case Tok::BlockBegin: return "'{%'";
            case Tok::BlockEnd: return "'%}'";
            case Tok::Name: return "'" + t.value + "'";
            case Tok::String: return "string literal";
            case Tok::Int:
            case Tok::Float: return "number " + t.value;
            case Tok::Op: return "'" + t.value + "'";
            case Tok::Eof: return "end of template";
        }
        return "?";
    }

    [[noreturn]] void fail(const std::string& what) const {
        throw JinjaError(what + ", found " + describe(cur()), cur().pos);
    }
    void expect_op(std::string_view op) {
        if (!skip_op(op)) fail("expected '" + std::string(op) + "'");
    }
    void expect(Tok type, const char* what) {
        if (cur().type != type) fail(std::string("expected ") + what);
        ++i_;
    }
    std::string expect_name(const char* what) {
        if (cur().type != Tok::Name) fail(std::string("expected ") + what);
        return next().value;
    }

    static ExprPtr node(ExprKind k, Pos pos) {
        auto e = std::make_unique<Expr>();
        e->kind = k;
        e->pos = pos;
        return e;
    }
    static ExprPtr binary(ExprKind k, Pos pos, ExprPtr a, ExprPtr b, std::string op = {}) {
        auto e = node(k, pos);
        e->name = std::move(op);
        e->args.push_back(std::move(a));
        e->args.push_back(std::move(b));
        return e;
    }

    // ---- statements ------------------------------------------------------------------------
    // Parses statements until a block tag whose name is in `ends` (left after that name) or Eof.
    Body body(std::initializer_list<std::string_view> ends, std::string& found_end) {
        Body out;
        while (true) {
            const Token& t = cur();
            if (t.type == Tok::Eof) {
                if (ends.size() != 0) {
                    std::string list;
                    for (auto e : ends) list += (list.empty() ? "'" : " or '") + std::string(e) + "'";
                    throw JinjaError("unexpected end of template: expected " + list, t.pos);
                }
                found_end.clear();
                return out;
            }
            if (t.type == Tok::Text) {
                auto s = std::make_unique<Stmt>();
                s->kind = StmtKind::Text;
                s->pos = t.pos;
                s->text = t.value;
                out.push_back(std::move(s));
                ++i_;
                continue;
            }
            if (t.type == Tok::VarBegin) {
                auto s = std::make_unique<Stmt>();
                s->kind = StmtKind::Output;
                s->pos = t.pos;
                ++i_;
                s->expr = expression();
                expect(Tok::VarEnd, "'}}'");
                out.push_back(std::move(s));
                continue;
            }
            if (t.type != Tok::BlockBegin) fail("unexpected token");
            const Token& name = peek();
            if (name.type != Tok::Name) {
                ++i_;
                fail("expected a tag name after '{%'");
            }
            for (auto e : ends)
                if (name.value == e) {
                    i_ += 2;
                    found_end = name.value;
                    return out;
                }
            if (ends.size() != 0 && (name.value == "elif" || name.value == "else" || name.value.rfind("end", 0) == 0)) {
                std::string list;
                for (auto e : ends) list += (list.empty() ? "'" : " or '") + std::string(e) + "'";
                throw JinjaError("unexpected '" + name.value + "', expected " + list, name.pos);
            }
            ++i_;
            out.push_back(statement());
        }
    }

    StmtPtr statement() {
        Token name = next();
        DepthGuard g(*this, name.pos);
        auto s = std::make_unique<Stmt>();
        s->pos = name.pos;
        const std::string& n = name.value;
        if (n == "if") {
            s->kind = StmtKind::If;
            s->conditions.push_back(expression());
            expect(Tok::BlockEnd, "'%}'");
            while (true) {
                std::string end;
                s->bodies.push_back(body({"elif", "else", "endif"}, end));
                if (end == "elif") {
                    s->conditions.push_back(expression());
                    expect(Tok::BlockEnd, "'%}'");
                } else if (end == "else") {
                    expect(Tok::BlockEnd, "'%}'");
                    std::string end2;
                    s->bodies.push_back(body({"endif"}, end2));
                    expect(Tok::BlockEnd, "'%}'");
                    break;
                } else {
                    expect(Tok::BlockEnd, "'%}'");
                    break;
                }
            }
        } else if (n == "for") {
            s->kind = StmtKind::For;
            s->targets.push_back(expect_name("a loop variable name"));
            while (skip_op(",")) s->targets.push_back(expect_name("a loop variable name"));
            if (!skip_name("in")) fail("expected 'in' in for loop");
            s->expr = expression(/*condexpr=*/false);
            if (skip_name("if")) s->filter = expression();
            if (is_name("recursive")) throw JinjaError("unsupported: recursive for loops", cur().pos);
            expect(Tok::BlockEnd, "'%}'");
            std::string end;
            s->bodies.push_back(body({"else", "endfor"}, end));
            expect(Tok::BlockEnd, "'%}'");
            if (end == "else") {
                s->bodies.push_back(body({"endfor"}, end));
                expect(Tok::BlockEnd, "'%}'");
            }
        } else if (n == "set") {
            s->targets.push_back(expect_name("a variable name after 'set'"));
            if (skip_op(".")) {
                s->attr = expect_name("an attribute name");
            } else {
                while (skip_op(",")) s->targets.push_back(expect_name("a variable name"));
            }
            if (skip_op("=")) {
                s->kind = StmtKind::Set;
                s->expr = expression();
                if (is_op(",")) {  // `set a, b = 1, 2`: an implicit tuple
                    auto tup = node(ExprKind::TupleLit, s->expr->pos);
                    tup->args.push_back(std::move(s->expr));
                    while (skip_op(",")) tup->args.push_back(expression());
                    s->expr = std::move(tup);
                }
                expect(Tok::BlockEnd, "'%}'");
            } else {
                if (!s->attr.empty() || s->targets.size() != 1) fail("expected '='");
                if (cur().type == Tok::Op && cur().value == "|")
                    throw JinjaError("unsupported: filtered block set", cur().pos);
                expect(Tok::BlockEnd, "'%}' or '='");
                s->kind = StmtKind::SetBlock;
                std::string end;
                s->bodies.push_back(body({"endset"}, end));
                expect(Tok::BlockEnd, "'%}'");
            }
        } else if (n == "macro") {
            s->kind = StmtKind::Macro;
            s->text = expect_name("a macro name");
            expect_op("(");
            while (!is_op(")")) {
                std::string p = expect_name("a parameter name");
                ExprPtr dflt;
                if (skip_op("=")) dflt = expression();
                s->params.emplace_back(std::move(p), std::move(dflt));
                if (!skip_op(",")) break;
            }
            expect_op(")");
            expect(Tok::BlockEnd, "'%}'");
            std::string end;
            s->bodies.push_back(body({"endmacro"}, end));
            if (cur().type == Tok::Name) ++i_;  // {% endmacro name %}
            expect(Tok::BlockEnd, "'%}'");
        } else if (n == "break" || n == "continue") {
            s->kind = n == "break" ? StmtKind::Break : StmtKind::Continue;
            expect(Tok::BlockEnd, "'%}'");
        } else if (n == "generation") {
            // transformers' AssistantTracker extension: marks assistant text, renders its body unchanged.
            s->kind = StmtKind::Block;
            expect(Tok::BlockEnd, "'%}'");
            std::string end;
            s->bodies.push_back(body({"endgeneration"}, end));
            expect(Tok::BlockEnd, "'%}'");
        } else if (n == "elif" || n == "else" || n.rfind("end", 0) == 0) {
            throw JinjaError("unexpected '" + n + "' tag with no open block for it", name.pos);
        } else {
            throw JinjaError("unsupported tag '" + n + "'", name.pos);
        }
        return s;
    }

    // ---- expressions -----------------------------------------------------------------------
    ExprPtr expression(bool condexpr = true) { return condexpr ? cond_expr() : or_expr(); }

    ExprPtr cond_expr() {
        Pos pos = cur().pos;
        ExprPtr e = or_expr();
        while (skip_name("if")) {
            DepthGuard g(*this, pos);
            auto c = node(ExprKind::Cond, pos);
            ExprPtr cond = or_expr();
            ExprPtr other = skip_name("else") ? cond_expr() : nullptr;
            c->args.push_back(std::move(e));
            c->args.push_back(std::move(cond));
            c->args.push_back(std::move(other));
            e = std::move(c);
        }
        return e;
    }

    ExprPtr or_expr() {
        ExprPtr e = and_expr();
        while (is_name("or")) {
            Pos pos = next().pos;
            e = binary(ExprKind::Or, pos, std::move(e), and_expr());
        }
        return e;
    }

    ExprPtr and_expr() {
        ExprPtr e = not_expr();
        while (is_name("and")) {
            Pos pos = next().pos;
            e = binary(ExprKind::And, pos, std::move(e), not_expr());
        }
        return e;
    }

    ExprPtr not_expr() {
        if (is_name("not")) {
            Pos pos = next().pos;
            DepthGuard g(*this, pos);
            auto e = node(ExprKind::Not, pos);
            e->args.push_back(not_expr());
            return e;
        }
        return compare();
    }

    ExprPtr compare() {
        Pos pos = cur().pos;
        ExprPtr first = math1();
        ExprPtr cmp;
        while (true) {
            std::string op;
            if (cur().type == Tok::Op && (cur().value == "==" || cur().value == "!=" || cur().value == "<" ||
                                          cur().value == ">" || cur().value == "<=" || cur().value == ">=")) {
                op = next().value;
            } else if (is_name("in")) {
                ++i_;
                op = "in";
            } else if (is_name("not") && peek().type == Tok::Name && peek().value == "in") {
                i_ += 2;
                op = "not in";
            } else {
                break;
            }
            if (!cmp) {
                cmp = node(ExprKind::Compare, pos);
                cmp->args.push_back(std::move(first));
            }
            cmp->ops.push_back(op);
            cmp->args.push_back(math1());
        }
        return cmp ? std::move(cmp) : std::move(first);
    }

    ExprPtr math1() {
        ExprPtr e = concat();
        while (is_op("+") || is_op("-")) {
            Token op = next();
            e = binary(ExprKind::Binary, op.pos, std::move(e), concat(), op.value);
        }
        return e;
    }

    ExprPtr concat() {
        ExprPtr e = math2();
        while (is_op("~")) {
            Token op = next();
            e = binary(ExprKind::Binary, op.pos, std::move(e), math2(), "~");
        }
        return e;
    }

    ExprPtr math2() {
        ExprPtr e = pow_expr();
        while (is_op("*") || is_op("/") || is_op("//") || is_op("%")) {
            Token op = next();
            e = binary(ExprKind::Binary, op.pos, std::move(e), pow_expr(), op.value);
        }
        return e;
    }

    ExprPtr pow_expr() {
        ExprPtr e = unary(true);
        while (is_op("**")) {
            Token op = next();
            e = binary(ExprKind::Binary, op.pos, std::move(e), unary(true), "**");
        }
        return e;
    }

    ExprPtr unary(bool with_filter) {
        Pos pos = cur().pos;
        DepthGuard g(*this, pos);
        ExprPtr e;
        if (is_op("-") || is_op("+")) {
            bool neg = next().value == "-";
            e = node(neg ? ExprKind::Neg : ExprKind::Pos, pos);
            e->args.push_back(unary(false));
        } else {
            e = primary();
        }
        e = postfix(std::move(e));
        if (with_filter) e = filter_expr(std::move(e));
        return e;
    }

    ExprPtr primary() {
        const Token& t = cur();
        Pos pos = t.pos;
        if (t.type == Tok::Name) {
            std::string n = next().value;
            auto lit = [&](Value v) {
                auto e = node(ExprKind::Literal, pos);
                e->value = std::move(v);
                return e;
            };
            if (n == "true" || n == "True") return lit(Value::boolean(true));
            if (n == "false" || n == "False") return lit(Value::boolean(false));
            if (n == "none" || n == "None") return lit(Value::none());
            auto e = node(ExprKind::Name, pos);
            e->name = n;
            return e;
        }
        if (t.type == Tok::String) {
            std::string s = next().value;
            while (cur().type == Tok::String) s += next().value;  // adjacent literals concatenate
            auto e = node(ExprKind::Literal, pos);
            e->value = Value::string(std::move(s));
            return e;
        }
        if (t.type == Tok::Int || t.type == Tok::Float) {
            Token num = next();
            auto e = node(ExprKind::Literal, pos);
            errno = 0;
            if (num.type == Tok::Int) {
                long long v = std::strtoll(num.value.c_str(), nullptr, 10);
                if (errno == ERANGE) throw JinjaError("integer literal out of range: " + num.value, pos);
                e->value = Value::integer(v);
            } else {
                e->value = Value::floating(std::strtod(num.value.c_str(), nullptr));
            }
            return e;
        }
        if (skip_op("(")) {
            if (skip_op(")")) return node(ExprKind::TupleLit, pos);
            ExprPtr first = expression();
            if (!is_op(",")) {
                expect_op(")");
                return first;
            }
            auto tup = node(ExprKind::TupleLit, pos);
            tup->args.push_back(std::move(first));
            while (skip_op(",")) {
                if (is_op(")")) break;
                tup->args.push_back(expression());
            }
            expect_op(")");
            return tup;
        }
        if (skip_op("[")) {
            auto list = node(ExprKind::ListLit, pos);
            while (!is_op("]")) {
                list->args.push_back(expression());
                if (!skip_op(",")) break;
            }
            expect_op("]");
            return list;
        }
        if (skip_op("{")) {
            auto dict = node(ExprKind::DictLit, pos);
            while (!is_op("}")) {
                dict->args.push_back(expression());
                expect_op(":");
                dict->args.push_back(expression());
                if (!skip_op(",")) break;
            }
            expect_op("}");
            return dict;
        }
        fail("expected an expression");
    }

    ExprPtr postfix(ExprPtr e) {
        while (true) {
            if (is_op(".")) {
                Pos pos = next().pos;
                if (cur().type == Tok::Name) {
                    auto a = node(ExprKind::Attr, pos);
                    a->name = next().value;
                    a->args.push_back(std::move(e));
                    e = std::move(a);
                } else if (cur().type == Tok::Int) {
                    auto it = node(ExprKind::Item, pos);
                    auto idx = node(ExprKind::Literal, cur().pos);
                    idx->value = Value::integer(std::strtoll(next().value.c_str(), nullptr, 10));
                    it->args.push_back(std::move(e));
                    it->args.push_back(std::move(idx));
                    e = std::move(it);
                } else {
                    fail("expected an attribute name after '.'");
                }
            } else if (is_op("[")) {
                e = subscript(std::move(e));
            } else if (is_op("(")) {
                e = call(std::move(e));
            } else {
                return e;
            }
        }
    }

    ExprPtr subscript(ExprPtr target) {
        Pos pos = next().pos;  // '['
        DepthGuard g(*this, pos);
        ExprPtr parts[3];
        bool is_slice = false;
        if (!is_op(":")) parts[0] = expression();
        if (skip_op(":")) {
            is_slice = true;
            if (!is_op("]") && !is_op(":")) parts[1] = expression();
            if (skip_op(":"))
                if (!is_op("]")) parts[2] = expression();
        }
        expect_op("]");
        auto e = node(is_slice ? ExprKind::Slice : ExprKind::Item, pos);
        e->args.push_back(std::move(target));
        e->args.push_back(std::move(parts[0]));
        if (is_slice) {
            e->args.push_back(std::move(parts[1]));
            e->args.push_back(std::move(parts[2]));
        }
        return e;
    }

    // Parses "(args, k=v)" into e->args (after index `first`) and e->kwargs.
    void call_args(Expr& e) {
        expect_op("(");
        while (!is_op(")")) {
            if (is_op("*") || is_op("**")) throw JinjaError("unsupported: *args / **kwargs in calls", cur().pos);
            if (cur().type == Tok::Name && peek().type == Tok::Op && peek().value == "=") {
                std::string k = next().value;
                ++i_;
                e.kwargs.emplace_back(std::move(k), expression());
            } else {
                if (!e.kwargs.empty()) fail("positional argument after keyword argument");
                e.args.push_back(expression());
            }
            if (!skip_op(",")) break;
        }
        expect_op(")");
    }

    ExprPtr call(ExprPtr callee) {
        auto e = node(ExprKind::Call, cur().pos);
        DepthGuard g(*this, e->pos);
        e->args.push_back(std::move(callee));
        call_args(*e);
        return e;
    }

    ExprPtr filter_expr(ExprPtr e) {
        while (true) {
            if (is_op("|")) {
                Pos pos = next().pos;
                auto f = node(ExprKind::Filter, pos);
                f->name = expect_name("a filter name after '|'");
                while (skip_op(".")) f->name += "." + expect_name("a filter name");
                f->args.push_back(std::move(e));
                if (is_op("(")) call_args(*f);
                e = std::move(f);
            } else if (is_name("is")) {
                Pos pos = next().pos;
                auto t = node(ExprKind::Test, pos);
                t->negated = skip_name("not");
                t->name = expect_name("a test name after 'is'");
                while (skip_op(".")) t->name += "." + expect_name("a test name");
                t->args.push_back(std::move(e));
                if (is_op("(")) {
                    call_args(*t);
                } else if ((cur().type == Tok::Name || cur().type == Tok::String || cur().type == Tok::Int ||
                            cur().type == Tok::Float || is_op("(") || is_op("[") || is_op("{")) &&
                           !is_name("else") && !is_name("or") && !is_name("and")) {
                    if (is_name("is")) fail("cannot chain tests with 'is'");
                    DepthGuard g(*this, pos);
                    t->args.push_back(postfix(primary()));
                }
                e = std::move(t);
            } else if (is_op("(")) {
                e = call(std::move(e));
            } else {
                return e;
            }
        }
    }
};

}  // namespace

Program parse(std::string_view source) {
    return Parser(lex(source)).program();
}

}  // namespace llm::jinja
