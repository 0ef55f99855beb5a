// The float GEMM (kernels/cpu/float_chain.hpp: prompts with F32 / F16 / BF16 weights in `exact` and `fast` on x86)
// is memcmp-equal to the specification, one std::fma chain per output written here in the test (not the library's
// reference), for row lengths with and without a 16-column tail and several 512-column blocks, row counts around
// the 16-row panels, token counts around the micro-kernel's 6, 1 and 2 threads; and matmul_isa dispatches to it.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "core/fp16.hpp"
#include "kernels/cpu/float_chain.hpp"
#include "kernels/cpu/matmul.hpp"
#include "test_weights.hpp"

namespace llm {
namespace {

float weight_at(const TensorView& w, int64_t r, int64_t i) {
    const uint8_t* p = w.row(r);
    uint16_t h;
    float f;
    switch (w.type) {
        case DType::F16: std::memcpy(&h, p + 2 * i, 2); return fp16_to_fp32(h);
        case DType::BF16: std::memcpy(&h, p + 2 * i, 2); return bf16_to_fp32(h);
        default: std::memcpy(&f, p + 4 * i, 4); return f;
    }
}

std::vector<float> chains(const TensorView& w, const std::vector<float>& x, int64_t n_tokens) {
    const int64_t n_in = w.ne[0], n_out = w.ne[1];
    std::vector<float> y(n_tokens * n_out);
    for (int64_t t = 0; t < n_tokens; ++t)
        for (int64_t r = 0; r < n_out; ++r) {
            float acc = 0.0f;
            for (int64_t i = 0; i < n_in; ++i) acc = std::fma(weight_at(w, r, i), x[t * n_in + i], acc);
            y[t * n_out + r] = acc;
        }
    return y;
}

std::vector<float> make_x(int64_t n_tokens, int64_t n_in, std::mt19937& rng) {
    std::normal_distribution<float> nd(0.0f, 1.0f);
    std::vector<float> x(n_tokens * n_in);
    for (float& v : x) v = nd(rng);
    return x;
}

class FloatChain : public testing::TestWithParam<DType> {};

TEST_P(FloatChain, KernelsEqualOneFmaChainPerOutput) {
    if (!cpu::float_chain_supports(Isa::Avx2, GetParam()) || !isa_supported(Isa::Avx2)) GTEST_SKIP() << "no AVX2";
    const DType type = GetParam();
    std::mt19937 rng(11 + (uint32_t)type);
    for (int64_t n_in : {7, 16, 45, 256, 600, 1100}) {
        for (int64_t n_out : {1, 8, 13, 16, 40, 71}) {
            const test::Weights w = test::make_weights(type, n_in, n_out, rng);
            constexpr int64_t kTok = 14;
            const std::vector<float> x = make_x(kTok, n_in, rng);
            const std::vector<float> want = chains(w.view, x, kTok);
            std::vector<float> ref(kTok * n_out);
            cpu::float_chain_reference(w.view, x.data(), kTok, ref.data());
            ASSERT_EQ(0, std::memcmp(ref.data(), want.data(), ref.size() * sizeof(float)));
            for (int64_t n : {1, 2, 5, 6, 7, 13, 14})
                for (int threads : {1, 2}) {
                    SCOPED_TRACE(testing::Message() << dtype_name(type) << " n_in " << n_in << " n_out " << n_out
                                                    << " tokens " << n << " threads " << threads);
                    std::vector<float> y(n * n_out + 3, NAN);
                    y[n * n_out] = y[n * n_out + 1] = y[n * n_out + 2] = 7.0f;  // nothing written past the end
                    cpu::float_chain_matmul(w.view, x.data(), n, y.data(), threads);
                    ASSERT_EQ(0, std::memcmp(y.data(), want.data(), n * n_out * sizeof(float)));
                    ASSERT_EQ(y[n * n_out + 2], 7.0f);
                }
        }
    }
}

// Long rows (several 512-column blocks plus a tail) through matmul_isa: `exact` and `fast` take the GEMM from its
// threshold on every x86 level (the name the tools print: gemm-float), the vec_dot kernels below it; `invariant`
// never takes it (its one-token results must equal the batch's).
TEST_P(FloatChain, PromptsOfExactAndFastUseIt) {
    const DType type = GetParam();
    std::mt19937 rng(5);
    const int64_t n_in = 2 * 512 + 40, n_out = 35;
    const test::Weights w = test::make_weights(type, n_in, n_out, rng);
    int isas = 0;
    for (Isa isa : kAllIsas) {
        if (!isa_supported(isa) || !isa_is_x86(isa)) continue;
        ++isas;
        const int64_t n = cpu::float_chain_min_tokens(isa, type);
        ASSERT_GE(n, 2);
        ASSERT_LE(n, 64);
        const std::vector<float> x = make_x(n, n_in, rng);
        const std::vector<float> want = chains(w.view, x, n);
        for (Numerics mode : {Numerics::Exact, Numerics::Fast}) {
            EXPECT_STREQ(matmul_kernel_name(isa, type, n, mode), "gemm-float");
            EXPECT_STRNE(matmul_kernel_name(isa, type, n - 1, mode), "gemm-float");
            std::vector<float> y(n * n_out);
            matmul_isa(isa, w.view, x.data(), n, y.data(), 2, mode);
            EXPECT_EQ(0, std::memcmp(y.data(), want.data(), y.size() * sizeof(float))) << isa_name(isa);
        }
        EXPECT_STRNE(matmul_kernel_name(isa, type, 512, Numerics::Invariant), "gemm-float");
    }
    if (isas == 0) GTEST_SKIP() << "no AVX2";
}

INSTANTIATE_TEST_SUITE_P(Types, FloatChain, testing::Values(DType::F32, DType::F16, DType::BF16),
                         [](const testing::TestParamInfo<DType>& i) { return std::string(dtype_name(i.param)); });

}  // namespace
}  // namespace llm
