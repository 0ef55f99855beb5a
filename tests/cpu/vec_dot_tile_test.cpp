// The vec_dot tile kernels (VecDotEntry::tile: several weight rows x several tokens per call, Q5_0 and Q8_0 on
// AVX2 and AVX-512) against their contract: every output memcmp-equal to the same ISA's vec_dot of that row and
// token, over odd row lengths, tokens of very different magnitudes (one all-zero) and an output stride wider
// than the tile; and matmul's batches (whole tiles, then leftover rows and tokens one output at a time, 1 and 2
// threads) memcmp-equal to the same tokens run one at a time.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <random>
#include <vector>

#include "core/cpu_features.hpp"
#include "core/tensor.hpp"
#include "kernels/cpu/matmul.hpp"
#include "kernels/cpu/vec_dot.hpp"
#include "kernels/quant/quant.hpp"

namespace llm {
namespace {

const DType kTiledTypes[] = {DType::Q5_0, DType::Q8_0};

// The ISA's table as matmul builds it (the activation preparation comes with the float kernels).
cpu::IsaKernels isa_kernels(Isa isa) {
    cpu::IsaKernels k;
    if (isa == Isa::Avx512) {
        cpu::register_avx512_float(k, cpu_features().avx512_bf16);
        cpu::register_avx512_legacy(k);
        cpu::register_avx512_kquants(k);
    } else {
        cpu::register_avx2_float(k);
        cpu::register_avx2_legacy(k);
        cpu::register_avx2_kquants(k);
    }
    return k;
}

std::vector<float> normal(size_t n, float scale, std::mt19937& rng) {
    std::normal_distribution<float> nd(0.0f, 1.0f);
    std::vector<float> v(n);
    for (auto& e : v) e = scale * nd(rng);
    return v;
}

// Token t's activations: magnitudes 1, 100, 0.01 in turn, token 5 all zero, an outlier in each.
std::vector<float> make_tokens(int64_t n_tok, int64_t n, std::mt19937& rng) {
    std::vector<float> x((size_t)(n_tok * n));
    for (int64_t t = 0; t < n_tok; ++t) {
        const std::vector<float> v = normal((size_t)n, t % 3 == 1 ? 100.0f : t % 3 == 2 ? 1e-2f : 1.0f, rng);
        std::copy(v.begin(), v.end(), x.begin() + t * n);
        if (t == 5) std::fill(x.begin() + t * n, x.begin() + (t + 1) * n, 0.0f);
        else x[(size_t)(t * n + n - 3)] *= 30.0f;
    }
    return x;
}

std::vector<uint8_t> quantize_rows(DType type, int64_t rows, int64_t n, std::mt19937& rng) {
    const size_t rb = row_bytes(type, n);
    std::vector<uint8_t> w(rb * (size_t)rows);
    for (int64_t r = 0; r < rows; ++r) {
        const std::vector<float> v = normal((size_t)n, r % 4 == 1 ? 40.0f : r % 4 == 3 ? 1e-3f : 1.0f, rng);
        quantize_row(type, v.data(), w.data() + (size_t)r * rb, n);
    }
    return w;
}

void check_tiles(Isa isa) {
    const cpu::IsaKernels k = isa_kernels(isa);
    ASSERT_NE(k.prepare[(size_t)cpu::ActType::Q8_32], nullptr);
    std::mt19937 rng(17);
    for (DType type : kTiledTypes) {
        const cpu::VecDotEntry& e = k.dot[(size_t)type];
        ASSERT_NE(e.tile.fn, nullptr) << dtype_name(type);
        ASSERT_GT(e.tile.rows, 0);
        ASSERT_GT(e.tile.tokens, 0);
        for (int64_t n : {(int64_t)32, (int64_t)96, (int64_t)640, (int64_t)2080}) {
            const int64_t rows = e.tile.rows + 3, n_tok = e.tile.tokens + 6;
            const size_t rb = row_bytes(type, n), stride = cpu::act_row_bytes(e.act, n);
            const std::vector<uint8_t> w = quantize_rows(type, rows, n, rng);
            const std::vector<float> x = make_tokens(n_tok, n, rng);
            std::vector<uint8_t> act(stride * (size_t)n_tok);
            for (int64_t t = 0; t < n_tok; ++t) k.prepare[(size_t)e.act](x.data() + t * n, act.data() + t * stride, n);
            // Tiles at every row offset and token offset that fit.
            for (int64_t r0 = 0; r0 + e.tile.rows <= rows; ++r0)
                for (int64_t t0 = 0; t0 + e.tile.tokens <= n_tok; ++t0) {
                    SCOPED_TRACE(testing::Message() << isa_name(isa) << " " << dtype_name(type) << " n " << n << " row "
                                                    << r0 << " token " << t0);
                    const int64_t ldy = e.tile.rows + 5;
                    std::vector<float> got((size_t)(e.tile.tokens * ldy), -1.0f);
                    e.tile.fn(n, w.data() + (size_t)r0 * rb, rb, act.data() + (size_t)t0 * stride, stride, got.data(), ldy);
                    for (int t = 0; t < e.tile.tokens; ++t)
                        for (int r = 0; r < e.tile.rows; ++r) {
                            const float want = e.fn(n, w.data() + (size_t)(r0 + r) * rb, act.data() + (size_t)(t0 + t) * stride);
                            ASSERT_EQ(0, std::memcmp(&want, &got[(size_t)(t * ldy + r)], sizeof(float)))
                                << "row " << r << " token " << t << ": " << got[(size_t)(t * ldy + r)] << " vs " << want;
                        }
                }
        }
    }
}

TEST(VecDotTile, BitIdenticalToVecDotAvx512) {
    if (!isa_supported(Isa::Avx512)) GTEST_SKIP() << "no AVX-512 VNNI";
    check_tiles(Isa::Avx512);
}

TEST(VecDotTile, BitIdenticalToVecDotAvx2) {
    if (!isa_supported(Isa::Avx2)) GTEST_SKIP() << "no AVX2";
    check_tiles(Isa::Avx2);
}

// matmul in the exact mode (where Q5_0 and Q8_0 batches stay on the vec_dot arithmetic): 13 tokens over 37
// rows give each token the outputs it gets alone, whatever the thread count.
TEST(VecDotTile, MatmulBatchesEqualOneTokenAtATime) {
    std::mt19937 rng(23);
    int isas = 0;
    for (Isa isa : {Isa::Avx512, Isa::Avx2}) {
        if (!isa_supported(isa)) continue;
        ++isas;
        for (DType type : kTiledTypes) {
            const int64_t n = 640, rows = 37, n_tok = 13;
            const std::vector<uint8_t> w = quantize_rows(type, rows, n, rng);
            TensorView view;
            view.name = "w";
            view.type = type;
            view.n_dims = 2;
            view.ne = {n, rows, 1, 1};
            view.data = w.data();
            view.nbytes = w.size();
            const std::vector<float> x = make_tokens(n_tok, n, rng);
            std::vector<float> alone((size_t)(n_tok * rows));
            for (int64_t t = 0; t < n_tok; ++t)
                matmul_isa(isa, view, x.data() + t * n, 1, alone.data() + t * rows, 1, Numerics::Exact);
            for (int threads : {1, 2}) {
                SCOPED_TRACE(testing::Message() << isa_name(isa) << " " << dtype_name(type) << " threads " << threads);
                std::vector<float> batch((size_t)(n_tok * rows), -1.0f);
                matmul_isa(isa, view, x.data(), n_tok, batch.data(), threads, Numerics::Exact);
                for (int64_t t = 0; t < n_tok; ++t)
                    EXPECT_EQ(0, std::memcmp(alone.data() + t * rows, batch.data() + t * rows, sizeof(float) * (size_t)rows))
                        << "token " << t;
            }
        }
    }
    if (isas == 0) GTEST_SKIP() << "no AVX2";
}

}  // namespace
}  // namespace llm
