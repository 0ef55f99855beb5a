// The tensors of a decoder, declared once: per tensor its LayerWeights / ModelWeights member, llama.cpp (GGUF) and
// Hugging Face names, shape rule from ModelConfig, role and when it exists. Loading from both formats, shape
// validation, prefetch, weight bytes and requantization walk these tables; nothing else lists a layer's tensors.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.hpp"
#include "models/model_config.hpp"
#include "models/model_weights.hpp"

namespace llm {

// What a tensor is to the forward pass: a matrix it multiplies (any weight type, kept as a view into the file),
// or a vector read as float32 (RMSNorm gains, biases).
enum class TensorRole : uint8_t { Matrix, Gain, Bias };

// When a layer holds the tensor. Fused and split layouts are alternatives chosen per file (kFusedQkv /
// kFusedGateUp): a file is split when it has the split group's first tensor (attn_q / ffn_gate).
enum class TensorWhen : uint8_t {
    Always,
    SplitQkv,     // wq, wk, wv
    FusedQkv,     // wqkv (Phi-3)
    SplitGateUp,  // w_gate, w_up
    FusedGateUp,  // w_gate_up (Phi-3)
    QkvBias,      // ModelConfig::qkv_bias (Qwen 2)
    QkNorm,       // ModelConfig::qk_norm (Gemma 3, Qwen 3)
    PostNorms,    // ModelConfig::post_norms (Gemma 3)
};

// A shape dimension as a function of the config.
enum class Dim : uint8_t { DModel, QDim, KvDim, HeadDim, DFf, QkvDim, GateUpDim };
int64_t dim_size(Dim d, const ModelConfig& c);

struct LayerTensor {
    std::string_view gguf;  // inside "blk.N.", without ".weight" / ".bias"
    std::string_view hf;    // inside "model.layers.N.", without ".weight" / ".bias"
    // The HF name when ModelConfig::post_norms (Gemma names the MLP's input norm pre_feedforward_layernorm); empty:
    // `hf` either way.
    std::string_view hf_post_norms;
    TensorRole role;
    TensorWhen when;
    Dim n_in, n_out;  // Matrix: [n_in -> n_out] (ggml order: ne[0] = n_in); vectors: n_in elements
    TensorView LayerWeights::*matrix;    // role Matrix
    std::vector<float> LayerWeights::*vec;  // roles Gain, Bias
};

// In the order llama.cpp's converter writes a layer (which is also the order loading checks them in).
inline constexpr LayerTensor kLayerTensors[] = {
    {"attn_norm", "input_layernorm", "", TensorRole::Gain, TensorWhen::Always, Dim::DModel, Dim::DModel, nullptr,
     &LayerWeights::attn_norm},
    {"attn_qkv", "self_attn.qkv_proj", "", TensorRole::Matrix, TensorWhen::FusedQkv, Dim::DModel, Dim::QkvDim,
     &LayerWeights::wqkv, nullptr},
    {"attn_q", "self_attn.q_proj", "", TensorRole::Matrix, TensorWhen::SplitQkv, Dim::DModel, Dim::QDim,
     &LayerWeights::wq, nullptr},
    {"attn_k", "self_attn.k_proj", "", TensorRole::Matrix, TensorWhen::SplitQkv, Dim::DModel, Dim::KvDim,
     &LayerWeights::wk, nullptr},
    {"attn_v", "self_attn.v_proj", "", TensorRole::Matrix, TensorWhen::SplitQkv, Dim::DModel, Dim::KvDim,
     &LayerWeights::wv, nullptr},
    {"attn_q", "self_attn.q_proj", "", TensorRole::Bias, TensorWhen::QkvBias, Dim::QDim, Dim::QDim, nullptr,
     &LayerWeights::bq},
    {"attn_k", "self_attn.k_proj", "", TensorRole::Bias, TensorWhen::QkvBias, Dim::KvDim, Dim::KvDim, nullptr,
     &LayerWeights::bk},
    {"attn_v", "self_attn.v_proj", "", TensorRole::Bias, TensorWhen::QkvBias, Dim::KvDim, Dim::KvDim, nullptr,
     &LayerWeights::bv},
    {"attn_q_norm", "self_attn.q_norm", "", TensorRole::Gain, TensorWhen::QkNorm, Dim::HeadDim, Dim::HeadDim,
     nullptr, &LayerWeights::attn_q_norm},
    {"attn_k_norm", "self_attn.k_norm", "", TensorRole::Gain, TensorWhen::QkNorm, Dim::HeadDim, Dim::HeadDim,
     nullptr, &LayerWeights::attn_k_norm},
    {"attn_output", "self_attn.o_proj", "", TensorRole::Matrix, TensorWhen::Always, Dim::QDim, Dim::DModel,
     &LayerWeights::wo, nullptr},
    {"post_attention_norm", "post_attention_layernorm", "", TensorRole::Gain, TensorWhen::PostNorms, Dim::DModel,
     Dim::DModel, nullptr, &LayerWeights::attn_post_norm},
    {"ffn_norm", "post_attention_layernorm", "pre_feedforward_layernorm", TensorRole::Gain, TensorWhen::Always,
     Dim::DModel, Dim::DModel, nullptr, &LayerWeights::ffn_norm},
    // GGUF names the fused gate-up product ffn_up, like the split up projection.
    {"ffn_up", "mlp.gate_up_proj", "", TensorRole::Matrix, TensorWhen::FusedGateUp, Dim::DModel, Dim::GateUpDim,
     &LayerWeights::w_gate_up, nullptr},
    {"ffn_gate", "mlp.gate_proj", "", TensorRole::Matrix, TensorWhen::SplitGateUp, Dim::DModel, Dim::DFf,
     &LayerWeights::w_gate, nullptr},
    {"ffn_up", "mlp.up_proj", "", TensorRole::Matrix, TensorWhen::SplitGateUp, Dim::DModel, Dim::DFf,
     &LayerWeights::w_up, nullptr},
    {"ffn_down", "mlp.down_proj", "", TensorRole::Matrix, TensorWhen::Always, Dim::DFf, Dim::DModel,
     &LayerWeights::w_down, nullptr},
    {"post_ffw_norm", "post_feedforward_layernorm", "", TensorRole::Gain, TensorWhen::PostNorms, Dim::DModel,
     Dim::DModel, nullptr, &LayerWeights::ffn_post_norm},
};

// A model-level tensor's names (the layer-independent ones; loading them has format rules of its own: GGUF takes
// n_vocab from token_embd, a missing output means tied embeddings).
struct ModelTensor {
    std::string_view gguf, hf;  // full names
};
inline constexpr ModelTensor kTokenEmbd{"token_embd.weight", "model.embed_tokens.weight"};
inline constexpr ModelTensor kOutputNorm{"output_norm.weight", "model.norm.weight"};
inline constexpr ModelTensor kOutput{"output.weight", "lm_head.weight"};

enum class WeightFormat : uint8_t { Gguf, Hf };

// A layer's choice between the fused and split alternatives.
struct LayerLayout {
    bool fused_qkv = false, fused_gate_up = false;
};

// A tensor view by its name in the file; invalid when the file has no such tensor.
using TensorLookup = std::function<TensorView(const std::string&)>;

// "blk.3.attn_q.weight" / "model.layers.3.self_attn.q_proj.weight" (".bias" for role Bias).
std::string layer_tensor_name(const LayerTensor& t, WeightFormat f, int il, const ModelConfig& c);
inline std::string_view model_tensor_name(const ModelTensor& t, WeightFormat f) {
    return f == WeightFormat::Gguf ? t.gguf : t.hf;
}
// Layer il of a file is split (attn_q, ffn_gate) where it has the split group's first tensor, else fused.
LayerLayout layer_layout(WeightFormat f, int il, const ModelConfig& c, const TensorLookup& find);
// Whether a layer with this config and layout holds t.
bool layer_has(const LayerTensor& t, const ModelConfig& c, LayerLayout layout);

// Every layer's tensors from a file: matrices as views, vectors as float32 (plus one for gains_plus_one: HF
// Gemma stores w for a gain of 1 + w). Errors name the tensor and the expected and actual shape.
Status load_layers(const ModelConfig& c, WeightFormat f, const TensorLookup& find, bool gains_plus_one,
                   std::vector<LayerWeights>& layers);

// fn(view, spec, layer) for every matrix a loaded model's layers hold, in table order.
template <class Layers, class Fn>
void for_each_layer_matrix(Layers& layers, Fn&& fn) {
    for (size_t il = 0; il < layers.size(); ++il)
        for (const LayerTensor& t : kLayerTensors)
            if (t.role == TensorRole::Matrix && (layers[il].*t.matrix).valid()) fn(layers[il].*t.matrix, t, (int)il);
}

}  // namespace llm
