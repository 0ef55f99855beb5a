// The OpenBLAS path for float weights (kernels/cpu/blas_gemm.hpp) against matmul_reference.
//
// Error bound: F16/BF16 weights convert to float exactly and the activations stay float, so each output is a
// float dot product of n = n_in exact terms. Whatever order and blocking sgemm sums them in (SIMD lanes, K
// blocks added into C), every term passes through at most 2n roundings, so (Higham's gamma bound)
//   |y - sum w_i x_i| <= gamma_2n * S,   S = sum |w_i| |x_i|,   gamma_k = k u / (1 - k u),   u = 2^-24.
// The reference accumulates in double (error <= n 2^-53 S) and is rounded to float once (<= u S): the test
// allows (gamma_2n + 2u) S per output. That bound is rigorous but loose; the typical error is also held to
// the F32 vec_dot path's normalized RMS tolerance (1e-5, matmul_test), which rounding the activations to
// fp16/bf16 (as the AVX-512 vec_dot kernels do) would exceed by 10-1000x.
// Results must not depend on the thread count: the fixed row panels make every panel one identical sgemm
// call whichever thread runs it, so 1, 2 and 3 threads must agree bit for bit.
#include "kernels/cpu/blas_gemm.hpp"
#include "kernels/cpu/float_chain.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "core/fp16.hpp"
#include "kernels/cpu/matmul.hpp"
#include "test_weights.hpp"

namespace llm {
namespace {

using test::Weights;

std::vector<float> make_x(int64_t n_tokens, int64_t n_in, std::mt19937& rng) {
    std::normal_distribution<float> nd(0.0f, 1.0f);
    std::vector<float> x(n_tokens * n_in);
    for (int64_t t = 0; t < n_tokens; ++t) {
        const float scale = t % 3 == 2 ? 10.0f : t % 3 == 1 ? 0.01f : 1.0f;
        for (int64_t i = 0; i < n_in; ++i) x[t * n_in + i] = scale * nd(rng);
    }
    if (n_tokens > 1)
        for (int64_t i = 0; i < n_in; ++i) x[n_in + i] = 0;  // an all-zero token
    return x;
}

void check(DType type, int64_t n_in, int64_t n_out, int64_t n_tokens, uint32_t seed) {
    SCOPED_TRACE(testing::Message() << dtype_name(type) << " n_in=" << n_in << " n_out=" << n_out
                                    << " n_tokens=" << n_tokens);
    std::mt19937 rng(seed);
    const Weights w = test::make_weights(type, n_in, n_out, rng, 0.01f);
    const std::vector<float> x = make_x(n_tokens, n_in, rng);
    const size_t n = (size_t)(n_tokens * n_out);
    std::vector<float> ref(n), y1(n, NAN), y2(n, NAN), y3(n, NAN);
    matmul_reference(w.view, x.data(), n_tokens, ref.data());
    cpu::blas_matmul(w.view, x.data(), n_tokens, y1.data(), 1);
    cpu::blas_matmul(w.view, x.data(), n_tokens, y2.data(), 2);
    cpu::blas_matmul(w.view, x.data(), n_tokens, y3.data(), 3);

    const double u = std::ldexp(1.0, -24), k = 2.0 * (double)n_in;
    const double bound_factor = k * u / (1 - k * u) + 2 * u;
    std::vector<double> wn(n_out), xn(n_tokens);
    for (int64_t r = 0; r < n_out; ++r)
        for (int64_t i = 0; i < n_in; ++i) wn[r] += (double)w.deq[r * n_in + i] * w.deq[r * n_in + i];
    for (int64_t t = 0; t < n_tokens; ++t)
        for (int64_t i = 0; i < n_in; ++i) xn[t] += (double)x[t * n_in + i] * x[t * n_in + i];
    double err = 0, norm = 0, worst = 0;  // worst: max |error| / bound
    int64_t bad = 0;
    for (int64_t t = 0; t < n_tokens; ++t)
        for (int64_t r = 0; r < n_out; ++r) {
            double s = 0;
            for (int64_t i = 0; i < n_in; ++i) s += std::fabs((double)w.deq[r * n_in + i] * x[t * n_in + i]);
            const double d = std::fabs((double)y1[t * n_out + r] - ref[t * n_out + r]);
            const double bound = bound_factor * s;
            if (!(d <= bound)) ++bad;  // also catches NaN
            if (bound > 0) worst = std::max(worst, d / bound);
            err += d * d;
            norm += wn[r] * xn[t] / (double)n_in;
        }
    EXPECT_EQ(bad, 0) << "outputs beyond (gamma_2n + 2u) * sum|w||x|";
    const double rel = norm > 0 ? std::sqrt(err / norm) : 0.0;
    EXPECT_LT(rel, 1e-5) << "normalized RMS error";
    if (std::getenv("LLM_TEST_VERBOSE"))
        std::printf("blas %s %lld %lld %lld rel=%.2e worst/bound=%.3f\n", std::string(dtype_name(type)).c_str(),
                    (long long)n_in, (long long)n_out, (long long)n_tokens, rel, worst);
    EXPECT_EQ(0, std::memcmp(y1.data(), y2.data(), n * sizeof(float))) << "1 vs 2 threads differ";
    EXPECT_EQ(0, std::memcmp(y1.data(), y3.data(), n * sizeof(float))) << "1 vs 3 threads differ";

    // matmul dispatches here from its threshold on (unless LLM_BLAS=0 turns the path off) where our float GEMM does
    // not take float prompts (float_chain.hpp: x86 has it).
    for (Isa isa : kAllIsas) {
        if (!isa_supported(isa) || n_tokens < cpu::blas_min_tokens(isa, type)) continue;
        if (cpu::float_chain_min_tokens(isa, type) != INT64_MAX) continue;
        std::vector<float> ym(n, NAN);
        matmul_isa(isa, w.view, x.data(), n_tokens, ym.data(), 2);
        EXPECT_EQ(0, std::memcmp(y1.data(), ym.data(), n * sizeof(float))) << "matmul_isa " << isa_name(isa);
    }
}

class BlasTest : public testing::TestWithParam<DType> {
  protected:
    void SetUp() override {
        if (!cpu::blas_available()) GTEST_SKIP() << "built without OpenBLAS";
        if (!isa_supported(Isa::Avx2) && !isa_supported(Isa::Neon))
            GTEST_SKIP() << "the panel conversion needs AVX2 + F16C or NEON";
    }
};

TEST_P(BlasTest, OddShapes) {
    const DType type = GetParam();
    uint32_t seed = 1;
    for (int64_t n_in : {64, 96, 2048})
        for (int64_t n_out : {1, 7, 100, 300})  // 100 and 300: several panels, the last one partial
            for (int64_t n_tokens : {2, 17, 513}) check(type, n_in, n_out, n_tokens, seed++);
}

// Row lengths that are no multiple of the SIMD width (float weights take any n_in).
TEST_P(BlasTest, OddRowLengths) {
    const DType type = GetParam();
    for (int64_t n_in : {1, 7, 37, 100}) check(type, n_in, 9, 33, 50 + (uint32_t)n_in);
}

std::string type_name(const testing::TestParamInfo<DType>& info) { return std::string(dtype_name(info.param)); }

INSTANTIATE_TEST_SUITE_P(FloatTypes, BlasTest, testing::Values(DType::F32, DType::F16, DType::BF16), type_name);

// The panel conversion is exact for every 16-bit pattern (NaNs stay NaNs).
TEST(Blas, ConversionIsExact) {
    const bool neon = isa_supported(Isa::Neon);
    if (!isa_supported(Isa::Avx2) && !neon) GTEST_SKIP() << "needs AVX2 + F16C or NEON";
    std::vector<uint16_t> all(65536 + 5);  // + a tail shorter than a vector
    for (size_t i = 0; i < all.size(); ++i) all[i] = (uint16_t)(i * 40503u);
    std::vector<float> got(all.size());
    for (DType type : {DType::F16, DType::BF16}) {
        (neon ? cpu::blas_to_f32_neon : cpu::blas_to_f32_avx2)(type, all.data(), got.data(), (int64_t)all.size());
        int64_t bad = 0;
        for (size_t i = 0; i < all.size(); ++i) {
            const float want = type == DType::F16 ? fp16_to_fp32(all[i]) : bf16_to_fp32(all[i]);
            if (std::isnan(want) ? !std::isnan(got[i]) : std::memcmp(&want, &got[i], 4) != 0) ++bad;
        }
        EXPECT_EQ(bad, 0) << dtype_name(type);
    }
}

TEST(Blas, ThresholdsAndSupport) {
    EXPECT_EQ(cpu::blas_min_tokens(Isa::Scalar, DType::F16), INT64_MAX);
    for (DType t : {DType::Q4_0, DType::Q8_0, DType::Q4_K}) {
        EXPECT_FALSE(cpu::blas_supports(t));
        EXPECT_EQ(cpu::blas_min_tokens(Isa::Avx2, t), INT64_MAX);
    }
    if (cpu::blas_available() && !std::getenv("LLM_BLAS"))
        for (DType t : {DType::F32, DType::F16, DType::BF16}) {
            EXPECT_GE(cpu::blas_min_tokens(Isa::Avx2, t), 2);
            EXPECT_LE(cpu::blas_min_tokens(Isa::Avx2, t), 64);
        }
    for (int64_t n_out : {1, 7, 256, 2048, 5632, 32000}) {
        const int64_t p = cpu::blas_panel_rows(n_out);
        EXPECT_GE(p, 16);
        EXPECT_LE(p, 256);
    }
}

}  // namespace
}  // namespace llm
