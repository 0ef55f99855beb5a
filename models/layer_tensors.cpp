// The layer tensor table's names, presence rules and loader (see layer_tensors.hpp).
#include "models/layer_tensors.hpp"

#include "models/model_loader.hpp"

namespace llm {

int64_t dim_size(Dim d, const ModelConfig& c) {
    switch (d) {
        case Dim::DModel: return c.d_model;
        case Dim::QDim: return c.q_dim();
        case Dim::KvDim: return c.kv_dim();
        case Dim::HeadDim: return c.head_dim;
        case Dim::DFf: return c.d_ff;
        case Dim::QkvDim: return c.q_dim() + 2 * (int64_t)c.kv_dim();
        case Dim::GateUpDim: return 2 * (int64_t)c.d_ff;
    }
    return 0;
}

std::string layer_tensor_name(const LayerTensor& t, WeightFormat f, int il, const ModelConfig& c) {
    const char* suffix = t.role == TensorRole::Bias ? "bias" : "weight";
    if (f == WeightFormat::Gguf) return fmt::format("blk.{}.{}.{}", il, t.gguf, suffix);
    const std::string_view hf = c.post_norms && !t.hf_post_norms.empty() ? t.hf_post_norms : t.hf;
    return fmt::format("model.layers.{}.{}.{}", il, hf, suffix);
}

LayerLayout layer_layout(WeightFormat f, int il, const ModelConfig& c, const TensorLookup& find) {
    auto has_first = [&](TensorWhen when) {
        for (const LayerTensor& t : kLayerTensors)
            if (t.when == when) return find(layer_tensor_name(t, f, il, c)).valid();
        return false;
    };
    return {!has_first(TensorWhen::SplitQkv), !has_first(TensorWhen::SplitGateUp)};
}

bool layer_has(const LayerTensor& t, const ModelConfig& c, LayerLayout layout) {
    switch (t.when) {
        case TensorWhen::Always: return true;
        case TensorWhen::SplitQkv: return !layout.fused_qkv;
        case TensorWhen::FusedQkv: return layout.fused_qkv;
        case TensorWhen::SplitGateUp: return !layout.fused_gate_up;
        case TensorWhen::FusedGateUp: return layout.fused_gate_up;
        case TensorWhen::QkvBias: return c.qkv_bias;
        case TensorWhen::QkNorm: return c.qk_norm;
        case TensorWhen::PostNorms: return c.post_norms;
    }
    return false;
}

Status load_layers(const ModelConfig& c, WeightFormat f, const TensorLookup& find, bool gains_plus_one,
                   std::vector<LayerWeights>& layers) {
    layers.assign(c.n_layers, LayerWeights{});
    for (int il = 0; il < c.n_layers; ++il) {
        LayerWeights& L = layers[il];
        const LayerLayout layout = layer_layout(f, il, c, find);
        for (const LayerTensor& t : kLayerTensors) {
            if (!layer_has(t, c, layout)) continue;
            TensorView v = find(layer_tensor_name(t, f, il, c));
            v.name = layer_tensor_name(t, f, il, c);  // also when absent: messages name it
            if (t.role == TensorRole::Matrix) {
                LLM_TRY(check_matrix(v, dim_size(t.n_in, c), dim_size(t.n_out, c)));
                L.*t.matrix = std::move(v);
                continue;
            }
            auto values = to_float_vector(v, dim_size(t.n_in, c));
            if (!values) return values.status();
            if (gains_plus_one && t.role == TensorRole::Gain)
                for (float& x : *values) x += 1.0f;
            L.*t.vec = std::move(*values);
        }
    }
    return Status::ok();
}

}  // namespace llm
