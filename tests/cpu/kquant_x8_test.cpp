// Q4_K's 8-row interleaved panels (kernels/cpu/kquant_x8.hpp): the layout gives back every row byte for byte (zeros
// past n_out); the AVX2 kernel over them gives, for every row and token, the bits of the AVX2 vec_dot of that row
// (the public registration's, as gemv_test.cpp takes it), over random bytes (every nibble, 6-bit scale and min) and
// quantized rows; and matmul, reading the panels in every mode and path (the kernel for a few tokens, the GEMM packed
// from the panels for more), gives the same bits as from the rows, at 1 to 40 tokens and 1 or 2 threads.
#include "kernels/cpu/kquant_x8.hpp"

#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "core/cpu_features.hpp"
#include "kernels/cpu/vec_dot.hpp"
#include "kernels/quant/blocks.hpp"
#include "test_weights.hpp"

namespace llm {
namespace {

// Q4_K rows of random bytes with finite, moderate d and dmin: every nibble and every 6-bit scale / min occurs.
test::Weights random_q4_k(int64_t n_in, int64_t n_out, std::mt19937& rng) {
    test::Weights w = test::make_weights(DType::Q4_K, n_in, n_out, rng);
    for (auto& byte : w.bytes) byte = (uint8_t)rng();
    auto* blocks = reinterpret_cast<BlockQ4_K*>(w.bytes.data());
    for (size_t b = 0; b < w.bytes.size() / sizeof(BlockQ4_K); ++b) {
        blocks[b].d = (uint16_t)(0x2000 + rng() % 0x1000);     // ~0.008 .. 0.03
        blocks[b].dmin = (uint16_t)(0x1c00 + rng() % 0x1000);  // ~0.004 .. 0.015
    }
    return w;
}

struct Panels {
    std::vector<uint8_t> buf;
    TensorView view;
};
Panels with_panels(const TensorView& rows) {
    Panels p;
    p.buf.resize(cpu::q4_k_x8_bytes(rows) + 64);
    uint8_t* aligned = p.buf.data() + (64 - reinterpret_cast<uintptr_t>(p.buf.data()) % 64) % 64;
    cpu::q4_k_x8_pack(rows, aligned, 2);
    p.view = rows;
    p.view.panels = aligned;
    return p;
}

std::vector<float> make_x(int64_t n_tokens, int64_t n_in, std::mt19937& rng) {
    std::normal_distribution<float> nd(0.0f, 1.0f);
    std::vector<float> x((size_t)(n_tokens * n_in));
    for (auto& e : x) e = nd(rng);
    x[5] = 40.0f;  // an outlier (one token's scale)
    return x;
}

TEST(Q4kX8, PanelsGiveBackTheRows) {
    std::mt19937 rng(1);
    for (int64_t n_out : {8, 21, 40}) {
        const test::Weights w = random_q4_k(512, n_out, rng);
        const Panels p = with_panels(w.view);
        const size_t rb = w.view.row_size();
        EXPECT_EQ(cpu::q4_k_x8_bytes(w.view), (size_t)((n_out + 7) / 8 * 8) * rb);
        std::vector<uint8_t> back((size_t)(n_out + 8) * rb, 0xAB);
        cpu::q4_k_x8_rows(p.view.panels, 512, 0, n_out, back.data());
        ASSERT_EQ(0, std::memcmp(back.data(), w.bytes.data(), w.bytes.size())) << n_out << " rows";
        cpu::q4_k_x8_rows(p.view.panels, 512, 3, 2, back.data());  // a range inside a group
        EXPECT_EQ(0, std::memcmp(back.data(), w.bytes.data() + 3 * rb, 2 * rb));
        const int64_t pad = (n_out + 7) / 8 * 8 - n_out;  // the last group's padding rows are zeros
        cpu::q4_k_x8_rows(p.view.panels, 512, n_out, pad, back.data());
        for (size_t i = 0; i < (size_t)pad * rb; ++i) ASSERT_EQ(back[i], 0) << "padding byte " << i;
    }
}

TEST(Q4kX8, KernelGivesTheVecDotsBits) {
    if (!isa_supported(Isa::Avx2)) GTEST_SKIP() << "no AVX2 on this CPU";
    cpu::IsaKernels k;
    cpu::register_avx2_float(k);
    cpu::register_avx2_legacy(k);
    cpu::register_avx2_kquants(k);
    const cpu::VecDotEntry e = k.dot[(size_t)DType::Q4_K];
    ASSERT_TRUE(e.fn && k.prepare[(size_t)e.act]);
    std::mt19937 rng(2);
    for (int quantized = 0; quantized < 2; ++quantized)
        for (int64_t n_in : {256, 1024, 2816}) {
            const test::Weights w = quantized ? test::make_weights(DType::Q4_K, n_in, 16, rng, 0.3f) : random_q4_k(n_in, 16, rng);
            const Panels p = with_panels(w.view);
            const int n_tok = 9;
            const std::vector<float> x = make_x(n_tok, n_in, rng);
            const size_t as = cpu::act_row_bytes(e.act, n_in);
            std::vector<uint8_t> act(as * n_tok);
            for (int t = 0; t < n_tok; ++t) k.prepare[(size_t)e.act](x.data() + t * n_in, act.data() + t * as, n_in);
            for (int nt = 1; nt <= n_tok; ++nt)
                for (int g = 0; g < 2; ++g) {
                    std::vector<float> y((size_t)(nt * 8), NAN);
                    cpu::gemv_q4_k_x8_avx2(n_in, static_cast<const uint8_t*>(p.view.panels) + (size_t)g * 8 * w.view.row_size(),
                                           act.data(), as, nt, y.data(), 8);
                    for (int t = 0; t < nt; ++t)
                        for (int r = 0; r < 8; ++r) {
                            const float want = e.fn(n_in, w.view.row(g * 8 + r), act.data() + t * as);
                            ASSERT_EQ(0, std::memcmp(&want, &y[t * 8 + r], 4))
                                << (quantized ? "quantized" : "random bytes") << " n_in " << n_in << ", " << nt
                                << " tokens: row " << g * 8 + r << " token " << t << " " << y[t * 8 + r] << " vs " << want;
                        }
                }
        }
}

TEST(Q4kX8, MatmulReadsThePanelsWithTheRowsBits) {
    if (!isa_supported(Isa::Avx2)) GTEST_SKIP() << "no AVX2 on this CPU";
    std::mt19937 rng(3);
    const int64_t n_in = 768, n_out = 44;  // a last group of 4 rows
    const test::Weights w = test::make_weights(DType::Q4_K, n_in, n_out, rng, 0.3f);
    const Panels p = with_panels(w.view);
    const std::vector<float> x = make_x(40, n_in, rng);
    for (Numerics mode : {Numerics::Invariant, Numerics::Fast, Numerics::Exact})
        for (int64_t n : {1, 2, 3, 4, 5, 8, 9, 10, 11, 17, 40}) {
            const std::string what = std::string(numerics_name(mode)) + ", " + std::to_string(n) + " tokens";
            const bool reads_panels = mode != Numerics::Exact || n <= 3;
            if (reads_panels && n < cpu::kQ4kX8GemmFrom) {
                EXPECT_STREQ(matmul_kernel_name(Isa::Avx2, DType::Q4_K, n, mode, true), "gemv-q4k-x8") << what;
            }
            std::vector<float> want((size_t)(n * n_out)), got((size_t)(n * n_out));
            matmul_isa(Isa::Avx2, w.view, x.data(), n, want.data(), 2, mode);
            for (int threads : {1, 2}) {
                std::fill(got.begin(), got.end(), NAN);
                matmul_isa(Isa::Avx2, p.view, x.data(), n, got.data(), threads, mode);
                ASSERT_EQ(0, std::memcmp(want.data(), got.data(), want.size() * sizeof(float))) << what << ", " << threads << " threads";
            }
        }
    // The other ISAs read the rows of a matrix that has panels (the same outputs as without them).
    for (Isa isa : {Isa::Scalar, Isa::Avx512}) {
        if (!isa_supported(isa)) continue;
        std::vector<float> want((size_t)(5 * n_out)), got((size_t)(5 * n_out));
        matmul_isa(isa, w.view, x.data(), 5, want.data(), 2, Numerics::Invariant);
        matmul_isa(isa, p.view, x.data(), 5, got.data(), 2, Numerics::Invariant);
        EXPECT_EQ(0, std::memcmp(want.data(), got.data(), want.size() * sizeof(float))) << isa_name(isa);
    }
}

}  // namespace
}  // namespace llm
