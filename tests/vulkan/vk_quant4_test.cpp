// Packed quantized safetensors folders (MLX 4/8-bit, GPTQ int4; converted at load to Q4_1 / Q4_0 / F16) on the
// device: VulkanDecoder logits against the numpy forward pass on the dequantized weights (make_quant4_fixtures.py),
// within the shared fixtures' tolerance of the type the weights become.
#include "kernels/vulkan/vk_decoder.hpp"
#include "models/model_loader.hpp"
#include "tests/models/fixture_util.hpp"
#include "tests/models/quant4_fixture.hpp"
#include "tests/vulkan/vk_test_util.hpp"

namespace llm::vk {
namespace {

class VkQuant4 : public ::testing::TestWithParam<llm::test::Quant4Case> {};

TEST_P(VkQuant4, LogitsMatchNumpyOnDequantizedWeights) {
    LLM_VK_CONTEXT_OR_SKIP(unused);
    std::string why;
    const std::string root = llm::test::quant4_dir(&why);
    if (root.empty()) GTEST_SKIP() << why;
    const auto& c = GetParam();
    auto model = load_model(root + "/" + c.folder);
    ASSERT_TRUE(model.has_value()) << model.error_message();
    auto dec = VulkanDecoder::create(test::shared_context(), model->config, model->weights, {64, DType::F16});
    ASSERT_TRUE(dec.has_value()) << dec.error_message();
    const auto tokens = llm::test::manifest()["sequence"]["tokens"].get<std::vector<int32_t>>();
    const int nv = model->config.n_vocab, n = (int)tokens.size();
    const auto ref = llm::test::read_f32(root + "/" + c.folder + "/ref.logits.bin");
    ASSERT_EQ(ref.size(), (size_t)n * nv);
    std::vector<float> logits((size_t)n * nv);
    const Status st = (*dec)->forward(tokens, 0, true, logits.data());
    ASSERT_TRUE(st.is_ok()) << st.message();
    const auto tol = llm::test::tolerance_for(std::string(dtype_name(c.converted)));
    llm::test::expect_within(llm::test::compare_logits(logits, ref, nv, n, tol.argmax_gap), tol,
                             "vulkan " + c.folder + " batch vs numpy");
}

INSTANTIATE_TEST_SUITE_P(Folders, VkQuant4, ::testing::ValuesIn(llm::test::kQuant4Cases), [](const auto& info) {
    std::string name = info.param.folder;
    for (char& ch : name)
        if (ch == '-') ch = '_';
    return name;
});

}  // namespace
}  // namespace llm::vk
