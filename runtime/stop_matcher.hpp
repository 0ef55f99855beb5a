// Stop strings matched across token boundaries: streamed text is held back while it could still be the
// start of a stop string, and cut before the first complete one.
#pragma once
#include <string>
#include <string_view>
#include <vector>

namespace llm {

class StopMatcher {
public:
    explicit StopMatcher(std::vector<std::string> stops);
    // Feeds newly decoded text; returns the text that is now safe to show. Once a stop string appears,
    // returns the text before it and stopped() becomes true (further input is ignored).
    std::string push(std::string_view text);
    // End of generation: returns the held-back text (empty after a stop).
    std::string flush();
    bool stopped() const { return stopped_; }
    const std::string& matched() const { return matched_; }  // the stop string found, if any

private:
    std::vector<std::string> stops_;
    std::string held_;
    std::string matched_;
    bool stopped_ = false;
};

}  // namespace llm
