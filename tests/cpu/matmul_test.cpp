// matmul vs matmul_reference for every weight type x every ISA on this CPU over odd shapes, with a
// normalized error bound per type; thread counts 1 and 2 must give bit-identical results.
#include "kernels/cpu/matmul.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <algorithm>
#include <cstring>
#include <random>
#include <vector>

#include "core/fp16.hpp"
#include "kernels/cpu/vec_dot.hpp"
#include "kernels/quant/quant.hpp"
#include "test_weights.hpp"

namespace llm {
namespace {

const DType kTypes[] = {DType::F32,  DType::F16,  DType::BF16, DType::Q4_0, DType::Q4_1,
                        DType::Q5_0, DType::Q5_1, DType::Q8_0, DType::Q2_K, DType::Q3_K,
                        DType::Q4_K, DType::Q5_K, DType::Q6_K, DType::IQ4_NL, DType::IQ4_XS};

std::vector<Isa> isas() {
    std::vector<Isa> v;
    for (Isa i : kAllIsas)
        if (isa_supported(i)) v.push_back(i);
    return v;
}

// Bound on the normalized RMS error vs the double reference (see check). 8-bit activations cost ~0.5%
// on average per 32-block (scale = amax/127), ~0.7% for the K-quants' 256-element blocks (larger amax);
// a case with a single output (n_out = n_tokens = 1) fluctuates up to ~2x around that mean. Decoding
// bugs cost O(1); the SIMD kernels are also held to the scalar ones within float rounding.
double tolerance(DType t) {
    switch (t) {
        case DType::F32: return 1e-5;
        case DType::F16: return 1e-3;   // AVX-512 rounds activations to fp16 as ggml does (~3e-4)
        case DType::BF16: return 1e-2;  // AVX-512 rounds activations to bf16 for vdpbf16ps (~3e-3)
        case DType::Q2_K: case DType::Q3_K: case DType::Q4_K: case DType::Q5_K: case DType::Q6_K:
        case DType::IQ4_XS: return 2.5e-2;
        default: return 1.5e-2;
    }
}

// SIMD kernels compute the same integer sums as the scalar ones on identical 8-bit activations;
// only the float accumulation order differs (F16/BF16: AVX-512 also rounds the activations, as ggml does).
// The NEON levels quantize the 32-element activations as ggml's aarch64 build does (x * (1/d) rather than
// x * (127/amax)), which moves a rare quant by one: against the scalar path they get the bound of one such flip
// (VecDotNeon.MatchesScalarOnSameActivations holds their kernels to 1e-5 on identical activations).
double tolerance_vs_scalar(DType t, Isa isa) {
    if (isa_is_arm(isa) && cpu::kernels_scalar().dot[(size_t)t].act == cpu::ActType::Q8_32) return 3e-3;
    return t == DType::BF16 ? 1e-2 : t == DType::F16 ? 1e-3 : 1e-5;
}

using test::make_weights;
using test::Weights;

std::vector<float> make_x(int64_t n_tokens, int64_t n_in, std::mt19937& rng, bool outlier = false) {
    std::normal_distribution<float> nd(0.0f, 1.0f);
    std::vector<float> x(n_tokens * n_in);
    for (int64_t t = 0; t < n_tokens; ++t) {
        const float scale = t % 3 == 2 ? 10.0f : 1.0f;
        for (int64_t i = 0; i < n_in; ++i) x[t * n_in + i] = scale * nd(rng);
    }
    // A zero block exercises d = 0; an outlier a coarse scale (only in long rows: it dominates the error).
    if (n_in >= 64)
        for (int i = 0; i < 32; ++i) x[i] = 0;
    if (outlier) x[n_in - 3] = 30.0f;
    return x;
}

// RMS error normalized by the RMS size of a dot product of these magnitudes, sqrt(|w_r|^2 |x_t|^2 / n_in),
// so that outputs that happen to be near zero do not blow the relative error up.
// threads: also run with 2 threads and require bit-identical output (costly on a loaded machine: each
// parallel region waits for a second core, so only some cases do it).
void check(DType type, Isa isa, int64_t n_in, int64_t n_out, int64_t n_tokens, uint32_t seed, bool outlier = false,
           bool threads = true) {
    SCOPED_TRACE(testing::Message() << dtype_name(type) << " " << isa_name(isa) << " n_in=" << n_in
                                    << " n_out=" << n_out << " n_tokens=" << n_tokens);
    std::mt19937 rng(seed);
    Weights w = make_weights(type, n_in, n_out, rng);
    std::vector<float> x = make_x(n_tokens, n_in, rng, outlier);
    std::vector<float> ref(n_tokens * n_out), y1(n_tokens * n_out, NAN), y2(n_tokens * n_out, NAN);
    std::vector<float> ys(n_tokens * n_out, NAN);
    matmul_reference(w.view, x.data(), n_tokens, ref.data());
    matmul_isa(Isa::Scalar, w.view, x.data(), n_tokens, ys.data(), 1);
    matmul_isa(isa, w.view, x.data(), n_tokens, y1.data(), 1);
    if (threads) matmul_isa(isa, w.view, x.data(), n_tokens, y2.data(), 2);

    std::vector<double> wn(n_out), xn(n_tokens);
    for (int64_t r = 0; r < n_out; ++r)
        for (int64_t i = 0; i < n_in; ++i) wn[r] += (double)w.deq[r * n_in + i] * w.deq[r * n_in + i];
    for (int64_t t = 0; t < n_tokens; ++t)
        for (int64_t i = 0; i < n_in; ++i) xn[t] += (double)x[t * n_in + i] * x[t * n_in + i];
    double err = 0, err_s = 0, norm = 0;
    for (int64_t t = 0; t < n_tokens; ++t)
        for (int64_t r = 0; r < n_out; ++r) {
            const double d = (double)y1[t * n_out + r] - ref[t * n_out + r];
            const double ds = (double)y1[t * n_out + r] - ys[t * n_out + r];
            err += d * d;
            err_s += ds * ds;
            norm += wn[r] * xn[t] / (double)n_in;
        }
    const double rel = std::sqrt(err / norm), rel_s = std::sqrt(err_s / norm);
    EXPECT_LT(rel, tolerance(type));
    if (std::getenv("LLM_TEST_VERBOSE"))
        std::printf("%s %s %lld %lld %lld rel=%.2e vs_scalar=%.2e\n", std::string(dtype_name(type)).c_str(),
                    isa_name(isa), (long long)n_in, (long long)n_out, (long long)n_tokens, rel, rel_s);
    EXPECT_LT(rel_s, tolerance_vs_scalar(type, isa)) << "vs the scalar kernel";
    EXPECT_TRUE(std::isfinite(rel));
    if (threads) {
        EXPECT_EQ(0, std::memcmp(y1.data(), y2.data(), y1.size() * sizeof(float))) << "1 vs 2 threads differ";
    }
}

class MatmulTest : public testing::TestWithParam<DType> {};

TEST_P(MatmulTest, OddShapesAllIsas) {
    const DType type = GetParam();
    const int64_t bs = std::max<int64_t>(block_size(type), 32);
    uint32_t seed = 1;
    for (Isa isa : isas())
        for (int64_t n_in : {bs, 3 * bs})
            for (int64_t n_out : {1, 7, 33})
                for (int64_t n_tokens : {1, 3, 17})
                    check(type, isa, n_in, n_out, n_tokens, seed++, false, /*threads=*/n_out == 33 && n_tokens > 1);
}


TEST_P(MatmulTest, ManyTokens) {
    const DType type = GetParam();
    const int64_t n_in = std::max<int64_t>(block_size(type), 64);
    for (Isa isa : isas()) check(type, isa, n_in, 9, 513, 77);
}

TEST_P(MatmulTest, LongRows) {
    const DType type = GetParam();
    for (Isa isa : isas()) check(type, isa, 4096, 5, 2, 99, /*outlier=*/true);
}

std::string type_name(const testing::TestParamInfo<DType>& info) { return std::string(dtype_name(info.param)); }

INSTANTIATE_TEST_SUITE_P(AllTypes, MatmulTest, testing::ValuesIn(kTypes), type_name);

std::vector<uint8_t> read_file(const std::string& path) {
    std::vector<uint8_t> v;
    if (FILE* f = std::fopen(path.c_str(), "rb")) {
        uint8_t buf[4096];
        size_t k;
        while ((k = std::fread(buf, 1, sizeof buf, f)) > 0) v.insert(v.end(), buf, buf + k);
        std::fclose(f);
    }
    return v;
}

// ggml's own bytes and dequantization (fixtures/quant): the kernels' bit decoding is checked against
// ggml directly, independently of kernels/quant. The row has zero blocks, outliers and per-256 magnitudes.
TEST(Matmul, GgmlFixtureRows) {
    const std::string dir = std::string(LLM_FIXTURES_DIR) + "/quant/";
    const int64_t n_in = 4096, n_tokens = 16;
    std::mt19937 rng(11);
    const std::vector<float> x = make_x(n_tokens, n_in, rng);
    for (DType type : kTypes) {
        if (block_size(type) == 1) continue;
        const std::string name(dtype_name(type));
        std::vector<uint8_t> q = read_file(dir + name + ".q.bin"), deq_bytes = read_file(dir + name + ".deq.f32.bin");
        ASSERT_EQ(q.size(), row_bytes(type, n_in)) << name;
        ASSERT_EQ(deq_bytes.size(), n_in * sizeof(float)) << name;
        std::vector<float> deq(n_in);
        std::memcpy(deq.data(), deq_bytes.data(), deq_bytes.size());
        TensorView w;
        w.name = name;
        w.type = type;
        w.n_dims = 2;
        w.ne = {n_in, 1, 1, 1};
        w.data = q.data();
        w.nbytes = q.size();
        double wn = 0;
        for (float v : deq) wn += (double)v * v;
        for (Isa isa : isas()) {
            std::vector<float> y(n_tokens);
            matmul_isa(isa, w, x.data(), n_tokens, y.data(), 1);
            double err = 0, norm = 0;
            for (int64_t t = 0; t < n_tokens; ++t) {
                double ref = 0, xn = 0;
                for (int64_t i = 0; i < n_in; ++i) ref += (double)deq[i] * x[t * n_in + i], xn += (double)x[t * n_in + i] * x[t * n_in + i];
                err += (y[t] - ref) * (y[t] - ref);
                norm += wn * xn / n_in;
            }
            EXPECT_LT(std::sqrt(err / norm), 1e-2) << name << " " << isa_name(isa);  // measured ~0.3-0.5%
            if (std::getenv("LLM_TEST_VERBOSE")) std::printf("%s %s %.5f\n", name.c_str(), isa_name(isa), std::sqrt(err / norm));
        }
    }
}

// Float weights take any row length: masked / scalar tails.
TEST(Matmul, FloatOddRowLengths) {
    for (DType type : {DType::F32, DType::F16, DType::BF16})
        for (Isa isa : isas())
            for (int64_t n_in : {1, 7, 37, 75, 100}) check(type, isa, n_in, 5, 3, 5, false, /*threads=*/n_in == 100);
}

// The vectorized activation quantizers produce the scalar one's bytes (same float ops, same rounding).
TEST(Matmul, ActivationQuantizersAgreeAcrossIsas) {
    const int64_t n = 4096;
    std::mt19937 rng(5);
    std::vector<float> x = make_x(1, n, rng, true);
    // A block with amax = 127 (d = 1) and values k + 0.5: exact ties, rounded to even by every ISA.
    x[512] = 127.0f;
    for (int i = 1; i < 32; ++i) x[512 + i] = (float)(i - 16) + 0.5f;
    const cpu::IsaKernels& ref = cpu::kernels_scalar();
    std::vector<cpu::IsaKernels> simd;
    if (isa_supported(Isa::Avx2)) simd.emplace_back(), cpu::register_avx2_float(simd.back());
    if (isa_supported(Isa::Avx512)) simd.emplace_back(), cpu::register_avx512_float(simd.back(), false);
    for (cpu::ActType a : {cpu::ActType::Q8_32, cpu::ActType::Q8_K}) {
        const size_t bytes = cpu::act_row_bytes(a, n);
        std::vector<uint8_t> want(bytes), got(bytes);
        ref.prepare[(size_t)a](x.data(), want.data(), n);
        for (const cpu::IsaKernels& k : simd) {
            ASSERT_NE(k.prepare[(size_t)a], nullptr);
            k.prepare[(size_t)a](x.data(), got.data(), n);
            EXPECT_EQ(0, std::memcmp(want.data(), got.data(), bytes)) << "act type " << (int)a;
        }
    }
}

// The AVX-512 kernels reproduce llama.cpp's CPU arithmetic bit for bit (see vec_dot_avx512.cpp): a scalar
// emulation of ggml's operation order (8 int32 lanes of 4 products, one FMA accumulator per lane,
// hsum_float_8, scalar FMA chains; or the repacked kernels' whole-block integer times dw*da) must give the
// identical float. Tiny differences here become 0.1-0.5 logit differences on real models.
float hsum8(const float a[8]) {
    float s[4];
    for (int i = 0; i < 4; ++i) s[i] = a[i] + a[i + 4];
    return (s[0] + s[2]) + (s[1] + s[3]);
}

float ggml_q4_1(int64_t n, const BlockQ4_1* x, const cpu::ActQ8* y) {  // ggml_vec_dot_q4_1_q8_1
    float acc[8] = {}, summs = 0;
    for (int64_t b = 0; b < n / 32; ++b) {
        const float d = fp16_to_fp32(x[b].d) * y[b].d;
        summs = std::fma(fp16_to_fp32(x[b].m), y[b].sm, summs);
        for (int l = 0; l < 8; ++l) {
            int sum = 0;
            for (int j = 4 * l; j < 4 * l + 4; ++j) sum += (j < 16 ? x[b].qs[j] & 15 : x[b].qs[j - 16] >> 4) * y[b].qs[j];
            acc[l] = std::fma(d, (float)sum, acc[l]);
        }
    }
    return hsum8(acc) + summs;
}

float ggml_q8_0(int64_t n, const BlockQ8_0* x, const cpu::ActQ8* y) {  // ggml_vec_dot_q8_0_q8_0
    float acc[8] = {};
    for (int64_t b = 0; b < n / 32; ++b) {
        const float d = fp16_to_fp32(x[b].d) * y[b].d;
        for (int l = 0; l < 8; ++l) {
            int sum = 0;
            for (int j = 4 * l; j < 4 * l + 4; ++j) sum += x[b].qs[j] * y[b].qs[j];
            acc[l] = std::fma(d, (float)sum, acc[l]);
        }
    }
    return hsum8(acc);
}

float ggml_q4_0_repacked(int64_t n, const BlockQ4_0* x, const cpu::ActQ8* y) {  // gemv_q4_b32_8x8_q8_0_lut_avx
    float acc = 0;
    for (int64_t b = 0; b < n / 32; ++b) {
        int sum = 0;
        for (int j = 0; j < 32; ++j) sum += ((j < 16 ? x[b].qs[j] & 15 : x[b].qs[j - 16] >> 4) - 8) * y[b].qs[j];
        acc = std::fma((float)sum, fp16_to_fp32(x[b].d) * y[b].d, acc);
    }
    return acc;
}

float ggml_q4_k_repacked(int64_t n, const BlockQ4_K* x, const BlockQ8_K* y) {  // ggml_gemv_q4_K_8x8_q8_K
    float acc = 0, acc_min = 0;
    for (int64_t b = 0; b < n / QK_K; ++b) {
        uint8_t sc[8], m[8];
        cpu::unpack_scales_k4(x[b].scales, sc, m);
        int sum = 0, sum_min = 0;
        for (int j = 0; j < 4; ++j)
            for (int l = 0; l < 32; ++l)
                sum += sc[2 * j] * (x[b].qs[32 * j + l] & 15) * y[b].qs[64 * j + l] +
                       sc[2 * j + 1] * (x[b].qs[32 * j + l] >> 4) * y[b].qs[64 * j + 32 + l];
        for (int s = 0; s < 8; ++s) sum_min += m[s] * (y[b].bsums[2 * s] + y[b].bsums[2 * s + 1]);
        acc = std::fma((float)sum, fp16_to_fp32(x[b].d) * y[b].d, acc);
        acc_min = std::fma((float)sum_min, fp16_to_fp32(x[b].dmin) * y[b].d, acc_min);
    }
    return acc - acc_min;
}

TEST(Matmul, Avx512ReproducesLlamaCppBitForBit) {
    if (!isa_supported(Isa::Avx512)) GTEST_SKIP() << "no AVX-512 VNNI";
    const int64_t n_in = 1536, n_out = 24;
    std::mt19937 rng(17);
    const std::vector<float> x = make_x(1, n_in, rng, true);
    for (DType type : {DType::Q4_0, DType::Q4_1, DType::Q8_0, DType::Q4_K}) {
        const Weights w = make_weights(type, n_in, n_out, rng);
        std::vector<float> y(n_out);
        matmul_isa(Isa::Avx512, w.view, x.data(), 1, y.data(), 1);
        const cpu::ActType at = type == DType::Q4_K ? cpu::ActType::Q8_K : cpu::ActType::Q8_32;
        std::vector<uint8_t> act(cpu::act_row_bytes(at, n_in));
        cpu::kernels_scalar().prepare[(size_t)at](x.data(), act.data(), n_in);
        const auto* a8 = reinterpret_cast<const cpu::ActQ8*>(act.data());
        for (int64_t r = 0; r < n_out; ++r) {
            const void* row = w.view.row(r);
            float want = 0;
            switch (type) {
                case DType::Q4_0: want = ggml_q4_0_repacked(n_in, (const BlockQ4_0*)row, a8); break;
                case DType::Q4_1: want = ggml_q4_1(n_in, (const BlockQ4_1*)row, a8); break;
                case DType::Q8_0: want = ggml_q8_0(n_in, (const BlockQ8_0*)row, a8); break;
                default: want = ggml_q4_k_repacked(n_in, (const BlockQ4_K*)row, (const BlockQ8_K*)act.data()); break;
            }
            EXPECT_EQ(0, std::memcmp(&want, &y[r], sizeof(float)))
                << dtype_name(type) << " row " << r << ": " << y[r] << " vs llama.cpp's " << want;
        }
    }
}

TEST(Matmul, BestIsaIsSupported) {
    EXPECT_TRUE(isa_supported(best_isa()));
    for (DType t : kTypes) EXPECT_TRUE(matmul_supports(t)) << dtype_name(t);
}

}  // namespace
}  // namespace llm
