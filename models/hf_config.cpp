// ModelConfig from a Hugging Face config.json, and the checks every format's config passes (validate_config).
// Part of llm_formats with the file readers: pure parsing, fuzzed on its own (tests/fuzz/fuzz_hf_config.cpp).
#include <cmath>
#include <limits>
#include <nlohmann/json.hpp>
#include <type_traits>

#include "models/model_loader.hpp"

namespace llm {
namespace {

using json = nlohmann::json;

// A JSON number as T when it is representable: integers for integer fields (2048.0 is 2048), finite floats within
// float's range (a cast of 1e300 to int or float is undefined behaviour, not an error).
template <typename T>
bool number_as(const json& v, T& out) {
    if constexpr (std::is_integral_v<T>) {
        if (v.is_number_integer()) {
            if (v.is_number_unsigned() ? v.get<uint64_t>() > (uint64_t)std::numeric_limits<T>::max()
                                       : v.get<int64_t>() < (int64_t)std::numeric_limits<T>::min() ||
                                             v.get<int64_t>() > (int64_t)std::numeric_limits<T>::max())
                return false;
            out = v.get<T>();
            return true;
        }
        const double d = v.get<double>();
        if (!(d >= (double)std::numeric_limits<T>::min() && d <= (double)std::numeric_limits<T>::max()) ||
            d != std::floor(d))
            return false;
        out = (T)d;
        return true;
    } else {
        const double d = v.get<double>();
        if (!std::isfinite(d) || std::fabs(d) > (double)std::numeric_limits<T>::max()) return false;
        out = (T)d;
        return true;
    }
}

// Reads an optional number field; an error when it is present with another type or out of the type's range.
template <typename T>
Status get_number(const json& j, const char* key, T& out, bool required) {
    auto it = j.find(key);
    if (it == j.end() || it->is_null()) {
        if (required) return error("config.json: missing field '{}'", key);
        return Status::ok();
    }
    if (!it->is_number()) return error("config.json: field '{}' must be a number", key);
    if (!number_as(*it, out)) return error("config.json: field '{}' is out of range: {}", key, it->dump());
    return Status::ok();
}

Expected<std::vector<float>> float_list(const json& j, const char* key) {
    auto it = j.find(key);
    if (it == j.end() || !it->is_array()) return error("config.json: rope_scaling.{} must be a list", key);
    std::vector<float> v;
    for (const json& x : *it) {
        float f = 0;
        if (!x.is_number() || !number_as(x, f)) return error("config.json: rope_scaling.{} must hold numbers", key);
        v.push_back(f);
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

// Gemma 3 (Gemma3TextConfig): x sqrt(d_model) embeddings, scale 1/sqrt(query_pre_attn_scalar), local layers from
// layer_types (or every sliding_window_pattern-th layer global) with rope_local_base_freq and no rope scaling.
Status read_gemma3(const json& cfg, ModelConfig& c) {
    c.embed_scale = std::sqrt((float)c.d_model);
    float qpas = (float)c.head_dim;
    LLM_TRY(get_number(cfg, "query_pre_attn_scalar", qpas, false));
    if (!(qpas > 0)) return error("config.json: query_pre_attn_scalar must be positive");
    c.attn_scale = 1.0f / std::sqrt(qpas);
    if (auto it = cfg.find("final_logit_softcapping"); it != cfg.end() && !it->is_null())
        return error("config.json: final_logit_softcapping is not supported");
    if (c.sliding_window <= 0) return Status::ok();
    c.rope_theta_swa = 10000.0f;
    LLM_TRY(get_number(cfg, "rope_local_base_freq", c.rope_theta_swa, false));
    if (!(c.rope_theta_swa > 0)) return error("config.json: rope_local_base_freq must be positive");
    c.swa_layers.assign(c.n_layers, 0);
    if (auto lt = cfg.find("layer_types"); lt != cfg.end() && lt->is_array()) {
        if ((int)lt->size() != c.n_layers) return error("config.json: layer_types must list every layer");
        for (int il = 0; il < c.n_layers; ++il) c.swa_layers[il] = (*lt)[il] == "sliding_attention";
        return Status::ok();
    }
    int pattern = 6;
    LLM_TRY(get_number(cfg, "sliding_window_pattern", pattern, false));
    if (pattern <= 0) return error("config.json: sliding_window_pattern must be positive");
    for (int il = 0; il < c.n_layers; ++il) c.swa_layers[il] = (il + 1) % pattern != 0;
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
    } else if (cls == "Qwen2ForCausalLM") {
        c.arch = "qwen2";
        c.qkv_bias = true;
    } else if (cls == "Qwen3ForCausalLM") {
        c.arch = "qwen3";
        c.qk_norm = true;
    } else if (cls == "Gemma3ForCausalLM") {
        c.arch = "gemma3";
        c.qk_norm = c.post_norms = c.prescale_q = true;
        c.ffn_act = FfnActivation::GeluTanh;
    } else {
        return error("config.json: unsupported architecture '{}' (supported: LlamaForCausalLM, "
                     "MistralForCausalLM, Phi3ForCausalLM, Qwen2ForCausalLM, Qwen3ForCausalLM, Gemma3ForCausalLM)", cls);
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
    if (!(partial > 0.0f && partial <= 1.0f))
        return error("config.json: partial_rotary_factor must be in (0, 1], got {}", partial);
    c.n_rot = (int)(c.head_dim * partial);
    const std::string act_key = cfg.contains("hidden_activation") ? "hidden_activation" : "hidden_act";
    const std::string want_act = c.ffn_act == FfnActivation::GeluTanh ? "gelu_pytorch_tanh" : "silu";
    if (auto h = cfg.find(act_key); h != cfg.end() && h->is_string() && *h != want_act)
        return error("config.json: unsupported {} '{}' (expected {})", act_key, h->get<std::string>(), want_act);
    if (c.arch == "gemma3") c.tied_embeddings = true;  // Gemma3TextConfig's default
    if (auto t = cfg.find("tie_word_embeddings"); t != cfg.end() && t->is_boolean()) c.tied_embeddings = *t;
    c.rope_style = RopeStyle::Neox;
    // Sizes first: the rope factors below are n_rot / 2 long (a 60-byte config must not ask for gigabytes).
    LLM_TRY(validate_config(c));
    LLM_TRY(read_rope_scaling(cfg, c));
    if (c.arch == "qwen2" || c.arch == "qwen3") c.sliding_window = 0;  // as llama.cpp (use_sliding_window: false)
    if (c.arch == "gemma3") LLM_TRY(read_gemma3(cfg, c));
    LLM_TRY(validate_config(c));
    return c;
}

}  // namespace

std::vector<float> llama3_rope_factors(int n_rot, float theta, float factor, float low_freq_factor,
                                       float high_freq_factor, int original_ctx) {
    const double low_wavelen = original_ctx / low_freq_factor, high_wavelen = original_ctx / high_freq_factor;
    std::vector<float> out(n_rot / 2);
    for (int i = 0; i < n_rot / 2; ++i) {
        const double freq = 1.0 / std::pow((double)theta, 2.0 * i / n_rot);
        const double wavelen = 2 * M_PI / freq;
        if (wavelen < high_wavelen) {
            out[i] = 1.0f;
        } else if (wavelen > low_wavelen) {
            out[i] = factor;
        } else {
            const double smooth = (original_ctx / wavelen - low_freq_factor) / (high_freq_factor - low_freq_factor);
            out[i] = (float)(1.0 / ((1 - smooth) / factor + smooth));
        }
    }
    return out;
}

Status validate_config(const ModelConfig& c) {
    auto positive = [](const char* what, long v) -> Status {
        if (v <= 0) return error("hyper-parameter {} must be positive, got {}", what, v);
        return Status::ok();
    };
    LLM_TRY(positive("n_vocab", c.n_vocab));
    LLM_TRY(positive("d_model", c.d_model));
    LLM_TRY(positive("n_layers", c.n_layers));
    LLM_TRY(positive("n_heads", c.n_heads));
    LLM_TRY(positive("n_kv_heads", c.n_kv_heads));
    LLM_TRY(positive("head_dim", c.head_dim));
    LLM_TRY(positive("d_ff", c.d_ff));
    if (c.n_layers > 4096 || c.n_heads > 4096 || c.head_dim > 4096)
        return error("implausible hyper-parameters (layers {}, heads {}, head_dim {})", c.n_layers, c.n_heads,
                     c.head_dim);
    if (c.n_heads % c.n_kv_heads != 0)
        return error("n_heads ({}) is not a multiple of n_kv_heads ({})", c.n_heads, c.n_kv_heads);
    if (c.n_rot <= 0 || c.n_rot > c.head_dim || c.n_rot % 2 != 0)
        return error("rotary dimension count {} is invalid for head_dim {}", c.n_rot, c.head_dim);
    auto check_factors = [&](const std::vector<float>& f, const char* what) -> Status {
        if (!f.empty() && (int)f.size() != c.n_rot / 2)
            return error("{} has {} values, expected n_rot/2 = {}", what, f.size(), c.n_rot / 2);
        return Status::ok();
    };
    LLM_TRY(check_factors(c.rope_freq_factors, "rope frequency factors"));
    LLM_TRY(check_factors(c.longrope_short, "LongRoPE short factors"));
    LLM_TRY(check_factors(c.longrope_long, "LongRoPE long factors"));
    if (c.longrope_short.empty() != c.longrope_long.empty())
        return error("LongRoPE needs both short and long factors");
    if (!(c.rms_eps > 0) || !(c.rope_theta > 0)) return error("rms_eps and rope theta must be positive");
    return Status::ok();
}

Expected<ModelConfig> parse_hf_config(std::string_view text, const std::string& name) {
    json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded()) return error("{}: invalid JSON", name);
    if (!j.is_object()) return error("{}: expected a JSON object", name);
    try {
        auto c = read_config(j);
        // read_config's messages start with "config.json: ": the context is the folder.
        const size_t slash = name.rfind('/');
        if (!c) return c.status().with_context(slash == std::string::npos ? name : name.substr(0, slash));
        return c;
    } catch (const std::exception& e) {  // a field of an unexpected JSON type deep inside
        return error("{}: malformed config: {}", name, e.what());
    }
}

}  // namespace llm
