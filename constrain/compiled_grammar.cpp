// CompiledGrammar (include/llm/constrain.hpp): the public face of the GBNF parser and GrammarConstraint.
#include "constrain/constraint.hpp"
#include "constrain/grammar.hpp"
#include "llm/constrain.hpp"

namespace llm {

Expected<CompiledGrammar> CompiledGrammar::from_gbnf(std::string_view gbnf) {
    auto g = parse_gbnf(gbnf);
    if (!g) return g.status();
    return CompiledGrammar(std::make_shared<const Grammar>(std::move(*g)));
}

Expected<std::shared_ptr<TokenConstraint>> CompiledGrammar::constraint(const Tokenizer& tok) const {
    auto c = GrammarConstraint::create(*grammar_, tok);
    if (!c) return c.status();
    return std::shared_ptr<TokenConstraint>(std::move(*c));
}

}  // namespace llm
