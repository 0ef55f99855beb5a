// llama.cpp's file types and per-tensor type rules (llama_tensor_get_type in src/llama-quant.cpp, no imatrix),
// so that our quantizer makes the same type choices, and with the bit-exact reference quantizers the same bytes.
#include <algorithm>
#include <cctype>
#include <cstdio>
#include <numeric>

#include "quantize/quantize_model.hpp"

namespace llm {
namespace {

constexpr FileTypeInfo kFileTypes[] = {
    {FileType::MOSTLY_Q4_0, "Q4_0", DType::Q4_0, "4.34G, +0.4685 ppl @ Llama-3-8B"},
    {FileType::MOSTLY_Q4_1, "Q4_1", DType::Q4_1, "4.78G, +0.4511 ppl @ Llama-3-8B"},
    {FileType::MOSTLY_Q5_0, "Q5_0", DType::Q5_0, "5.21G, +0.1316 ppl @ Llama-3-8B"},
    {FileType::MOSTLY_Q5_1, "Q5_1", DType::Q5_1, "5.65G, +0.1062 ppl @ Llama-3-8B"},
    {FileType::MOSTLY_IQ4_NL, "IQ4_NL", DType::IQ4_NL, "4.50 bpw non-linear quantization"},
    {FileType::MOSTLY_IQ4_XS, "IQ4_XS", DType::IQ4_XS, "4.25 bpw non-linear quantization"},
    {FileType::MOSTLY_Q2_K, "Q2_K", DType::Q2_K, "2.96G, +3.5199 ppl @ Llama-3-8B"},
    {FileType::MOSTLY_Q3_K_S, "Q3_K_S", DType::Q3_K, "3.41G, +1.6321 ppl @ Llama-3-8B"},
    {FileType::MOSTLY_Q3_K_M, "Q3_K_M", DType::Q3_K, "3.74G, +0.6569 ppl @ Llama-3-8B"},
    {FileType::MOSTLY_Q3_K_L, "Q3_K_L", DType::Q3_K, "4.03G, +0.5562 ppl @ Llama-3-8B"},
    {FileType::MOSTLY_Q4_K_S, "Q4_K_S", DType::Q4_K, "4.37G, +0.2689 ppl @ Llama-3-8B"},
    {FileType::MOSTLY_Q4_K_M, "Q4_K_M", DType::Q4_K, "4.58G, +0.1754 ppl @ Llama-3-8B"},
    {FileType::MOSTLY_Q5_K_S, "Q5_K_S", DType::Q5_K, "5.21G, +0.1049 ppl @ Llama-3-8B"},
    {FileType::MOSTLY_Q5_K_M, "Q5_K_M", DType::Q5_K, "5.33G, +0.0569 ppl @ Llama-3-8B"},
    {FileType::MOSTLY_Q6_K, "Q6_K", DType::Q6_K, "6.14G, +0.0217 ppl @ Llama-3-8B"},
    {FileType::MOSTLY_Q8_0, "Q8_0", DType::Q8_0, "7.96G, +0.0026 ppl @ Llama-3-8B"},
    {FileType::MOSTLY_F16, "F16", DType::F16, "14.00G, +0.0020 ppl @ Mistral-7B"},
    {FileType::MOSTLY_BF16, "BF16", DType::BF16, "14.00G, -0.0050 ppl @ Mistral-7B"},
    {FileType::ALL_F32, "F32", DType::F32, "26.00G @ 7B"},
};

bool iequals(std::string_view a, std::string_view b) {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
               return std::toupper((unsigned char)x) == std::toupper((unsigned char)y);
           });
}

bool contains(const std::string& s, const char* part) { return s.find(part) != std::string::npos; }

// llama.cpp orders tensors by layer (non-layer tensors first), then by name, before applying the rules; the
// attn_v / ffn_down counters below advance in that order.
int layer_of(const std::string& name) {
    int layer = -1;
    std::sscanf(name.c_str(), "blk.%d.", &layer);
    return layer;
}

// State of one pass over the tensors (llama.cpp's quantize_state_impl, the parts without imatrix/experts).
struct RuleState {
    const QuantModelInfo& info;
    FileType ftype;
    bool has_output = false;
    int n_attention_wv = 0, i_attention_wv = 0;
    int n_ffn_down = 0, i_ffn_down = 0;

    int n_gqa() const { return info.n_kv_heads > 0 ? info.n_heads / info.n_kv_heads : 1; }
    bool is_70b() const { return info.arch == "llama" && info.n_layers == 80; }
};

bool use_more_bits(int i_layer, int n_layers) {
    return i_layer < n_layers / 8 || i_layer >= 7 * n_layers / 8 || (i_layer - n_layers / 8) % 3 == 2;
}

// llama_tensor_get_type for the file types in kFileTypes (quantized base types only).
TensorPlan tensor_type(RuleState& qs, DType new_type, const QuantTensorDesc& t) {
    const std::string& name = t.name;
    const FileType ftype = qs.ftype;
    using F = FileType;
    if (name == "output.weight" || (!qs.has_output && name == "token_embd.weight")) {
        // Tied models quantize the embeddings as the output.
        if (t.ne[0] % 256 != 0) new_type = DType::Q8_0;
        else if (new_type != DType::Q8_0) new_type = DType::Q6_K;
    } else if (name == "token_embd.weight") {
        // Only the IQ1/IQ2/IQ3/TQ file types change the embeddings; none of those is supported here.
    } else if (contains(name, "attn_v.weight")) {
        if (ftype == F::MOSTLY_Q2_K) new_type = qs.n_gqa() >= 4 ? DType::Q4_K : DType::Q3_K;
        else if (ftype == F::MOSTLY_Q3_K_M) new_type = qs.i_attention_wv < 2 ? DType::Q5_K : DType::Q4_K;
        else if (ftype == F::MOSTLY_Q3_K_L) new_type = DType::Q5_K;
        else if ((ftype == F::MOSTLY_IQ4_NL || ftype == F::MOSTLY_IQ4_XS) && qs.n_gqa() >= 4) new_type = DType::Q5_K;
        else if ((ftype == F::MOSTLY_Q4_K_M || ftype == F::MOSTLY_Q5_K_M) &&
                 use_more_bits(qs.i_attention_wv, qs.n_attention_wv))
            new_type = DType::Q6_K;
        else if (ftype == F::MOSTLY_Q4_K_S && qs.i_attention_wv < 4) new_type = DType::Q5_K;
        // 70B: 8 heads share attn_v, so more bits there cost little.
        if (qs.is_70b() && (new_type == DType::Q3_K || new_type == DType::Q4_K)) new_type = DType::Q5_K;
        ++qs.i_attention_wv;
    } else if (contains(name, "ffn_down")) {
        const int i_layer = qs.i_ffn_down, n_layer = qs.n_ffn_down;
        if (ftype == F::MOSTLY_Q2_K) new_type = DType::Q3_K;
        else if (ftype == F::MOSTLY_Q3_K_M) new_type = i_layer < n_layer / 16 ? DType::Q5_K : DType::Q4_K;
        else if (ftype == F::MOSTLY_Q3_K_L) new_type = DType::Q5_K;
        else if (ftype == F::MOSTLY_Q4_K_M) {
            if (use_more_bits(i_layer, n_layer)) new_type = DType::Q6_K;
        } else if (i_layer < n_layer / 8 && (ftype == F::MOSTLY_IQ4_NL || ftype == F::MOSTLY_IQ4_XS)) {
            new_type = DType::Q5_K;
        } else if (ftype == F::MOSTLY_Q5_K_M && use_more_bits(i_layer, n_layer)) {
            new_type = DType::Q6_K;
        } else if (ftype == F::MOSTLY_Q4_K_S && i_layer < n_layer / 8) {
            new_type = DType::Q5_K;
        }
        ++qs.i_ffn_down;
    } else if (contains(name, "attn_output.weight")) {
        if (ftype == F::MOSTLY_Q2_K) new_type = DType::Q3_K;
        else if (ftype == F::MOSTLY_Q3_K_M) new_type = DType::Q4_K;
        else if (ftype == F::MOSTLY_Q3_K_L) new_type = DType::Q5_K;
    } else if (contains(name, "attn_qkv.weight")) {
        if (ftype == F::MOSTLY_Q3_K_M || ftype == F::MOSTLY_Q3_K_L) new_type = DType::Q4_K;
        else if (ftype == F::MOSTLY_Q4_K_M) new_type = DType::Q5_K;
        else if (ftype == F::MOSTLY_Q5_K_M) new_type = DType::Q6_K;
    }
    return {new_type, false};
}

// Rows must hold whole blocks: llama.cpp's fallbacks, then F16 (llama.cpp gives up on the 32-element legacy
// types instead; F16 keeps such odd models convertible).
TensorPlan fit_row_length(TensorPlan p, int64_t ne0) {
    if (ne0 % block_size(p.type) == 0) return p;
    switch (p.type) {
        case DType::Q2_K: case DType::Q3_K: case DType::IQ4_XS: p.type = DType::IQ4_NL; break;
        case DType::Q4_K: p.type = DType::Q5_0; break;
        case DType::Q5_K: p.type = DType::Q5_1; break;
        case DType::Q6_K: p.type = DType::Q8_0; break;
        default: p.type = DType::F16; break;
    }
    if (ne0 % block_size(p.type) != 0) p.type = DType::F16;
    p.fallback = true;
    return p;
}

}  // namespace

std::span<const FileTypeInfo> file_types() { return kFileTypes; }

const FileTypeInfo& file_type_info(FileType t) {
    for (const FileTypeInfo& f : kFileTypes)
        if (f.ftype == t) return f;
    LLM_CHECK(!"unknown FileType");
    return kFileTypes[0];
}

std::optional<FileType> file_type_from_name(std::string_view name) {
    if (iequals(name, "Q3_K")) return FileType::MOSTLY_Q3_K_M;
    if (iequals(name, "Q4_K")) return FileType::MOSTLY_Q4_K_M;
    if (iequals(name, "Q5_K")) return FileType::MOSTLY_Q5_K_M;
    for (const FileTypeInfo& f : kFileTypes)
        if (iequals(name, f.name)) return f.ftype;
    return std::nullopt;
}

std::vector<TensorPlan> plan_tensor_types(const QuantModelInfo& info, const std::vector<QuantTensorDesc>& tensors,
                                          FileType ftype, bool pure) {
    const DType base = file_type_info(ftype).base;
    RuleState qs{info, ftype};
    for (const QuantTensorDesc& t : tensors) {
        if (contains(t.name, "attn_v.weight") || contains(t.name, "attn_qkv.weight")) ++qs.n_attention_wv;
        if (t.name == "output.weight") qs.has_output = true;
    }
    qs.n_ffn_down = info.n_layers;

    std::vector<size_t> order(tensors.size());
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
        const int la = layer_of(tensors[a].name), lb = layer_of(tensors[b].name);
        if (la != lb) return la < lb;
        return tensors[a].name < tensors[b].name;
    });

    std::vector<TensorPlan> plan(tensors.size());
    for (size_t i : order) {
        const QuantTensorDesc& t = tensors[i];
        // As llama_model_quantize: only matrices, never norms (nor MoE routers).
        const bool quantize = t.n_dims >= 2 && !contains(t.name, "_norm.weight") &&
                              !contains(t.name, "ffn_gate_inp.weight");
        if (!quantize) {
            plan[i] = {t.type, false};
            continue;
        }
        TensorPlan p{base, false};
        if (!pure && type_traits(base).is_quantized) p = tensor_type(qs, base, t);
        plan[i] = fit_row_length(p, t.ne[0]);
    }
    return plan;
}

}  // namespace llm
