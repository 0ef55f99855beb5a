// API-key checks and the Prometheus text.
#include <gtest/gtest.h>

#include "server/auth.hpp"
#include "server/metrics.hpp"

using namespace llm::server;

TEST(Auth, ConstantTimeCompareAndKeyExtraction) {
    EXPECT_TRUE(constant_time_equal("abc", "abc"));
    EXPECT_FALSE(constant_time_equal("abc", "abd"));
    EXPECT_FALSE(constant_time_equal("abc", "abcd"));
    EXPECT_FALSE(constant_time_equal("", "a"));
    EXPECT_TRUE(constant_time_equal("", ""));
    EXPECT_EQ(presented_key("Bearer k1", ""), "k1");
    EXPECT_EQ(presented_key("bearer   k1 ", "x"), "k1");
    EXPECT_EQ(presented_key("", "k2"), "k2");
    EXPECT_EQ(presented_key("Basic abc", "k3"), "k3");
    EXPECT_TRUE(key_accepted({}, ""));
    EXPECT_TRUE(key_accepted({"a", "b"}, "b"));
    EXPECT_FALSE(key_accepted({"a", "b"}, "c"));
    EXPECT_FALSE(key_accepted({"a"}, ""));
}

TEST(Metrics, HistogramIsCumulative) {
    Histogram h({0.1, 1.0});
    h.observe(0.05);
    h.observe(0.5);
    h.observe(5);
    std::string out;
    h.render(out, "x_seconds", "help");
    EXPECT_NE(out.find("# TYPE x_seconds histogram"), std::string::npos);
    EXPECT_NE(out.find("x_seconds_bucket{le=\"0.1\"} 1\n"), std::string::npos);
    EXPECT_NE(out.find("x_seconds_bucket{le=\"1\"} 2\n"), std::string::npos);
    EXPECT_NE(out.find("x_seconds_bucket{le=\"+Inf\"} 3\n"), std::string::npos);
    EXPECT_NE(out.find("x_seconds_count 3\n"), std::string::npos);
}

TEST(Metrics, EngineGaugesUnderVllmNames) {
    Metrics m;
    m.count_request("/v1/chat/completions", 200);
    m.count_request("/v1/chat/completions", 200);
    m.count_request("/v1/chat/completions", 400);
    llm::EngineStats st;
    st.waiting = 3, st.running = 2, st.kv_blocks_used = 10, st.kv_blocks_total = 40, st.preemptions = 7;
    const std::string out = m.render(st, 5);
    EXPECT_NE(out.find("vllm:num_requests_waiting 3\n"), std::string::npos);
    EXPECT_NE(out.find("vllm:num_requests_running 2\n"), std::string::npos);
    EXPECT_NE(out.find("vllm:gpu_cache_usage_perc 0.25\n"), std::string::npos);
    EXPECT_NE(out.find("llm_requests_total{route=\"/v1/chat/completions\",status=\"200\"} 2\n"), std::string::npos);
    EXPECT_NE(out.find("llm_requests_total{route=\"/v1/chat/completions\",status=\"400\"} 1\n"), std::string::npos);
    EXPECT_NE(out.find("llm_preemptions_total 7\n"), std::string::npos);
    EXPECT_NE(out.find("llm_requests_in_flight 5\n"), std::string::npos);
}
