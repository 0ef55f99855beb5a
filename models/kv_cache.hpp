// Key/value history of one session: per layer, one row of kv_dim values per position, stored as
// F16 (default), F32 or Q8_0. Rows are converted back to float32 for attention.
#pragma once
#include <cstdint>
#include <vector>

#include "core/dtype.hpp"
#include "core/status.hpp"
#include "models/model_config.hpp"

namespace llm {

class KvCache {
public:
    static Expected<KvCache> create(const ModelConfig& c, int n_ctx, DType type);

    int n_ctx() const { return n_ctx_; }
    DType type() const { return type_; }
    size_t bytes() const;

    // Writes rows [pos0, pos0 + n) of a layer from float32 k, v ([n x kv_dim]).
    void store(int layer, int64_t pos0, int64_t n, const float* k, const float* v, int n_threads);
    // Reads rows [0, n) of a layer into float32 k, v ([n x kv_dim]).
    void load(int layer, int64_t n, float* k, float* v, int n_threads) const;

private:
    int n_ctx_ = 0, kv_dim_ = 0;
    DType type_ = DType::F16;
    size_t row_bytes_ = 0;
    std::vector<std::vector<uint8_t>> k_, v_;  // [layer][n_ctx * row_bytes]
};

}  // namespace llm
