// AST of the Jinja subset: expressions and statements, each with its source position for error messages.
#pragma once
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "tokenizer/chat/jinja_error.hpp"
#include "tokenizer/chat/jinja_value.hpp"

namespace llm::jinja {

struct Expr;
struct Stmt;
using ExprPtr = std::unique_ptr<Expr>;
using StmtPtr = std::unique_ptr<Stmt>;
using Body = std::vector<StmtPtr>;

enum class ExprKind {
    Literal,   // value
    Name,      // name
    ListLit,   // args = items
    TupleLit,  // args = items
    DictLit,   // args = k0, v0, k1, v1, ...
    Attr,      // args[0].name
    Item,      // args[0][args[1]]
    Slice,     // args[0][args[1]:args[2]:args[3]] (null = omitted)
    Call,      // args[0](args[1..], kwargs)
    Filter,    // args[0] | name(args[1..], kwargs)
    Test,      // args[0] is [not] name(args[1..]); negated
    Neg,       // -args[0]
    Pos,       // +args[0]
    Not,       // not args[0]
    And,       // args[0] and args[1]
    Or,        // args[0] or args[1]
    Binary,    // args[0] op args[1] for + - * / // % ** ~
    Compare,   // args[0] ops[0] args[1] ops[1] args[2] ... (Python chaining)
    Cond,      // args[0] if args[1] else args[2] (args[2] may be null)
};

struct Expr {
    ExprKind kind;
    Pos pos;
    Value value;                                        // Literal
    std::string name;                                   // Name, Attr, Filter, Test; operator for Binary
    std::vector<ExprPtr> args;
    std::vector<std::pair<std::string, ExprPtr>> kwargs;  // Call, Filter
    std::vector<std::string> ops;                       // Compare
    bool negated = false;                               // Test
};

enum class StmtKind { Text, Output, If, For, Set, SetBlock, Macro, Break, Continue, Block };

struct Stmt {
    StmtKind kind;
    Pos pos;
    std::string text;                       // Text
    ExprPtr expr;                           // Output; Set value; For iterable
    // If: conditions[i] guards bodies[i]; a trailing extra body is the else branch.
    std::vector<ExprPtr> conditions;
    std::vector<Body> bodies;
    // For: loop targets (one name, or several to unpack), optional `if` filter, body = bodies[0], else = bodies[1].
    std::vector<std::string> targets;
    ExprPtr filter;
    // Set: targets (one or several names) or attribute target `name.attr` (attr non-empty); SetBlock: body.
    std::string attr;
    // Macro: name in text, parameters with optional defaults, body = bodies[0].
    std::vector<std::pair<std::string, ExprPtr>> params;
};

struct Program {
    Body body;
};

}  // namespace llm::jinja
