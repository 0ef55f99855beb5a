// Numerics::Invariant matmul (kernels/cpu/matmul.hpp): for every weight type and every ISA this CPU runs
// (LLM_CPU caps it), row i of an n-token call is memcmp-equal to the 1-token call on that row, for any n, any
// position of the row in the batch and 1 or 2 threads; and its error against the float64 reference is the
// usual one (no worse than the vec_dot path's on the same data).
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "core/cpu_features.hpp"
#include "kernels/cpu/matmul.hpp"
#include "kernels/quant/quant.hpp"
#include "test_weights.hpp"

namespace llm {
namespace {

const DType kTypes[] = {DType::F32,  DType::F16,  DType::BF16, DType::Q4_0, DType::Q4_1, DType::Q5_0,
                        DType::Q5_1, DType::Q8_0, DType::IQ4_NL, DType::Q2_K, DType::Q3_K, DType::Q4_K,
                        DType::Q5_K, DType::Q6_K, DType::IQ4_XS};
const int64_t kCounts[] = {1, 2, 3, 7, 8, 16, 33, 64, 200};
constexpr int64_t kMaxTokens = 200;

std::vector<float> make_x(int64_t n_tokens, int64_t n_in, std::mt19937& rng) {
    std::normal_distribution<float> nd(0.0f, 1.0f);
    std::vector<float> x(n_tokens * n_in);
    for (int64_t t = 0; t < n_tokens; ++t) {
        const float scale = t % 3 == 2 ? 10.0f : 1.0f;  // rows of different magnitudes
        for (int64_t i = 0; i < n_in; ++i) x[t * n_in + i] = scale * nd(rng);
    }
    return x;
}

// RMS error over the outputs, normalized by the RMS size of a dot product of these magnitudes.
double rel_error(const test::Weights& w, const float* x, const float* y, const float* ref, int64_t n_in,
                 int64_t n_out, int64_t n_tokens) {
    double err = 0, norm = 0;
    for (int64_t t = 0; t < n_tokens; ++t) {
        double xn = 0;
        for (int64_t i = 0; i < n_in; ++i) xn += (double)x[t * n_in + i] * x[t * n_in + i];
        for (int64_t r = 0; r < n_out; ++r) {
            double wn = 0;
            for (int64_t i = 0; i < n_in; ++i) wn += (double)w.deq[r * n_in + i] * w.deq[r * n_in + i];
            const double d = (double)y[t * n_out + r] - ref[t * n_out + r];
            err += d * d;
            norm += wn * xn / (double)n_in;
        }
    }
    return std::sqrt(err / norm);
}

class MatmulInvariance : public testing::TestWithParam<DType> {};

TEST_P(MatmulInvariance, RowOfAnyBatchEqualsItsSingleTokenResult) {
    const DType type = GetParam();
    ASSERT_TRUE(matmul_supports(type));
    // 40 output rows: two full GEMM panels and a partial one, split unevenly by 2 threads.
    const int64_t n_in = 2 * std::max<int64_t>(block_size(type), 128), n_out = 40;
    std::mt19937 rng(7 + (uint32_t)type);
    const test::Weights w = test::make_weights(type, n_in, n_out, rng, 0.01f);
    const std::vector<float> x = make_x(kMaxTokens + 5, n_in, rng);
    std::vector<float> ref((kMaxTokens + 5) * n_out);
    matmul_reference(w.view, x.data(), kMaxTokens + 5, ref.data());

    for (Isa isa : kAllIsas) {
        if (!isa_supported(isa)) continue;
        SCOPED_TRACE(testing::Message() << dtype_name(type) << " " << isa_name(isa));
        // Every token alone.
        std::vector<float> single((kMaxTokens + 5) * n_out, NAN);
        for (int64_t t = 0; t < kMaxTokens + 5; ++t)
            matmul_isa(isa, w.view, x.data() + t * n_in, 1, single.data() + t * n_out, 1, Numerics::Invariant);
        // The same tokens inside batches of n, starting at token `first` (so each token sits at another row
        // position of the batch for every n), 1 and 2 threads.
        for (int64_t n : kCounts)
            for (int threads : {1, 2}) {
                const int64_t first = (n * 3 + threads) % 5;
                std::vector<float> y(n * n_out, NAN);
                matmul_isa(isa, w.view, x.data() + first * n_in, n, y.data(), threads, Numerics::Invariant);
                for (int64_t i = 0; i < n; ++i)
                    ASSERT_EQ(0, std::memcmp(y.data() + i * n_out, single.data() + (first + i) * n_out,
                                             n_out * sizeof(float)))
                        << "token " << first + i << " at row " << i << " of " << n << ", " << threads << " threads";
            }
        // Accuracy: as good as this ISA's vec_dot path (the same activation types: 8-bit blocks, or fp16 /
        // bf16 for float weights on AVX2 / AVX-512 as ggml) against the float64 reference.
        std::vector<float> vd(kMaxTokens * n_out);
        for (int64_t t = 0; t < kMaxTokens; ++t)  // one token at a time: never a GEMM or OpenBLAS
            matmul_isa(isa, w.view, x.data() + t * n_in, 1, vd.data() + t * n_out, 1, Numerics::Exact);
        const double e_inv = rel_error(w, x.data(), single.data(), ref.data(), n_in, n_out, kMaxTokens);
        const double e_vd = rel_error(w, x.data(), vd.data(), ref.data(), n_in, n_out, kMaxTokens);
        EXPECT_TRUE(std::isfinite(e_inv));
        EXPECT_LT(e_inv, 1.5 * e_vd + 1e-6) << "invariant error " << e_inv << " vs vec_dot " << e_vd;
        EXPECT_LT(e_inv, 3e-2);
    }
}

INSTANTIATE_TEST_SUITE_P(AllTypes, MatmulInvariance, testing::ValuesIn(kTypes),
                         [](const testing::TestParamInfo<DType>& i) { return std::string(dtype_name(i.param)); });

// A serving step's batch sizes on the several-token GEMV (Q4_0 and Q4_1 on AVX2 / AVX-512): rows of odd shapes
// (groups plus leftover rows, a row length of 3 blocks and one of 5632) from batches of every size 1..20 and around
// the switch to the GEMM, memcmp-equal to the token alone, 1 and 2 threads.
class ServingBatches : public testing::TestWithParam<DType> {};

TEST_P(ServingBatches, EqualSingleTokens) {
    const DType type = GetParam();
    for (Isa isa : kAllIsas) {
        if (!isa_supported(isa)) continue;
        for (int64_t n_in : {3 * block_size(type), (int64_t)5632}) {
            const int64_t n_out = 16 * 5 + 3;
            std::mt19937 rng(23 + (uint32_t)n_in);
            const test::Weights w = test::make_weights(type, n_in, n_out, rng, 0.01f);
            constexpr int64_t kTok = 70;
            const std::vector<float> x = make_x(kTok, n_in, rng);
            std::vector<float> single(kTok * n_out);
            for (int64_t t = 0; t < kTok; ++t)
                matmul_isa(isa, w.view, x.data() + t * n_in, 1, single.data() + t * n_out, 1, Numerics::Invariant);
            for (int64_t n = 1; n <= kTok; n += n < 20 ? 1 : 11)
                for (int threads : {1, 2}) {
                    SCOPED_TRACE(testing::Message() << isa_name(isa) << " n_in " << n_in << " tokens " << n << " threads "
                                                    << threads << " kernel "
                                                    << matmul_kernel_name(isa, type, n, Numerics::Invariant));
                    std::vector<float> y(n * n_out, NAN);
                    matmul_isa(isa, w.view, x.data(), n, y.data(), threads, Numerics::Invariant);
                    ASSERT_EQ(0, std::memcmp(y.data(), single.data(), n * n_out * sizeof(float)));
                }
        }
        if (isa_is_x86(isa)) {
            for (int64_t n : {2, 3, block_size(type) == 32 ? 11 : 5})
                EXPECT_STREQ(matmul_kernel_name(isa, type, n, Numerics::Invariant), "gemv-multi") << n;
        }
    }
}

// Q4_K: one token through its vec_dot / gemv (llama.cpp's repacked arithmetic, the GEMM's kint arithmetic), a few
// through the several-token GEMV, more through the GEMM; Q5_K and Q6_K: GEMM-order GEMVs, then the GEMM.
INSTANTIATE_TEST_SUITE_P(Q4, ServingBatches, testing::Values(DType::Q4_0, DType::Q4_1, DType::Q4_K, DType::Q5_K, DType::Q6_K),
                         [](const testing::TestParamInfo<DType>& i) { return std::string(dtype_name(i.param)); });

// The kernel names the tools print follow the mode: Invariant never names OpenBLAS, and names the GEMM (or a
// GEMV in its order) for any token count of a type whose vec_dot order differs from it (Q6_K); Q4_0 and Q4_K on
// AVX2 / AVX-512 keep exact's choice for one token (their vec_dot computes the GEMM's operations).
TEST(MatmulInvariance, KernelNamesFollowTheMode) {
    const Isa isa = best_isa();
    for (int64_t n : {1, 512}) {
        EXPECT_STREQ(matmul_kernel_name(isa, DType::F16, n, Numerics::Invariant),
                     matmul_kernel_name(isa, DType::F16, 1, Numerics::Invariant));
        const std::string q = matmul_kernel_name(isa, DType::Q6_K, n, Numerics::Invariant);
        EXPECT_NE(q.find("gemm"), std::string::npos) << q;  // the GEMM, or a kernel in its order
        if (isa_is_x86(isa)) {  // llama.cpp's x86 Q4_0 vec_dot sums in the GEMM's order: one kernel serves both
            EXPECT_STREQ(matmul_kernel_name(isa, DType::Q4_0, n, Numerics::Invariant),
                         matmul_kernel_name(isa, DType::Q4_0, n, Numerics::Exact));
        }
    }
    if (isa_is_x86(isa)) {  // and so does its repacked Q4_K gemv, for one token
        EXPECT_STREQ(matmul_kernel_name(isa, DType::Q4_K, 1, Numerics::Invariant),
                     matmul_kernel_name(isa, DType::Q4_K, 1, Numerics::Exact));
    }
    EXPECT_STRNE(matmul_kernel_name(isa, DType::Q4_1, 512, Numerics::Exact), "gemm-avx512vnni");
}

// Q4_K's invariant arithmetic IS llama.cpp's repacked gemv (gemm.hpp gemm_kint): on x86, where the exact mode's one-token
// Q4_K call reproduces it (tests/models: llama.cpp's logits and greedy tokens), every row of an invariant batch run by
// the GEMM or the several-token GEMV is memcmp-equal to that token's exact one-token result, rows of odd counts,
// super-block counts 1, 3 and 22 (5632 elements).
TEST(MatmulInvariance, Q4KInvariantIsLlamaCppsRepackedGemv) {
    int checked = 0;
    for (Isa isa : kAllIsas) {
        if (!isa_supported(isa) || !isa_is_x86(isa)) continue;
        for (int64_t blocks : {1, 3, 22})
            for (int64_t n_out : {16, 37}) {
                const int64_t n_in = blocks * 256;
                std::mt19937 rng(31 + (uint32_t)(blocks * n_out));
                const test::Weights w = test::make_weights(DType::Q4_K, n_in, n_out, rng, 0.01f);
                const std::vector<float> x = make_x(40, n_in, rng);
                for (int64_t n : {3, 40}) {
                    SCOPED_TRACE(testing::Message() << isa_name(isa) << " blocks " << blocks << " rows " << n_out << " tokens "
                                                    << n << " " << matmul_kernel_name(isa, DType::Q4_K, n, Numerics::Invariant));
                    std::vector<float> batch(n * n_out), one(n_out);
                    matmul_isa(isa, w.view, x.data(), n, batch.data(), 2, Numerics::Invariant);
                    for (int64_t t = 0; t < n; ++t) {
                        matmul_isa(isa, w.view, x.data() + t * n_in, 1, one.data(), 1, Numerics::Exact);
                        ASSERT_EQ(0, std::memcmp(one.data(), batch.data() + t * n_out, n_out * sizeof(float))) << "token " << t;
                    }
                }
                ++checked;
            }
        EXPECT_STREQ(matmul_kernel_name(isa, DType::Q4_K, 40, Numerics::Invariant), isa == Isa::Avx512 ? "gemm-avx512vnni"
                     : cpu_features().avx_vnni ? "gemm-avxvnni" : "gemm-avx2");
    }
    if (!checked) GTEST_SKIP() << "no x86 kernels on this CPU";
}

// The memcmp above catches a kernel that sums in another order: for the types whose 1-token invariant call runs a
// GEMM-order GEMV (gemv.hpp) rather than the vec_dot, the vec_dot's order (exact mode: llama.cpp's) gives
// other bits on the same data, so a GEMV that fell back to it, or summed its sub-blocks differently, would fail.
TEST(MatmulInvariance, AnotherAccumulationOrderIsDetected) {
    int checked = 0;
    for (Isa isa : kAllIsas) {
        if (!isa_supported(isa)) continue;
        for (DType type : {DType::Q4_1, DType::Q8_0, DType::Q4_K, DType::Q5_K, DType::Q6_K}) {
            if (std::string(matmul_kernel_name(isa, type, 1, Numerics::Invariant)) != "gemv-gemm-order") continue;
            SCOPED_TRACE(testing::Message() << dtype_name(type) << " " << isa_name(isa));
            const int64_t n_in = 4 * block_size(type), n_out = 32;
            std::mt19937 rng(11 + (uint32_t)type);
            const test::Weights w = test::make_weights(type, n_in, n_out, rng, 0.01f);
            const std::vector<float> x = make_x(1, n_in, rng);
            std::vector<float> inv(n_out), ex(n_out), gemm(8 * n_out);
            matmul_isa(isa, w.view, x.data(), 1, inv.data(), 1, Numerics::Invariant);
            matmul_isa(isa, w.view, x.data(), 1, ex.data(), 1, Numerics::Exact);
            // The GEMM itself on a batch whose first token is x: the GEMV's reference.
            std::vector<float> xb = make_x(8, n_in, rng);
            std::copy(x.begin(), x.end(), xb.begin());
            matmul_isa(isa, w.view, xb.data(), 8, gemm.data(), 1, Numerics::Invariant);
            ASSERT_NE(std::string(matmul_kernel_name(isa, type, 8, Numerics::Invariant)), "gemv-gemm-order");
            EXPECT_EQ(0, std::memcmp(inv.data(), gemm.data(), n_out * sizeof(float)));
            EXPECT_NE(0, std::memcmp(inv.data(), ex.data(), n_out * sizeof(float)))
                << "the data does not tell the two orders apart";
            ++checked;
        }
    }
    if (!checked) GTEST_SKIP() << "no GEMM-order GEMV on this CPU";
}

}  // namespace
// The GEMM-order GEMVs on odd shapes: row counts that leave a tail for the GEMM (n_out not a multiple of the
// 8- or 16-row group), 1..5 blocks per row, rows of 1 and 2 threads: each token's outputs memcmp-equal to
// the same token's row in an 8-token GEMM call.
TEST(MatmulInvariance, GemmOrderGemvEqualsTheGemmOnOddShapes) {
    int checked = 0;
    for (Isa isa : kAllIsas) {
        if (!isa_supported(isa)) continue;
        for (DType type : {DType::Q4_1, DType::Q8_0, DType::Q4_K, DType::Q5_K, DType::Q6_K}) {
            if (std::string(matmul_kernel_name(isa, type, 1, Numerics::Invariant)) != "gemv-gemm-order") continue;
            for (int64_t blocks : {1, 3, 5})
                for (int64_t n_out : {16, 23, 47, 129}) {
                    SCOPED_TRACE(testing::Message() << dtype_name(type) << " " << isa_name(isa) << " blocks "
                                                    << blocks << " rows " << n_out);
                    const int64_t n_in = blocks * block_size(type);
                    std::mt19937 rng(7 + (uint32_t)type + (uint32_t)(blocks * n_out));
                    const test::Weights w = test::make_weights(type, n_in, n_out, rng, 0.01f);
                    const std::vector<float> xb = make_x(8, n_in, rng);
                    std::vector<float> gemm(8 * n_out), one(n_out);
                    matmul_isa(isa, w.view, xb.data(), 8, gemm.data(), 1, Numerics::Invariant);
                    for (int64_t t = 0; t < 8; ++t) {
                        matmul_isa(isa, w.view, xb.data() + t * n_in, 1, one.data(), 1 + (int)(t % 2),
                                   Numerics::Invariant);
                        ASSERT_EQ(0, std::memcmp(one.data(), gemm.data() + t * n_out, n_out * sizeof(float)))
                            << "token " << t;
                    }
                    ++checked;
                }
        }
    }
    if (!checked) GTEST_SKIP() << "no GEMM-order GEMV on this CPU";
}

}  // namespace llm
