// A read-only view of a weight tensor living in a mapped file or an owned buffer.
// Dimension order follows ggml: ne[0] is the innermost (row length), ne[1] the number of rows, ...
// A matrix for y = W x has ne[0] = n_in and ne[1] = n_out (rows are output features).
#pragma once
#include <array>
#include <cstdint>
#include <string>

#include "core/dtype.hpp"

namespace llm {

struct TensorView {
    std::string name;
    DType type = DType::F32;
    int n_dims = 0;
    std::array<int64_t, 4> ne{1, 1, 1, 1};
    const void* data = nullptr;  // packed rows, row_bytes(type, ne[0]) each
    size_t nbytes = 0;
    // The same matrix with its rows interleaved 16 at a time for the x86 float kernels (kernels/cpu/float_chain.hpp:
    // float_panels_pack), made at load for F32 / F16 / BF16 matrices (runtime/repack_weights.hpp); null when absent.
    // `data` stays valid either way (the kernels that read rows use it).
    const void* panels = nullptr;

    int64_t n_elements() const { return ne[0] * ne[1] * ne[2] * ne[3]; }
    int64_t n_rows() const { return ne[1] * ne[2] * ne[3]; }
    size_t row_size() const { return row_bytes(type, ne[0]); }
    const uint8_t* row(int64_t i) const { return static_cast<const uint8_t*>(data) + (size_t)i * row_size(); }
    bool valid() const { return data != nullptr; }
};

}  // namespace llm
