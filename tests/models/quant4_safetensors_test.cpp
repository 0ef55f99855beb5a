// Packed quantized safetensors folders (MLX affine 4/8-bit, GPTQ int4; made by make_quant4_fixtures.py from the shared
// llama-mha / phi3 fixtures' weights) against a float64 numpy forward pass on the dequantized weights of the same
// file, within the shared fixtures' tolerance of the weight type they convert to; and the loader's one-line errors.
// The folders are written at test time into $LLM_CACHE/quant4-fixtures (never into the repository); the test skips
// when python3 with numpy is missing.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>

#include "fixture_util.hpp"
#include "llm/llm.hpp"
#include "models/model_loader.hpp"
#include "kernels/quant/quant.hpp"
#include "quant4_fixture.hpp"

namespace llm {
namespace {

using test::Quant4Case;
using test::quant4_dir;

class Quant4Safetensors : public ::testing::TestWithParam<Quant4Case> {};

TEST_P(Quant4Safetensors, LogitsMatchNumpyOnDequantizedWeights) {
    const Quant4Case& c = GetParam();
    std::string why;
    const std::string root = quant4_dir(&why);
    if (root.empty()) GTEST_SKIP() << why;
    const std::string dir = root + "/" + c.folder;

    auto loaded = load_model(dir);
    ASSERT_TRUE(loaded) << loaded.status().message();
    EXPECT_TRUE(loaded->packed_weights);
    const LayerWeights& L = loaded->weights.layers[0];
    const TensorView& wo = L.wo;
    EXPECT_EQ(wo.type, c.converted) << dtype_name(wo.type);
    if (c.folder.rfind("phi3", 0) == 0) {  // the Phi-3 path: fused QKV and gate-up, LongRoPE
        EXPECT_TRUE(L.wqkv.valid() && L.w_gate_up.valid() && !L.wq.valid());
        EXPECT_FALSE(loaded->config.longrope_short.empty());
    }

    auto s = test::make_session(dir);
    ASSERT_TRUE(s);
    const auto tokens = test::manifest()["sequence"]["tokens"].get<std::vector<int32_t>>();
    const int nv = 1024;
    const auto ref = test::read_f32(dir + "/ref.logits.bin");
    ASSERT_EQ(ref.size(), tokens.size() * nv);
    const test::Tolerance tol = test::tolerance_for(std::string(dtype_name(c.converted)));
    test::expect_within(test::compare_logits(test::run_batch(*s, tokens), ref, nv, (int)tokens.size(), tol.argmax_gap),
                        tol, c.folder + " batch vs numpy");
    s->truncate(0);
    test::expect_within(
        test::compare_logits(test::run_one_by_one(*s, tokens), ref, nv, (int)tokens.size(), tol.argmax_gap), tol,
        c.folder + " one-by-one vs numpy");
}

INSTANTIATE_TEST_SUITE_P(Folders, Quant4Safetensors,
                         ::testing::ValuesIn(test::kQuant4Cases),
                         [](const auto& info) {
                             std::string n = info.param.folder;
                             for (char& ch : n)
                                 if (ch == '-') ch = '_';
                             return n;
                         });

// The converted matrices themselves against numpy's dequantized values (ref.<name>.bin): GPTQ v2 zero points
// 0..15 (Q4_1, m = -d * zero rounded to fp16), MLX per-module 8-bit (F16) and 4-bit group 32 (Q4_1, exact). Bound:
// max abs error <= 2^-11 * max abs weight (one fp16 rounding of m or of the weight; MLX 4-bit is exact).
TEST(Quant4SafetensorsWeights, ConvertedMatricesEqualNumpyDequantized) {
    std::string why;
    const std::string root = quant4_dir(&why);
    if (root.empty()) GTEST_SKIP() << why;
    struct Check {
        const char *folder, *name;
        int layer;
        TensorView LayerWeights::*member;
        DType type;
    };
    const Check checks[] = {
        {"llama-gptq-v2", "model.layers.0.mlp.up_proj.weight", 0, &LayerWeights::w_up, DType::Q4_1},
        {"llama-mlx-mixed", "model.layers.0.mlp.down_proj.weight", 0, &LayerWeights::w_down, DType::F16},
        {"llama-mlx-mixed", "model.layers.1.self_attn.q_proj.weight", 1, &LayerWeights::wq, DType::Q4_1},
    };
    for (const Check& c : checks) {
        auto loaded = load_model(root + "/" + c.folder);
        ASSERT_TRUE(loaded) << loaded.status().message();
        const TensorView& w = loaded->weights.layers[(size_t)c.layer].*c.member;
        EXPECT_EQ(w.type, c.type) << c.name << ": " << dtype_name(w.type);
        const auto want = test::read_f32(root + "/" + c.folder + "/ref." + c.name + ".bin");
        ASSERT_EQ(want.size(), (size_t)(w.ne[0] * w.ne[1])) << c.name;
        std::vector<float> got(want.size());
        for (int64_t r = 0; r < w.ne[1]; ++r) dequantize_row(w.type, w.row(r), got.data() + r * w.ne[0], w.ne[0]);
        double max_w = 0, max_err = 0;
        for (size_t i = 0; i < want.size(); ++i)
            max_w = std::max(max_w, (double)std::fabs(want[i])),
            max_err = std::max(max_err, (double)std::fabs(got[i] - want[i]));
        std::printf("[quant4] %s %s: max abs error %.3g (max abs weight %.3g)\n", c.folder, c.name, max_err, max_w);
        EXPECT_LE(max_err, max_w / 2048) << c.folder << " " << c.name;
    }
}

// Bad input: one line naming the tensor (or the config key) that is wrong.
TEST(Quant4SafetensorsErrors, NameWhatIsWrong) {
    std::string why;
    const std::string root = quant4_dir(&why);
    if (root.empty()) GTEST_SKIP() << why;
    const std::pair<const char*, const char*> cases[] = {
        {"bad-mlx-noscales", "tensor 'model.layers.0.self_attn.k_proj.scales' is missing"},
        {"bad-mlx-shape", "tensor 'model.layers.1.mlp.up_proj.weight': packed shape [512, 31]"},
        {"bad-mlx-bits", "config.json: quantization: bits 3 is not supported"},
        {"bad-gptq-actorder", "tensor 'model.layers.0.mlp.down_proj.g_idx': act-order (desc_act)"},
        {"bad-mlx-nobiases", "tensor 'model.layers.1.mlp.down_proj.biases' is missing"},
        {"bad-mlx-excluded", "tensor 'model.layers.0.self_attn.o_proj.weight': packed weight but config.json's "
                             "quantization excludes it"},
        {"bad-gptq-noqzeros", "tensor 'model.layers.1.self_attn.v_proj.qzeros' is missing"},
    };
    for (const auto& [folder, expect] : cases) {
        auto m = load_model(root + "/" + folder);
        ASSERT_FALSE(m) << folder;
        const std::string msg = m.status().message();
        EXPECT_NE(msg.find(expect), std::string::npos) << folder << ": " << msg;
        EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
    }
}

}  // namespace
}  // namespace llm
