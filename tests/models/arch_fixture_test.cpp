// Tiny random-weight Qwen 2 (QKV biases), Qwen 3 (QK-norm, head_dim != d_model / n_heads) and Gemma 3 (post-norms,
// QK-norm, GEGLU, local/global layers with their own rope and a window of 8 over 24 tokens) against llama.cpp's
// logits (tests/models/data/arch_fixtures, made by make_arch_fixtures.py), batch and one by one, GGUF in F16 /
// Q8_0 / Q4_0 and the safetensors twin, within the shared fixtures' tolerances per weight type. The models are
// not in the repository: the generator writes them (numpy + PyPI gguf, from fixed seeds) into
// $LLM_CACHE/arch-fixtures, checked by the sha256s of the manifest; the test runs it when they are missing
// and skips when it cannot (no python3 with numpy and gguf: scripts/setup-python.sh).
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "arch_fixture.hpp"
#include "fixture_util.hpp"
#include "llm/llm.hpp"
#include "models/model_loader.hpp"

namespace llm {
namespace {

namespace fs = std::filesystem;
using test::compare_logits;
using test::run_batch;
using test::run_one_by_one;
using test::expect_within;
using test::read_f32;
using test::read_json_file;

using test::arch_fixture_dir;
using test::arch_manifest;
using test::kArchRefDir;

std::string fixture_dir(std::string* why) { return arch_fixture_dir(why); }
const std::string& kRefDir = kArchRefDir;

std::vector<int32_t> sequence() { return arch_manifest()["sequence"].get<std::vector<int32_t>>(); }

struct ArchCase {
    std::string model, type;
};

class ArchFixture : public ::testing::TestWithParam<ArchCase> {};

TEST_P(ArchFixture, BatchAndOneByOneMatchLlamaCpp) {
    const ArchCase& c = GetParam();
    std::string why;
    const std::string dir = fixture_dir(&why);
    if (dir.empty()) GTEST_SKIP() << why;
    auto s = test::make_session(dir + "/" + c.model + "/" + c.model + "." + c.type + ".gguf");
    ASSERT_TRUE(s);
    const auto tokens = sequence();
    const int nv = arch_manifest()["n_vocab"];
    const auto& ref = arch_manifest()["references"][c.model + "." + c.type];
    const auto batch_ref = read_f32(kRefDir + "/" + ref["batch"].get<std::string>());
    ASSERT_EQ(batch_ref.size(), tokens.size() * nv);
    const test::Tolerance tol = test::tolerance_for(c.type);
    const std::string what = c.model + "." + c.type;
    expect_within(compare_logits(run_batch(*s, tokens), batch_ref, nv, (int)tokens.size(), tol.argmax_gap), tol,
                  what + " batch");
    s->truncate(0);
    const auto one = run_one_by_one(*s, tokens);
    expect_within(compare_logits(one, batch_ref, nv, (int)tokens.size(), tol.argmax_gap), tol, what + " one-by-one");
    if (ref.contains("incr")) {  // llama.cpp's own one-by-one logits
        const auto incr_ref = read_f32(kRefDir + "/" + ref["incr"].get<std::string>());
        expect_within(compare_logits(one, incr_ref, nv, (int)tokens.size(), tol.argmax_gap), tol,
                      what + " one-by-one vs llama.cpp's");
    }
}

// The safetensors twins (the F16 GGUFs' values in Hugging Face names and conventions) against the F16 references.
TEST(ArchFixtureTwins, SafetensorsMatchLlamaCpp) {
    std::string why;
    const std::string dir = fixture_dir(&why);
    if (dir.empty()) GTEST_SKIP() << why;
    const auto tokens = sequence();
    const int nv = arch_manifest()["n_vocab"];
    const test::Tolerance tol = test::tolerance_for("F16");
    for (const std::string model : {"qwen2", "qwen3", "gemma3"}) {
        auto s = test::make_session(dir + "/" + model + "/hf");
        ASSERT_TRUE(s);
        const auto ref = read_f32(kRefDir + "/" + arch_manifest()["references"][model + ".F16"]["batch"].get<std::string>());
        expect_within(compare_logits(run_batch(*s, tokens), ref, nv, (int)tokens.size(), tol.argmax_gap), tol,
                      model + " safetensors");
    }
}

std::vector<ArchCase> arch_cases() {
    std::vector<ArchCase> out;
    for (const char* m : {"qwen2", "qwen3", "gemma3"})
        for (const char* t : {"F16", "Q8_0", "Q4_0"}) out.push_back({m, t});
    return out;
}

INSTANTIATE_TEST_SUITE_P(Models, ArchFixture, ::testing::ValuesIn(arch_cases()),
                         [](const auto& info) { return info.param.model + "_" + info.param.type; });

// The loaders' knobs for each architecture (what the forward pass reads instead of the architecture's name).
TEST(ArchFixtureConfig, KnobsPerArchitecture) {
    std::string why;
    const std::string dir = fixture_dir(&why);
    if (dir.empty()) GTEST_SKIP() << why;
    for (const std::string path : {"/gemma3/gemma3.F16.gguf", "/gemma3/hf"}) {
        auto m = load_model(dir + path);
        ASSERT_TRUE(m) << m.status().message();
        const ModelConfig& c = m->config;
        EXPECT_TRUE(c.qk_norm && c.post_norms && c.prescale_q && c.tied_embeddings) << path;
        EXPECT_EQ(c.ffn_act, FfnActivation::GeluTanh) << path;
        EXPECT_FLOAT_EQ(c.embed_scale, 16.0f) << path;
        EXPECT_FLOAT_EQ(c.attention_scale(), 0.125f) << path;
        EXPECT_EQ(c.swa_layers, (std::vector<uint8_t>{1, 0, 1})) << path;
        EXPECT_EQ(c.sliding_window, 8) << path;
        EXPECT_FLOAT_EQ(c.rope_theta_swa, 1e4f) << path;
        EXPECT_FLOAT_EQ(c.rope_freq_scale, 0.125f) << path;  // linear 8, global layers only
        EXPECT_EQ(m->weights.layers[0].attn_post_norm.size(), 256u) << path;
    }
    auto g = load_model(dir + "/gemma3/gemma3.F16.gguf");
    auto h = load_model(dir + "/gemma3/hf");
    ASSERT_TRUE(g && h);
    EXPECT_EQ(g->weights.layers[1].ffn_post_norm, h->weights.layers[1].ffn_post_norm);  // HF's w + 1 == GGUF's
    EXPECT_EQ(g->weights.layers[2].attn_q_norm, h->weights.layers[2].attn_q_norm);
    for (const std::string path : {"/qwen2/qwen2.F16.gguf", "/qwen2/hf"}) {
        auto m = load_model(dir + path);
        ASSERT_TRUE(m) << m.status().message();
        EXPECT_TRUE(m->config.qkv_bias && !m->config.qk_norm) << path;
        EXPECT_EQ(m->weights.layers[0].bk.size(), 64u) << path;
    }
    for (const std::string path : {"/qwen3/qwen3.F16.gguf", "/qwen3/hf"}) {
        auto m = load_model(dir + path);
        ASSERT_TRUE(m) << m.status().message();
        EXPECT_TRUE(m->config.qk_norm && !m->config.qkv_bias && m->config.head_dim == 96) << path;
    }
}

}  // namespace
}  // namespace llm
