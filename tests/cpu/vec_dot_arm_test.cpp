// The aarch64 kernels against the scalar reference: every NEON / sdot vec_dot on the same prepared activations
// as the scalar one (integer sums exact, float order ggml's), over odd block counts; the NEON activation
// quantizer against ggml's aarch64 formula. Skips on other architectures (no ARM level supported).
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "core/fp16.hpp"
#include "kernels/cpu/matmul.hpp"
#include "kernels/cpu/vec_dot.hpp"
#include "kernels/quant/quant.hpp"
#include "test_weights.hpp"

namespace llm {
namespace {

const DType kTypes[] = {DType::F32,  DType::F16,  DType::BF16, DType::Q4_0, DType::Q4_1,
                        DType::Q5_0, DType::Q5_1, DType::Q8_0, DType::Q2_K, DType::Q3_K,
                        DType::Q4_K, DType::Q5_K, DType::Q6_K, DType::IQ4_NL, DType::IQ4_XS};

std::vector<Isa> arm_isas() {
    std::vector<Isa> v;
    for (Isa i : kAllIsas)
        if (isa_is_arm(i) && isa_supported(i)) v.push_back(i);
    return v;
}

cpu::IsaKernels arm_kernels(Isa isa) {
    cpu::IsaKernels k;
    cpu::register_neon(k, isa == Isa::Dotprod);
    return k;
}

TEST(VecDotNeon, MatchesScalarOnSameActivations) {
    if (arm_isas().empty()) GTEST_SKIP() << "no aarch64 kernels on this CPU";
    const cpu::IsaKernels& ref = cpu::kernels_scalar();
    for (Isa isa : arm_isas()) {
        const cpu::IsaKernels k = arm_kernels(isa);
        for (DType type : kTypes) {
            const cpu::VecDotEntry e = k.dot[(size_t)type], r = ref.dot[(size_t)type];
            ASSERT_NE(e.fn, nullptr) << dtype_name(type) << " " << isa_name(isa);
            ASSERT_EQ(e.act, r.act) << dtype_name(type);
            const int64_t bs = block_size(type);
            // Odd block counts (the scalar tails of the block-pair loops), one block, long rows.
            for (int64_t blocks : {1, 2, 3, 7, 16, 33}) {
                const int64_t n = bs * blocks * (bs == 1 ? 37 : 1);
                SCOPED_TRACE(testing::Message() << dtype_name(type) << " " << isa_name(isa) << " n=" << n);
                std::mt19937 rng((uint32_t)(blocks * 31 + (int)type));
                test::Weights w = test::make_weights(type, n, 3, rng);
                std::normal_distribution<float> nd(0.0f, 1.0f);
                std::vector<float> x(n);
                for (auto& v : x) v = nd(rng);
                const size_t bytes = cpu::act_row_bytes(e.act, n);
                std::vector<uint8_t> act(bytes);
                const uint8_t* a = reinterpret_cast<const uint8_t*>(x.data());
                if (e.act != cpu::ActType::F32) {
                    const cpu::PrepareActFn prep = k.prepare[(size_t)e.act] ? k.prepare[(size_t)e.act] : ref.prepare[(size_t)e.act];
                    prep(x.data(), act.data(), n);
                    a = act.data();
                }
                for (int64_t row = 0; row < 3; ++row) {
                    const float want = r.fn(n, w.view.row(row), a), got = e.fn(n, w.view.row(row), a);
                    double mag = 0;
                    for (int64_t i = 0; i < n; ++i) mag += std::fabs((double)w.deq[row * n + i] * x[i]);
                    EXPECT_LE(std::fabs((double)got - want), 1e-5 * mag + 1e-30) << "row " << row;
                }
            }
        }
    }
}

TEST(VecDotNeon, ActivationQuantizerIsGgmlArm) {
    if (arm_isas().empty()) GTEST_SKIP() << "no aarch64 kernels on this CPU";
    const int64_t n = 4096;
    std::mt19937 rng(7);
    std::normal_distribution<float> nd(0.0f, 3.0f);
    std::vector<float> x(n);
    for (auto& v : x) v = nd(rng);
    for (int i = 0; i < 32; ++i) x[64 + i] = 0.0f;  // d = 0
    const cpu::IsaKernels k = arm_kernels(arm_isas()[0]);
    ASSERT_NE(k.prepare[(size_t)cpu::ActType::Q8_32], nullptr);
    std::vector<cpu::ActQ8> got(n / 32);
    k.prepare[(size_t)cpu::ActType::Q8_32](x.data(), got.data(), n);
    for (int64_t b = 0; b < n / 32; ++b) {  // ggml-cpu/arch/arm/quants.c quantize_row_q8_0 / q8_1
        float amax = 0;
        for (int j = 0; j < 32; ++j) amax = std::fmax(amax, std::fabs(x[32 * b + j]));
        const float d = amax / 127.0f, id = d != 0.0f ? 1.0f / d : 0.0f;
        int sum = 0;
        for (int j = 0; j < 32; ++j) {
            const int q = (int)std::nearbyint(x[32 * b + j] * id);
            ASSERT_EQ(got[b].qs[j], q) << "block " << b << " element " << j;
            sum += q;
        }
        EXPECT_EQ(got[b].d, fp16_to_fp32(fp32_to_fp16(d)));
        EXPECT_EQ(got[b].sm, fp16_to_fp32(fp32_to_fp16(d * (float)sum)));
    }
}

}  // namespace
}  // namespace llm
