// One node list, two backends: the CPU executor (runtime/forward_cpu.hpp) and the Vulkan decoder run the same
// forward pass of each architecture, and every node's output is compared through the executors' debug
// hooks, for a prompt and then a decode step. Errors are normalized (sum (a-b)^2 / sum b^2, as llama.cpp's
// test-backend-ops) and bounded per op. They accumulate along the pass: the CPU quantizes activations to
// 8 bits (Q8_0 weights) or rounds them to fp16/bf16 (F16/BF16 weights) for its dot products, the device
// keeps them in float, and attention rounds q and the softmax weights to fp16 on both.
// Also: the Vulkan column of the op table against the device kernels, and the scale op.
#include <cstdio>
#include <cstdlib>
#include <map>

#include "core/op_table.hpp"
#include "kernels/cpu/attention_ggml.hpp"
#include "kernels/cpu/ops.hpp"
#include "kernels/vulkan/vk_decoder.hpp"
#include "models/model_loader.hpp"
#include "runtime/forward_cpu.hpp"
#include "tests/models/fixture_util.hpp"
#include "tests/vulkan/vk_test_util.hpp"

namespace llm::vk {
namespace {

using llm::test::manifest;
using llm::test::models_dir;

struct Captured {
    Op op;
    std::vector<float> values;  // dense rows x cols
};

NodeHook capture_into(std::vector<Captured>& out) {
    return [&out](size_t i, const Node& n, const NodeOutput& o) {
        if (out.size() <= i) out.resize(i + 1, Captured{Op::Count, {}});
        out[i].op = n.op;
        out[i].values.resize(o.rows * o.cols);
        for (int64_t r = 0; r < o.rows; ++r)
            std::copy(o.data + r * o.stride, o.data + r * o.stride + o.cols, out[i].values.begin() + r * o.cols);
    };
}

// Per-op bound on the normalized error of a node's output, CPU vs Vulkan, by the weights' type (what the CPU
// rounds activations to). Embed is exact (the same dequantized rows); elementwise ops (rms_norm, rope,
// scale, add, select_rows) carry their inputs' error; matmul, swiglu and attention add their own.
// Measured on lavapipe with the fixtures (1-2 layers, a 16-token prompt then a decode step), worst over
// the cases: elementwise 2.4e-6 (F16), 2.4e-5 (BF16), 5.2e-4 (Q8_0); matmul/swiglu/attention 2.3e-6,
// 3.8e-5, 1.1e-3. The bounds leave a factor of 4 or more.
double bound(Op op, const std::string& weight_type) {
    if (std::getenv("LLM_VK_GRAPH_MEASURE")) return 1;  // print the errors without failing
    const int t = weight_type == "F16" ? 0 : weight_type == "BF16" ? 1 : 2;  // else Q8_0
    constexpr double elementwise[] = {1e-5, 1e-4, 2.5e-3}, products[] = {1e-5, 2e-4, 5e-3};
    switch (op) {
        case Op::Embed: return 0;
        case Op::Matmul:
        case Op::Swiglu:
        case Op::Attention: return products[t];
        default: return elementwise[t];
    }
}

struct Case {
    std::string file, weight_type;
};

class VkGraph : public ::testing::TestWithParam<Case> {};

TEST_P(VkGraph, SameNodeListSameValuesOnCpuAndVulkan) {
    LLM_VK_CONTEXT_OR_SKIP(unused);
    const Case& c = GetParam();
    auto m = load_model(models_dir() + "/" + c.file);
    ASSERT_TRUE(m.has_value()) << m.error_message();
    auto dec = VulkanDecoder::create(test::shared_context(), m->config, m->weights, {64, DType::F16});
    ASSERT_TRUE(dec.has_value()) << dec.error_message();
    auto kv = KvCache::create(m->config, 64, DType::F16, ggml_attention_available());  // the session default
    ASSERT_TRUE(kv.has_value());
    ForwardScratch scratch;
    const auto tokens = manifest()["sequence"]["tokens"].get<std::vector<int32_t>>();
    const int nv = m->config.n_vocab, prompt = 16;
    std::map<Op, double> worst;
    for (const Batch& b : {Batch::contiguous({tokens.data(), (size_t)prompt}, 0, true),
                           Batch::contiguous({tokens.data() + prompt, 1}, prompt, false)}) {
        std::vector<Captured> cpu, gpu;
        std::vector<float> cpu_logits(b.out_rows.size() * nv), gpu_logits(cpu_logits.size());
        const Graph g = build_forward(m->config, m->weights, b);
        run_graph_cpu(g, forward_inputs(m->config, b, LongRopeMode::Auto), *kv, cpu_logits.data(), scratch,
                      {.n_threads = 2}, capture_into(cpu));
        ASSERT_TRUE((*dec)->forward(b, gpu_logits.data(), capture_into(gpu)).is_ok());
        ASSERT_EQ(cpu.size(), g.nodes().size());  // the last node (the head) has an output
        ASSERT_EQ(gpu.size(), cpu.size()) << "the same node list on both backends";
        for (size_t i = 0; i < cpu.size(); ++i) {
            ASSERT_EQ(gpu[i].op, cpu[i].op) << "node " << i;
            if (cpu[i].op == Op::Count) continue;  // KvStore: no output
            const double e = test::nmse(gpu[i].values, cpu[i].values);
            worst[cpu[i].op] = std::max(worst[cpu[i].op], e);
            EXPECT_LE(e, bound(cpu[i].op, c.weight_type))
                << c.file << " node " << i << " (" << op_name(cpu[i].op) << ") of a " << b.size() << "-token pass";
        }
        EXPECT_EQ(gpu.back().values, gpu_logits) << "the head's output is the logits";
        EXPECT_EQ(cpu.back().values, cpu_logits);
    }
    std::string line;
    for (const auto& [op, e] : worst) line += fmt::format(" {} {:.1e}", op_name(op), e);
    std::printf("[vk graph] %-32s worst nmse per op:%s\n", c.file.c_str(), line.c_str());
}

INSTANTIATE_TEST_SUITE_P(Fixtures, VkGraph,
                         ::testing::Values(Case{"llama-mha/llama-mha.F16.gguf", "F16"},
                                           Case{"llama-mha/llama-mha.Q8_0.gguf", "Q8_0"},
                                           Case{"mistral-gqa/mistral-gqa.F16.gguf", "F16"},
                                           Case{"mistral-gqa/mistral-gqa.Q8_0.gguf", "Q8_0"},
                                           Case{"phi3/phi3.BF16.gguf", "BF16"},
                                           Case{"phi3/phi3.Q8_0.gguf", "Q8_0"}),
                         [](const auto& info) {
                             std::string n = info.param.file.substr(info.param.file.find('/') + 1);
                             for (char& ch : n)
                                 if (!isalnum((unsigned char)ch)) ch = '_';
                             return n;
                         });

// The op table's Vulkan column lists the weight types with shaders (and nothing the CPU cannot run
// when a type falls back).
TEST(VkGraph, OpTableVulkanColumnMatchesTheShaders) {
    for (uint32_t id = 0; id < 64; ++id) {
        const auto t = dtype_from_u32(id);
        if (!t) continue;
        const bool shaders = type_suffix(*t) != nullptr;
        EXPECT_EQ(op_supports(Backend::Vulkan, Op::Matmul, *t), shaders) << dtype_name(*t);
        EXPECT_EQ(op_supports(Backend::Vulkan, Op::Embed, *t), shaders) << dtype_name(*t);
        EXPECT_EQ(supports_type(*t), shaders) << dtype_name(*t);
        if (shaders) {
            EXPECT_TRUE(op_supports(Backend::Cpu, Op::Matmul, *t)) << dtype_name(*t);
        }
    }
    EXPECT_TRUE(op_supports(Backend::Vulkan, Op::Attention, DType::F16));
    EXPECT_FALSE(op_supports(Backend::Vulkan, Op::Attention, DType::Q8_0));
}

// scale on a column view (Phi-3's q inside the fused QKV rows) equals the CPU's scale_rows bit for bit.
TEST(VkGraph, ScaleOpMatchesCpu) {
    LLM_VK_CONTEXT_OR_SKIP(ctx);
    const uint32_t rows = 5, stride = 300, width = 96, offset = 7;
    auto x = test::random_floats(rows * stride + offset, 3, -4, 4);
    Buffer buf = test::to_device(*ctx, x);
    {
        auto guard = ctx->lock();
        CommandList& cl = ctx->begin();
        ASSERT_TRUE(scale(*ctx, cl, {&buf, offset, stride}, width, rows, 0.102062f).is_ok());
        ASSERT_TRUE(ctx->submit().is_ok());
    }
    const auto got = test::from_device<float>(*ctx, buf, x.size());
    scale_rows(x.data() + offset, rows, width, stride, 0.102062f, 1);
    EXPECT_EQ(got, x);
}

}  // namespace
}  // namespace llm::vk
