// The last prompt of each conversation (by session id), so the access log can say where a new prompt left the
// previous one: in an agent's conversation a prefix-cache miss almost always means the prompt changed early (a
// per-request header value, a reordered tool list), and the first differing token says where. It also tells a
// session's main thread from its side requests, so the engine can keep the main thread's prefix cached.
#pragma once
#include <cstdint>
#include <list>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

namespace llm::server {

class PromptHistory {
public:
    explicit PromptHistory(size_t max_sessions = 64) : max_sessions_(max_sessions) {}

    struct Recorded {
        int64_t diverged_at = -1;  // -1 when the prompt extends one of the session's (or the session is new), else
                                   // the longest common prefix with any of them: where it left the closest one
        bool main_thread = true;   // at least as long as every prompt the session keeps: its main conversation,
                                   // not one of the side requests (titles, summaries) sent between its turns
    };

    // Records `tokens` as one of the session's latest prompts. A session keeps a few prompts, since an agent's
    // side requests share its session id; the new prompt replaces the one it continues or edits (the closest, when
    // not longer than the new one), else it is kept beside them, the oldest forgotten. Thread-safe; the least
    // recently seen session is forgotten beyond max_sessions.
    Recorded record(const std::string& session, const std::vector<int32_t>& tokens) {
        std::lock_guard lock(mu_);
        auto it = index_.find(session);
        if (it == index_.end()) {
            lru_.emplace_front(session, std::vector<std::vector<int32_t>>{tokens});
            index_[session] = lru_.begin();
            if (lru_.size() > max_sessions_) {
                index_.erase(lru_.back().first);
                lru_.pop_back();
            }
            return {};
        }
        lru_.splice(lru_.begin(), lru_, it->second);  // most recently seen first
        std::vector<std::vector<int32_t>>& prompts = it->second->second;
        size_t best = 0, best_n = 0;
        bool extends = false;
        for (size_t i = 0; i < prompts.size(); ++i) {
            const std::vector<int32_t>& prev = prompts[i];
            size_t n = 0;
            while (n < prev.size() && n < tokens.size() && prev[n] == tokens[n]) ++n;
            if (n > best_n || (n == prev.size() && !extends)) best = i, best_n = n;
            extends |= n == prev.size();
        }
        Recorded r;
        r.diverged_at = extends ? -1 : (int64_t)best_n;
        for (const std::vector<int32_t>& p : prompts) r.main_thread &= p.size() <= tokens.size();
        if (best_n > 0 && tokens.size() >= prompts[best].size()) {  // the thread goes on (or was edited)
            prompts[best] = tokens;
        } else {  // a new thread, or a shorter one branching off (a summary): kept beside, the oldest forgotten
            if (prompts.size() >= kPromptsPerSession) prompts.erase(prompts.begin());
            prompts.push_back(tokens);
        }
        return r;
    }

private:
    static constexpr size_t kPromptsPerSession = 4;
    using Entry = std::pair<std::string, std::vector<std::vector<int32_t>>>;
    size_t max_sessions_;
    std::mutex mu_;
    std::list<Entry> lru_;  // most recent first
    std::unordered_map<std::string, std::list<Entry>::iterator> index_;
};

}  // namespace llm::server
