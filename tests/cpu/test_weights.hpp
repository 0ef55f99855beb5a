// Random weight matrices for the kernel tests: rows of different magnitudes (some not centred, for the
// mins of Q4_1 / Q5_1 / K-quants) quantized with the library's reference quantizer, plus their dequantized
// values (the float64 reference's input).
#pragma once
#include <cstdint>
#include <random>
#include <vector>

#include "core/tensor.hpp"
#include "kernels/quant/quant.hpp"

namespace llm::test {

struct Weights {
    TensorView view;
    std::vector<uint8_t> bytes;
    std::vector<float> deq;
};

inline Weights make_weights(DType type, int64_t n_in, int64_t n_out, std::mt19937& rng, float shift = 0.0f) {
    Weights w;
    std::normal_distribution<float> nd(0.0f, 1.0f);
    std::vector<float> f(n_in * n_out);
    for (int64_t r = 0; r < n_out; ++r) {
        const float scale = 0.02f * (1 + r % 5);
        const float offset = r % 3 == 1 ? shift : 0.0f;
        for (int64_t i = 0; i < n_in; ++i) f[r * n_in + i] = scale * nd(rng) + offset;
    }
    const size_t rb = row_bytes(type, n_in);
    w.bytes.resize(rb * n_out);
    for (int64_t r = 0; r < n_out; ++r) quantize_row(type, f.data() + r * n_in, w.bytes.data() + r * rb, n_in);
    w.deq.resize(f.size());
    for (int64_t r = 0; r < n_out; ++r) dequantize_row(type, w.bytes.data() + r * rb, w.deq.data() + r * n_in, n_in);
    w.view.name = "test.weight";
    w.view.type = type;
    w.view.n_dims = 2;
    w.view.ne = {n_in, n_out, 1, 1};
    w.view.data = w.bytes.data();
    w.view.nbytes = w.bytes.size();
    return w;
}

}  // namespace llm::test
