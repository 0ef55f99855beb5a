// Hugging Face adapter: config.json + safetensors (LlamaForCausalLM, MistralForCausalLM, Phi3ForCausalLM)
// -> ModelConfig + ModelWeights. HF keeps the un-permuted Q/K layout, so RoPE is rotate-half (NEOX) here.
#include <sys/stat.h>

#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "models/model_loader.hpp"
#include "models/safetensors.hpp"

namespace llm {
namespace {

using json = nlohmann::json;

Expected<json> read_json(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return error("{}: cannot open", path);
    std::stringstream ss;
    ss << in.rdbuf();
    json j = json::parse(ss.str(), nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded()) return error("{}: invalid JSON", path);
    if (!j.is_object()) return error("{}: expected a JSON object", path);
    return j;
}

// Reads an optional number field; an error when it is present with another type.
template <typename T>
Status get_number(const json& j, const char* key, T& out, bool required) {
    auto it = j.find(key);
    if (it == j.end() || it->is_null()) {
        if (required) return error("config.json: missing field '{}'", key);
        return Status::ok();
    }
    if (!it->is_number()) return error("config.json: field '{}' must be a number", key);
    out = it->get<T>();
    return Status::ok();
}

Expected<std::vector<float>> float_list(const json& j, const char* key) {
    auto it = j.find(key);
    if (it == j.end() || !it->is_array()) return error("config.json: rope_scaling.{} must be a list", key);
    std::vector<float> v;
    for (const json& x : *it) {
        if (!x.is_number()) return error("config.json: rope_scaling.{} must hold numbers", key);
        v.push_back(x.get<float>());
    }
    return v;
}

Status read_rope_scaling(const json& cfg, ModelConfig& c) {
    auto it = cfg.find("rope_scaling");
    if (it == cfg.end() || it->is_null()) return Status::ok();
    if (!it->is_object()) return error("config.json: rope_scaling must be an object");
    const json& rs = *it;
    std::string type = rs.value("rope_type", rs.value("type", std::string()));
    if (type == "linear") {
        float factor = 1;
        LLM_TRY(get_number(rs, "factor", factor, true));
        if (!(factor > 0)) return error("config.json: rope_scaling.factor must be positive");
        c.rope_freq_scale = 1.0f / factor;
    } else if (type == "llama3") {
        float factor = 8, low = 1, high = 4;
        int orig = 8192;
        LLM_TRY(get_number(rs, "factor", factor, true));
        LLM_TRY(get_number(rs, "low_freq_factor", low, true));
        LLM_TRY(get_number(rs, "high_freq_factor", high, true));
        LLM_TRY(get_number(rs, "original_max_position_embeddings", orig, true));
        if (!(high > low) || orig <= 0) return error("config.json: invalid llama3 rope_scaling values");
        c.rope_freq_factors = llama3_rope_factors(c.n_rot, c.rope_theta, factor, low, high, orig);
    } else if (type == "longrope" || type == "su") {
        auto s = float_list(rs, "short_factor");
        if (!s) return s.status();
        auto l = float_list(rs, "long_factor");
        if (!l) return l.status();
        c.longrope_short = std::move(*s), c.longrope_long = std::move(*l);
        int orig = 0, max_pos = c.n_ctx_train;
        LLM_TRY(get_number(cfg, "original_max_position_embeddings", orig, false));
        LLM_TRY(get_number(rs, "original_max_position_embeddings", orig, false));
        if (orig <= 0) return error("config.json: LongRoPE needs original_max_position_embeddings");
        c.longrope_original_ctx = orig;
        float attn_factor = 0;
        LLM_TRY(get_number(rs, "attention_factor", attn_factor, false));
        if (attn_factor > 0) {
            c.rope_attn_factor = attn_factor;
        } else if (max_pos > orig) {
            const double scale = (double)max_pos / orig;
            c.rope_attn_factor = (float)std::sqrt(1 + std::log(scale) / std::log((double)orig));
        }
    } else if (!type.empty() && type != "default") {
        return error("config.json: unsupported rope_scaling type '{}'", type);
    }
    return Status::ok();
}

Expected<ModelConfig> read_config(const json& cfg) {
    ModelConfig c;
    std::string cls;
    if (auto a = cfg.find("architectures"); a != cfg.end() && a->is_array() && !a->empty() && (*a)[0].is_string())
        cls = (*a)[0].get<std::string>();
    if (cls == "LlamaForCausalLM" || cls == "MistralForCausalLM") {
        c.arch = "llama";
    } else if (cls == "Phi3ForCausalLM") {
        c.arch = "phi3";
        c.prescale_q = true;  // as llama.cpp's Phi-3 graph (same maths, its roundings)
    } else {
        return error("config.json: unsupported architecture '{}' (supported: LlamaForCausalLM, "
                     "MistralForCausalLM, Phi3ForCausalLM)", cls);
    }
    LLM_TRY(get_number(cfg, "vocab_size", c.n_vocab, true));
    LLM_TRY(get_number(cfg, "hidden_size", c.d_model, true));
    LLM_TRY(get_number(cfg, "num_hidden_layers", c.n_layers, true));
    LLM_TRY(get_number(cfg, "num_attention_heads", c.n_heads, true));
    c.n_kv_heads = c.n_heads;
    LLM_TRY(get_number(cfg, "num_key_value_heads", c.n_kv_heads, false));
    LLM_TRY(get_number(cfg, "intermediate_size", c.d_ff, true));
    c.n_ctx_train = 2048;
    LLM_TRY(get_number(cfg, "max_position_embeddings", c.n_ctx_train, false));
    LLM_TRY(get_number(cfg, "rms_norm_eps", c.rms_eps, false));
    LLM_TRY(get_number(cfg, "rope_theta", c.rope_theta, false));
    LLM_TRY(get_number(cfg, "sliding_window", c.sliding_window, false));
    if (c.n_heads <= 0) return error("config.json: num_attention_heads must be positive");
    c.head_dim = c.d_model / c.n_heads;
    LLM_TRY(get_number(cfg, "head_dim", c.head_dim, false));
    float partial = 1.0f;
    LLM_TRY(get_number(cfg, "partial_rotary_factor", partial, false));
    c.n_rot = (int)(c.head_dim * partial);
    if (auto h = cfg.find("hidden_act"); h != cfg.end() && h->is_string() && *h != "silu")
        return error("config.json: unsupported hidden_act '{}' (only silu)", h->get<std::string>());
    if (auto t = cfg.find("tie_word_embeddings"); t != cfg.end() && t->is_boolean()) c.tied_embeddings = *t;
    c.rope_style = RopeStyle::Neox;
    LLM_TRY(read_rope_scaling(cfg, c));
    LLM_TRY(validate_config(c));
    return c;
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
    auto cfg_json = read_json(dir + "/config.json");
    if (!cfg_json) return cfg_json.status();
    auto cfg = read_config(*cfg_json);
    if (!cfg) return cfg.status().with_context(dir);
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
    auto on = to_float_vector(T("model.norm.weight"), c.d_model);
    if (!on) return fail(on.status());
    w.output_norm = std::move(*on);

    w.layers.resize(c.n_layers);
    for (int i = 0; i < c.n_layers; ++i) {
        LayerWeights& L = w.layers[i];
        const std::string p = fmt::format("model.layers.{}.", i);
        auto an = to_float_vector(T(p + "input_layernorm.weight"), c.d_model);
        if (!an) return fail(an.status());
        L.attn_norm = std::move(*an);
        auto fn = to_float_vector(T(p + "post_attention_layernorm.weight"), c.d_model);
        if (!fn) return fail(fn.status());
        L.ffn_norm = std::move(*fn);
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
