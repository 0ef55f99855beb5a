// Qwen 2 (Q/K/V biases), Qwen 3 (QK-norm) and Gemma 3 (QK-norm, post-norms, GEGLU, sliding-window layers with their
// own rope table) on the device: VulkanDecoder logits of the arch fixtures (tests/models/arch_fixture.hpp) against
// llama.cpp's, as one batch and one token at a time, within the shared fixtures' tolerance of each weight type.
#include "kernels/vulkan/vk_decoder.hpp"
#include "models/model_loader.hpp"
#include "tests/models/arch_fixture.hpp"
#include "tests/vulkan/vk_test_util.hpp"

namespace llm::vk {
namespace {

struct ArchCase {
    std::string model, type;
};

class VkArch : public ::testing::TestWithParam<ArchCase> {};

TEST_P(VkArch, BatchAndOneByOneMatchLlamaCpp) {
    LLM_VK_CONTEXT_OR_SKIP(unused);
    std::string why;
    const std::string dir = llm::test::arch_fixture_dir(&why);
    if (dir.empty()) GTEST_SKIP() << why;
    const ArchCase& c = GetParam();
    const std::string path = c.type == "hf" ? dir + "/" + c.model + "/hf" : dir + "/" + c.model + "/" + c.model + "." +
                                                                                c.type + ".gguf";
    const std::string type = c.type == "hf" ? "F16" : c.type;  // the twin holds the F16 file's values
    auto model = load_model(path);
    ASSERT_TRUE(model.has_value()) << model.error_message();
    auto dec = VulkanDecoder::create(test::shared_context(), model->config, model->weights, {64, DType::F16});
    ASSERT_TRUE(dec.has_value()) << dec.error_message();
    const auto& m = llm::test::arch_manifest();
    const auto tokens = m["sequence"].get<std::vector<int32_t>>();
    const int nv = model->config.n_vocab, n = (int)tokens.size();
    const auto ref = llm::test::read_f32(llm::test::kArchRefDir + "/" +
                                         m["references"][c.model + "." + type]["batch"].get<std::string>());
    ASSERT_EQ(ref.size(), (size_t)n * nv);
    const auto tol = llm::test::tolerance_for(type);

    std::vector<float> batch((size_t)n * nv), one((size_t)n * nv);
    Status st = (*dec)->forward(tokens, 0, true, batch.data());
    ASSERT_TRUE(st.is_ok()) << st.message();
    llm::test::expect_within(llm::test::compare_logits(batch, ref, nv, n, tol.argmax_gap), tol,
                             "vulkan " + c.model + "." + c.type + " batch");
    for (int i = 0; i < n; ++i) {  // past the window of 8: the sliding-window layers' bounded attention
        st = (*dec)->forward({&tokens[i], 1}, i, false, one.data() + (size_t)i * nv);
        ASSERT_TRUE(st.is_ok()) << st.message();
    }
    llm::test::expect_within(llm::test::compare_logits(one, ref, nv, n, tol.argmax_gap), tol,
                             "vulkan " + c.model + "." + c.type + " one-by-one");
}

std::vector<ArchCase> cases() {
    std::vector<ArchCase> out;
    for (const char* m : {"qwen2", "qwen3", "gemma3"})
        for (const char* t : {"F16", "Q8_0", "Q4_0", "hf"}) out.push_back({m, t});
    return out;
}

INSTANTIATE_TEST_SUITE_P(Models, VkArch, ::testing::ValuesIn(cases()),
                         [](const auto& info) { return info.param.model + "_" + info.param.type; });

}  // namespace
}  // namespace llm::vk
