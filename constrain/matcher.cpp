// GrammarGraph: hash-consed stacks, interned stack sets and their cached byte transitions; GrammarMatcher.
#include "constrain/matcher.hpp"

#include <algorithm>

namespace llm {
namespace {

uint64_t mix(uint64_t h, uint64_t x) {
    h = (h ^ x) * 0x9E3779B97F4A7C15ull;
    return h ^ (h >> 29);
}

}  // namespace

GrammarGraph::GrammarGraph(ByteProgram program, MatcherLimits limits) : prog_(std::move(program)), lim_(limits) {
    nodes_.push_back({UINT32_MAX, kRoot});  // kRoot
    nodes_.push_back({UINT32_MAX, kCut});   // kCut
    // State 0 is the dead state: no stacks, no flags.
    state_begin_.push_back(0);
    flags_.push_back(0);
    trans_.emplace_back();
    seeds_.clear();
    for (uint32_t a = prog_.rule_alts[prog_.root]; a < prog_.rule_alts[prog_.root + 1]; ++a)
        seeds_.push_back(seed(prog_.alt_starts[a], kRoot));
    initial_ = closure(seeds_);
}

void GrammarGraph::set_failure(std::string msg) {
    if (failure_.empty()) failure_ = std::move(msg);
}

uint32_t GrammarGraph::intern_node(uint32_t pos, uint32_t parent) {
    const uint64_t key = (uint64_t{pos} << 32) | parent;
    auto it = node_ids_.find(key);
    if (it != node_ids_.end()) return it->second;
    if (nodes_.size() >= lim_.max_nodes) {
        set_failure(fmt::format("the grammar matcher exceeded its limit of {} stack nodes", lim_.max_nodes));
        return kRoot;  // callers check failure_
    }
    const uint32_t id = static_cast<uint32_t>(nodes_.size());
    nodes_.push_back({pos, parent});
    node_ids_.emplace(key, id);
    return id;
}

uint32_t GrammarGraph::closure(std::vector<uint32_t>& seeds) {
    // Expands the seeds (stacks about to run their top position) until every stack's top is a byte set:
    // a rule reference pushes a return frame (none in tail position, so loops do not grow the stack) and
    // starts each alternative; End pops. Stacks are hash-consed, so a stack reached twice is expanded once.
    // No left recursion (check_grammar) means this terminates.
    if (++stamp_ == 0) {
        std::fill(mark_.begin(), mark_.end(), 0);
        stamp_ = 1;
    }
    work_.assign(seeds.begin(), seeds.end());
    scratch_tops_.clear();
    uint8_t flags = 0;
    while (!work_.empty() && failure_.empty()) {
        const uint32_t n = work_.back();
        work_.pop_back();
        if (n == kRoot) {
            flags |= kFlagAccept;
            continue;
        }
        if (n == kCut) {
            flags |= kFlagCut;
            continue;
        }
        if (n >= mark_.size()) mark_.resize(std::max<size_t>(nodes_.size(), mark_.size() * 2), 0);
        if (mark_[n] == stamp_) continue;
        mark_[n] = stamp_;
        const Node nd = nodes_[n];
        const ByteElem e = prog_.elems[nd.pos];
        if (e.op == ByteElem::Bytes) {
            scratch_tops_.push_back(n);
            if (scratch_tops_.size() > lim_.max_stacks)
                set_failure(fmt::format("the grammar matcher exceeded its limit of {} parallel stacks (the grammar "
                                        "is too ambiguous)",
                                        lim_.max_stacks));
        } else if (e.op == ByteElem::Rule) {
            const uint32_t ret = prog_.elems[nd.pos + 1].op == ByteElem::End ? nd.parent : intern_node(nd.pos + 1, nd.parent);
            for (uint32_t a = prog_.rule_alts[e.arg]; a < prog_.rule_alts[e.arg + 1]; ++a)
                work_.push_back(seed(prog_.alt_starts[a], ret));
        } else {
            work_.push_back(nd.parent);
        }
    }
    if (!failure_.empty()) return kDead;
    std::sort(scratch_tops_.begin(), scratch_tops_.end());
    return intern_state(scratch_tops_, flags);
}

uint32_t GrammarGraph::intern_state(std::vector<uint32_t>& tops, uint8_t flags) {
    if (tops.empty() && flags == 0) return kDead;
    uint64_t h = mix(0x243F6A8885A308D3ull, flags);
    for (uint32_t t : tops) h = mix(h, t);
    auto [lo, hi] = state_ids_.equal_range(h);
    for (auto it = lo; it != hi; ++it) {
        const uint32_t s = it->second;
        const auto have = this->tops(s);
        if (flags_[s] == flags && have.size() == tops.size() && std::equal(have.begin(), have.end(), tops.begin()))
            return s;
    }
    if (flags_.size() >= lim_.max_states) {
        set_failure(fmt::format("the grammar matcher exceeded its limit of {} states", lim_.max_states));
        return kDead;
    }
    const uint32_t id = static_cast<uint32_t>(flags_.size());
    tops_.insert(tops_.end(), tops.begin(), tops.end());
    state_begin_.push_back(static_cast<uint32_t>(tops_.size()));
    flags_.push_back(flags);
    trans_.emplace_back();
    state_ids_.emplace(h, id);
    return id;
}

uint32_t GrammarGraph::step(uint32_t state, uint8_t byte) {
    {
        const Transitions& t = trans_[state];
        if (t.dense) {
            const uint32_t v = (*t.dense)[byte];
            if (v != kUnknown) return v;
        } else {
            for (uint8_t i = 0; i < t.n; ++i)
                if (t.bytes[i] == byte) return t.next[i];
        }
    }
    if (!failure_.empty()) return kDead;
    seeds_.clear();
    for (uint32_t top : tops(state)) {
        const Node nd = nodes_[top];
        if (byte_set_has(prog_.byte_sets[prog_.elems[nd.pos].arg], byte)) seeds_.push_back(seed(nd.pos + 1, nd.parent));
    }
    const uint32_t next = seeds_.empty() ? kDead : closure(seeds_);
    if (!failure_.empty()) return kDead;
    Transitions& t = trans_[state];  // re-fetched: closure() may have grown trans_
    if (!t.dense && t.n < t.bytes.size()) {
        t.bytes[t.n] = byte;
        t.next[t.n++] = next;
    } else {
        if (!t.dense) {
            t.dense = std::make_unique<std::array<uint32_t, 256>>();
            t.dense->fill(kUnknown);
            for (uint8_t i = 0; i < t.n; ++i) (*t.dense)[t.bytes[i]] = t.next[i];
        }
        (*t.dense)[byte] = next;
    }
    return next;
}

uint32_t GrammarGraph::state_of_node(uint32_t node) {
    seeds_.assign(1, node);
    return closure(seeds_);
}

uint32_t GrammarGraph::truncate(uint32_t node, int depth) {
    std::array<uint32_t, 64> pos;
    depth = std::min<int>(depth, static_cast<int>(pos.size()));
    uint32_t n = node;
    int k = 0;
    for (; k < depth; ++k) {
        if (n == kRoot || n == kCut) return node;
        pos[k] = nodes_[n].pos;
        n = nodes_[n].parent;
    }
    if (n == kRoot || n == kCut) return node;
    uint32_t cur = kCut;
    for (int i = k - 1; i >= 0; --i) cur = intern_node(pos[i], cur);
    return cur;
}

// ---- GrammarMatcher ------------------------------------------------------------------------------

GrammarMatcher::GrammarMatcher(std::shared_ptr<GrammarGraph> graph) : graph_(std::move(graph)) {
    state_ = graph_->initial_state();
}

bool GrammarMatcher::accept_byte(uint8_t b) {
    std::lock_guard lock(graph_->mutex());
    const uint32_t s = graph_->step(state_, b);
    if (s == GrammarGraph::kDead) return false;
    state_ = s;
    return true;
}

bool GrammarMatcher::accept_bytes(std::string_view bytes) {
    std::lock_guard lock(graph_->mutex());
    uint32_t s = state_;
    for (char c : bytes) {
        s = graph_->step(s, static_cast<uint8_t>(c));
        if (s == GrammarGraph::kDead) return false;
    }
    state_ = s;
    return true;
}

bool GrammarMatcher::is_accepting() const {
    std::lock_guard lock(graph_->mutex());
    return graph_->accepting(state_);
}

bool GrammarMatcher::can_continue() const {
    std::lock_guard lock(graph_->mutex());
    return !graph_->tops(state_).empty();
}

void GrammarMatcher::reset() { state_ = graph_->initial_state(); }

}  // namespace llm
