// Format-independent parts of model loading: dispatch, shape checks, config validation.
#include "models/model_loader.hpp"

#include <sys/stat.h>

#include <cmath>

#include "kernels/quant/quant.hpp"

namespace llm {

Expected<LoadedModel> load_model(const std::string& path) {
    struct stat st {};
    if (stat(path.c_str(), &st) != 0) return error("{}: no such file or directory", path);
    if (S_ISDIR(st.st_mode) || path.ends_with(".safetensors")) return load_hf_model(path);
    return load_gguf_model(path);
}

Status check_matrix(const TensorView& t, int64_t n_in, int64_t n_out) {
    if (!t.valid()) return error("tensor '{}' is missing", t.name);
    if (t.n_dims > 2 || t.ne[0] != n_in || t.ne[1] != n_out)
        return error("tensor '{}' has shape [{}, {}], expected [{}, {}] (ne0 = input width)", t.name, t.ne[0],
                     t.ne[1], n_in, n_out);
    switch (t.type) {
        case DType::Q8_1:
        case DType::Q8_K:
            return error("tensor '{}': weight type {} is not supported for matrices", t.name, dtype_name(t.type));
        default:
            return Status::ok();
    }
}

Expected<std::vector<float>> to_float_vector(const TensorView& t, int64_t n) {
    if (!t.valid()) return error("tensor '{}' is missing", t.name);
    if (t.n_elements() != n) return error("tensor '{}' has {} elements, expected {}", t.name, t.n_elements(), n);
    if (n % block_size(t.type) != 0)
        return error("tensor '{}': {} elements are not a whole number of {} blocks", t.name, n, dtype_name(t.type));
    std::vector<float> out(n);
    dequantize_row(t.type, t.data, out.data(), n);
    return out;
}

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

}  // namespace llm
