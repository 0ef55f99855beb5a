// Hugging Face adapter: config.json + safetensors (LlamaForCausalLM, MistralForCausalLM, Phi3ForCausalLM,
// Qwen2ForCausalLM, Qwen3ForCausalLM, Gemma3ForCausalLM) -> ModelConfig + ModelWeights. HF keeps the un-permuted
// Q/K layout, so RoPE is rotate-half (NEOX) here; Gemma's norm weights are stored as w for a gain of 1 + w.
#include <sys/stat.h>

#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <tuple>

#include "formats/safetensors.hpp"
#include "models/model_loader.hpp"

namespace llm {
namespace {

using json = nlohmann::json;

Expected<std::string> read_text(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return error("{}: cannot open", path);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

std::string parent_dir(const std::string& path) {
    const size_t slash = path.find_last_of('/');
    return slash == std::string::npos ? "." : path.substr(0, slash);
}

}  // namespace

Expected<LoadedModel> load_hf_model(const std::string& path) {
    struct stat st {};
    const bool is_dir = stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
    const std::string dir = is_dir ? path : parent_dir(path);
    auto cfg_text = read_text(dir + "/config.json");
    if (!cfg_text) return cfg_text.status();
    auto cfg = parse_hf_config(*cfg_text, dir + "/config.json");
    if (!cfg) return cfg.status();
    auto st_model = SafetensorsModel::open(path);
    if (!st_model) return st_model.status();
    auto tensors = std::make_shared<const SafetensorsModel>(std::move(*st_model));

    LoadedModel m;
    m.hf_dir = dir;
    ModelConfig& c = m.config = *cfg;
    if (c.name.empty()) c.name = dir.substr(dir.find_last_of('/') + 1);
    ModelWeights& w = m.weights;
    w.owners.push_back(tensors);
    auto T = [&](const std::string& name) {
        TensorView t = tensors->tensor(name);
        t.name = name;
        return t;
    };
    auto fail = [&](const Status& s) { return s.with_context(dir); };

    w.token_embd = T("model.embed_tokens.weight");
    if (Status s = check_matrix(w.token_embd, c.d_model, c.n_vocab); !s) return fail(s);
    w.output = T("lm_head.weight");
    if (!w.output.valid()) {
        if (!c.tied_embeddings) return error("{}: tensor 'lm_head.weight' is missing (and embeddings are not tied)", dir);
        w.output = w.token_embd;
    }
    c.tied_embeddings = w.output.data == w.token_embd.data;
    if (Status s = check_matrix(w.output, c.d_model, c.n_vocab); !s) return fail(s);
    // A norm gain: Gemma stores w for 1 + w (llama.cpp's converter adds the 1; here it is added on load).
    const bool plus_one = c.arch == "gemma3";
    auto gain = [&](const std::string& name, int64_t n) -> Expected<std::vector<float>> {
        auto v = to_float_vector(T(name), n);
        if (v && plus_one)
            for (float& x : *v) x += 1.0f;
        return v;
    };
    auto on = gain("model.norm.weight", c.d_model);
    if (!on) return fail(on.status());
    w.output_norm = std::move(*on);

    w.layers.resize(c.n_layers);
    for (int i = 0; i < c.n_layers; ++i) {
        LayerWeights& L = w.layers[i];
        const std::string p = fmt::format("model.layers.{}.", i);
        // Gemma: post_attention_layernorm is the attention output's norm; the MLP's is pre_feedforward_layernorm.
        const struct { std::vector<float>* dst; std::string name; int64_t n; bool wanted; } gains[] = {
            {&L.attn_norm, "input_layernorm", c.d_model, true},
            {&L.ffn_norm, c.post_norms ? "pre_feedforward_layernorm" : "post_attention_layernorm", c.d_model, true},
            {&L.attn_post_norm, "post_attention_layernorm", c.d_model, c.post_norms},
            {&L.ffn_post_norm, "post_feedforward_layernorm", c.d_model, c.post_norms},
            {&L.attn_q_norm, "self_attn.q_norm", c.head_dim, c.qk_norm},
            {&L.attn_k_norm, "self_attn.k_norm", c.head_dim, c.qk_norm},
        };
        for (const auto& gn : gains) {
            if (!gn.wanted) continue;
            auto v = gain(p + gn.name + ".weight", gn.n);
            if (!v) return fail(v.status());
            *gn.dst = std::move(*v);
        }
        if (c.qkv_bias) {
            for (auto [b, name, n] : {std::tuple{&L.bq, "q_proj", c.q_dim()}, {&L.bk, "k_proj", c.kv_dim()},
                                      {&L.bv, "v_proj", c.kv_dim()}}) {
                auto v = to_float_vector(T(p + "self_attn." + name + ".bias"), n);
                if (!v) return fail(v.status());
                *b = std::move(*v);
            }
        }
        L.wqkv = T(p + "self_attn.qkv_proj.weight");
        if (L.wqkv.valid()) {
            if (Status s = check_matrix(L.wqkv, c.d_model, c.q_dim() + 2 * c.kv_dim()); !s) return fail(s);
        } else {
            L.wq = T(p + "self_attn.q_proj.weight");
            L.wk = T(p + "self_attn.k_proj.weight");
            L.wv = T(p + "self_attn.v_proj.weight");
            if (Status s = check_matrix(L.wq, c.d_model, c.q_dim()); !s) return fail(s);
            if (Status s = check_matrix(L.wk, c.d_model, c.kv_dim()); !s) return fail(s);
            if (Status s = check_matrix(L.wv, c.d_model, c.kv_dim()); !s) return fail(s);
        }
        L.wo = T(p + "self_attn.o_proj.weight");
        if (Status s = check_matrix(L.wo, c.q_dim(), c.d_model); !s) return fail(s);
        L.w_gate_up = T(p + "mlp.gate_up_proj.weight");
        if (L.w_gate_up.valid()) {
            if (Status s = check_matrix(L.w_gate_up, c.d_model, 2 * (int64_t)c.d_ff); !s) return fail(s);
        } else {
            L.w_gate = T(p + "mlp.gate_proj.weight");
            L.w_up = T(p + "mlp.up_proj.weight");
            if (Status s = check_matrix(L.w_gate, c.d_model, c.d_ff); !s) return fail(s);
            if (Status s = check_matrix(L.w_up, c.d_model, c.d_ff); !s) return fail(s);
        }
        L.w_down = T(p + "mlp.down_proj.weight");
        if (Status s = check_matrix(L.w_down, c.d_ff, c.d_model); !s) return fail(s);
    }
    return m;
}

}  // namespace llm
