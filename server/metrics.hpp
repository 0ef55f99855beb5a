// Server metrics in Prometheus text format (GET /metrics): the server's own counters and latency histograms,
// the engine's gauges, and the model-server protocol of the Kubernetes Gateway API Inference Extension under
// vLLM's names (vllm:num_requests_waiting, vllm:num_requests_running, vllm:gpu_cache_usage_perc), which the
// inference gateway scrapes to route by queue and KV-cache load.
#pragma once
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "llm/engine.hpp"

namespace llm::server {

// Cumulative histogram with fixed upper bounds (seconds).
class Histogram {
public:
    explicit Histogram(std::vector<double> bounds);
    void observe(double v);
    // "# HELP", "# TYPE", the _bucket{le=...} lines, _sum and _count.
    void render(std::string& out, const std::string& name, const std::string& help) const;

private:
    std::vector<double> bounds_;
    std::vector<uint64_t> counts_;  // per bucket (not cumulative), last = +Inf
    double sum_ = 0;
    uint64_t count_ = 0;
};

class Metrics {
public:
    Metrics();
    void count_request(const std::string& route, int status);
    void count_tokens(int64_t prompt, int64_t cached, int64_t generated);
    void observe_ttft(double seconds);
    void observe_itl(double seconds);
    void observe_e2e(double seconds);
    void count_disconnect();  // a client left mid-request and its sequence was cancelled
    void count_rejected();    // 429: queue full

    // Renders everything; `stats` is the engine's snapshot (running/waiting/KV/prefix cache/preemptions), and
    // `in_flight` the requests the server has admitted and not finished.
    std::string render(const EngineStats& stats, int in_flight) const;

private:
    mutable std::mutex mu_;
    std::map<std::pair<std::string, int>, uint64_t> requests_;
    int64_t prompt_tokens_ = 0, cached_tokens_ = 0, generated_tokens_ = 0;
    uint64_t disconnects_ = 0, rejected_ = 0;
    Histogram ttft_, itl_, e2e_;
};

}  // namespace llm::server
