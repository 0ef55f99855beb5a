// The int8 GEMM (kernels/cpu/gemm.hpp) vs matmul_reference for every packed type over odd shapes: its error
// must be no worse than the vec_dot path's on the same data (both quantize the activations the same way);
// the scalar and AVX-512 GEMMs must agree bit for bit (same float operations in the same order), and so must
// 1 and 2 threads.
#include "kernels/cpu/gemm.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "kernels/cpu/matmul.hpp"
#include "kernels/quant/quant.hpp"
#include "test_weights.hpp"

namespace llm {
namespace {

const DType kTypes[] = {DType::Q4_0, DType::Q4_1, DType::Q5_0, DType::Q5_1, DType::Q8_0, DType::IQ4_NL,
                        DType::Q2_K, DType::Q3_K, DType::Q4_K, DType::Q5_K, DType::Q6_K, DType::IQ4_XS};

bool have_avx512() { return isa_supported(Isa::Avx512); }

using test::Weights;
// Every third row shifted off centre: exercises the mins of Q4_1 / Q5_1 / K-quants.
Weights make_weights(DType type, int64_t n_in, int64_t n_out, std::mt19937& rng) {
    return test::make_weights(type, n_in, n_out, rng, 0.01f);
}

std::vector<float> make_x(int64_t n_tokens, int64_t n_in, std::mt19937& rng) {
    std::normal_distribution<float> nd(0.0f, 1.0f);
    std::vector<float> x(n_tokens * n_in);
    for (int64_t t = 0; t < n_tokens; ++t) {
        const float scale = t % 3 == 2 ? 10.0f : 1.0f;
        for (int64_t i = 0; i < n_in; ++i) x[t * n_in + i] = scale * nd(rng);
    }
    if (n_in >= 64)
        for (int i = 0; i < 32; ++i) x[i] = 0;  // a zero block: d = 0
    return x;
}

// RMS error normalized by the RMS size of a dot product of these magnitudes (as in matmul_test).
double rel_error(const Weights& w, const std::vector<float>& x, const std::vector<float>& y,
                 const std::vector<float>& ref, int64_t n_in, int64_t n_out, int64_t n_tokens) {
    std::vector<double> wn(n_out), xn(n_tokens);
    for (int64_t r = 0; r < n_out; ++r)
        for (int64_t i = 0; i < n_in; ++i) wn[r] += (double)w.deq[r * n_in + i] * w.deq[r * n_in + i];
    for (int64_t t = 0; t < n_tokens; ++t)
        for (int64_t i = 0; i < n_in; ++i) xn[t] += (double)x[t * n_in + i] * x[t * n_in + i];
    double err = 0, norm = 0;
    for (int64_t t = 0; t < n_tokens; ++t)
        for (int64_t r = 0; r < n_out; ++r) {
            const double d = (double)y[t * n_out + r] - ref[t * n_out + r];
            err += d * d;
            norm += wn[r] * xn[t] / (double)n_in;
        }
    return std::sqrt(err / norm);
}

void check(DType type, int64_t n_in, int64_t n_out, int64_t n_tokens, uint32_t seed, bool threads) {
    SCOPED_TRACE(testing::Message() << dtype_name(type) << " n_in=" << n_in << " n_out=" << n_out
                                    << " n_tokens=" << n_tokens);
    std::mt19937 rng(seed);
    Weights w = make_weights(type, n_in, n_out, rng);
    const std::vector<float> x = make_x(n_tokens, n_in, rng);
    const size_t n = (size_t)(n_tokens * n_out);
    std::vector<float> ref(n), vd(n, NAN), gs(n, NAN), gs2(n, NAN);
    matmul_reference(w.view, x.data(), n_tokens, ref.data());
    matmul_isa(Isa::Scalar, w.view, x.data(), n_tokens, vd.data(), 1);  // the vec_dot path (same activations)
    cpu::gemm(cpu::GemmImpl::Scalar, w.view, x.data(), n_tokens, gs.data(), 1);

    const double e_vd = rel_error(w, x, vd, ref, n_in, n_out, n_tokens);
    const double e_gs = rel_error(w, x, gs, ref, n_in, n_out, n_tokens);
    if (std::getenv("LLM_TEST_VERBOSE"))
        std::printf("%s %lld %lld %lld vec_dot=%.3e gemm=%.3e\n", std::string(dtype_name(type)).c_str(), (long long)n_in,
                    (long long)n_out, (long long)n_tokens, e_vd, e_gs);
    EXPECT_TRUE(std::isfinite(e_gs));
    EXPECT_LT(e_gs, 1.5 * e_vd + 1e-5) << "GEMM error vs the vec_dot path's";
    EXPECT_LT(e_gs, 3e-2);  // 8-bit activations: ~0.5-0.7% typical (see matmul_test's tolerances)
    if (threads) {
        cpu::gemm(cpu::GemmImpl::Scalar, w.view, x.data(), n_tokens, gs2.data(), 2);
        EXPECT_EQ(0, std::memcmp(gs.data(), gs2.data(), n * sizeof(float))) << "scalar GEMM: 1 vs 2 threads differ";
    }
    if (!have_avx512()) return;
    std::vector<float> g1(n, NAN), g2(n, NAN), mm(n, NAN);
    cpu::gemm(cpu::GemmImpl::Avx512, w.view, x.data(), n_tokens, g1.data(), 1);
    EXPECT_EQ(0, std::memcmp(gs.data(), g1.data(), n * sizeof(float))) << "AVX-512 vs scalar GEMM differ";
    if (threads) {
        cpu::gemm(cpu::GemmImpl::Avx512, w.view, x.data(), n_tokens, g2.data(), 2);
        EXPECT_EQ(0, std::memcmp(g1.data(), g2.data(), n * sizeof(float))) << "AVX-512 GEMM: 1 vs 2 threads differ";
    }
    // matmul's dispatch: at or above the threshold the AVX-512 matmul is this GEMM.
    if (n_tokens >= cpu::gemm_min_tokens(type)) {
        matmul_isa(Isa::Avx512, w.view, x.data(), n_tokens, mm.data(), 1);
        EXPECT_EQ(0, std::memcmp(g1.data(), mm.data(), n * sizeof(float))) << "matmul does not dispatch to the GEMM";
    }
}

class GemmTest : public testing::TestWithParam<DType> {};

TEST_P(GemmTest, OddShapes) {
    const DType type = GetParam();
    ASSERT_TRUE(cpu::gemm_supports(type));
    const int64_t bs = std::max<int64_t>(block_size(type), 32);
    uint32_t seed = 1;
    for (int64_t n_in : {bs, 3 * bs})
        for (int64_t n_out : {1, 7, 16, 33, 100})
            for (int64_t n_tokens : {1, 3, 8, 17})
                check(type, n_in, n_out, n_tokens, seed++, /*threads=*/n_out >= 33 && n_tokens == 17);
}

TEST_P(GemmTest, ManyTokens) {
    const DType type = GetParam();
    const int64_t bs = std::max<int64_t>(block_size(type), 32);
    check(type, 2 * bs, 33, 513, 7, /*threads=*/true);
}

// Rows long enough for several 256-blocks and a row-block (64 rows) boundary plus a partial panel.
TEST_P(GemmTest, LongRowsManyPanels) {
    check(GetParam(), 1024, 75, 20, 11, /*threads=*/true);
}

// The AVX-512 packer (per-block decode + gathers) writes the scalar packer's bytes, padding rows included.
TEST_P(GemmTest, PackersAgree) {
    if (!have_avx512()) GTEST_SKIP() << "no AVX-512 VNNI";
    const DType type = GetParam();
    const int64_t n_in = 2 * std::max<int64_t>(block_size(type), 32);
    std::mt19937 rng(3);
    Weights w = make_weights(type, n_in, 37, rng);
    cpu::GemmOps s, v;
    ASSERT_TRUE(cpu::gemm_ops_scalar(type, s));
    ASSERT_TRUE(cpu::gemm_ops_avx512(type, v));
    const int sb = (type == DType::Q2_K || type == DType::Q3_K || type == DType::Q6_K) ? 16 : 32;
    const size_t bytes = (size_t)(n_in / sb) * cpu::gemm_sub_block_bytes(sb);
    for (int64_t r0 : {0, 16, 32}) {
        const int rows = (int)std::min<int64_t>(16, 37 - r0);
        std::vector<uint8_t> a(bytes + 64, 0xAB), b(bytes + 64, 0xCD);
        uint8_t* pa = a.data() + (64 - (reinterpret_cast<uintptr_t>(a.data()) & 63)) % 64;
        uint8_t* pb = b.data() + (64 - (reinterpret_cast<uintptr_t>(b.data()) & 63)) % 64;
        s.pack(w.view, r0, rows, pa);
        v.pack(w.view, r0, rows, pb);
        EXPECT_EQ(0, std::memcmp(pa, pb, bytes)) << dtype_name(type) << " rows from " << r0;
    }
}

std::string type_name(const testing::TestParamInfo<DType>& info) { return std::string(dtype_name(info.param)); }

INSTANTIATE_TEST_SUITE_P(PackedTypes, GemmTest, testing::ValuesIn(kTypes), type_name);

TEST(Gemm, UnsupportedTypes) {
    for (DType t : {DType::F32, DType::F16, DType::BF16}) EXPECT_FALSE(cpu::gemm_supports(t));
}

}  // namespace
}  // namespace llm
