// TokenMasker: per-stack vocabulary classification, uncertain-token checks, and the mask cache.
#include "constrain/token_mask.hpp"

#include <algorithm>

namespace llm {
namespace {

inline void set_bit(std::span<uint64_t> m, int32_t id) { m[id >> 6] |= uint64_t{1} << (id & 63); }
inline bool get_bit(std::span<const uint64_t> m, int32_t id) { return (m[id >> 6] >> (id & 63)) & 1; }

}  // namespace

TokenMasker::TokenMasker(std::shared_ptr<GrammarGraph> graph, std::shared_ptr<const VocabTrie> vocab, MaskOptions opts)
    : graph_(std::move(graph)), vocab_(std::move(vocab)), opts_(opts) {
    const size_t d = vocab_->max_depth + 1;
    walk_state_.resize(d);
    walk_cut_.resize(d);
    path_node_.resize(d);
}

MaskStats TokenMasker::stats() const {
    std::lock_guard lock(graph_->mutex());
    return stats_;
}

uint32_t TokenMasker::classify(uint32_t key, size_t uncertain_limit) {
    // Walks the whole trie from the stack `key`. A dead step prunes the subtree; if some state on the path to
    // it could complete into the cut (the frames below the cut would continue), the subtree's tokens are
    // uncertain instead of rejected.
    ++stats_.classifications;
    GrammarGraph& g = *graph_;
    const VocabTrie& v = *vocab_;
    TokenClass c;
    c.truncated = true;
    std::vector<int32_t> accepted;
    walk_state_[0] = g.state_of_node(key);
    walk_cut_[0] = g.reaches_cut(walk_state_[0]);
    const uint32_t n = static_cast<uint32_t>(v.n_nodes());
    for (uint32_t i = 1; i < n;) {
        const uint32_t d = v.depth[i];
        const uint32_t s = g.step(walk_state_[d - 1], v.byte[i]);
        if (s == GrammarGraph::kDead) {
            if (walk_cut_[d - 1]) {
                for (uint32_t j = i; j < v.end[i]; ++j)
                    if (v.has_tokens(j)) c.uncertain.push_back(j);
                if (c.uncertain.size() > uncertain_limit) {
                    c.too_uncertain = true;
                    c.uncertain.clear();
                    classes_.push_back(std::move(c));
                    return static_cast<uint32_t>(classes_.size() - 1);
                }
            }
            i = v.end[i];
            continue;
        }
        walk_state_[d] = s;
        walk_cut_[d] = walk_cut_[d - 1] || g.reaches_cut(s);
        for (uint32_t k = v.tok_begin[i]; k < v.tok_begin[i + 1]; ++k) accepted.push_back(v.token_ids[k]);
        ++i;
    }
    // A sparse list when it is smaller than the bitmask.
    if (accepted.size() * 32 > static_cast<size_t>(v.n_vocab)) {
        c.accepted_bits.assign(mask_words(), 0);
        for (int32_t id : accepted) set_bit(c.accepted_bits, id);
    } else {
        c.accepted_ids = std::move(accepted);
    }
    classes_.push_back(std::move(c));
    return static_cast<uint32_t>(classes_.size() - 1);
}

const TokenMasker::TokenClass& TokenMasker::class_for_top(uint32_t top) {
    auto it = top_class_.find(top);
    if (it != top_class_.end()) return classes_[it->second];
    uint32_t chosen = 0;
    for (int depth = std::max(1, opts_.first_cut_depth);; depth *= 2) {
        const uint32_t key = depth >= 64 ? top : graph_->truncate(top, depth);
        const bool truncated = key != top;
        auto k = key_class_.find(key);
        uint32_t idx;
        if (k != key_class_.end()) {
            idx = k->second;
        } else {
            idx = classify(key, truncated ? opts_.max_uncertain : SIZE_MAX);
            classes_[idx].truncated = truncated;
            key_class_.emplace(key, idx);
        }
        if (!classes_[idx].too_uncertain) {
            chosen = idx;
            break;
        }
    }
    top_class_.emplace(top, chosen);
    return classes_[chosen];
}

void TokenMasker::check_uncertain(uint32_t top, const TokenClass& c, std::span<uint64_t> mask) {
    // The uncertain tokens of this top against its real stack, in trie order: path_node_/walk_state_ hold
    // the current path, and each token only steps the bytes below its deepest ancestor on that path.
    GrammarGraph& g = *graph_;
    const VocabTrie& v = *vocab_;
    path_node_[0] = 0;
    walk_state_[0] = g.state_of_node(top);
    uint32_t cur_depth = 0;
    for (uint32_t u : c.uncertain) {
        bool all_set = true;
        for (uint32_t k = v.tok_begin[u]; k < v.tok_begin[u + 1] && all_set; ++k)
            all_set = get_bit(mask, v.token_ids[k]);
        if (all_set) continue;
        ++stats_.uncertain_checked;
        chain_.clear();
        uint32_t a = u;
        while (v.depth[a] > cur_depth || path_node_[v.depth[a]] != a) {
            chain_.push_back(a);
            a = v.parent[a];
        }
        uint32_t d = v.depth[a];
        uint32_t s = walk_state_[d];
        for (size_t k = chain_.size(); k-- > 0;) {
            const uint32_t node = chain_[k];
            if (s != GrammarGraph::kDead) s = g.step(s, v.byte[node]);
            ++d;
            path_node_[d] = node;
            walk_state_[d] = s;
        }
        cur_depth = d;
        if (s != GrammarGraph::kDead)
            for (uint32_t k = v.tok_begin[u]; k < v.tok_begin[u + 1]; ++k) set_bit(mask, v.token_ids[k]);
    }
}

void TokenMasker::fill(uint32_t state, std::span<uint64_t> mask) {
    std::lock_guard lock(graph_->mutex());
    fill_locked(state, mask);
}

void TokenMasker::fill_locked(uint32_t state, std::span<uint64_t> mask) {
    LLM_CHECK(mask.size() == mask_words());
    ++stats_.masks;
    if (opts_.mask_cache_entries > 0) {
        auto it = mask_cache_.find(state);
        if (it != mask_cache_.end()) {
            std::copy(it->second.begin(), it->second.end(), mask.begin());
            ++stats_.mask_cache_hits;
            return;
        }
    }
    std::fill(mask.begin(), mask.end(), 0);
    // Copies: classification interns new states, which may move the graph's storage of these tops.
    const auto tops_view = graph_->tops(state);
    const std::vector<uint32_t> tops(tops_view.begin(), tops_view.end());
    std::vector<uint32_t> cls(tops.size());
    for (size_t i = 0; i < tops.size(); ++i) {
        class_for_top(tops[i]);
        cls[i] = top_class_.at(tops[i]);
    }
    for (uint32_t idx : cls) {
        const TokenClass& c = classes_[idx];
        if (!c.accepted_bits.empty())
            for (size_t w = 0; w < mask.size(); ++w) mask[w] |= c.accepted_bits[w];
        for (int32_t id : c.accepted_ids) set_bit(mask, id);
    }
    for (size_t i = 0; i < tops.size(); ++i)
        if (!classes_[cls[i]].uncertain.empty()) check_uncertain(tops[i], classes_[cls[i]], mask);
    if (graph_->accepting(state))
        for (int32_t id : vocab_->eog_ids)
            if (id >= 0 && id < vocab_->n_vocab) set_bit(mask, id);
    if (opts_.mask_cache_entries > 0 && graph_->failure().empty()) {
        if (mask_cache_order_.size() >= opts_.mask_cache_entries) {
            mask_cache_.erase(mask_cache_order_.front());
            mask_cache_order_.pop_front();
        }
        mask_cache_.emplace(state, std::vector<uint64_t>(mask.begin(), mask.end()));
        mask_cache_order_.push_back(state);
    }
}

}  // namespace llm
