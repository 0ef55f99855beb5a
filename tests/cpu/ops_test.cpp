// SIMD rms_norm and silu_mul vs their scalar references (Isa::Scalar) on every ISA of this CPU, with
// lengths that leave vector tails, extreme gate values and 1 vs 2 threads.
#include "kernels/cpu/ops.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

namespace llm {
namespace {

std::vector<Isa> simd_isas() {
    std::vector<Isa> v;
    for (Isa i : kAllIsas)
        if (i != Isa::Scalar && isa_supported(i)) v.push_back(i);
    return v;
}

// AVX2 and AVX-512 reproduce llama.cpp's ggml_v_expf for their vector width (a float polynomial within
// ~1.5 ulp of exp, so <= 4 ulp of the result against glibc's expf) because greedy decoding is sensitive to
// 1-ulp differences spread over every activation: matching llama.cpp needs its exp, not a better one.
TEST(Ops, SiluMulMatchesScalar) {
    std::mt19937 rng(3);
    std::normal_distribution<float> nd(0.0f, 4.0f);
    for (int64_t n : {1, 7, 15, 16, 17, 33, 5000, 8192 + 3, 1 << 20}) {
        std::vector<float> g(n), u(n), ref(n), o1(n), o2(n);
        for (int64_t i = 0; i < n; ++i) g[i] = nd(rng), u[i] = nd(rng);
        if (n > 8) g[0] = -100.0f, g[1] = 100.0f, g[2] = 0.0f, g[3] = -87.5f, g[4] = 88.5f, g[5] = -1e-30f;
        silu_mul_isa(Isa::Scalar, g.data(), u.data(), ref.data(), n, 1);
        for (Isa isa : simd_isas()) {
            silu_mul_isa(isa, g.data(), u.data(), o1.data(), n, 1);
            silu_mul_isa(isa, g.data(), u.data(), o2.data(), n, 2);
            for (int64_t i = 0; i < n; ++i) {
                ASSERT_LE(std::fabs(o1[i] - ref[i]), 4 * 0x1p-23f * std::fabs(ref[i]))
                    << isa_name(isa) << " n=" << n << " i=" << i << " g=" << g[i];
            }
            EXPECT_EQ(0, std::memcmp(o1.data(), o2.data(), n * sizeof(float))) << isa_name(isa);
        }
    }
}

// Only the order of the double sum of squares differs: results equal the scalar ones up to one float
// rounding of the scale.
TEST(Ops, RmsNormMatchesScalar) {
    std::mt19937 rng(4);
    std::normal_distribution<float> nd(0.0f, 1.0f);
    for (int64_t d : {1, 5, 16, 31, 576, 2048, 2051}) {
        const int64_t n = 3;
        std::vector<float> x(n * d), w(d), ref(n * d), o1(n * d), o2(n * d);
        for (auto& v : x) v = 3 * nd(rng);
        for (auto& v : w) v = nd(rng);
        rms_norm_isa(Isa::Scalar, x.data(), w.data(), ref.data(), n, d, 1e-5f, 1);
        for (Isa isa : simd_isas()) {
            rms_norm_isa(isa, x.data(), w.data(), o1.data(), n, d, 1e-5f, 1);
            rms_norm_isa(isa, x.data(), w.data(), o2.data(), n, d, 1e-5f, 2);
            for (int64_t i = 0; i < n * d; ++i)
                ASSERT_LE(std::fabs(o1[i] - ref[i]), 3 * 0x1p-24f * std::fabs(ref[i])) << isa_name(isa) << " d=" << d;
            EXPECT_EQ(0, std::memcmp(o1.data(), o2.data(), n * d * sizeof(float))) << isa_name(isa);
            std::vector<float> inplace = x;  // y may alias x
            rms_norm_isa(isa, inplace.data(), w.data(), inplace.data(), n, d, 1e-5f, 1);
            EXPECT_EQ(0, std::memcmp(o1.data(), inplace.data(), n * d * sizeof(float))) << isa_name(isa);
        }
    }
}

}  // namespace
}  // namespace llm
