// Format-independent parts of model loading: dispatch and shape checks (config validation: hf_config.cpp).
#include "models/model_loader.hpp"

#include <sys/stat.h>

#include <cmath>

#include "kernels/quant/quant.hpp"

namespace llm {

Expected<LoadedModel> load_model(const std::string& path) {
    struct stat st {};
    if (stat(path.c_str(), &st) != 0) return error(StatusCode::NotFound, "{}: no such file or directory", path);
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
            return error(StatusCode::Unsupported, "tensor '{}': weight type {} is not supported for matrices", t.name, dtype_name(t.type));
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

}  // namespace llm
