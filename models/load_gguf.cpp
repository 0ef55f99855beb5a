// GGUF adapter: llama.cpp's tensor names and `<arch>.*` metadata -> ModelConfig + ModelWeights.
// Architectures: "llama" (Llama 1/2/3, Mistral), "phi3" (fused QKV and gate-up, LongRoPE), "gemma3" (post-norms,
// QK-norm, GEGLU, interleaved local/global layers), "qwen2" (QKV biases) and "qwen3" (QK-norm).
#include <cmath>

#include "formats/gguf.hpp"
#include "models/layer_tensors.hpp"
#include "models/model_loader.hpp"

namespace llm {
namespace {

struct GgufReader {
    const GgufFile& f;
    const std::string& arch;

    Expected<int64_t> require_int(const std::string& suffix) const {
        const std::string key = arch + "." + suffix;
        auto v = f.get_int(key);
        if (!v) return v.status();
        if (!v->has_value()) return error("missing metadata key '{}'", key);
        return **v;
    }
    Expected<int64_t> int_or(const std::string& suffix, int64_t def) const {
        auto v = f.get_int(arch + "." + suffix);
        if (!v) return v.status();
        return v->value_or(def);
    }
    Expected<double> float_or(const std::string& suffix, double def) const {
        auto v = f.get_float(arch + "." + suffix);
        if (!v) return v.status();
        return v->value_or(def);
    }
};

#define ASSIGN_OR_RETURN(lhs, expr)            \
    do {                                       \
        auto assign_tmp_ = (expr);             \
        if (!assign_tmp_) return assign_tmp_.status(); \
        lhs = *assign_tmp_;                    \
    } while (0)

// Gemma 3 as llama.cpp's gemma3 graph: embeddings x sqrt(d_model), QK-norm, post-norms, GEGLU, q scaled after
// rope; local layers (all but every n-th, pattern 6 by default, or a per-layer bool array) use the window and
// rope.freq_base_swa (10k); the norm gains in the file already hold Gemma's (1 + w).
Status read_gemma3(const GgufFile& f, const GgufReader& r, ModelConfig& c) {
    c.embed_scale = std::sqrt((float)c.d_model);
    c.qk_norm = c.post_norms = true;
    c.ffn_act = FfnActivation::GeluTanh;
    c.prescale_q = true;
    // llama.cpp: 1/sqrt(head_dim), but 1/sqrt(d_model / n_heads) for the 62-layer 27B (query_pre_attn_scalar).
    c.attn_scale = 1.0f / std::sqrt((float)(c.n_layers == 62 ? c.d_model / c.n_heads : c.head_dim));
    auto cap = f.get_float("gemma3.final_logit_softcapping");
    if (!cap) return cap.status();
    if (cap->has_value() && **cap != 0) return error(StatusCode::Unsupported, "gemma3: final logit soft-capping is not supported");
    if (c.sliding_window <= 0) return Status::ok();
    auto base = r.float_or("rope.freq_base_swa", 10000.0);
    if (!base) return base.status();
    c.rope_theta_swa = (float)*base;
    c.swa_layers.assign(c.n_layers, 0);
    const std::string key = "gemma3.attention.sliding_window_pattern";
    const GgufValue* v = f.find(key);
    if (v && v->is_array()) {
        if ((int)v->ints.size() != c.n_layers) return error("'{}' must hold one value per layer", key);
        for (int il = 0; il < c.n_layers; ++il) c.swa_layers[il] = v->ints[il] != 0;
        return Status::ok();
    }
    int64_t pattern = 6;
    if (v) {
        auto p = f.get_int(key);
        if (!p) return p.status();
        pattern = **p;
    }
    if (pattern < 0) return error("'{}' must not be negative", key);
    for (int il = 0; il < c.n_layers; ++il) c.swa_layers[il] = pattern == 0 || il % pattern < pattern - 1;
    return Status::ok();
}

Expected<ModelConfig> read_config(const GgufFile& f) {
    ModelConfig c;
    auto arch = f.get_string("general.architecture");
    if (!arch) return arch.status();
    if (!arch->has_value()) return error("missing metadata key 'general.architecture'");
    c.arch = **arch;
    if (c.arch != "llama" && c.arch != "phi3" && c.arch != "gemma3" && c.arch != "qwen2" && c.arch != "qwen3")
        return error(StatusCode::Unsupported, "unsupported architecture '{}' (supported: llama, phi3, gemma3, qwen2, qwen3)", c.arch);
    auto name = f.get_string("general.name");
    if (name && name->has_value()) c.name = **name;
    GgufReader r{f, c.arch};
    int64_t v;
    ASSIGN_OR_RETURN(v, r.require_int("embedding_length")); c.d_model = (int)v;
    ASSIGN_OR_RETURN(v, r.require_int("block_count")); c.n_layers = (int)v;
    ASSIGN_OR_RETURN(v, r.require_int("feed_forward_length")); c.d_ff = (int)v;
    ASSIGN_OR_RETURN(v, r.require_int("attention.head_count")); c.n_heads = (int)v;
    ASSIGN_OR_RETURN(v, r.int_or("attention.head_count_kv", c.n_heads)); c.n_kv_heads = (int)v;
    ASSIGN_OR_RETURN(v, r.int_or("context_length", 2048)); c.n_ctx_train = (int)v;
    if (c.n_heads <= 0) return error("'{}.attention.head_count' must be positive", c.arch);
    ASSIGN_OR_RETURN(v, r.int_or("attention.key_length", c.d_model / c.n_heads)); c.head_dim = (int)v;
    ASSIGN_OR_RETURN(v, r.int_or("rope.dimension_count", c.head_dim)); c.n_rot = (int)v;
    double d;
    ASSIGN_OR_RETURN(d, r.float_or("attention.layer_norm_rms_epsilon", 1e-5)); c.rms_eps = (float)d;
    ASSIGN_OR_RETURN(d, r.float_or("rope.freq_base", 10000.0)); c.rope_theta = (float)d;
    ASSIGN_OR_RETURN(v, r.int_or("attention.sliding_window", 0)); c.sliding_window = (int)v;

    auto scaling = f.get_string(c.arch + ".rope.scaling.type");
    if (!scaling) return scaling.status();
    if (scaling->has_value() && **scaling == "linear") {
        ASSIGN_OR_RETURN(d, r.float_or("rope.scaling.factor", 1.0));
        if (!(d > 0)) return error("'{}.rope.scaling.factor' must be positive", c.arch);
        c.rope_freq_scale = (float)(1.0 / d);
    } else if (scaling->has_value() && **scaling != "none" && **scaling != "" && c.arch != "phi3") {
        return error(StatusCode::Unsupported, "unsupported rope scaling type '{}'", **scaling);
    }
    // Interleaved for llama (the converter permuted Q/K rows), rotate-half for the others.
    c.rope_style = c.arch == "llama" ? RopeStyle::Interleaved : RopeStyle::Neox;
    c.prescale_q = c.arch == "phi3";  // as llama.cpp's Phi-3 graph
    c.qkv_bias = c.arch == "qwen2";
    c.qk_norm = c.arch == "qwen3";
    if (c.arch == "qwen2" || c.arch == "qwen3") c.sliding_window = 0;  // llama.cpp ignores it for Qwen
    if (c.arch == "gemma3") LLM_TRY(read_gemma3(f, r, c));
    return c;
}

// A view that carries its name even when the tensor is absent (for error messages).
TensorView named_tensor(const GgufFile& f, const std::string& name) {
    TensorView t = f.tensor(name);
    t.name = name;
    return t;
}

Expected<std::vector<float>> optional_factors(const GgufFile& f, const char* name, int n) {
    TensorView t = f.tensor(name);
    if (!t.valid()) return std::vector<float>{};
    if (t.type != DType::F32) return error("tensor '{}' must be F32", name);
    return to_float_vector(t, n);
}

}  // namespace

Expected<LoadedModel> load_gguf_model(const std::string& path) {
    auto file = GgufFile::open(path);
    if (!file) return file.status();
    auto gguf = std::make_shared<const GgufFile>(std::move(*file));
    const GgufFile& f = *gguf;
    auto cfg = read_config(f);
    if (!cfg) return cfg.status().with_context(path);
    LoadedModel m;
    m.gguf = gguf;
    ModelConfig& c = m.config = *cfg;
    ModelWeights& w = m.weights;
    w.owners.push_back(gguf);

    w.token_embd = named_tensor(f, std::string(kTokenEmbd.gguf));
    if (!w.token_embd.valid()) return error("{}: tensor '{}' is missing", path, kTokenEmbd.gguf);
    c.n_vocab = (int)w.token_embd.ne[1];
    if (Status s = validate_config(c); !s) return s.with_context(path);

    auto fail = [&](const Status& s) { return s.with_context(path); };
    if (Status s = check_matrix(w.token_embd, c.d_model, c.n_vocab); !s) return fail(s);
    w.output = f.tensor(std::string(kOutput.gguf));
    c.tied_embeddings = !w.output.valid();
    if (c.tied_embeddings) w.output = w.token_embd;
    if (Status s = check_matrix(w.output, c.d_model, c.n_vocab); !s) return fail(s);
    auto on = to_float_vector(named_tensor(f, std::string(kOutputNorm.gguf)), c.d_model);
    if (!on) return fail(on.status());
    w.output_norm = std::move(*on);

    // Frequency factors: Llama-3 (rope_freqs) or LongRoPE (short/long pair).
    const int half = c.n_rot / 2;
    auto freqs = optional_factors(f, "rope_freqs.weight", half);
    if (!freqs) return fail(freqs.status());
    c.rope_freq_factors = std::move(*freqs);
    auto shorts = optional_factors(f, "rope_factors_short.weight", half);
    if (!shorts) return fail(shorts.status());
    auto longs = optional_factors(f, "rope_factors_long.weight", half);
    if (!longs) return fail(longs.status());
    c.longrope_short = std::move(*shorts);
    c.longrope_long = std::move(*longs);
    if (!c.longrope_short.empty() || !c.longrope_long.empty()) {
        auto orig = f.get_int(c.arch + ".rope.scaling.original_context_length");
        if (!orig) return fail(orig.status());
        c.longrope_original_ctx = (int)orig->value_or(c.n_ctx_train);
        auto attn = f.get_float(c.arch + ".rope.scaling.attn_factor");
        if (!attn) return fail(attn.status());
        if (attn->has_value()) {
            c.rope_attn_factor = (float)**attn;
        } else if (c.n_ctx_train > c.longrope_original_ctx && c.longrope_original_ctx > 0) {
            const double s = (double)c.n_ctx_train / c.longrope_original_ctx;
            c.rope_attn_factor = (float)std::sqrt(1 + std::log(s) / std::log((double)c.longrope_original_ctx));
        }
    }
    if (Status s = validate_config(c); !s) return fail(s);

    auto find = [&](const std::string& name) { return f.tensor(name); };
    if (Status s = load_layers(c, WeightFormat::Gguf, find, false, w.layers); !s) return fail(s);
    return m;
}

}  // namespace llm
