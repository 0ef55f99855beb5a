// The node list of the forward pass (models/forward.hpp, core/graph.hpp) and its CPU executor: the layer
// sequence each architecture records, the scratch-memory plan, output-row selection, the op table against
// the CPU kernels, and that no backend or forward-pass source tests architecture names.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <regex>
#include <set>

#include "core/graph.hpp"
#include "core/op_table.hpp"
#include "fixture_util.hpp"
#include "kernels/cpu/matmul.hpp"
#include "models/model_loader.hpp"
#include "runtime/forward_cpu.hpp"

namespace llm::test {
namespace {

LoadedModel load(const std::string& rel) {
    auto m = load_model(models_dir() + "/" + rel);
    EXPECT_TRUE(m.has_value()) << (m ? "" : m.error_message());
    return m ? std::move(*m) : LoadedModel{};
}

std::vector<Op> ops_of(const Graph& g) {
    std::vector<Op> out;
    for (const Node& n : g.nodes()) out.push_back(n.op);
    return out;
}

size_t count(const Graph& g, Op op) {
    const auto ops = ops_of(g);
    return (size_t)std::count(ops.begin(), ops.end(), op);
}

// The layer sequence per architecture: separate or fused products, Phi-3's query scaling as a node.
TEST(Graph, LayerSequencePerArchitecture) {
    const std::vector<int32_t> tokens = {1, 2, 3, 4};
    for (const char* file : {"llama-mha/llama-mha.F16.gguf", "mistral-gqa/mistral-gqa.F16.gguf", "phi3/phi3.Q8_0.gguf"}) {
        const LoadedModel m = load(file);
        const ModelConfig& c = m.config;
        const Graph g = build_forward(c, m.weights, Batch::contiguous(tokens, 0, false));
        const bool fused = m.weights.layers[0].wqkv.valid();
        const size_t L = c.n_layers;
        EXPECT_EQ(count(g, Op::Embed), 1u) << file;
        EXPECT_EQ(count(g, Op::RmsNorm), 2 * L + 1) << file;
        EXPECT_EQ(count(g, Op::Matmul), (fused ? 4 : 7) * L + 1) << file;
        EXPECT_EQ(count(g, Op::Rope), 2 * L) << file;
        EXPECT_EQ(count(g, Op::Scale), c.prescale_q ? L : 0) << file;
        EXPECT_EQ(count(g, Op::KvStore), L) << file;
        EXPECT_EQ(count(g, Op::Attention), L) << file;
        EXPECT_EQ(count(g, Op::Add), 2 * L) << file;
        EXPECT_EQ(count(g, Op::Swiglu), L) << file;
        EXPECT_EQ(count(g, Op::SelectRows), 0u) << file;  // the last row is a view
        // The head reads the last token only: [1 x n_vocab] logits.
        EXPECT_EQ(g.desc(g.output()).rows, 1);
        EXPECT_EQ(g.desc(g.output()).cols, c.n_vocab);
        EXPECT_EQ(g.nodes().back().w->data, m.weights.output.data);
    }
    EXPECT_TRUE(load("phi3/phi3.Q8_0.gguf").config.prescale_q);
    EXPECT_TRUE(load("phi3/hf").config.prescale_q);
    EXPECT_FALSE(load("llama-mha/llama-mha.F16.gguf").config.prescale_q);
    EXPECT_FALSE(load("mistral-gqa/hf").config.prescale_q);
}

// No two roots alive at the same node share a slot, and every slot holds what is put in it.
TEST(Graph, MemoryPlanNeverOverlapsLiveTensors) {
    for (const char* file : {"mistral-gqa/mistral-gqa.Q4_0.gguf", "phi3/phi3.Q8_0.gguf"}) {
        const LoadedModel m = load(file);
        const std::vector<int32_t> tokens(7, 5);
        const Graph g = build_forward(m.config, m.weights, Batch::contiguous(tokens, 0, true));
        const MemoryPlan p = plan_memory(g);
        const size_t nt = g.n_tensors();
        std::vector<int64_t> first(nt, -1), last(nt, -1);
        for (size_t i = 0; i < g.nodes().size(); ++i) {
            const Node& n = g.nodes()[i];
            std::vector<Tensor> ts(n.in.begin(), n.in.begin() + op_info(n.op).n_inputs);
            if (n.out.valid()) ts.push_back(n.out);
            for (Tensor t : ts) {
                const int32_t r = g.desc(t).root;
                if (first[r] < 0) first[r] = (int64_t)i;
                last[r] = (int64_t)i;
            }
        }
        for (size_t a = 0; a < nt; ++a) {
            const TensorDesc& d = g.desc(Tensor{(int32_t)a});
            if (d.root != (int32_t)a || first[a] < 0) continue;
            if (d.is_output) {
                EXPECT_EQ(p.slot[a], -1);
                continue;
            }
            ASSERT_GE(p.slot[a], 0);
            EXPECT_GE(p.slot_elems[p.slot[a]], d.rows * d.cols);
            for (size_t b = a + 1; b < nt; ++b) {
                if (g.desc(Tensor{(int32_t)b}).root != (int32_t)b || first[b] < 0 || p.slot[b] != p.slot[a]) continue;
                EXPECT_TRUE(last[a] < first[b] || last[b] < first[a]) << file << ": t" << a << " and t" << b;
            }
        }
        EXPECT_LE(p.slot_elems.size(), 8u) << file << ": slots are reused across layers";
    }
}

// Logits of chosen rows (a gather: the serving engine's last token per sequence) equal those rows of a
// pass with every row's logits (to float rounding: the head's matmul may pick another kernel, BLAS or
// vec_dot, for fewer rows; F32 weights keep the activations in float on both).
TEST(Graph, SelectedRowsMatchAllRows) {
    const LoadedModel m = load("llama-mha/llama-mha.F32.gguf");
    const auto tokens = manifest()["sequence"]["tokens"].get<std::vector<int32_t>>();
    const int nv = m.config.n_vocab, n = (int)tokens.size();
    auto run = [&](const Batch& b) {
        auto kv = KvCache::create(m.config, n, DType::F16);
        EXPECT_TRUE(kv.has_value());
        ForwardScratch s;
        std::vector<float> out(b.out_rows.size() * nv);
        forward_cpu(m.config, m.weights, *kv, b, out.data(), s, {2, LongRopeMode::Auto});
        return out;
    };
    const auto all = run(Batch::contiguous(tokens, 0, true));
    Batch picked = Batch::contiguous(tokens, 0, true);
    picked.out_rows = {3, 10, 11, n - 1};
    EXPECT_EQ(count(build_forward(m.config, m.weights, picked), Op::SelectRows), 1u);
    const auto some = run(picked);
    for (size_t r = 0; r < picked.out_rows.size(); ++r)
        for (int i = 0; i < nv; ++i)
            ASSERT_NEAR(some[r * nv + i], all[(size_t)picked.out_rows[r] * nv + i],
                        1e-4 * (1 + std::abs(all[(size_t)picked.out_rows[r] * nv + i])))
                << "row " << r;
}

// The op table's CPU column lists exactly the types the CPU kernels run.
TEST(OpTable, CpuColumnMatchesTheKernels) {
    for (uint32_t id = 0; id < 64; ++id) {
        const auto t = dtype_from_u32(id);
        if (!t) continue;
        EXPECT_EQ(op_supports(Backend::Cpu, Op::Matmul, *t), matmul_supports(*t)) << dtype_name(*t);
        EXPECT_TRUE(op_supports(Backend::Cpu, Op::Embed, *t)) << dtype_name(*t);  // dequantize_row of any type
    }
    for (DType kv : {DType::F16, DType::F32, DType::BF16, DType::Q8_0}) {
        EXPECT_TRUE(op_supports(Backend::Cpu, Op::Attention, kv));
        EXPECT_TRUE(KvCache::create(load("llama-mha/llama-mha.Q4_0.gguf").config, 8, kv).has_value());
    }
    EXPECT_FALSE(op_supports(Backend::Cpu, Op::KvStore, DType::Q4_0));
    for (size_t i = 0; i < (size_t)Op::Count; ++i) EXPECT_FALSE(op_name((Op)i).empty());
}

// Architecture differences are ModelConfig knobs: the forward pass, the graph and the backends never
// compare architecture names (the loaders, models/load_*.cpp, map names to knobs).
TEST(Graph, NoArchitectureNamesInTheForwardPassOrBackends) {
    namespace fs = std::filesystem;
    const fs::path root = LLM_SOURCE_DIR;
    const std::regex bad(R"((\barch\s*[!=]=)|(==\s*[A-Za-z_.>-]*arch\b)|("(llama|phi3|phi-3|mistral|Llama|Phi3|Mistral)\w*"))");
    std::vector<fs::path> files;
    for (const char* dir : {"core", "kernels/cpu", "kernels/vulkan", "shaders"})
        for (const auto& e : fs::directory_iterator(root / dir)) files.push_back(e.path());
    for (const auto& e : fs::directory_iterator(root / "models"))
        if (e.path().filename().string().rfind("forward", 0) == 0) files.push_back(e.path());
    size_t scanned = 0;
    for (const fs::path& f : files) {
        const std::string ext = f.extension().string();
        if (ext != ".cpp" && ext != ".hpp" && ext != ".comp" && ext != ".glsl") continue;
        std::ifstream in(f);
        std::string line;
        for (int no = 1; std::getline(in, line); ++no) {
            const std::string code = line.substr(0, line.find("//"));  // comments may name architectures
            EXPECT_FALSE(std::regex_search(code, bad)) << f.string() << ":" << no << ": " << line;
        }
        ++scanned;
    }
    EXPECT_GE(scanned, 20u);
    // The scan itself catches what it is meant to.
    EXPECT_TRUE(std::regex_search(std::string("const bool p = c.arch == \"phi3\";"), bad));
    EXPECT_TRUE(std::regex_search(std::string("if (name != \"llama\")"), bad));
    EXPECT_FALSE(std::regex_search(std::string("if (c.prescale_q) g.scale(q, s);"), bad));
}

}  // namespace
}  // namespace llm::test
