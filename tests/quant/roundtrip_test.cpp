// Round-trip properties: F16/BF16 conversions are exact where they must be, Q8 formats stay within
// their rounding error, and every type quantizes and dequantizes random data with bounded error.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "core/dtype.hpp"
#include "core/fp16.hpp"
#include "kernels/quant/blocks.hpp"
#include "kernels/quant/quant.hpp"

namespace {

using llm::DType;

std::vector<float> gaussian(int64_t n, uint32_t seed, float sigma = 1.0f) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> dist(0.0f, sigma);
    std::vector<float> v(n);
    for (float& x : v) x = dist(rng);
    return v;
}

// Blocks of varying magnitude plus edge blocks (zeros, constant, one outlier, tiny values).
std::vector<float> test_data(int64_t n, uint32_t seed) {
    std::vector<float> v = gaussian(n, seed);
    for (int64_t b = 0; b < n / 256; ++b) {
        const float scale = std::pow(10.0f, (float)(b % 5) - 2.0f);
        for (int64_t i = 0; i < 256; ++i) v[b * 256 + i] *= scale;
    }
    for (int i = 0; i < 32; ++i) v[i] = 0.0f;
    for (int i = 32; i < 64; ++i) v[i] = -0.25f;
    v[70] = 50.0f;
    for (int i = 96; i < 128; ++i) v[i] *= 1e-7f;
    return v;
}

std::vector<uint8_t> quantize(DType t, const std::vector<float>& x) {
    std::vector<uint8_t> q(llm::row_bytes(t, (int64_t)x.size()));
    llm::quantize_row(t, x.data(), q.data(), (int64_t)x.size());
    return q;
}

std::vector<float> dequantize(DType t, const std::vector<uint8_t>& q, int64_t n) {
    std::vector<float> y(n);
    llm::dequantize_row(t, q.data(), y.data(), n);
    return y;
}

TEST(FloatTypes, F32CopiesBits) {
    std::vector<float> x = gaussian(64, 1);
    x[3] = -0.0f;
    x[4] = INFINITY;
    std::vector<float> y = dequantize(DType::F32, quantize(DType::F32, x), 64);
    EXPECT_EQ(std::memcmp(x.data(), y.data(), 64 * sizeof(float)), 0);
}

TEST(FloatTypes, F16RoundTripsEveryHalf) {
    std::vector<uint16_t> h(65536), h2(65536);
    for (uint32_t i = 0; i < 65536; ++i) h[i] = (uint16_t)i;
    std::vector<float> f(65536);
    llm::dequantize_row(DType::F16, h.data(), f.data(), 65536);
    llm::quantize_row(DType::F16, f.data(), h2.data(), 65536);
    for (uint32_t i = 0; i < 65536; ++i) {
        if (std::isnan(f[i])) {
            EXPECT_TRUE(std::isnan(llm::fp16_to_fp32(h2[i]))) << i;
            continue;
        }
        ASSERT_EQ(h2[i], h[i]) << i;
    }
}

TEST(FloatTypes, F16RoundsToNearestEven) {
    // 1 + 2^-11 is halfway between 1 and the next half (1 + 2^-10): ties go to even (1.0).
    const float x[4] = {1.0f + 0x1.0p-11f, 1.0f + 3 * 0x1.0p-11f, 65520.0f, 1e-8f};
    uint16_t h[4];
    llm::quantize_row(DType::F16, x, h, 4);
    EXPECT_EQ(h[0], 0x3C00);
    EXPECT_EQ(h[1], 0x3C02);
    EXPECT_EQ(h[2], 0x7C00);  // rounds up to +inf
    EXPECT_EQ(h[3], 0x0000);  // below half the smallest subnormal
}

TEST(FloatTypes, Bf16RoundTripsEveryBf16AndRoundsToNearestEven) {
    std::vector<uint16_t> h(65536), h2(65536);
    for (uint32_t i = 0; i < 65536; ++i) h[i] = (uint16_t)i;
    std::vector<float> f(65536);
    llm::dequantize_row(DType::BF16, h.data(), f.data(), 65536);
    llm::quantize_row(DType::BF16, f.data(), h2.data(), 65536);
    for (uint32_t i = 0; i < 65536; ++i) {
        if (std::isnan(f[i])) {
            EXPECT_TRUE(std::isnan(llm::bf16_to_fp32(h2[i]))) << i;
            continue;
        }
        ASSERT_EQ(h2[i], h[i]) << i;
    }
    const float x[2] = {llm::bits_to_float(0x3F808000u), llm::bits_to_float(0x3F818000u)};  // exact ties
    uint16_t b[2];
    llm::quantize_row(DType::BF16, x, b, 2);
    EXPECT_EQ(b[0], 0x3F80);
    EXPECT_EQ(b[1], 0x3F82);
    std::vector<float> g = gaussian(4096, 2, 100.0f);
    std::vector<float> back = dequantize(DType::BF16, quantize(DType::BF16, g), 4096);
    for (size_t i = 0; i < g.size(); ++i) EXPECT_LE(std::fabs(back[i] - g[i]), std::fabs(g[i]) * 0x1.0p-8f) << i;
}

// Q8_0 / Q8_1: |x - d*q| <= d/2 plus the fp16 rounding of d times |q| <= 127: relative 2^-11 for
// normal halves, absolute 2^-25 once d is subnormal (tiny blocks).
template <typename Block>
void check_q8_32(DType t) {
    const int64_t n = 4096;
    std::vector<float> x = test_data(n, 3);
    std::vector<uint8_t> q = quantize(t, x);
    std::vector<float> y = dequantize(t, q, n);
    const Block* blocks = reinterpret_cast<const Block*>(q.data());
    for (int64_t b = 0; b < n / 32; ++b) {
        float amax = 0;
        for (int j = 0; j < 32; ++j) amax = std::max(amax, std::fabs(x[b * 32 + j]));
        const float d = llm::fp16_to_fp32(blocks[b].d);
        const float bound = d * 0.5f + amax * 0x1.0p-10f + 127 * 0x1.0p-25f;
        for (int j = 0; j < 32; ++j) {
            ASSERT_LE(std::fabs(y[b * 32 + j] - x[b * 32 + j]), bound) << "block " << b << " elem " << j;
        }
    }
}

TEST(Q8RoundTrip, Q8_0WithinHalfStep) { check_q8_32<llm::BlockQ8_0>(DType::Q8_0); }

TEST(Q8RoundTrip, Q8_1WithinHalfStepAndSumMatches) {
    check_q8_32<llm::BlockQ8_1>(DType::Q8_1);
    std::vector<float> x = test_data(4096, 4);
    std::vector<uint8_t> q = quantize(DType::Q8_1, x);
    const auto* blocks = reinterpret_cast<const llm::BlockQ8_1*>(q.data());
    for (int b = 0; b < 4096 / 32; ++b) {
        int sum = 0;
        for (int j = 0; j < 32; ++j) sum += blocks[b].qs[j];
        // s is computed from the unrounded d, as ggml does.
        float amax = 0;
        for (int j = 0; j < 32; ++j) amax = std::max(amax, std::fabs(x[b * 32 + j]));
        EXPECT_EQ(blocks[b].s, llm::fp32_to_fp16(sum * (amax / 127))) << b;
    }
}

TEST(Q8RoundTrip, Q8_KWithinHalfStepAndBsumsMatch) {
    const int64_t n = 4096;
    std::vector<float> x = test_data(n, 5);
    std::vector<uint8_t> q = quantize(DType::Q8_K, x);
    std::vector<float> y = dequantize(DType::Q8_K, q, n);
    const auto* blocks = reinterpret_cast<const llm::BlockQ8_K*>(q.data());
    for (int64_t b = 0; b < n / 256; ++b) {
        const float d = std::fabs(blocks[b].d);
        for (int j = 0; j < 256; ++j) {
            ASSERT_LE(std::fabs(y[b * 256 + j] - x[b * 256 + j]), d * 0.5f * 1.0001f + 1e-30f) << b << " " << j;
        }
        for (int g = 0; g < 16; ++g) {
            int sum = 0;
            for (int j = 0; j < 16; ++j) sum += blocks[b].qs[g * 16 + j];
            EXPECT_EQ(blocks[b].bsums[g], sum) << "block " << b << " group " << g;
        }
    }
    // An all-zero block quantizes to all zero bytes (d, qs and bsums).
    std::vector<float> zeros(256, 0.0f);
    std::vector<uint8_t> qz = quantize(DType::Q8_K, zeros);
    for (uint8_t byte : qz) ASSERT_EQ(byte, 0);
}

double rel_rmse(const std::vector<float>& x, const std::vector<float>& y) {
    double se = 0, s2 = 0;
    for (size_t i = 0; i < x.size(); ++i) {
        se += ((double)x[i] - y[i]) * ((double)x[i] - y[i]);
        s2 += (double)x[i] * x[i];
    }
    return std::sqrt(se / s2);
}

struct Bound {
    DType type;
    double max_rel_rmse;  // on unit gaussian data: about 1.2x what these (ggml's) algorithms reach
};

TEST(AllTypes, GaussianRoundTripErrorIsBounded) {
    const Bound bounds[] = {
        {DType::F32, 0.0},      {DType::F16, 3e-4},    {DType::BF16, 2.5e-3}, {DType::Q8_0, 0.0065},
        {DType::Q8_1, 0.0065},  {DType::Q8_K, 0.0085}, {DType::Q4_0, 0.10},   {DType::Q4_1, 0.095},
        {DType::Q5_0, 0.052},   {DType::Q5_1, 0.046},  {DType::Q2_K, 0.35},   {DType::Q3_K, 0.18},
        {DType::Q4_K, 0.085},   {DType::Q5_K, 0.044},  {DType::Q6_K, 0.021},  {DType::IQ4_NL, 0.09},
        {DType::IQ4_XS, 0.09},
    };
    const int64_t n = 8192;
    std::vector<float> x = gaussian(n, 6);
    for (const Bound& b : bounds) {
        std::vector<float> y = dequantize(b.type, quantize(b.type, x), n);
        const double e = rel_rmse(x, y);
        EXPECT_LE(e, b.max_rel_rmse) << llm::dtype_name(b.type);
        // Zeros stay exactly zero for every type.
        std::vector<float> zeros(256, 0.0f);
        std::vector<float> z = dequantize(b.type, quantize(b.type, zeros), 256);
        for (float v : z) ASSERT_EQ(v, 0.0f) << llm::dtype_name(b.type);
    }
}

}  // namespace
