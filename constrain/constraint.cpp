// GrammarConstraint: TokenConstraint on top of GrammarMatcher and TokenMasker.
#include "constrain/constraint.hpp"

#include "constrain/json_schema.hpp"
#include "tokenizer/tokenizer.hpp"

namespace llm {

GrammarConstraint::GrammarConstraint(std::shared_ptr<TokenMasker> masker, GrammarMatcher matcher)
    : masker_(std::move(masker)), matcher_(std::move(matcher)), mask_(masker_->mask_words(), 0) {}

Expected<std::shared_ptr<GrammarConstraint>> GrammarConstraint::create(const Grammar& grammar,
                                                                      std::shared_ptr<const VocabTrie> vocab,
                                                                      const ConstraintOptions& opts) {
    LLM_TRY(check_grammar(grammar));
    auto graph = std::make_shared<GrammarGraph>(compile_bytes(grammar), opts.limits);
    if (!graph->failure().empty()) return error("grammar: {}", graph->failure());
    auto masker = std::make_shared<TokenMasker>(graph, std::move(vocab), opts.mask);
    GrammarMatcher matcher(graph);
    return std::shared_ptr<GrammarConstraint>(new GrammarConstraint(std::move(masker), std::move(matcher)));
}

Expected<std::shared_ptr<GrammarConstraint>> GrammarConstraint::create(const Grammar& grammar, const Tokenizer& tok,
                                                                      const ConstraintOptions& opts) {
    return create(grammar, VocabTrie::from_tokenizer(tok), opts);
}

std::shared_ptr<GrammarConstraint> GrammarConstraint::fork() const {
    return std::shared_ptr<GrammarConstraint>(new GrammarConstraint(masker_, matcher_));
}

Expected<std::span<const uint64_t>> GrammarConstraint::allowed_tokens() {
    masker_->fill(matcher_.state(), mask_);
    {
        std::lock_guard lock(masker_->graph()->mutex());
        if (!masker_->graph()->failure().empty()) return error("constraint: {}", masker_->graph()->failure());
    }
    bool any = false;
    for (uint64_t w : mask_) any |= w != 0;
    if (!any) return error("constraint: no token of the vocabulary can continue the output here");
    return std::span<const uint64_t>(mask_);
}

Status GrammarConstraint::accept(int32_t token) {
    const VocabTrie& v = masker_->vocab();
    for (int32_t id : v.eog_ids) {
        if (id != token) continue;
        if (!matcher_.is_accepting()) return error("constraint: end of generation (token {}) before the output is complete", token);
        return {};
    }
    if (token < 0 || token >= v.n_vocab || v.node_of_token[token] == VocabTrie::kNoNode)
        return error("constraint: token {} is a special token, never allowed inside constrained output", token);
    if (!matcher_.accept_bytes(v.bytes_of(v.node_of_token[token])))
        return error("constraint: token {} does not continue the grammar here", token);
    return {};
}

Status GrammarConstraint::accept_text(std::string_view bytes) {
    if (!matcher_.accept_bytes(bytes)) return error("constraint: the text does not continue the grammar here");
    return {};
}

Expected<Grammar> grammar_from_text(ConstraintSource source, std::string_view text, const JsonSchemaOptions& schema) {
    if (source == ConstraintSource::Gbnf) {
        auto g = parse_gbnf(text);
        if (!g) return g.status().with_context("grammar");
        return g;
    }
    auto gbnf = json_schema_to_gbnf(text, schema);
    if (!gbnf) return gbnf.status().with_context("schema");
    auto g = parse_gbnf(*gbnf);
    if (!g) return g.status().with_context("schema (generated grammar)");
    return g;
}

}  // namespace llm
