// Streamed tool calls are held back until the parser says they parsed, for every API: a call a client has seen
// (an OpenAI tool_calls delta, an Anthropic tool_use block) cannot be taken back, and the SDKs' accumulators read a
// cut input ({"city": "Par) as a valid one. A call that turns out malformed is never sent: the parser returns
// its text as content instead. Released calls keep their pieces (the first with id and name, then the
// arguments' fragments), so a long call still streams in several deltas once it is known to stand.
#pragma once
#include <algorithm>
#include <vector>

#include "constrain/tool_calls.hpp"

namespace llm::server {

class ToolCallGate {
public:
    // Takes one push's deltas; returns the held deltas of the calls parsed so far (ToolDelta::calls_parsed).
    std::vector<ToolCallDelta> pass(const std::vector<ToolCallDelta>& deltas, size_t calls_parsed) {
        for (const ToolCallDelta& d : deltas) {
            if (!d.name.empty()) announced_ = std::max(announced_, (size_t)d.index + 1);
            held_.push_back(d);
        }
        std::vector<ToolCallDelta> out;
        auto first_kept = std::stable_partition(held_.begin(), held_.end(),
                                                [&](const ToolCallDelta& d) { return (size_t)d.index < calls_parsed; });
        out.assign(std::make_move_iterator(held_.begin()), std::make_move_iterator(first_kept));
        held_.erase(held_.begin(), first_kept);
        return out;
    }
    // At the end of the output, with the calls that parsed: what is still held of them, and whole any call the
    // stream never announced. Held pieces of calls beyond them are dropped (their text came back as content).
    std::vector<ToolCallDelta> finish(const std::vector<ToolCall>& calls) {
        std::vector<ToolCallDelta> out = pass({}, calls.size());
        for (size_t i = announced_; i < calls.size(); ++i) out.push_back({(int)i, calls[i].id, calls[i].name, calls[i].arguments});
        announced_ = std::max(announced_, calls.size());
        held_.clear();
        return out;
    }

private:
    std::vector<ToolCallDelta> held_;  // deltas of announced calls not parsed yet, in order
    size_t announced_ = 0;             // calls whose first delta (id and name) came in
};

}  // namespace llm::server
