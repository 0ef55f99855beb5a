#include "quantize/quantize_weights.hpp"

#include <algorithm>
#include <memory>
#include <vector>

#include "kernels/quant/quant.hpp"
#include "models/layer_tensors.hpp"
#include "quantize/quantize_model.hpp"

namespace llm {
namespace {

struct Slot {
    std::string gguf_name;  // llama.cpp's name: the rules key on it
    TensorView* view;
};

std::vector<Slot> matrix_slots(const ModelConfig& c, ModelWeights& w, bool tied) {
    std::vector<Slot> s;
    s.push_back({std::string(kTokenEmbd.gguf), &w.token_embd});
    if (!tied) s.push_back({std::string(kOutput.gguf), &w.output});
    for_each_layer_matrix(w.layers, [&](TensorView& v, const LayerTensor& t, int il) {
        s.push_back({layer_tensor_name(t, WeightFormat::Gguf, il, c), &v});
    });
    return s;
}

bool is_float(DType t) { return t == DType::F32 || t == DType::F16 || t == DType::BF16; }

}  // namespace

Status quantize_weights(LoadedModel& m, const std::string& type, int n_threads) {
    auto ftype = file_type_from_name(type);
    if (!ftype) return error("--quantize: unknown type '{}' (e.g. q4_0, q4_k, q8_0)", type);
    ModelConfig& c = m.config;
    ModelWeights& w = m.weights;
    const bool tied = c.tied_embeddings;
    std::vector<Slot> slots = matrix_slots(c, w, tied);
    QuantModelInfo info{c.arch, c.n_layers, c.n_heads, c.n_kv_heads};
    std::vector<QuantTensorDesc> descs;
    for (const Slot& s : slots) descs.push_back({s.gguf_name, 2, s.view->ne, s.view->type});
    const std::vector<TensorPlan> plan = plan_tensor_types(info, descs, *ftype, false);
    for (size_t i = 0; i < slots.size(); ++i) {
        TensorView& v = *slots[i].view;
        const DType to = plan[i].type;
        if (!is_float(v.type) || to == v.type) continue;
        const int64_t n_in = v.ne[0], n_rows = v.n_rows();
        auto buf = std::make_shared<std::vector<uint8_t>>(row_bytes(to, n_in) * (size_t)n_rows);
#pragma omp parallel num_threads(std::max(1, n_threads))
        {
            std::vector<float> row(n_in);
#pragma omp for schedule(static)
            for (int64_t r = 0; r < n_rows; ++r) {
                dequantize_row(v.type, v.row(r), row.data(), n_in);
                quantize_row(to, row.data(), buf->data() + (size_t)r * row_bytes(to, n_in), n_in);
            }
        }
        const bool was_embd = v.data == w.token_embd.data;
        v.type = to;
        v.data = buf->data();
        v.nbytes = buf->size();
        if (tied && was_embd) w.output = w.token_embd;  // keep the tied head pointing at the new bytes
        w.owners.push_back(buf);
    }
    return Status::ok();
}

}  // namespace llm
