// End to end on the device: VulkanDecoder logits for the fixture models (F16/BF16, Q8_0, Q4_0, Q4_K_M of
// each architecture, plus the sliding-window twin) against the references, as one batch and as a prompt
// followed by single-token decode steps and a second batch, and against the CPU executor of the same file.
#include <chrono>
#include <cstdio>

#include "kernels/vulkan/vk_decoder.hpp"
#include "kernels/vulkan/vk_session.hpp"
#include "models/model_loader.hpp"
#include "runtime/forward_cpu.hpp"
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

struct Case {
    std::string path, ref, weight_type;  // weight_type names the manifest tolerance
    std::string tokens_from = "";        // manifest path of a different token list (mistral-swa)
};

std::vector<Case> cases() {
    std::vector<Case> out;
    for (const char* model : {"llama-mha", "mistral-gqa", "phi3"})
        for (const char* type : {"F16", "BF16", "Q8_0", "Q4_0", "Q4_K_M"}) {
            const std::string file = fmt::format("{}/{}.{}.gguf", model, model, type);
            if (!std::ifstream(models_dir() + "/" + file)) continue;
            if (std::string(type) == "BF16" && std::string(model) != "phi3") continue;  // F16 covers those
            out.push_back({file, fmt::format("{}/ref/{}.{}.logits.bin", model, model, type), type});
        }
    out.push_back({"mistral-swa/hf", "mistral-swa/ref/mistral-swa.numpy.logits.bin", "F32", "mistral-swa"});
    return out;
}

class VkDecoderFixture : public ::testing::TestWithParam<Case> {};

TEST_P(VkDecoderFixture, LogitsMatchReferenceBatchAndOneByOne) {
    LLM_VK_CONTEXT_OR_SKIP(unused);
    const Case& c = GetParam();
    auto model = load_model(models_dir() + "/" + c.path);
    ASSERT_TRUE(model.has_value()) << model.error_message();
    auto dec = VulkanDecoder::create(test::shared_context(), model->config, model->weights, {64, DType::F16});
    ASSERT_TRUE(dec.has_value()) << dec.error_message();
    auto tokens = manifest()["sequence"]["tokens"].get<std::vector<int32_t>>();
    if (!c.tokens_from.empty())
        tokens = manifest()["models"][c.tokens_from]["refs"]["numpy_logits"]["tokens"].get<std::vector<int32_t>>();
    const int nv = model->config.n_vocab, n = (int)tokens.size();
    const auto ref = read_f32(models_dir() + "/" + c.ref);
    ASSERT_EQ(ref.size(), (size_t)n * nv);
    const auto tol = tolerance_for(c.weight_type);

    std::vector<float> batch((size_t)n * nv);
    auto t0 = std::chrono::steady_clock::now();
    Status st = (*dec)->forward(tokens, 0, true, batch.data());
    const double batch_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    ASSERT_TRUE(st.is_ok()) << st.message();
    expect_within(compare_logits(batch, ref, nv, n, tol.argmax_gap), tol, "vulkan " + c.path + " batch");

    // Mixed, over the same cache positions (overwriting them): a 16-token prompt, 8 single tokens
    // (decode, last-position logits only), then a batch that starts at a non-zero position.
    std::vector<float> mixed((size_t)n * nv);
    const int prompt = 16, singles = 8;
    st = (*dec)->forward({tokens.data(), (size_t)prompt}, 0, true, mixed.data());
    ASSERT_TRUE(st.is_ok()) << st.message();
    t0 = std::chrono::steady_clock::now();
    for (int i = prompt; i < prompt + singles; ++i) {
        st = (*dec)->forward({&tokens[i], 1}, i, false, mixed.data() + (size_t)i * nv);
        ASSERT_TRUE(st.is_ok()) << st.message();
    }
    const double decode_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    st = (*dec)->forward({tokens.data() + prompt + singles, (size_t)(n - prompt - singles)}, prompt + singles, true,
                         mixed.data() + (size_t)(prompt + singles) * nv);
    ASSERT_TRUE(st.is_ok()) << st.message();
    expect_within(compare_logits(mixed, ref, nv, n, tol.argmax_gap), tol,
                  "vulkan " + c.path + " prompt+decode+batch");

    // The CPU executor of the same node list: close, not identical (it quantizes activations for quantized
    // weights, the Vulkan kernels keep them in float), so only the reference tolerance applies.
    KvCache kv = std::move(*KvCache::create(model->config, 64, DType::F16));
    ForwardScratch scratch;
    std::vector<float> cpu((size_t)n * nv);
    forward_cpu(model->config, model->weights, kv, Batch::contiguous(tokens, 0, true), cpu.data(), scratch, {});
    const auto s = compare_logits(batch, cpu, nv, n, 1e9);
    std::printf("[vulkan] %-36s vs CPU executor: max_abs %.2e rms %.2e (batch %.0f ms, decode step %.0f ms)\n",
                c.path.c_str(), s.max_abs, s.rms, batch_ms, decode_ms / singles);
}

INSTANTIATE_TEST_SUITE_P(Fixtures, VkDecoderFixture, ::testing::ValuesIn(cases()), [](const auto& info) {
    std::string name = info.param.path;
    for (char& ch : name)
        if (!isalnum((unsigned char)ch)) ch = '_';
    return name;
});

TEST(VkDecoder, ErrorsAreValues) {
    LLM_VK_CONTEXT_OR_SKIP(unused);
    auto model = load_model(models_dir() + "/llama-mha/llama-mha.Q4_0.gguf");
    ASSERT_TRUE(model.has_value()) << model.error_message();
    auto dec = VulkanDecoder::create(test::shared_context(), model->config, model->weights, {8, DType::F16});
    ASSERT_TRUE(dec.has_value()) << dec.error_message();
    std::vector<float> logits(model->config.n_vocab * 16);
    const std::vector<int32_t> too_many(9, 1), bad_id = {1, 99999};
    EXPECT_FALSE((*dec)->forward(too_many, 0, false, logits.data()).is_ok());
    EXPECT_FALSE((*dec)->forward(bad_id, 0, false, logits.data()).is_ok());
    auto q8k = VulkanDecoder::create(test::shared_context(), model->config, model->weights, {8, DType::Q8_0});
    EXPECT_FALSE(q8k.has_value());
}

TEST(VkDecoder, ProfileByOp) {
    LLM_VK_CONTEXT_OR_SKIP(ctx);
    if (!ctx->info().timestamps) GTEST_SKIP() << "device without timestamps";
    auto model = load_model(models_dir() + "/llama-mha/llama-mha.Q4_0.gguf");
    ASSERT_TRUE(model.has_value()) << model.error_message();
    DecoderOptions opt{16, DType::F16};
    opt.profile = true;
    auto dec = VulkanDecoder::create(test::shared_context(), model->config, model->weights, opt);
    ASSERT_TRUE(dec.has_value()) << dec.error_message();
    std::vector<float> logits(model->config.n_vocab);
    const std::vector<int32_t> tokens = {1, 583, 930, 935};
    ASSERT_TRUE((*dec)->forward(tokens, 0, false, logits.data()).is_ok());
    const auto prof = (*dec)->last_profile();
    double total = 0;
    for (const auto& [op, ms] : prof) std::printf("[vulkan profile] %-12s %8.3f ms\n", op.c_str(), ms), total += ms;
    EXPECT_GE(prof.size(), 7u);  // get_rows rms_norm matmul rope kv_write attention add_inplace silu_mul
    EXPECT_GT(total, 0.0);
}

// The engine entry: sessions of one model share the uploaded weights; bad specs are errors.
TEST(VkDecoder, SessionEntryPointSharesWeights) {
    LLM_VK_CONTEXT_OR_SKIP(ctx);
    auto model = load_model(models_dir() + "/llama-mha/llama-mha.Q4_0.gguf");
    ASSERT_TRUE(model.has_value()) << model.error_message();
    ASSERT_FALSE(model->weights.owners.empty());
    SessionRequest req;
    req.device = "vulkan";
    req.n_ctx = 16;
    req.kv_type = DType::Q8_0;  // not on Vulkan: runs as F16 with a note
    std::string note;
    auto a = create_session_decoder(req, model->config, model->weights, &note);
    ASSERT_TRUE(a.has_value()) << a.error_message();
    std::printf("%s\n", note.c_str());
    EXPECT_NE(note.find("using F16"), std::string::npos);
    auto b = create_session_decoder(req, model->config, model->weights);
    ASSERT_TRUE(b.has_value()) << b.error_message();
    EXPECT_EQ(&(*a)->weights(), &(*b)->weights());
    auto other = load_model(models_dir() + "/llama-mha/llama-mha.Q4_0.gguf");  // same file, another model
    ASSERT_TRUE(other.has_value());
    auto c = create_session_decoder(req, other->config, other->weights);
    ASSERT_TRUE(c.has_value());
    EXPECT_NE(&(*a)->weights(), &(*c)->weights());
    req.device = "vulkan:99";
    EXPECT_FALSE(create_session_decoder(req, model->config, model->weights).has_value());
    req.device = "metal";
    EXPECT_FALSE(create_session_decoder(req, model->config, model->weights).has_value());
    EXPECT_FALSE(device_list_lines().empty());
}

// Discrete-GPU memory path end to end (device-local buffers, staging uploads, logits copied back in the
// same command buffer), two sessions sharing one upload of the weights with separate caches, and a
// batch split into sub-batches.
TEST(VkDecoder, StagingPathAndSharedWeights) {
    LLM_VK_CONTEXT_OR_SKIP(shared);
    auto staging = Context::create(shared->info().index, /*force_staging=*/true);
    ASSERT_TRUE(staging.has_value()) << staging.error_message();
    auto model = load_model(models_dir() + "/mistral-gqa/mistral-gqa.Q4_K_M.gguf");
    ASSERT_TRUE(model.has_value()) << model.error_message();
    auto weights = VulkanWeights::upload(std::shared_ptr<Context>(std::move(staging.value())), model->config,
                                         model->weights);
    ASSERT_TRUE(weights.has_value()) << weights.error_message();
    auto a = VulkanDecoder::create(*weights, {32, DType::F32});
    DecoderOptions small_batches{32, DType::F16};
    small_batches.max_batch = 3;  // a batch of 8 runs as 3 + 3 + 2
    auto b = VulkanDecoder::create(*weights, small_batches);
    ASSERT_TRUE(a.has_value() && b.has_value());
    const auto tokens = manifest()["sequence"]["tokens"].get<std::vector<int32_t>>();
    const int nv = model->config.n_vocab, n = 12;
    const auto ref = read_f32(models_dir() + "/mistral-gqa/ref/mistral-gqa.Q4_K_M.logits.bin");
    std::vector<float> la((size_t)n * nv), lb((size_t)n * nv);
    // Interleaved use: b's cache must not see a's tokens.
    ASSERT_TRUE((*a)->forward({tokens.data(), 8}, 0, true, la.data()).is_ok());
    ASSERT_TRUE((*b)->forward({tokens.data(), 4}, 0, true, lb.data()).is_ok());
    ASSERT_TRUE((*a)->forward({tokens.data() + 8, 4}, 8, true, la.data() + 8 * nv).is_ok());
    ASSERT_TRUE((*b)->forward({tokens.data() + 4, 8}, 4, true, lb.data() + 4 * nv).is_ok());
    const auto tol = tolerance_for("Q4_K_M");
    const std::vector<float> ref_n(ref.begin(), ref.begin() + (size_t)n * nv);
    expect_within(compare_logits(la, ref_n, nv, n, tol.argmax_gap), tol, "vulkan staging f32-kv");
    expect_within(compare_logits(lb, ref_n, nv, n, tol.argmax_gap), tol, "vulkan staging f16-kv");
}

}  // namespace
}  // namespace llm::vk
