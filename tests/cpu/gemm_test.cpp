// The int8 GEMM (kernels/cpu/gemm.hpp) vs matmul_reference for every packed type over odd shapes: its error
// must be no worse than the vec_dot path's on the same data (both quantize the activations the same way);
// the scalar, AVX2, AVX-VNNI and AVX-512 GEMMs must agree bit for bit (same float operations in the same
// order), and so must 1 and 2 threads. The SIMD paths run wherever the CPU has them (explicit GemmImpl / Isa).
#include "kernels/cpu/gemm.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
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

const DType kTypes[] = {DType::Q4_0, DType::Q4_1, DType::Q5_0, DType::Q5_1, DType::Q8_0, DType::IQ4_NL,
                        DType::Q2_K, DType::Q3_K, DType::Q4_K, DType::Q5_K, DType::Q6_K, DType::IQ4_XS};

// The SIMD GEMMs, each with the matmul ISA whose dispatch picks it (Isa::Avx2 takes AVX-VNNI's where the CPU
// has it) and whether this CPU runs it.
struct SimdImpl {
    cpu::GemmImpl impl;
    Isa isa;
    const char* name;
    bool supported() const {
        return impl == cpu::GemmImpl::AvxVnni ? cpu_features().avx_vnni
               : impl == cpu::GemmImpl::I8mm  ? isa_supported(isa) && cpu_features().i8mm
                                              : isa_supported(isa);
    }
    bool dispatched() const { return impl != cpu::GemmImpl::Avx2 || !cpu_features().avx_vnni; }
    bool ops(DType t, cpu::GemmOps& o) const {
        return impl == cpu::GemmImpl::Avx2      ? cpu::gemm_ops_avx2(t, o)
               : impl == cpu::GemmImpl::AvxVnni ? cpu::gemm_ops_avxvnni(t, o)
               : impl == cpu::GemmImpl::I8mm    ? cpu::gemm_ops_i8mm(t, o)
                                                : cpu::gemm_ops_avx512(t, o);
    }
};
const SimdImpl kSimd[] = {{cpu::GemmImpl::Avx2, Isa::Avx2, "AVX2"},
                          {cpu::GemmImpl::AvxVnni, Isa::Avx2, "AVX-VNNI"},
                          {cpu::GemmImpl::Avx512, Isa::Avx512, "AVX-512"},
                          {cpu::GemmImpl::I8mm, Isa::Dotprod, "I8MM"}};

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
    for (const SimdImpl& si : kSimd) {
        if (!si.supported()) continue;
        std::vector<float> g1(n, NAN), g2(n, NAN), mm(n, NAN);
        cpu::gemm(si.impl, w.view, x.data(), n_tokens, g1.data(), 1);
        EXPECT_EQ(0, std::memcmp(gs.data(), g1.data(), n * sizeof(float))) << si.name << " vs scalar GEMM differ";
        if (threads) {
            cpu::gemm(si.impl, w.view, x.data(), n_tokens, g2.data(), 2);
            EXPECT_EQ(0, std::memcmp(g1.data(), g2.data(), n * sizeof(float)))
                << si.name << " GEMM: 1 vs 2 threads differ";
        }
        // matmul's dispatch: at or above the threshold the ISA's matmul is this GEMM (fast mode; exact mode keeps
        // the types whose batch arithmetic llama.cpp shares with its vec_dot kernels on the vec_dot path).
        if (si.dispatched() && n_tokens >= cpu::gemm_min_tokens(type, si.impl)) {
            matmul_isa(si.isa, w.view, x.data(), n_tokens, mm.data(), 1, Numerics::Fast);
            EXPECT_EQ(0, std::memcmp(g1.data(), mm.data(), n * sizeof(float)))
                << si.name << " matmul does not dispatch to the GEMM";
        }
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

// The largest integer sums the SIMD kernels meet (vpmaddubsw's int16 pair sums saturate; the AVX2 kernel
// sums them in int16 as far as the largest packed byte allows): weights whose packed bytes are mostly their
// type's maximum (a 32-element pattern of one -8 and 31 sevens: the most negative element quantizes to the
// bottom, the rest near the top; odd rows negated) times activations all at +127 or all at -127; the scalar
// GEMM's int32 sums are exact, so any saturation would show as a difference (checked: with the int16 groups
// one quad longer, Q5_* and Q6_K fail here while the random-data tests pass).
TEST_P(GemmTest, ExtremeSums) {
    const DType type = GetParam();
    const int64_t n_in = 2 * std::max<int64_t>(block_size(type), 32), n_out = 16, n_tokens = 8;
    const size_t rb = row_bytes(type, n_in);
    std::vector<uint8_t> bytes(rb * n_out);
    std::vector<float> f(n_in);
    for (int64_t r = 0; r < n_out; ++r) {
        const float sign = r % 2 ? -1.0f : 1.0f;
        for (int64_t i = 0; i < n_in; ++i) f[i] = sign * (i % 32 == (r % 32) ? -8.0f : 7.0f) * 0.01f;
        quantize_row(type, f.data(), bytes.data() + r * rb, n_in);
    }
    TensorView w;
    w.name = "extreme.weight";
    w.type = type;
    w.n_dims = 2;
    w.ne = {n_in, n_out, 1, 1};
    w.data = bytes.data();
    w.nbytes = bytes.size();
    std::vector<float> x(n_tokens * n_in);
    for (int64_t t = 0; t < n_tokens; ++t)
        for (int64_t i = 0; i < n_in; ++i) x[t * n_in + i] = t % 2 ? -1.0f : 1.0f;
    const size_t n = (size_t)(n_tokens * n_out);
    std::vector<float> gs(n, NAN), g(n, NAN);
    cpu::gemm(cpu::GemmImpl::Scalar, w, x.data(), n_tokens, gs.data(), 1);
    for (const SimdImpl& si : kSimd) {
        if (!si.supported()) continue;
        cpu::gemm(si.impl, w, x.data(), n_tokens, g.data(), 1);
        EXPECT_EQ(0, std::memcmp(gs.data(), g.data(), n * sizeof(float))) << si.name << " vs scalar GEMM differ";
    }
}

// A wide panel (gemm.hpp: int16 w = u - 128, [8 rows][k0, k1] then [8 rows][k2, k3] per 4-k group and
// half) back in the u8 layout.
std::vector<uint8_t> narrow_panel(const uint8_t* wide, int64_t n_sub, int sb) {
    const size_t wsb = cpu::gemm_wide_sub_block_bytes(sb), nsb = cpu::gemm_sub_block_bytes(sb);
    std::vector<uint8_t> out((size_t)n_sub * nsb);
    for (int64_t k = 0; k < n_sub; ++k) {
        const uint8_t* src = wide + k * wsb;
        uint8_t* dst = out.data() + k * nsb;
        for (int q = 0; q < sb / 4; ++q)
            for (int r = 0; r < 16; ++r)
                for (int b = 0; b < 4; ++b) {
                    int16_t v;
                    std::memcpy(&v, src + 128 * q + 64 * (r / 8) + 32 * (b / 2) + 4 * (r % 8) + 2 * (b % 2), 2);
                    dst[64 * q + 4 * r + b] = (uint8_t)(v + 128);
                }
        std::memcpy(dst + 16 * sb, src + 32 * sb, 128);  // scales, biases
    }
    return out;
}

// The byte panel of a nibble panel (gemm.hpp: GemmOps::nibbles; sub-blocks of 32).
std::vector<uint8_t> bytes_of_nibble_panel(const uint8_t* nib, int64_t n_sub) {
    const size_t pair = 16 * 32 + 256, nsb = cpu::gemm_sub_block_bytes(32);
    std::vector<uint8_t> out((size_t)n_sub * nsb);
    for (int64_t k = 0; k < n_sub; ++k) {
        const uint8_t* src = nib + (k / 2) * pair;
        uint8_t* dst = out.data() + k * nsb;
        for (int i = 0; i < 16 * 32; ++i) dst[i] = (k % 2) ? src[i] >> 4 : src[i] & 0x0F;
        std::memcpy(dst + 16 * 32, src + 16 * 32 + 128 * (k % 2), 128);  // scales, biases
    }
    return out;
}

// The SIMD packers (per-block decode, then gathers or in-register transposes) write the scalar packer's
// bytes (or their wide or nibble form), padding rows included.
TEST_P(GemmTest, PackersAgree) {
    const DType type = GetParam();
    const int64_t n_in = 2 * std::max<int64_t>(block_size(type), 32);
    std::mt19937 rng(3);
    Weights w = make_weights(type, n_in, 37, rng);
    cpu::GemmOps s;
    ASSERT_TRUE(cpu::gemm_ops_scalar(type, s));
    const int sb = (type == DType::Q2_K || type == DType::Q3_K || type == DType::Q6_K) ? 16 : 32;
    const int64_t n_sub = n_in / sb;
    const size_t bytes = (size_t)n_sub * cpu::gemm_sub_block_bytes(sb);
    int checked = 0;
    for (const SimdImpl& si : kSimd) {
        if (!si.supported()) continue;
        cpu::GemmOps v;
        ASSERT_TRUE(si.ops(type, v));
        const size_t v_bytes =
            (size_t)n_sub * (v.wide ? cpu::gemm_wide_sub_block_bytes(sb) : cpu::gemm_sub_block_bytes(sb));
        for (int64_t r0 : {0, 16, 32}) {
            const int rows = (int)std::min<int64_t>(16, 37 - r0);
            std::vector<uint8_t> a(bytes + 64, 0xAB), b(v_bytes + 64, 0xCD);
            uint8_t* pa = a.data() + (64 - (reinterpret_cast<uintptr_t>(a.data()) & 63)) % 64;
            uint8_t* pb = b.data() + (64 - (reinterpret_cast<uintptr_t>(b.data()) & 63)) % 64;
            s.pack(w.view, r0, rows, pa);
            v.pack(w.view, r0, rows, pb);
            std::vector<uint8_t> narrow;
            if (v.wide) narrow = narrow_panel(pb, n_sub, sb), pb = narrow.data();
            if (v.nibbles) narrow = bytes_of_nibble_panel(pb, n_sub), pb = narrow.data();
            EXPECT_EQ(0, std::memcmp(pa, pb, bytes)) << si.name << " " << dtype_name(type) << " rows from " << r0;
        }
        ++checked;
    }
    if (!checked) GTEST_SKIP() << "no AVX2";
}

std::string type_name(const testing::TestParamInfo<DType>& info) { return std::string(dtype_name(info.param)); }

INSTANTIATE_TEST_SUITE_P(PackedTypes, GemmTest, testing::ValuesIn(kTypes), type_name);

TEST(Gemm, UnsupportedTypes) {
    for (DType t : {DType::F32, DType::F16, DType::BF16}) EXPECT_FALSE(cpu::gemm_supports(t));
}

}  // namespace
}  // namespace llm
