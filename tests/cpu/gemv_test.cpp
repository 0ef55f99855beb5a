// The multi-row decode kernels (gemv.hpp), AVX-512 and AVX2, against the contract: every output
// bit-identical to the same ISA's vec_dot of that type (taken from the public IsaKernels registration),
// over odd shapes and at every row offset; and matmul (which dispatches groups of rows to them)
// bit-identical to vec_dot per row for 1 and 2 threads.
#include "kernels/cpu/gemv.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <random>
#include <vector>

#include "core/cpu_features.hpp"
#include "core/tensor.hpp"
#include "kernels/cpu/gemm.hpp"
#include "kernels/cpu/matmul.hpp"
#include "kernels/cpu/vec_dot.hpp"
#include "kernels/quant/quant.hpp"

namespace llm {
namespace {

const DType kTypes[] = {DType::Q4_0, DType::Q8_0, DType::Q4_K, DType::Q6_K, DType::Q4_1};

cpu::IsaKernels avx2_kernels() {
    cpu::IsaKernels k;
    cpu::register_avx2_float(k);
    cpu::register_avx2_legacy(k);
    cpu::register_avx2_kquants(k);
    return k;
}

cpu::IsaKernels avx512_kernels() {
    cpu::IsaKernels k;
    cpu::register_avx512_float(k, cpu_features().avx512_bf16);
    cpu::register_avx512_legacy(k);
    cpu::register_avx512_kquants(k);
    return k;
}

// Rows of mixed character: normal, a wide-range row (large scales), a zero row, tiny values.
std::vector<float> make_weights(int64_t rows, int64_t n, std::mt19937& rng) {
    std::normal_distribution<float> nd(0.0f, 1.0f);
    std::vector<float> v((size_t)(rows * n));
    for (int64_t r = 0; r < rows; ++r) {
        const float scale = r % 5 == 1 ? 40.0f : r % 5 == 3 ? 1e-3f : 1.0f;
        for (int64_t i = 0; i < n; ++i) v[(size_t)(r * n + i)] = r % 7 == 4 ? 0.0f : scale * nd(rng);
    }
    return v;
}

std::vector<float> make_x(int64_t n, std::mt19937& rng, float scale) {
    std::normal_distribution<float> nd(0.0f, 1.0f);
    std::vector<float> x((size_t)n);
    for (auto& e : x) e = scale * nd(rng);
    if (n >= 64)
        for (int i = 0; i < 32; ++i) x[(size_t)i] = 0.0f;  // a zero activation block (d = 0)
    x[(size_t)(n - 3)] = 30.0f * scale;                     // an outlier
    return x;
}

struct Case {
    DType type;
    int64_t rows, n;
};

std::vector<Case> cases() {
    std::vector<Case> c;
    for (DType t : kTypes) {
        const int64_t bs = block_size(t);
        for (int64_t n : {bs, 3 * bs, (int64_t)2048, (int64_t)5632})
            for (int64_t rows : {1, 3, 7, 9, 16, 17, 33, 48}) c.push_back({t, rows, n});
        // Long rows: AVX2 Q4_K runs super-blocks in chunks of 32 (43 = two uneven chunks).
        for (int64_t rows : {9, 17}) c.push_back({t, rows, (int64_t)11008});
    }
    return c;
}

// Every kernel gemv(t) has for the types (dispatched or not) against the vec_dot table k of the same ISA.
void check_isa(Isa isa, const cpu::IsaKernels& k, cpu::GemvKernel (*gemv)(DType), cpu::GemmImpl gemm_impl) {
    std::mt19937 rng(11);
    int checked_types = 0;
    for (DType t : kTypes) {
        const cpu::GemvKernel g = gemv(t);
        ASSERT_NE(g.fn, nullptr) << dtype_name(t);
        ASSERT_GT(g.rows, 0);
        ++checked_types;
    }
    EXPECT_EQ(checked_types, 5);
    for (const Case& c : cases()) {
        SCOPED_TRACE(testing::Message() << isa_name(isa) << " " << dtype_name(c.type) << " rows " << c.rows << " n " << c.n);
        const cpu::VecDotEntry e = k.dot[(size_t)c.type];
        ASSERT_NE(e.fn, nullptr);
        const cpu::GemvKernel g = gemv(c.type);
        const size_t rb = row_bytes(c.type, c.n);
        const std::vector<float> wf = make_weights(c.rows, c.n, rng);
        // Exact size: a kernel reading past the last row shows up under ASan.
        std::vector<uint8_t> w(rb * (size_t)c.rows);
        for (int64_t r = 0; r < c.rows; ++r) quantize_row(c.type, wf.data() + r * c.n, w.data() + (size_t)r * rb, c.n);
        for (float xs : {1.0f, 1e-2f, 100.0f}) {
            const std::vector<float> x = make_x(c.n, rng, xs);
            std::vector<uint8_t> act(cpu::act_row_bytes(e.act, c.n));
            k.prepare[(size_t)e.act](x.data(), act.data(), c.n);
            std::vector<float> want((size_t)c.rows), got((size_t)c.rows, -1.0f);
            for (int64_t r = 0; r < c.rows; ++r) want[(size_t)r] = e.fn(c.n, w.data() + (size_t)r * rb, act.data());
            // Groups at every start offset that fits (not only multiples of the group).
            for (int64_t r0 = 0; r0 + g.rows <= c.rows; ++r0) {
                g.fn(c.n, w.data() + (size_t)r0 * rb, rb, act.data(), got.data() + r0);
                EXPECT_EQ(0, std::memcmp(want.data() + r0, got.data() + r0, sizeof(float) * (size_t)g.rows))
                    << "group at row " << r0 << " x scale " << xs;
                for (int64_t i = 0; i < g.rows; ++i) EXPECT_EQ(want[(size_t)(r0 + i)], got[(size_t)(r0 + i)]);
            }
            // matmul: groups through gemv, remainder rows through vec_dot; 1 and 2 threads.
            TensorView view;
            view.name = "w";
            view.type = c.type;
            view.n_dims = 2;
            view.ne = {c.n, c.rows, 1, 1};
            view.data = w.data();
            view.nbytes = w.size();
            for (int threads : {1, 2}) {
                std::vector<float> y((size_t)c.rows, -1.0f);
                matmul_isa(isa, view, x.data(), 1, y.data(), threads);
                EXPECT_EQ(0, std::memcmp(want.data(), y.data(), sizeof(float) * (size_t)c.rows))
                    << "matmul, threads " << threads << " x scale " << xs;
            }
            // A few tokens below the GEMM threshold: every token's outputs equal vec_dot's.
            const int64_t nt = 3;
            if (nt < cpu::gemm_min_tokens(c.type, gemm_impl) || !cpu::gemm_supports(c.type)) {
                std::vector<float> xt((size_t)(nt * c.n));
                for (int64_t t = 0; t < nt; ++t) std::memcpy(xt.data() + t * c.n, x.data(), sizeof(float) * (size_t)c.n);
                std::vector<float> y((size_t)(nt * c.rows), -1.0f);
                matmul_isa(isa, view, xt.data(), nt, y.data(), 2);
                for (int64_t t = 0; t < nt; ++t)
                    EXPECT_EQ(0, std::memcmp(want.data(), y.data() + t * c.rows, sizeof(float) * (size_t)c.rows))
                        << "matmul token " << t;
            }
        }
    }
}

TEST(Gemv, BitIdenticalToVecDotAvx512) {
    if (!isa_supported(Isa::Avx512)) GTEST_SKIP() << "no AVX-512 VNNI";
    check_isa(Isa::Avx512, avx512_kernels(), cpu::gemv_avx512, cpu::GemmImpl::Avx512);
}

TEST(Gemv, BitIdenticalToVecDotAvx2) {
    if (!isa_supported(Isa::Avx2)) GTEST_SKIP() << "no AVX2";
    check_isa(Isa::Avx2, avx2_kernels(), cpu::gemv_avx2, cpu::GemmImpl::Avx2);
}

// The several-token kernels (GemvMultiKernel): every token's outputs memcmp-equal to the single-row kernel of the
// same ISA on that token alone (so to vec_dot), for 1..20 tokens (every pass width and a remainder), tokens of
// different magnitudes (one all-zero), odd row lengths and groups at odd row offsets.
// The reference per type is the one-token kernel of the order matmul's Invariant mode uses: Q4_0's and Q4_K's gemv
// (their vec_dot's order is the GEMM's; Q4_K's GEMM-order gemv, the same arithmetic, is held to it too), the GEMM-order
// gemv of Q4_1, Q5_K and Q6_K.
void check_multi(Isa isa, DType type, cpu::GemvKernel (*gemv)(DType), cpu::GemvMultiKernel (*multi)(DType),
                 const cpu::IsaKernels& k) {
    const cpu::GemvMultiKernel m = multi(type);
    const cpu::GemvKernel g = gemv(type);
    ASSERT_NE(m.fn, nullptr);
    ASSERT_NE(g.fn, nullptr);
    ASSERT_EQ(m.rows, g.rows);
    EXPECT_EQ(multi(DType::Q3_K).fn, nullptr);
    const cpu::VecDotEntry e = k.dot[(size_t)type];
    std::mt19937 rng(5 + (uint32_t)type);
    const bool k_quant = block_size(type) == 256;
    for (int64_t n : k_quant ? std::vector<int64_t>{256, 2048, 5632} : std::vector<int64_t>{32, 96, 2048, 5632}) {
        const int64_t rows = m.rows + 3, nb = n / 32;
        const size_t rb = row_bytes(type, n), stride = cpu::act_row_bytes(e.act, n);
        const std::vector<float> wf = make_weights(rows, n, rng);
        std::vector<uint8_t> w(rb * (size_t)rows);
        for (int64_t r = 0; r < rows; ++r) quantize_row(type, wf.data() + r * n, w.data() + (size_t)r * rb, n);
        constexpr int kMaxTok = 20;
        std::vector<uint8_t> act(stride * kMaxTok);
        for (int t = 0; t < kMaxTok; ++t) {
            std::vector<float> x = make_x(n, rng, t % 3 == 1 ? 100.0f : t % 3 == 2 ? 1e-2f : 1.0f);
            if (t == 6) std::fill(x.begin(), x.end(), 0.0f);
            k.prepare[(size_t)e.act](x.data(), act.data() + (size_t)t * stride, n);
        }
        // As matmul: the offsets only for a kernel with an integer offset (they read ActQ8 rows; the K-quants'
        // activations are ActQ8K, and their kernels take no offsets).
        std::vector<int32_t> off((size_t)(kMaxTok * nb));
        if (m.offset != 0) cpu::gemv_multi_offsets(n, act.data(), stride, kMaxTok, m.offset, off.data());
        for (int64_t r0 : {(int64_t)0, (int64_t)3}) {
            const uint8_t* wg = w.data() + (size_t)r0 * rb;
            std::vector<float> want((size_t)(kMaxTok * m.rows));
            for (int t = 0; t < kMaxTok; ++t) g.fn(n, wg, rb, act.data() + (size_t)t * stride, want.data() + t * m.rows);
            for (int nt = 1; nt <= kMaxTok; ++nt) {
                SCOPED_TRACE(testing::Message() << isa_name(isa) << " " << dtype_name(type) << " n " << n << " row " << r0
                                                << " tokens " << nt);
                const int64_t ldy = m.rows + 5;  // a row stride wider than the group, as matmul's n_out
                std::vector<float> got((size_t)(nt * ldy), -1.0f);
                m.fn(n, wg, rb, act.data(), stride, off.data(), nt, got.data(), ldy);
                for (int t = 0; t < nt; ++t)
                    ASSERT_EQ(0, std::memcmp(want.data() + t * m.rows, got.data() + t * ldy, sizeof(float) * (size_t)m.rows))
                        << "token " << t;
            }
        }
    }
}

TEST(GemvMulti, BitIdenticalToGemvAvx512) {
    if (!isa_supported(Isa::Avx512)) GTEST_SKIP() << "no AVX-512 VNNI";
    check_multi(Isa::Avx512, DType::Q4_0, cpu::gemv_avx512, cpu::gemv_multi_avx512, avx512_kernels());
    check_multi(Isa::Avx512, DType::Q4_1, cpu::gemv_gemm_order_avx512, cpu::gemv_multi_avx512, avx512_kernels());
    check_multi(Isa::Avx512, DType::Q4_K, cpu::gemv_gemm_order_avx512, cpu::gemv_multi_avx512, avx512_kernels());
    check_multi(Isa::Avx512, DType::Q4_K, cpu::gemv_avx512, cpu::gemv_multi_avx512, avx512_kernels());  // one arithmetic
    check_multi(Isa::Avx512, DType::Q5_K, cpu::gemv_gemm_order_avx512, cpu::gemv_multi_avx512, avx512_kernels());
    check_multi(Isa::Avx512, DType::Q6_K, cpu::gemv_gemm_order_avx512, cpu::gemv_multi_avx512, avx512_kernels());
}

TEST(GemvMulti, BitIdenticalToGemvAvx2) {
    if (!isa_supported(Isa::Avx2)) GTEST_SKIP() << "no AVX2";
    check_multi(Isa::Avx2, DType::Q4_0, cpu::gemv_avx2, cpu::gemv_multi_avx2, avx2_kernels());
    check_multi(Isa::Avx2, DType::Q4_1, cpu::gemv_gemm_order_avx2, cpu::gemv_multi_avx2, avx2_kernels());
    check_multi(Isa::Avx2, DType::Q4_K, cpu::gemv_gemm_order_avx2, cpu::gemv_multi_avx2, avx2_kernels());
    check_multi(Isa::Avx2, DType::Q4_K, cpu::gemv_avx2, cpu::gemv_multi_avx2, avx2_kernels());  // one arithmetic
    check_multi(Isa::Avx2, DType::Q5_K, cpu::gemv_gemm_order_avx2, cpu::gemv_multi_avx2, avx2_kernels());
    check_multi(Isa::Avx2, DType::Q6_K, cpu::gemv_gemm_order_avx2, cpu::gemv_multi_avx2, avx2_kernels());
}

// Types without a multi-row kernel report none (matmul then uses vec_dot for every row).
TEST(Gemv, DispatchOnlyWhereAKernelExists) {
    EXPECT_EQ(cpu::gemv_kernel(Isa::Scalar, DType::Q4_0, 1152).fn, nullptr);
    for (Isa isa : kAllIsas) {  // no multi-row kernels on the ARM levels yet
        if (isa_is_arm(isa)) {
            EXPECT_EQ(cpu::gemv_kernel(isa, DType::Q4_0, 1152).fn, nullptr);
        }
    }
    if (!isa_supported(Isa::Avx2)) return;
    EXPECT_EQ(cpu::gemv_avx2(DType::F32).fn, nullptr);
    EXPECT_EQ(cpu::gemv_avx2(DType::Q5_K).fn, nullptr);
    EXPECT_NE(cpu::gemv_kernel(Isa::Avx2, DType::Q4_0, 1152).fn, nullptr);
    EXPECT_EQ(cpu::gemv_kernel(Isa::Avx2, DType::Q4_0, (size_t)1 << 28).fn, nullptr);
    if (!isa_supported(Isa::Avx512)) return;
    EXPECT_EQ(cpu::gemv_avx512(DType::F32).fn, nullptr);
    EXPECT_EQ(cpu::gemv_avx512(DType::Q5_K).fn, nullptr);
    // Offsets of the 16 rows are gathered as int32: too-long rows fall back to vec_dot.
    EXPECT_EQ(cpu::gemv_kernel(Isa::Avx512, DType::Q4_0, (size_t)1 << 28).fn, nullptr);
}

}  // namespace
}  // namespace llm
