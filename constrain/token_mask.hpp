// Allowed-token bitmasks for a matcher state over a vocabulary, fast enough to run before every sample.
//
// Three caches, from coarse to fine:
//  1. Per stack top, a classification of the whole vocabulary (XGrammar's "adaptive token mask cache",
//     done over our hash-consed stacks): walking the vocabulary trie from the top few frames of the stack
//     with a cut below them sorts every token into accepted (matched within those frames, whatever lies
//     below), rejected, or uncertain (it reaches the cut, so it depends on the frames below). The key is the
//     truncated stack, so the classification is shared by every context with the same top frames (the
//     inside of any JSON string, say). When too many tokens are uncertain, the cut moves deeper.
//  2. At mask time only the uncertain tokens are checked against the real stack, walking them in trie order
//     so shared prefixes are stepped once.
//  3. Whole masks by matcher state, for states that repeat.
#pragma once
#include <cstdint>
#include <deque>
#include <memory>
#include <span>
#include <unordered_map>
#include <vector>

#include "constrain/matcher.hpp"
#include "constrain/vocab_trie.hpp"

namespace llm {

struct MaskOptions {
    int first_cut_depth = 4;             // stack frames kept above the cut in the first classification
    size_t max_uncertain = 1500;         // more uncertain tokens than this: classify again with a deeper cut
    size_t mask_cache_entries = 1024;    // whole masks kept by state (0: off)
};

struct MaskStats {
    size_t masks = 0, mask_cache_hits = 0, classifications = 0, uncertain_checked = 0;
};

// Shared by the matchers of one grammar and vocabulary; each call locks the graph's mutex.
class TokenMasker {
public:
    TokenMasker(std::shared_ptr<GrammarGraph> graph, std::shared_ptr<const VocabTrie> vocab, MaskOptions opts = {});

    size_t mask_words() const { return (static_cast<size_t>(vocab_->n_vocab) + 63) / 64; }
    // Bit t of `mask` (word t / 64, bit t % 64) = token t may come next in `state`. mask has mask_words().
    void fill(uint32_t state, std::span<uint64_t> mask);
    const VocabTrie& vocab() const { return *vocab_; }
    const std::shared_ptr<GrammarGraph>& graph() const { return graph_; }
    MaskStats stats() const;

private:
    // The vocabulary sorted for one truncated stack.
    struct TokenClass {
        std::vector<uint64_t> accepted_bits;   // used when many tokens are accepted
        std::vector<int32_t> accepted_ids;     // used when few are
        std::vector<uint32_t> uncertain;       // trie nodes (preorder) whose tokens need the real stack
        bool truncated = false;
        bool too_uncertain = false;            // gave up: classify with a deeper cut instead
    };

    const TokenClass& class_for_top(uint32_t top);
    uint32_t classify(uint32_t key, size_t uncertain_limit);
    void check_uncertain(uint32_t top, const TokenClass& c, std::span<uint64_t> mask);
    void fill_locked(uint32_t state, std::span<uint64_t> mask);

    std::shared_ptr<GrammarGraph> graph_;
    std::shared_ptr<const VocabTrie> vocab_;
    MaskOptions opts_;
    std::vector<TokenClass> classes_;
    std::unordered_map<uint32_t, uint32_t> key_class_;  // truncated stack node -> classes_ index
    std::unordered_map<uint32_t, uint32_t> top_class_;  // real stack top -> classes_ index
    std::unordered_map<uint32_t, std::vector<uint64_t>> mask_cache_;
    std::deque<uint32_t> mask_cache_order_;             // FIFO eviction
    MaskStats stats_;
    // Scratch for the trie walks.
    std::vector<uint32_t> walk_state_, path_node_, chain_;
    std::vector<uint8_t> walk_cut_;
};

}  // namespace llm
