// Key/value history of one session: per layer, one row of kv_dim values per position, stored as
// F16 (default), F32, BF16 or Q8_0. Attention reads the rows in place (keys()/values() + flash_attention).
// With transposed values (F16 only, for ggml_attention: llama.cpp's "v_trans" layout) each layer's values
// are kv_dim rows over positions instead, each row n_ctx rounded up to 256 long and zero past the history.
#pragma once
#include <cstdint>
#include <vector>

#include "core/dtype.hpp"
#include "core/status.hpp"
#include "kernels/cpu/attention.hpp"
#include "kernels/cpu/attention_ggml.hpp"
#include "models/model_config.hpp"

namespace llm {

// Whether a KV cache of n_ctx tokens fits in `available` bytes of memory (available_memory_bytes(); 0 = unknown,
// always fits) next to `weight_bytes` of weights still to be paged in, keeping 10% for activations and the rest of
// the process. The error says how much is needed and available and the largest context that fits (and with
// Q8_0, when the type is wider).
Status check_kv_memory(const ModelConfig& c, int64_t n_ctx, DType type, bool transposed_values, int64_t weight_bytes,
                       int64_t available);

class KvCache {
public:
    static Expected<KvCache> create(const ModelConfig& c, int n_ctx, DType type, bool transposed_values = false);
    // Bytes create() would allocate (0 for an unsupported type), computed without allocating.
    static int64_t bytes_needed(const ModelConfig& c, int64_t n_ctx, DType type, bool transposed_values = false);

    int n_ctx() const { return n_ctx_; }
    DType type() const { return type_; }
    size_t bytes() const;

    // Writes rows [pos0, pos0 + n) of a layer from float32 k, v ([n x kv_dim]).
    void store(int layer, int64_t pos0, int64_t n, const float* k, const float* v, int n_threads);
    // Reads rows [0, n) of a layer into float32 k, v ([n x kv_dim]).
    void load(int layer, int64_t n, float* k, float* v, int n_threads) const;
    // The raw storage of a layer's keys / values: row j = position j, kv_dim values of type().
    KvRows keys(int layer) const { return {k_[layer].data(), row_bytes_, type_}; }
    KvRows values(int layer) const {
        LLM_CHECK(!v_trans_);
        return {v_[layer].data(), row_bytes_, type_};
    }
    bool transposed_values() const { return v_trans_; }
    // Keys and transposed values of a layer for ggml_attention (transposed_values() only).
    GgmlKv ggml_view(int layer) const {
        LLM_CHECK(v_trans_);
        return {reinterpret_cast<const uint16_t*>(k_[layer].data()), kv_dim_,
                reinterpret_cast<const uint16_t*>(v_[layer].data()), vt_len_};
    }

private:
    int n_ctx_ = 0, kv_dim_ = 0;
    bool v_trans_ = false;
    int64_t vt_len_ = 0;  // row length of transposed values
    DType type_ = DType::F16;
    size_t row_bytes_ = 0;
    std::vector<std::vector<uint8_t>> k_, v_;  // [layer][n_ctx * row_bytes]
};

}  // namespace llm
