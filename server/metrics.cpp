// Prometheus text exposition (format 0.0.4): see metrics.hpp.
#include "server/metrics.hpp"

#include <fmt/format.h>

namespace llm::server {

Histogram::Histogram(std::vector<double> bounds) : bounds_(std::move(bounds)), counts_(bounds_.size() + 1, 0) {}

void Histogram::observe(double v) {
    size_t i = 0;
    while (i < bounds_.size() && v > bounds_[i]) ++i;
    ++counts_[i];
    sum_ += v;
    ++count_;
}

void Histogram::render(std::string& out, const std::string& name, const std::string& help) const {
    out += fmt::format("# HELP {} {}\n# TYPE {} histogram\n", name, help, name);
    uint64_t cum = 0;
    for (size_t i = 0; i < bounds_.size(); ++i) {
        cum += counts_[i];
        out += fmt::format("{}_bucket{{le=\"{}\"}} {}\n", name, bounds_[i], cum);
    }
    cum += counts_.back();
    out += fmt::format("{}_bucket{{le=\"+Inf\"}} {}\n{}_sum {}\n{}_count {}\n", name, cum, name, sum_, name, count_);
}

namespace {
// Bucket bounds as vLLM uses for the same quantities (seconds).
std::vector<double> ttft_bounds() {
    return {0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0, 20.0, 40.0, 80.0};
}
std::vector<double> itl_bounds() {
    return {0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 2.5, 5.0, 10.0};
}
std::vector<double> e2e_bounds() { return {0.3, 0.5, 0.8, 1.0, 1.5, 2.0, 2.5, 5.0, 10.0, 15.0, 20.0, 30.0, 40.0, 50.0, 60.0, 120.0}; }

void gauge(std::string& out, const char* name, const char* help, double v) {
    out += fmt::format("# HELP {} {}\n# TYPE {} gauge\n{} {}\n", name, help, name, name, v);
}
void counter(std::string& out, const char* name, const char* help, double v) {
    out += fmt::format("# HELP {} {}\n# TYPE {} counter\n{} {}\n", name, help, name, name, v);
}
}  // namespace

Metrics::Metrics() : ttft_(ttft_bounds()), itl_(itl_bounds()), e2e_(e2e_bounds()) {}

void Metrics::count_request(const std::string& route, int status) {
    std::lock_guard lock(mu_);
    ++requests_[{route, status}];
}
void Metrics::count_tokens(int64_t prompt, int64_t cached, int64_t generated) {
    std::lock_guard lock(mu_);
    prompt_tokens_ += prompt, cached_tokens_ += cached, generated_tokens_ += generated;
}
void Metrics::observe_ttft(double s) {
    std::lock_guard lock(mu_);
    ttft_.observe(s);
}
void Metrics::observe_itl(double s) {
    std::lock_guard lock(mu_);
    itl_.observe(s);
}
void Metrics::observe_e2e(double s) {
    std::lock_guard lock(mu_);
    e2e_.observe(s);
}
void Metrics::count_disconnect() {
    std::lock_guard lock(mu_);
    ++disconnects_;
}
void Metrics::count_rejected() {
    std::lock_guard lock(mu_);
    ++rejected_;
}

std::string Metrics::render(const EngineStats& st, int in_flight) const {
    std::lock_guard lock(mu_);
    std::string out;
    out.reserve(8192);
    const double kv_use = st.kv_blocks_total > 0 ? (double)st.kv_blocks_used / (double)st.kv_blocks_total : 0.0;
    // The inference gateway's model-server protocol, under vLLM's names (KV usage is a fraction in [0, 1]).
    gauge(out, "vllm:num_requests_waiting", "Requests waiting to be scheduled.", st.waiting);
    gauge(out, "vllm:num_requests_running", "Requests in the running batch.", st.running);
    gauge(out, "vllm:gpu_cache_usage_perc", "KV-cache usage as a fraction of the pool (1 = full).", kv_use);
    // Our own names.
    out += "# HELP llm_requests_total HTTP requests by route and status.\n# TYPE llm_requests_total counter\n";
    for (const auto& [key, n] : requests_)
        out += fmt::format("llm_requests_total{{route=\"{}\",status=\"{}\"}} {}\n", key.first, key.second, n);
    counter(out, "llm_prompt_tokens_total", "Prompt tokens of finished requests (cached ones included).", (double)prompt_tokens_);
    counter(out, "llm_prompt_cached_tokens_total", "Prompt tokens served from the prefix cache.", (double)cached_tokens_);
    counter(out, "llm_generation_tokens_total", "Generated tokens of finished requests.", (double)generated_tokens_);
    ttft_.render(out, "llm_time_to_first_token_seconds", "Time from request arrival to the first generated token.");
    itl_.render(out, "llm_inter_token_latency_seconds", "Time between consecutive generated tokens of a request.");
    e2e_.render(out, "llm_request_duration_seconds", "Time from request arrival to its last token.");
    gauge(out, "llm_queue_depth", "Requests waiting in the engine's queue.", st.waiting);
    gauge(out, "llm_requests_running", "Sequences in the running batch.", st.running);
    gauge(out, "llm_requests_in_flight", "Requests admitted by the server and not finished (running + waiting).", in_flight);
    gauge(out, "llm_kv_cache_usage_ratio", "Used KV blocks / pool blocks.", kv_use);
    gauge(out, "llm_kv_cache_blocks_total", "Blocks in the KV pool.", (double)st.kv_blocks_total);
    counter(out, "llm_prefix_cache_queries_total", "Prefix-cache lookups.", (double)st.prefix_lookups);
    counter(out, "llm_prefix_cache_hits_total", "Prefix-cache lookups that reused at least one block.", (double)st.prefix_hits);
    counter(out, "llm_prefix_cache_hit_tokens_total", "Prompt tokens reused from the prefix cache.", (double)st.prefix_hit_tokens);
    counter(out, "llm_prefix_cache_evictions_total", "Cached blocks evicted.", (double)st.prefix_evictions);
    counter(out, "llm_preemptions_total", "Sequences preempted (resumed later by recomputation).", (double)st.preemptions);
    counter(out, "llm_cancellations_total", "Requests cancelled in the engine.", (double)st.cancellations);
    counter(out, "llm_client_disconnects_total", "Requests whose client disconnected (sequence cancelled).", (double)disconnects_);
    counter(out, "llm_rejected_total", "Requests answered 429 because the queue was full.", (double)rejected_);
    counter(out, "llm_engine_steps_total", "Engine steps (forward passes).", (double)st.steps);
    return out;
}

}  // namespace llm::server
