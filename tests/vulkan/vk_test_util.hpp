// Shared helpers of the Vulkan tests: one device context per test binary (skipped when there is no
// Vulkan device), host<->device vectors, random data and llama.cpp-style normalized MSE.
#pragma once
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <memory>
#include <random>
#include <vector>

#include "kernels/vulkan/vk_context.hpp"

namespace llm::vk::test {

// The process-wide context, or null (with the reason in skip_reason()) when no device is usable.
inline std::string& skip_reason() {
    static std::string s;
    return s;
}
// Shared by every test of the binary so each pipeline is compiled once (JIT drivers like lavapipe
// spend most of the test time compiling).
inline std::shared_ptr<Context> shared_context() {
    static std::shared_ptr<Context> ctx = [] {
        auto c = Context::shared();
        if (!c) {
            skip_reason() = c.error_message();
            return std::shared_ptr<Context>();
        }
        return *c;
    }();
    return ctx;
}
inline Context* context() { return shared_context().get(); }

#define LLM_VK_CONTEXT_OR_SKIP(ctx)                                                          \
    ::llm::vk::Context* ctx = ::llm::vk::test::context();                                    \
    if (!ctx) GTEST_SKIP() << "no Vulkan device: " << ::llm::vk::test::skip_reason()

template <typename T>
Buffer to_device(Context& ctx, const std::vector<T>& v) {
    auto b = ctx.create_buffer(std::max<size_t>(1, v.size()) * sizeof(T));
    EXPECT_TRUE(b.has_value()) << (b ? "" : b.error_message());
    EXPECT_TRUE(ctx.upload(*b, v.data(), v.size() * sizeof(T)).is_ok());
    return std::move(*b);
}

template <typename T>
std::vector<T> from_device(Context& ctx, const Buffer& b, size_t n) {
    std::vector<T> v(n);
    const Status s = ctx.download(b, v.data(), n * sizeof(T));
    EXPECT_TRUE(s.is_ok()) << s.message();
    return v;
}

inline std::vector<float> random_floats(size_t n, uint32_t seed, float lo = -1.0f, float hi = 1.0f) {
    std::mt19937 rng(seed);
    std::uniform_real_distribution<float> dist(lo, hi);
    std::vector<float> v(n);
    for (float& x : v) x = dist(rng);
    return v;
}

// sum((a-b)^2) / sum(b^2), as test-backend-ops.
inline double nmse(const std::vector<float>& a, const std::vector<float>& b) {
    double num = 0, den = 0;
    for (size_t i = 0; i < b.size(); ++i) {
        const double d = (double)a[i] - b[i];
        num += d * d;
        den += (double)b[i] * b[i];
    }
    return den > 0 ? num / den : num;
}

}  // namespace llm::vk::test
