// The vec_dot tile kernels (several weight rows x several tokens per call, on AVX2 and AVX-512: VecDotEntry::tile
// of F32, F16, Q5_0 and Q8_0, tile_gemm4 of Q4_K) against their contract: every output memcmp-equal to the same ISA's
// per-output kernel (fn, fn_gemm4) on that row and token, over odd row lengths, tokens of very different
// magnitudes (one all-zero) and an output stride wider than the tile; and matmul's exact-mode batches (whole
// tiles, then leftover rows and tokens one output at a time, 1 and 2 threads) memcmp-equal to the per-output
// kernel llama.cpp's arithmetic asks for each token (fn_gemm4 for Q4_K's whole groups of 4 tokens, else fn).
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
#include "test_weights.hpp"

namespace llm {
namespace {

struct Tiled {
    DType type;
    bool gemm4;  // the tile computes fn_gemm4 (else fn)
};
const Tiled kTiled[] = {{DType::F32, false}, {DType::F16, false}, {DType::Q5_0, false}, {DType::Q8_0, false},
                        {DType::Q4_K, true}};

// Row lengths: 1, 3, 5 and 21 blocks; for the float types (block size 1) lengths around ggml's steps of 32
// (AVX2) and 64 (AVX-512) elements, with and without leftovers.
std::vector<int64_t> row_lengths(DType type) {
    const int64_t bs = block_size(type);
    if (bs == 1) return {7, 64, 129, 256, 2048 + 37};
    return {bs, 3 * bs, 5 * bs, 21 * bs};
}

// Activations in the entry's layout (F32: a copy; the table has no preparation for it).
void prepare_act(const cpu::IsaKernels& k, cpu::ActType act, const float* x, uint8_t* dst, int64_t n) {
    if (act == cpu::ActType::F32) std::memcpy(dst, x, sizeof(float) * (size_t)n);
    else k.prepare[(size_t)act](x, dst, n);
}

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
    for (const Tiled& c : kTiled) {
        const DType type = c.type;
        const cpu::VecDotEntry& e = k.dot[(size_t)type];
        const cpu::VecDotTile tile = c.gemm4 ? e.tile_gemm4 : e.tile;
        const cpu::VecDotFn fn = c.gemm4 ? e.fn_gemm4 : e.fn;
        ASSERT_NE(tile.fn, nullptr) << dtype_name(type);
        ASSERT_NE(fn, nullptr) << dtype_name(type);
        ASSERT_GT(tile.rows, 0);
        ASSERT_GT(tile.tokens, 0);
        if (c.gemm4) {
            EXPECT_EQ(4 % tile.tokens, 0);
        }
        for (int64_t n : row_lengths(type)) {
            const int64_t rows = tile.rows + 3, n_tok = tile.tokens + 6;
            const size_t rb = row_bytes(type, n), stride = cpu::act_row_bytes(e.act, n);
            const std::vector<uint8_t> w = quantize_rows(type, rows, n, rng);
            const std::vector<float> x = make_tokens(n_tok, n, rng);
            std::vector<uint8_t> act(stride * (size_t)n_tok);
            for (int64_t t = 0; t < n_tok; ++t) prepare_act(k, e.act, x.data() + t * n, act.data() + t * stride, n);
            // Tiles at every row offset and token offset that fit.
            for (int64_t r0 = 0; r0 + tile.rows <= rows; ++r0)
                for (int64_t t0 = 0; t0 + tile.tokens <= n_tok; ++t0) {
                    SCOPED_TRACE(testing::Message() << isa_name(isa) << " " << dtype_name(type) << " n " << n << " row "
                                                    << r0 << " token " << t0);
                    const int64_t ldy = tile.rows + 5;
                    std::vector<float> got((size_t)(tile.tokens * ldy), -1.0f);
                    tile.fn(n, w.data() + (size_t)r0 * rb, rb, act.data() + (size_t)t0 * stride, stride, got.data(), ldy);
                    for (int t = 0; t < tile.tokens; ++t)
                        for (int r = 0; r < tile.rows; ++r) {
                            const float want = fn(n, w.data() + (size_t)(r0 + r) * rb, act.data() + (size_t)(t0 + t) * stride);
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

// matmul in the exact mode (where these types' batches stay on llama.cpp's per-output arithmetic; the float types
// in the invariant mode, exact's batches of 13 tokens may go to OpenBLAS): 13 tokens over 40 rows (Q4_K's gemm
// arithmetic needs a multiple of 8 rows; 40 is not one of the tile's 4 + the 2-thread split) give each output what
// the per-output kernel gives.
TEST(VecDotTile, MatmulBatchesEqualThePerOutputKernels) {
    std::mt19937 rng(23);
    int isas = 0;
    for (Isa isa : {Isa::Avx512, Isa::Avx2}) {
        if (!isa_supported(isa)) continue;
        ++isas;
        const cpu::IsaKernels k = isa_kernels(isa);
        for (const Tiled& c : kTiled) {
            const cpu::VecDotEntry& e = k.dot[(size_t)c.type];
            const int64_t n = 5 * QK_K, rows = 42 - 2 * (int64_t)c.gemm4, n_tok = 13, n_gemm4 = c.gemm4 ? 12 : 0;
            const size_t rb = row_bytes(c.type, n), stride = cpu::act_row_bytes(e.act, n);
            const test::Weights wt = test::make_weights(c.type, n, rows, rng);
            const std::vector<uint8_t>& w = wt.bytes;
            const TensorView& view = wt.view;
            const std::vector<float> x = make_tokens(n_tok, n, rng);
            std::vector<uint8_t> act(stride * (size_t)n_tok);
            for (int64_t t = 0; t < n_tok; ++t) prepare_act(k, e.act, x.data() + t * n, act.data() + t * stride, n);
            std::vector<float> want((size_t)(n_tok * rows));
            for (int64_t t = 0; t < n_tok; ++t)
                for (int64_t r = 0; r < rows; ++r)
                    want[(size_t)(t * rows + r)] = (t < n_gemm4 ? e.fn_gemm4 : e.fn)(n, w.data() + (size_t)r * rb, act.data() + t * stride);
            for (int threads : {1, 2}) {
                SCOPED_TRACE(testing::Message() << isa_name(isa) << " " << dtype_name(c.type) << " threads " << threads);
                std::vector<float> batch((size_t)(n_tok * rows), -1.0f);
                const bool float_type = block_size(c.type) == 1;
                matmul_isa(isa, view, x.data(), n_tok, batch.data(), threads, float_type ? Numerics::Invariant : Numerics::Exact);
                for (int64_t t = 0; t < n_tok; ++t)
                    EXPECT_EQ(0, std::memcmp(want.data() + t * rows, batch.data() + t * rows, sizeof(float) * (size_t)rows))
                        << "token " << t;
            }
        }
    }
    if (isas == 0) GTEST_SKIP() << "no AVX2";
}

}  // namespace
}  // namespace llm
