// The last prompt of each conversation (by session id), so the access log can say where a new prompt left the
// previous one: in an agent's conversation a prefix-cache miss almost always means the prompt changed early (a
// per-request header value, a reordered tool list), and the first differing token says where.
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

    // Records `tokens` as one of the session's latest prompts. Returns -1 when they extend one of them (or the
    // session is new), else the longest common prefix with any of them: where the prompt left the closest one.
    // A session keeps a few prompts, since an agent's side requests (titles, summaries) share its session id;
    // the new prompt replaces the one it continues (the closest), else the oldest. Thread-safe; the least
    // recently seen session is forgotten beyond max_sessions.
    int64_t record(const std::string& session, const std::vector<int32_t>& tokens) {
        std::lock_guard lock(mu_);
        auto it = index_.find(session);
        if (it == index_.end()) {
            lru_.emplace_front(session, std::vector<std::vector<int32_t>>{tokens});
            index_[session] = lru_.begin();
            if (lru_.size() > max_sessions_) {
                index_.erase(lru_.back().first);
                lru_.pop_back();
            }
            return -1;
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
        if (best_n > 0) {
            prompts[best] = tokens;
        } else {  // a new thread of the session: keep it, forgetting the one recorded first
            if (prompts.size() >= kPromptsPerSession) prompts.erase(prompts.begin());
            prompts.push_back(tokens);
        }
        return extends ? -1 : (int64_t)best_n;
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
