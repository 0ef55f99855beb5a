// Command buffer reuse and per-op CPU fallback of the Vulkan decoder:
// * decode steps re-submit one recorded command buffer (positions come from a params buffer), new shapes
//   record (and cache) new ones, and the logits are bit-identical to recording every pass;
// * weight types the device does not run (forced here: every type has shaders) stay on the CPU, one log
//   line per type, and the logits still match the llama.cpp reference within the manifest tolerance.
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "kernels/vulkan/vk_decoder.hpp"
#include "kernels/vulkan/vk_session.hpp"
#include "models/model_loader.hpp"
#include "tests/models/fixture_util.hpp"
#include "tests/vulkan/vk_test_util.hpp"

namespace llm::vk {
namespace {

using llm::test::compare_logits;
using llm::test::expect_within;
using llm::test::manifest;
using llm::test::models_dir;
using llm::test::read_f32;
using llm::test::tolerance_for;

// Runs the steps (token count per forward: > 1 a batch with all logits, 1 a decode step) over the first
// positions of the fixture sequence; returns [positions x n_vocab] logits.
std::vector<float> run_steps(VulkanDecoder& dec, const std::vector<int32_t>& tokens, const std::vector<int>& steps,
                             int nv) {
    int pos = 0;
    for (int s : steps) pos += s;
    std::vector<float> out((size_t)pos * nv);
    pos = 0;
    for (int s : steps) {
        const Status st = dec.forward({tokens.data() + pos, (size_t)s}, pos, s > 1, out.data() + (size_t)pos * nv);
        EXPECT_TRUE(st.is_ok()) << st.message();
        pos += s;
    }
    return out;
}

TEST(VkReuse, DecodeStepsReuseOneRecording) {
    LLM_VK_CONTEXT_OR_SKIP(unused);
    auto model = load_model(models_dir() + "/llama-mha/llama-mha.Q4_0.gguf");
    ASSERT_TRUE(model.has_value()) << model.error_message();
    auto weights = VulkanWeights::upload(test::shared_context(), model->config, model->weights);
    ASSERT_TRUE(weights.has_value()) << weights.error_message();
    DecoderOptions reuse{32, DType::F16}, fresh{32, DType::F16};
    fresh.reuse_commands = false;
    auto a = VulkanDecoder::create(*weights, reuse);
    auto b = VulkanDecoder::create(*weights, fresh);
    ASSERT_TRUE(a.has_value() && b.has_value());
    const auto tokens = manifest()["sequence"]["tokens"].get<std::vector<int32_t>>();
    const int nv = model->config.n_vocab;

    // Prompt of 8, 6 decode steps, a batch of 4, 2 decode steps, a batch of 4 again: 3 shapes.
    const std::vector<int> steps = {8, 1, 1, 1, 1, 1, 1, 4, 1, 1, 4};
    std::vector<float> la = run_steps(**a, tokens, {8}, nv);
    EXPECT_EQ((*a)->n_recordings(), 1u);
    la.resize(0);
    // Same again from the start (cache positions overwritten): the prompt recording is reused too.
    la = run_steps(**a, tokens, steps, nv);
    const std::vector<float> lb = run_steps(**b, tokens, steps, nv);
    EXPECT_EQ((*a)->n_recordings(), 3u) << "prompt 8, decode, batch 4";
    EXPECT_EQ((*a)->n_cached_recordings(), 3u);
    EXPECT_EQ((*a)->n_submits(), 1u + steps.size());  // one command buffer per pass (no CPU ops)
    EXPECT_EQ((*b)->n_recordings(), steps.size());
    EXPECT_EQ((*b)->n_cached_recordings(), 0u);
    ASSERT_EQ(la.size(), lb.size());
    EXPECT_EQ(std::memcmp(la.data(), lb.data(), la.size() * sizeof(float)), 0)
        << "re-submitted recordings must give the logits of freshly recorded ones";

    const int n = (int)(la.size() / nv);
    const auto ref = read_f32(models_dir() + "/llama-mha/ref/llama-mha.Q4_0.logits.bin");
    const std::vector<float> ref_n(ref.begin(), ref.begin() + (size_t)n * nv);
    const auto tol = tolerance_for("Q4_0");
    expect_within(compare_logits(la, ref_n, nv, n, tol.argmax_gap), tol, "vulkan reused recordings");

    // A cache of one recording: alternating shapes record every time, the logits stay the same.
    DecoderOptions one{32, DType::F16};
    one.max_cached = 1;
    auto c = VulkanDecoder::create(*weights, one);
    ASSERT_TRUE(c.has_value());
    const std::vector<float> lc = run_steps(**c, tokens, {8, 1, 4, 1}, nv);
    EXPECT_EQ((*c)->n_recordings(), 4u);
    EXPECT_EQ((*c)->n_cached_recordings(), 1u);
    const std::vector<float> lb2 = run_steps(**b, tokens, {8, 1, 4, 1}, nv);
    EXPECT_EQ(std::memcmp(lc.data(), lb2.data(), lc.size() * sizeof(float)), 0);
}

struct FallbackCase {
    std::string model, type;  // fixture file llama-mha.<type>.gguf; the type forced onto the CPU
    DType cpu_type;
};

class VkCpuFallback : public ::testing::TestWithParam<FallbackCase> {};

TEST_P(VkCpuFallback, LogitsMatchReferenceWithLogLine) {
    LLM_VK_CONTEXT_OR_SKIP(unused);
    const FallbackCase& fc = GetParam();
    const std::string file = fmt::format("{}/{}.{}.gguf", fc.model, fc.model, fc.type);
    auto model = load_model(models_dir() + "/" + file);
    ASSERT_TRUE(model.has_value()) << model.error_message();
    UploadOptions uo;
    uo.cpu_types = {fc.cpu_type};
    ::testing::internal::CaptureStderr();
    auto weights = VulkanWeights::upload(test::shared_context(), model->config, model->weights, uo);
    const std::string log = ::testing::internal::GetCapturedStderr();
    ASSERT_TRUE(weights.has_value()) << weights.error_message();
    std::printf("%s", log.c_str());
    const std::string type_name(dtype_name(fc.cpu_type));
    // One line for the type, naming a tensor, its type and the reason.
    ASSERT_EQ((*weights)->cpu_notes.size(), 1u);
    EXPECT_GT((*weights)->n_cpu_matrices, 0);
    const std::string want = "(" + type_name + ") is set to run on the CPU";
    EXPECT_NE(log.find("llm: vulkan: "), std::string::npos);
    EXPECT_NE(log.find(want), std::string::npos) << log;
    EXPECT_NE(log.find("running it on the CPU"), std::string::npos) << log;
    EXPECT_EQ(log.find("llm: vulkan:"), log.rfind("llm: vulkan:")) << "one line per type: " << log;

    auto dec = VulkanDecoder::create(*weights, {64, DType::F16});
    ASSERT_TRUE(dec.has_value()) << dec.error_message();
    const auto tokens = manifest()["sequence"]["tokens"].get<std::vector<int32_t>>();
    const int nv = model->config.n_vocab, n = (int)tokens.size();
    const auto ref = read_f32(models_dir() + "/" + fc.model + "/ref/" + fc.model + "." + fc.type + ".logits.bin");
    const auto tol = tolerance_for(fc.type);

    std::vector<float> batch = run_steps(**dec, tokens, {n}, nv);
    expect_within(compare_logits(batch, ref, nv, n, tol.argmax_gap), tol, "vulkan+cpu " + file + " batch");
    EXPECT_GT((*dec)->n_submits(), 1u) << "the CPU ops split the pass into several command buffers";

    // Prompt, decode steps (one recording, with its CPU ops, re-submitted), then a batch.
    const uint64_t rec0 = (*dec)->n_recordings();
    std::vector<int> steps = {16};
    for (int i = 0; i < 8; ++i) steps.push_back(1);
    steps.push_back(n - 24);
    std::vector<float> mixed = run_steps(**dec, tokens, steps, nv);
    EXPECT_EQ((*dec)->n_recordings(), rec0 + 3);
    expect_within(compare_logits(mixed, ref, nv, n, tol.argmax_gap), tol,
                  "vulkan+cpu " + file + " prompt+decode+batch");
}

// Q2_K: the embeddings and some matrices on the CPU (inside the q/k/v and gate/up groups); IQ4_XS: all
// but the Q6_K output matrix.
INSTANTIATE_TEST_SUITE_P(Fixtures, VkCpuFallback,
                         ::testing::Values(FallbackCase{"llama-mha", "Q2_K", DType::Q2_K},
                                           FallbackCase{"llama-mha", "IQ4_XS", DType::IQ4_XS}),
                         [](const auto& info) { return "llama_mha_" + info.param.type; });

// Discrete-GPU memory path (device-local activations, no mapping): the CPU ops' inputs and outputs go
// through the copies recorded in the command lists; results equal those of the mapped context.
TEST(VkCpuFallback, StagingContextMatchesMapped) {
    LLM_VK_CONTEXT_OR_SKIP(shared);
    auto staging = Context::create(shared->info().index, /*force_staging=*/true);
    ASSERT_TRUE(staging.has_value()) << staging.error_message();
    ASSERT_FALSE((*staging)->buffers_mapped());
    auto model = load_model(models_dir() + "/llama-mha/llama-mha.Q2_K.gguf");
    ASSERT_TRUE(model.has_value()) << model.error_message();
    UploadOptions uo;
    uo.cpu_types = {DType::Q2_K};
    uo.log = false;
    auto ws = VulkanWeights::upload(std::shared_ptr<Context>(std::move(staging.value())), model->config,
                                    model->weights, uo);
    auto wm = VulkanWeights::upload(test::shared_context(), model->config, model->weights, uo);
    ASSERT_TRUE(ws.has_value() && wm.has_value());
    EXPECT_EQ((*ws)->cpu_notes.size(), 1u);
    auto ds = VulkanDecoder::create(*ws, {32, DType::F16});
    auto dm = VulkanDecoder::create(*wm, {32, DType::F16});
    ASSERT_TRUE(ds.has_value() && dm.has_value());
    const auto tokens = manifest()["sequence"]["tokens"].get<std::vector<int32_t>>();
    const int nv = model->config.n_vocab;
    const std::vector<int> steps = {12, 1, 1, 1, 1, 3};
    const std::vector<float> a = run_steps(**ds, tokens, steps, nv), b = run_steps(**dm, tokens, steps, nv);
    EXPECT_EQ((*ds)->n_recordings(), 3u);
    ASSERT_EQ(a.size(), b.size());
    EXPECT_EQ(std::memcmp(a.data(), b.data(), a.size() * sizeof(float)), 0);
    const int n = (int)(a.size() / nv);
    const auto ref = read_f32(models_dir() + "/llama-mha/ref/llama-mha.Q2_K.logits.bin");
    const auto tol = tolerance_for("Q2_K");
    expect_within(compare_logits(a, std::vector<float>(ref.begin(), ref.begin() + (size_t)n * nv), nv, n,
                                 tol.argmax_gap),
                  tol, "vulkan+cpu staging Q2_K");
}

// The session entry point honours LLM_VULKAN_CPU_TYPES; a bad name is an error (the engine then runs the
// session on the CPU with that message).
TEST(VkCpuFallback, EnvironmentVariable) {
    LLM_VK_CONTEXT_OR_SKIP(unused);
    auto model = load_model(models_dir() + "/llama-mha/llama-mha.Q2_K.gguf");
    ASSERT_TRUE(model.has_value()) << model.error_message();
    SessionRequest req;
    req.n_ctx = 16;
    ::setenv("LLM_VULKAN_CPU_TYPES", "q3_k,q2_k", 1);
    ::testing::internal::CaptureStderr();
    auto d = create_session_decoder(req, model->config, model->weights);
    const std::string log = ::testing::internal::GetCapturedStderr();
    ASSERT_TRUE(d.has_value()) << d.error_message();
    EXPECT_EQ((*d)->weights().cpu_notes.size(), 2u) << log;  // Q2_K and Q3_K; Q6_K output on the device
    EXPECT_FALSE((*d)->weights().matrix(model->weights.output).on_cpu());
    auto other = load_model(models_dir() + "/llama-mha/llama-mha.Q2_K.gguf");
    ASSERT_TRUE(other.has_value());
    ::setenv("LLM_VULKAN_CPU_TYPES", "q9_z", 1);
    auto bad = create_session_decoder(req, other->config, other->weights);
    ::unsetenv("LLM_VULKAN_CPU_TYPES");
    ASSERT_FALSE(bad.has_value());
    EXPECT_NE(bad.error_message().find("q9_z"), std::string::npos) << bad.error_message();
}

}  // namespace
}  // namespace llm::vk
