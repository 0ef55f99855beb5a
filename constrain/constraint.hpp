// GrammarConstraint: the sampler's TokenConstraint for a grammar (GBNF or compiled from a JSON schema) over
// a tokenizer's vocabulary, plus the frontends' entry points (text in, constraint or one-line error out).
#pragma once
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "constrain/grammar.hpp"
#include "constrain/matcher.hpp"
#include "constrain/token_mask.hpp"
#include "constrain/vocab_trie.hpp"
#include "llm/constrain.hpp"  // JsonSchemaOptions
#include "runtime/sampler.hpp"  // the TokenConstraint interface only (header; no link dependency on llm_models)

namespace llm {

class Tokenizer;

struct ConstraintOptions {
    MatcherLimits limits;
    MaskOptions mask;
};

class GrammarConstraint final : public TokenConstraint {
public:
    // Compiles the grammar to bytes and binds it to the vocabulary. The vocabulary trie can be shared by
    // every grammar of one model (VocabTrie::from_tokenizer).
    static Expected<std::shared_ptr<GrammarConstraint>> create(const Grammar& grammar,
                                                               std::shared_ptr<const VocabTrie> vocab,
                                                               const ConstraintOptions& opts = {});
    static Expected<std::shared_ptr<GrammarConstraint>> create(const Grammar& grammar, const Tokenizer& tok,
                                                               const ConstraintOptions& opts = {});

    // A constraint at the same position sharing the compiled grammar and every cache (one per sequence).
    std::shared_ptr<GrammarConstraint> fork() const;

    Expected<std::span<const uint64_t>> allowed_tokens() override;
    Status accept(int32_t token) override;
    // Advances past text that came from elsewhere (a lazy constraint's trigger); an error and no change if
    // the grammar cannot continue with it.
    Status accept_text(std::string_view bytes);
    bool is_complete() const override { return matcher_.is_accepting(); }
    void reset() override { matcher_.reset(); }

    const GrammarMatcher& matcher() const { return matcher_; }
    TokenMasker& masker() const { return *masker_; }

private:
    GrammarConstraint(std::shared_ptr<TokenMasker> masker, GrammarMatcher matcher);

    std::shared_ptr<TokenMasker> masker_;
    GrammarMatcher matcher_;
    std::vector<uint64_t> mask_;
};

// What a frontend asked for: GBNF text or a JSON schema (text, compiled with `schema` bounds). Errors say which
// and where.
enum class ConstraintSource { Gbnf, JsonSchema };
Expected<Grammar> grammar_from_text(ConstraintSource source, std::string_view text,
                                   const JsonSchemaOptions& schema = {});

}  // namespace llm
