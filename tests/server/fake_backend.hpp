// A model-free Backend for the HTTP tests: one token per byte (id = byte + 1, 0 = end of generation), chat
// prompts rendered as "role: content\n", and a generator that streams a fixed reply from a worker thread, with
// a per-token delay and a gate that holds requests back (queued) until the test opens it.
#pragma once
#include <atomic>
#include <condition_variable>
#include <map>
#include <mutex>
#include <thread>

#include "server/backend.hpp"

namespace llm::server::testing {

class FakeBackend final : public Backend {
public:
    // What the next requests generate, set by the test thread while earlier requests' threads may still run
    // (under mu_: ThreadSanitizer sees no order between a test's write and a finished request's read otherwise).
    void set_reply(std::string r) {
        std::lock_guard lock(mu_);
        reply_ = std::move(r);
    }
    std::string reply() const {
        std::lock_guard lock(mu_);
        return reply_;
    }
    void set_token_delay(std::chrono::milliseconds d) {
        std::lock_guard lock(mu_);
        token_delay_ = d;
    }
    // The call syntax the server's tool parser reads from the reply.
    void set_format(ToolFormat f) {
        std::lock_guard lock(mu_);
        format_ = f;
    }

    FakeBackend() { info_ = ModelInfo{"fake-model", 256, 257, 4, 1700000000}; }
    ~FakeBackend() override {
        open_gate();
        std::vector<std::thread> ts;
        {
            std::lock_guard lock(mu_);
            ts.swap(threads_);
        }
        for (auto& t : ts) t.join();
    }

    void close_gate() {
        std::lock_guard lock(mu_);
        gate_open_ = false;
    }
    void open_gate() {
        std::lock_guard lock(mu_);
        gate_open_ = true;
        cv_.notify_all();
    }
    int cancelled() const { return cancelled_.load(); }
    int submitted() const { return submitted_.load(); }
    int running() const { return running_.load(); }
    void set_n_ctx(int n) { info_.n_ctx = n; }
    void set_id(std::string id, int64_t bytes = 0) { info_.id = std::move(id), info_.bytes = bytes; }

    const ModelInfo& info() const override { return info_; }
    Expected<std::vector<int32_t>> chat_prompt(const std::vector<ChatMessage>& messages) const override {
        std::string text;
        for (const auto& m : messages) text += m.role + ": " + m.content + "\n";
        text += "assistant: ";
        return tokenize(text, false);
    }
    Expected<std::vector<int32_t>> tool_chat_prompt(const nlohmann::ordered_json& messages,
                                                    const std::vector<ToolSpec>& tools) const override {
        std::string text;  // "role: content\n" per message (calls as their names), then the tools' names
        for (const auto& m : messages) {
            text += m.value("role", "?") + ": " + (m.contains("content") && m["content"].is_string() ? m["content"].get<std::string>() : "");
            if (m.contains("tool_calls")) for (const auto& c : m["tool_calls"]) text += " call " + c["function"].value("name", "");
            text += "\n";
        }
        text += "tools:";
        for (const auto& t : tools) text += " " + t.name;
        return tokenize(text + "\nassistant: ", false);
    }
    Expected<std::shared_ptr<TokenConstraint>> tool_constraint(const std::vector<ToolSpec>&, const ToolChoice&) const override {
        return std::shared_ptr<TokenConstraint>();
    }
    ToolFormat tool_format() const override {
        std::lock_guard lock(mu_);
        return format_;
    }
    std::vector<int32_t> tokenize(std::string_view text, bool) const override {
        std::vector<int32_t> ids;
        for (unsigned char c : text) ids.push_back((int32_t)c + 1);
        return ids;
    }
    std::string token_piece(int32_t token) const override {
        return token >= 1 && token <= 256 ? std::string(1, (char)(token - 1)) : std::string();
    }
    Expected<std::shared_ptr<TokenConstraint>> json_schema_constraint(const std::string& schema) const override {
        if (schema.find("uniqueItems") != std::string::npos) return error("/uniqueItems: not supported");
        return std::shared_ptr<TokenConstraint>();
    }
    Expected<RequestId> submit(Request request, RequestCallbacks cb) override {
        if ((int)request.prompt.size() >= info_.n_ctx) return error("prompt of {} tokens does not fit", request.prompt.size());
        const RequestId id = ++next_id_;
        ++submitted_;
        auto cancel = std::make_shared<std::atomic<bool>>(false);
        std::lock_guard lock(mu_);
        cancel_flags_[id] = cancel;
        threads_.emplace_back([this, id, request = std::move(request), cb = std::move(cb), cancel] {
            std::string out;
            std::chrono::milliseconds token_delay;
            {
                std::unique_lock lock(mu_);
                cv_.wait(lock, [&] { return gate_open_ || cancel->load(); });
                out = reply_, token_delay = token_delay_;
            }
            ++running_;
            RequestResult r;
            r.id = id;
            r.n_prompt = (int)request.prompt.size();
            r.stop_reason = StopReason::EndOfGeneration;
            for (const auto& s : request.stop)
                if (auto p = out.find(s); p != std::string::npos) out.resize(p), r.stop_reason = StopReason::StopString;
            for (size_t i = 0; i < out.size(); ++i) {
                if (cancel->load()) {
                    r.stop_reason = StopReason::Cancelled;
                    break;
                }
                if (request.max_tokens >= 0 && (int)i >= request.max_tokens) {
                    r.stop_reason = StopReason::MaxTokens;
                    break;
                }
                if (token_delay.count()) std::this_thread::sleep_for(token_delay);
                TokenEvent e;
                e.id = id;
                e.token = (unsigned char)out[i] + 1;
                e.text = std::string(1, out[i]);
                if (request.top_logprobs >= 0) {
                    e.logprob = -0.5f;
                    for (int k = 0; k < request.top_logprobs; ++k) e.top_logprobs.push_back({e.token + k, -0.5f - k});
                }
                r.text += e.text;
                r.tokens.push_back(e.token);
                cb.on_token(e);
            }
            if (cancel->load()) r.stop_reason = StopReason::Cancelled;
            --running_;
            cb.on_done(r);
        });
        return id;
    }
    void cancel(RequestId id) override {
        std::lock_guard lock(mu_);
        if (auto it = cancel_flags_.find(id); it != cancel_flags_.end() && !it->second->exchange(true)) ++cancelled_;
        cv_.notify_all();
    }
    Expected<std::vector<float>> embed(const std::vector<int32_t>& tokens) override {
        std::vector<float> v(4, 0.0f);
        for (size_t i = 0; i < tokens.size(); ++i) v[i % 4] += (float)tokens[i];
        return v;
    }
    EngineStats stats() const override {
        EngineStats s;
        s.running = running_.load();
        s.kv_blocks_total = 100;
        s.kv_blocks_used = 25;
        return s;
    }

private:
    ModelInfo info_;
    mutable std::mutex mu_;
    std::condition_variable cv_;
    bool gate_open_ = true;
    std::string reply_ = "Hello from the fake model.";
    std::chrono::milliseconds token_delay_{0};
    ToolFormat format_ = ToolFormat::Generic;
    std::vector<std::thread> threads_;
    std::map<RequestId, std::shared_ptr<std::atomic<bool>>> cancel_flags_;
    std::atomic<RequestId> next_id_{0};
    std::atomic<int> cancelled_{0}, submitted_{0}, running_{0};
};

}  // namespace llm::server::testing
