// The byte-level recognizer: a pushdown matcher over a ByteProgram whose stacks are hash-consed nodes
// (pos, parent), so equal stacks are one id and a set of stacks is a sorted id list. Each distinct set is
// interned as a state, and transitions between states are computed once and cached (a DFA over stack sets
// built lazily), which makes stepping a byte a table lookup once the grammar has been there before.
// A matcher is a (graph, state) pair: copying one is a checkpoint.
#pragma once
#include <array>
#include <cstdint>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "constrain/byte_program.hpp"

namespace llm {

struct MatcherLimits {
    size_t max_nodes = 8u << 20;      // distinct stack nodes
    size_t max_states = 1u << 20;     // distinct stack sets
    size_t max_stacks = 20000;        // stacks alive at once (an ambiguous grammar can multiply them)
};

// Shared by all matchers of one grammar. Not thread-safe by itself: callers hold mutex() (GrammarMatcher
// and TokenMasker do).
class GrammarGraph {
public:
    static constexpr uint32_t kRoot = 0;  // node: the bottom of every real stack (reaching it = accept)
    static constexpr uint32_t kCut = 1;   // node: the bottom of a truncated stack (reaching it = context needed)
    static constexpr uint32_t kDead = 0;  // state: no stack left, not accepting

    GrammarGraph(ByteProgram program, MatcherLimits limits = {});

    uint32_t initial_state() const { return initial_; }
    uint32_t step(uint32_t state, uint8_t byte);
    bool accepting(uint32_t state) const { return flags_[state] & kFlagAccept; }
    bool reaches_cut(uint32_t state) const { return flags_[state] & kFlagCut; }
    std::span<const uint32_t> tops(uint32_t state) const {
        return {tops_.data() + state_begin_[state], tops_.data() + state_begin_[state + 1]};
    }
    // The state holding exactly the stack `node` (a stack whose top is at a byte-set position).
    uint32_t state_of_node(uint32_t node);
    // The top `depth` frames of the stack `node` over kCut, or `node` itself when it has no more frames.
    uint32_t truncate(uint32_t node, int depth);
    // Set once a limit was exceeded; every step then returns kDead.
    const std::string& failure() const { return failure_; }
    const ByteProgram& program() const { return prog_; }
    size_t n_nodes() const { return nodes_.size(); }
    size_t n_states() const { return flags_.size(); }
    std::mutex& mutex() { return mu_; }

private:
    static constexpr uint8_t kFlagAccept = 1, kFlagCut = 2;
    static constexpr uint32_t kUnknown = UINT32_MAX;
    struct Node {
        uint32_t pos, parent;
    };
    // Transitions: up to 6 inline, then a full table (most states are stepped with a few distinct bytes).
    struct Transitions {
        uint8_t n = 0;
        std::array<uint8_t, 6> bytes{};
        std::array<uint32_t, 6> next{};
        std::unique_ptr<std::array<uint32_t, 256>> dense;
    };

    uint32_t intern_node(uint32_t pos, uint32_t parent);
    // The node that continues at `pos` with continuation `parent`; an End position returns to parent at once.
    uint32_t seed(uint32_t pos, uint32_t parent) {
        return prog_.elems[pos].op == ByteElem::End ? parent : intern_node(pos, parent);
    }
    uint32_t closure(std::vector<uint32_t>& seeds);
    uint32_t intern_state(std::vector<uint32_t>& tops, uint8_t flags);
    void set_failure(std::string msg);

    ByteProgram prog_;
    MatcherLimits lim_;
    std::mutex mu_;
    std::string failure_;
    std::vector<Node> nodes_;
    std::unordered_map<uint64_t, uint32_t> node_ids_;
    std::vector<uint32_t> state_begin_{0};  // tops of state s: tops_[state_begin_[s] .. state_begin_[s + 1])
    std::vector<uint32_t> tops_;
    std::vector<uint8_t> flags_;
    std::vector<Transitions> trans_;
    std::unordered_multimap<uint64_t, uint32_t> state_ids_;  // hash of (tops, flags) -> state
    uint32_t initial_ = kDead;
    // Scratch for closure(), kept to avoid allocations per step.
    std::vector<uint32_t> mark_;
    uint32_t stamp_ = 0;
    std::vector<uint32_t> work_, scratch_tops_, seeds_;
};

// A position in the grammar. Cheap to copy (a checkpoint). Methods lock the shared graph.
class GrammarMatcher {
public:
    explicit GrammarMatcher(std::shared_ptr<GrammarGraph> graph);

    // Advances past one byte; false (and no change) if the byte cannot come next.
    bool accept_byte(uint8_t b);
    // Advances past all bytes, or returns false and leaves the matcher unchanged.
    bool accept_bytes(std::string_view bytes);
    // True when the bytes so far are a complete match (end of output allowed here).
    bool is_accepting() const;
    // True when at least one more byte can come next.
    bool can_continue() const;
    void reset();

    uint32_t state() const { return state_; }
    const std::shared_ptr<GrammarGraph>& graph() const { return graph_; }

private:
    std::shared_ptr<GrammarGraph> graph_;
    uint32_t state_;
};

}  // namespace llm
