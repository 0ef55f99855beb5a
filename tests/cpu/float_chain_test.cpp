// The float GEMM (kernels/cpu/float_chain.hpp: prompts with F32 / F16 / BF16 weights in `exact` and `fast` on x86,
// every token count of matrices interleaved at load) is memcmp-equal to the specification, one std::fma chain per
// output written here in the test (not the library's reference), for row lengths with and without a 16-column tail
// and several 512-column blocks, row counts around the 16-row panels, token counts around the micro-kernel's 6 and
// the direct kernel's limit, 1 and 2 threads, from the rows and from the interleaved panels (whose layout is checked
// element by element); and matmul_isa dispatches to it.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <memory>
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

// float_chain_matmul on the first n tokens of x with `threads` threads: memcmp-equal to `want`, nothing written past y.
void expect_chains(const TensorView& w, const std::vector<float>& x, int64_t n, int threads, const std::vector<float>& want) {
    const int64_t n_out = w.ne[1];
    SCOPED_TRACE(testing::Message() << dtype_name(w.type) << " n_in " << w.ne[0] << " n_out " << n_out << " tokens " << n
                                    << " threads " << threads);
    std::vector<float> y(n * n_out + 3, NAN);
    y[n * n_out] = y[n * n_out + 1] = y[n * n_out + 2] = 7.0f;  // nothing written past the end
    cpu::float_chain_matmul(w, x.data(), n, y.data(), threads);
    ASSERT_EQ(0, std::memcmp(y.data(), want.data(), n * n_out * sizeof(float)));
    ASSERT_EQ(y[n * n_out + 2], 7.0f);
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
                for (int threads : {1, 2}) expect_chains(w.view, x, n, threads, want);
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

// w's interleaved panels in a 64-byte aligned buffer (as runtime/repack_weights.cpp makes them).
std::shared_ptr<void> make_panels(TensorView& w) {
    const size_t bytes = (cpu::float_panels_bytes(w) + 63) / 64 * 64;
    std::shared_ptr<void> buf(std::aligned_alloc(64, bytes), std::free);
    cpu::float_panels_pack(w, buf.get(), 2);
    w.panels = buf.get();
    return buf;
}

TEST_P(FloatChain, PanelsHoldTheRowsInterleaved) {
    if (!cpu::float_chain_supports(Isa::Avx2, GetParam()) || !isa_supported(Isa::Avx2)) GTEST_SKIP() << "no AVX2";
    const DType type = GetParam();
    const size_t elem = type == DType::F32 ? 4 : 2;
    std::mt19937 rng(3);
    for (int64_t n_in : {5, 16, 40, 300})
        for (int64_t n_out : {1, 9, 16, 33}) {
            test::Weights w = test::make_weights(type, n_in, n_out, rng);
            const auto buf = make_panels(w.view);
            const int64_t n_panels = (n_out + 15) / 16;
            ASSERT_EQ(cpu::float_panels_bytes(w.view), (size_t)(n_panels * n_in * 16) * elem);
            const auto* pan = static_cast<const uint8_t*>(buf.get());
            const std::vector<uint8_t> zero(elem, 0);
            for (int64_t p = 0; p < n_panels; ++p)
                for (int64_t i = 0; i < n_in; ++i)
                    for (int64_t r = 0; r < 16; ++r) {
                        const uint8_t* got = pan + (((size_t)p * n_in + i) * 16 + r) * elem;
                        const uint8_t* want = 16 * p + r < n_out ? w.view.row(16 * p + r) + i * elem : zero.data();
                        ASSERT_EQ(0, std::memcmp(got, want, elem)) << "n_in " << n_in << " n_out " << n_out << " panel " << p
                                                                   << " column " << i << " row " << r;
                    }
        }
}

// From the panels every token count (the direct kernel up to kFloatPanelsDirectMaxTokens, the GEMM above) gives
// the chains' bits, as from the rows.
TEST_P(FloatChain, PanelsGiveTheSameChainsAtEveryTokenCount) {
    if (!cpu::float_chain_supports(Isa::Avx2, GetParam()) || !isa_supported(Isa::Avx2)) GTEST_SKIP() << "no AVX2";
    const DType type = GetParam();
    std::mt19937 rng(17 + (uint32_t)type);
    for (int64_t n_in : {7, 48, 600, 1100}) {
        for (int64_t n_out : {1, 13, 16, 40, 71}) {
            test::Weights w = test::make_weights(type, n_in, n_out, rng);
            const auto buf = make_panels(w.view);
            constexpr int64_t kTok = 20;
            const std::vector<float> x = make_x(kTok, n_in, rng);
            const std::vector<float> want = chains(w.view, x, kTok);
            for (int64_t n : {1, 2, 3, 4, 5, 6, 7, 8, 12, 14, 15, 16, 20})
                for (int threads : {1, 2}) expect_chains(w.view, x, n, threads, want);
        }
    }
}

// With panels, `invariant` and `fast` take the chains at every token count (gemv-float, then gemm-float) and
// `exact` from its threshold (llama.cpp's vec_dot below it); without them `invariant` never does. Batch invariance:
// every token of a 1..40-token call has the bits of the same token alone.
TEST_P(FloatChain, InterleavedWeightsRunEveryTokenCountInTheChainOrder) {
    const DType type = GetParam();
    std::mt19937 rng(23);
    const int64_t n_in = 512 + 88, n_out = 37;
    test::Weights w = test::make_weights(type, n_in, n_out, rng);
    const TensorView rows = w.view;
    int isas = 0;
    for (Isa isa : kAllIsas) {
        if (!isa_supported(isa) || !isa_is_x86(isa) || !cpu::float_chain_supports(isa, type)) continue;
        ++isas;
        const auto buf = make_panels(w.view);
        const std::vector<float> x = make_x(40, n_in, rng);
        const std::vector<float> want = chains(w.view, x, 40);
        for (int64_t n : {1, 2, 9, 15, 16, 40}) {
            const char* direct = n <= cpu::kFloatPanelsDirectMaxTokens ? "gemv-float" : "gemm-float";
            for (Numerics mode : {Numerics::Invariant, Numerics::Fast}) {
                EXPECT_STREQ(matmul_kernel_name(isa, type, n, mode, true), direct) << n;
                std::vector<float> y(n * n_out);
                matmul_isa(isa, w.view, x.data(), n, y.data(), 2, mode);
                EXPECT_EQ(0, std::memcmp(y.data(), want.data(), y.size() * sizeof(float))) << isa_name(isa) << " " << n;
            }
            EXPECT_STREQ(matmul_kernel_name(isa, type, n, Numerics::Invariant, false),
                         matmul_kernel_name(isa, type, 1, Numerics::Invariant, false));
        }
        const int64_t from = cpu::float_chain_min_tokens(isa, type);
        EXPECT_STREQ(matmul_kernel_name(isa, type, from, Numerics::Exact, true), "gemm-float");
        EXPECT_STREQ(matmul_kernel_name(isa, type, from - 1, Numerics::Exact, true),
                     matmul_kernel_name(isa, type, from - 1, Numerics::Exact, false));
        // exact's few tokens read the rows: the same as a view without panels.
        std::vector<float> a(2 * n_out), b(2 * n_out);
        matmul_isa(isa, w.view, x.data(), 2, a.data(), 2, Numerics::Exact);
        matmul_isa(isa, rows, x.data(), 2, b.data(), 2, Numerics::Exact);
        EXPECT_EQ(0, std::memcmp(a.data(), b.data(), a.size() * sizeof(float)));
        w.view = rows;
    }
    if (isas == 0) GTEST_SKIP() << "no AVX2";
}

INSTANTIATE_TEST_SUITE_P(Types, FloatChain, testing::Values(DType::F32, DType::F16, DType::BF16),
                         [](const testing::TestParamInfo<DType>& i) { return std::string(dtype_name(i.param)); });

}  // namespace
}  // namespace llm
