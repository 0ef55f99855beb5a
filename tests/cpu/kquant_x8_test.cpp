// Q4_K's and Q5_K's 8-row interleaved panels (kernels/cpu/kquant_x8.hpp): the layout gives back every row byte for
// byte (zeros past n_out); the AVX2 kernel over them gives, for every row and token, the bits of the rows' kernel of
// the same arithmetic (Q4_K: the AVX2 vec_dot, from the public registration as gemv_test.cpp takes it; Q5_K: the
// GEMV in the GEMM's order), over random bytes (every nibble, fifth bit, 6-bit scale and min) and quantized rows; and
// matmul, reading the panels in every mode and path (the kernel for a few tokens, the GEMM packed from the panels for
// more), gives the same bits as from the rows, at 1 to 40 tokens and 1 or 2 threads.
#include "kernels/cpu/kquant_x8.hpp"

#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "core/cpu_features.hpp"
#include "kernels/cpu/gemv.hpp"
#include "kernels/cpu/vec_dot.hpp"
#include "kernels/quant/blocks.hpp"
#include "test_weights.hpp"

namespace llm {
namespace {

constexpr DType kTypes[] = {DType::Q4_K, DType::Q5_K};

// Rows of random bytes with finite, moderate d and dmin: every nibble, fifth bit and 6-bit scale / min occurs.
test::Weights random_rows(DType type, int64_t n_in, int64_t n_out, std::mt19937& rng) {
    test::Weights w = test::make_weights(type, n_in, n_out, rng);
    for (auto& byte : w.bytes) byte = (uint8_t)rng();
    const size_t bs = type == DType::Q5_K ? sizeof(BlockQ5_K) : sizeof(BlockQ4_K);
    for (size_t at = 0; at < w.bytes.size(); at += bs) {  // d, dmin: the blocks' first two fp16 in both types
        const uint16_t d = (uint16_t)(0x2000 + rng() % 0x1000), dmin = (uint16_t)(0x1c00 + rng() % 0x1000);
        std::memcpy(&w.bytes[at], &d, 2);      // ~0.008 .. 0.03
        std::memcpy(&w.bytes[at + 2], &dmin, 2);  // ~0.004 .. 0.015
    }
    return w;
}

struct Panels {
    std::vector<uint8_t> buf;
    TensorView view;
};
Panels with_panels(const TensorView& rows, int n_threads = 2) {
    Panels p;
    p.buf.resize(cpu::kquant_x8_bytes(rows) + 64);
    uint8_t* aligned = p.buf.data() + (64 - reinterpret_cast<uintptr_t>(p.buf.data()) % 64) % 64;
    cpu::kquant_x8_pack(rows, aligned, n_threads);
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

TEST(KquantX8, PanelsGiveBackTheRows) {
    std::mt19937 rng(1);
    for (DType type : kTypes)
        for (int64_t n_out : {8, 21, 40}) {
            const test::Weights w = random_rows(type, 512, n_out, rng);
            const Panels p = with_panels(w.view, 1);  // one thread: this test also runs under the ARM64 emulation
            const size_t rb = w.view.row_size();
            const std::string what = std::string(dtype_name(type)) + ", " + std::to_string(n_out) + " rows";
            EXPECT_EQ(cpu::kquant_x8_bytes(w.view), (size_t)((n_out + 7) / 8 * 8) * rb) << what;
            std::vector<uint8_t> back((size_t)(n_out + 8) * rb, 0xAB);
            cpu::kquant_x8_rows(type, p.view.panels, 512, 0, n_out, back.data());
            ASSERT_EQ(0, std::memcmp(back.data(), w.bytes.data(), w.bytes.size())) << what;
            cpu::kquant_x8_rows(type, p.view.panels, 512, 3, 2, back.data());  // a range inside a group
            EXPECT_EQ(0, std::memcmp(back.data(), w.bytes.data() + 3 * rb, 2 * rb)) << what;
            const int64_t pad = (n_out + 7) / 8 * 8 - n_out;  // the last group's padding rows are zeros
            cpu::kquant_x8_rows(type, p.view.panels, 512, n_out, pad, back.data());
            for (size_t i = 0; i < (size_t)pad * rb; ++i) ASSERT_EQ(back[i], 0) << what << ": padding byte " << i;
        }
}

TEST(KquantX8, KernelGivesTheRowsKernelsBits) {
    if (!isa_supported(Isa::Avx2)) GTEST_SKIP() << "no AVX2 on this CPU";
    cpu::IsaKernels k;
    cpu::register_avx2_float(k);
    cpu::register_avx2_legacy(k);
    cpu::register_avx2_kquants(k);
    std::mt19937 rng(2);
    for (DType type : kTypes) {
        const cpu::VecDotEntry e = k.dot[(size_t)type];
        const cpu::GemvKernel gemm_order = cpu::gemv_gemm_order_avx2(type);  // Q5_K's rows kernel in the GEMM's order
        ASSERT_TRUE(e.fn && k.prepare[(size_t)e.act] && gemm_order.fn && gemm_order.rows == 8);
        for (int quantized = 0; quantized < 2; ++quantized)
            for (int64_t n_in : {256, 1024, 2816}) {
                const test::Weights w =
                    quantized ? test::make_weights(type, n_in, 16, rng, 0.3f) : random_rows(type, n_in, 16, rng);
                const Panels p = with_panels(w.view);
                const size_t rb = w.view.row_size();
                const int n_tok = 9;
                const std::vector<float> x = make_x(n_tok, n_in, rng);
                const size_t as = cpu::act_row_bytes(e.act, n_in);
                std::vector<uint8_t> act(as * n_tok);
                for (int t = 0; t < n_tok; ++t) k.prepare[(size_t)e.act](x.data() + t * n_in, act.data() + t * as, n_in);
                for (int nt = 1; nt <= n_tok; ++nt)
                    for (int g = 0; g < 2; ++g) {
                        std::vector<float> y((size_t)(nt * 8), NAN);
                        cpu::gemv_kquant_x8_avx2(type, n_in, static_cast<const uint8_t*>(p.view.panels) + (size_t)g * 8 * rb,
                                                 act.data(), as, nt, y.data(), 8);
                        for (int t = 0; t < nt; ++t) {
                            float want[8];
                            if (type == DType::Q4_K)
                                for (int r = 0; r < 8; ++r) want[r] = e.fn(n_in, w.view.row(g * 8 + r), act.data() + t * as);
                            else
                                gemm_order.fn(n_in, w.view.row(g * 8), rb, act.data() + t * as, want);
                            for (int r = 0; r < 8; ++r)
                                ASSERT_EQ(0, std::memcmp(&want[r], &y[t * 8 + r], 4))
                                    << dtype_name(type) << (quantized ? " quantized" : " random bytes") << " n_in " << n_in
                                    << ", " << nt << " tokens: row " << g * 8 + r << " token " << t << " " << y[t * 8 + r]
                                    << " vs " << want[r];
                        }
                    }
            }
    }
}

TEST(KquantX8, MatmulReadsThePanelsWithTheRowsBits) {
    if (!isa_supported(Isa::Avx2)) GTEST_SKIP() << "no AVX2 on this CPU";
    std::mt19937 rng(3);
    const int64_t n_in = 768, n_out = 44;  // a last group of 4 rows
    const std::vector<float> x = make_x(40, n_in, rng);
    for (DType type : kTypes) {
        const test::Weights w = test::make_weights(type, n_in, n_out, rng, 0.3f);
        const Panels p = with_panels(w.view);
        for (Numerics mode : {Numerics::Invariant, Numerics::Fast, Numerics::Exact})
            for (int64_t n : {1, 2, 3, 4, 5, 8, 9, 13, 14, 17, 40}) {
                const std::string what = std::string(dtype_name(type)) + ", " + std::string(numerics_name(mode)) + ", " +
                                         std::to_string(n) + " tokens";
                const bool x8 = mode != Numerics::Exact ? n < cpu::kKquantX8GemmFrom : type == DType::Q4_K && n <= 3;
                EXPECT_EQ(std::string(matmul_kernel_name(Isa::Avx2, type, n, mode, true)) == "gemv-x8", x8) << what;
                // The panels' arithmetic is the GEMM's (invariant's on the rows); exact keeps its own.
                std::vector<float> want((size_t)(n * n_out)), got((size_t)(n * n_out));
                matmul_isa(Isa::Avx2, w.view, x.data(), n, want.data(), 2, mode == Numerics::Exact ? mode : Numerics::Invariant);
                for (int threads : {1, 2}) {
                    std::fill(got.begin(), got.end(), NAN);
                    matmul_isa(Isa::Avx2, p.view, x.data(), n, got.data(), threads, mode);
                    ASSERT_EQ(0, std::memcmp(want.data(), got.data(), want.size() * sizeof(float)))
                        << what << ", " << threads << " threads";
                }
            }
        // The other ISAs read the rows of a matrix that has panels (the same outputs as without them).
        for (Isa isa : {Isa::Scalar, Isa::Avx512}) {
            if (!isa_supported(isa)) continue;
            std::vector<float> want((size_t)(5 * n_out)), got((size_t)(5 * n_out));
            matmul_isa(isa, w.view, x.data(), 5, want.data(), 2, Numerics::Invariant);
            matmul_isa(isa, p.view, x.data(), 5, got.data(), 2, Numerics::Invariant);
            EXPECT_EQ(0, std::memcmp(want.data(), got.data(), want.size() * sizeof(float)))
                << dtype_name(type) << " " << isa_name(isa);
        }
    }
}

}  // namespace
}  // namespace llm
