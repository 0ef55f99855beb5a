// The layer tensor table (models/layer_tensors.hpp): its names in both formats, which tensors a layer holds per
// config and layout, and load_layers' shape errors, on views made here (no file).
#include <gtest/gtest.h>

#include <deque>
#include <map>

#include "models/layer_tensors.hpp"

namespace llm {
namespace {

ModelConfig small_config() {
    ModelConfig c;
    c.arch = "llama";
    c.d_model = 8, c.n_layers = 2, c.n_heads = 2, c.n_kv_heads = 1, c.head_dim = 4, c.d_ff = 16, c.n_vocab = 10;
    return c;
}

// F32 views of the shapes the table asks for, one zeroed buffer each, by file name.
struct FakeFile {
    std::map<std::string, TensorView> views;
    std::deque<std::vector<float>> bufs;  // stable addresses
    void add(const std::string& name, int64_t n_in, int64_t n_out, bool vector) {
        bufs.emplace_back((size_t)(n_in * (vector ? 1 : n_out)));
        TensorView v;
        v.name = name, v.type = DType::F32, v.n_dims = vector ? 1 : 2;
        v.ne = {n_in, vector ? 1 : n_out, 1, 1};
        v.data = bufs.back().data(), v.nbytes = bufs.back().size() * 4;
        views[name] = v;
    }
    TensorLookup lookup() const {
        return [this](const std::string& n) {
            auto it = views.find(n);
            return it == views.end() ? TensorView{} : it->second;
        };
    }
};

FakeFile complete_file(const ModelConfig& c, WeightFormat f, LayerLayout layout) {
    FakeFile file;
    for (int il = 0; il < c.n_layers; ++il)
        for (const LayerTensor& t : kLayerTensors)
            if (layer_has(t, c, layout))
                file.add(layer_tensor_name(t, f, il, c), dim_size(t.n_in, c), dim_size(t.n_out, c),
                         t.role != TensorRole::Matrix);
    return file;
}

TEST(LayerTensors, NamesInBothFormats) {
    ModelConfig c = small_config();
    const LayerTensor& q = kLayerTensors[2];
    EXPECT_EQ(layer_tensor_name(q, WeightFormat::Gguf, 3, c), "blk.3.attn_q.weight");
    EXPECT_EQ(layer_tensor_name(q, WeightFormat::Hf, 3, c), "model.layers.3.self_attn.q_proj.weight");
    for (const LayerTensor& t : kLayerTensors) {
        if (t.vec != &LayerWeights::ffn_norm) continue;
        EXPECT_EQ(layer_tensor_name(t, WeightFormat::Hf, 0, c), "model.layers.0.post_attention_layernorm.weight");
        c.post_norms = true;  // Gemma: the MLP's input norm is pre_feedforward_layernorm
        EXPECT_EQ(layer_tensor_name(t, WeightFormat::Hf, 0, c), "model.layers.0.pre_feedforward_layernorm.weight");
    }
}

TEST(LayerTensors, EachMemberOnceEveryNameDistinctPerLayout) {
    ModelConfig c = small_config();
    c.qkv_bias = c.qk_norm = c.post_norms = true;
    for (LayerLayout layout : {LayerLayout{false, false}, LayerLayout{true, true}})
        for (WeightFormat f : {WeightFormat::Gguf, WeightFormat::Hf}) {
            std::map<std::string, int> names;
            for (const LayerTensor& t : kLayerTensors)
                if (layer_has(t, c, layout)) ++names[layer_tensor_name(t, f, 0, c)];
            for (const auto& [n, count] : names) EXPECT_EQ(count, 1) << n;
        }
}

TEST(LayerTensors, LoadsSplitAndFusedLayouts) {
    const ModelConfig c = small_config();
    for (WeightFormat f : {WeightFormat::Gguf, WeightFormat::Hf})
        for (bool fused : {false, true}) {
            const FakeFile file = complete_file(c, f, {fused, fused});
            std::vector<LayerWeights> layers;
            ASSERT_TRUE(load_layers(c, f, file.lookup(), false, layers));
            ASSERT_EQ(layers.size(), 2u);
            EXPECT_EQ(layers[1].wqkv.valid(), fused);
            EXPECT_EQ(layers[1].wq.valid(), !fused);
            EXPECT_EQ(layers[1].w_gate_up.valid(), fused);
            EXPECT_EQ(layers[1].w_up.valid(), !fused);
            EXPECT_EQ(layers[1].attn_norm.size(), 8u);
            int n = 0;
            for_each_layer_matrix(layers, [&](const TensorView&, const LayerTensor&, int) { ++n; });
            EXPECT_EQ(n, 2 * (fused ? 4 : 7));
        }
}

TEST(LayerTensors, ShapeErrorNamesTensorExpectedAndGot) {
    const ModelConfig c = small_config();
    FakeFile file = complete_file(c, WeightFormat::Gguf, {});
    file.add("blk.1.attn_k.weight", 8, 5, false);  // kv_dim is 4
    std::vector<LayerWeights> layers;
    const Status s = load_layers(c, WeightFormat::Gguf, file.lookup(), false, layers);
    ASSERT_FALSE(s);
    EXPECT_EQ(s.message(), "tensor 'blk.1.attn_k.weight' has shape [8, 5], expected [8, 4] (ne0 = input width)");

    FakeFile missing = complete_file(c, WeightFormat::Hf, {});
    missing.views.erase("model.layers.0.mlp.down_proj.weight");
    const Status m = load_layers(c, WeightFormat::Hf, missing.lookup(), false, layers);
    ASSERT_FALSE(m);
    EXPECT_EQ(m.message(), "tensor 'model.layers.0.mlp.down_proj.weight' is missing");
}

}  // namespace
}  // namespace llm
