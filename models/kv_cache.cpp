#include "models/kv_cache.hpp"

#include <algorithm>

#include "core/fp16.hpp"
#include "kernels/quant/quant.hpp"

namespace llm {

Expected<KvCache> KvCache::create(const ModelConfig& c, int n_ctx, DType type, bool transposed_values) {
    if (type != DType::F16 && type != DType::F32 && type != DType::Q8_0 && type != DType::BF16)
        return error("unsupported KV cache type {} (use f16, bf16, f32 or q8_0)", dtype_name(type));
    if (n_ctx <= 0) return error("context size must be positive, got {}", n_ctx);
    if (c.kv_dim() % block_size(type) != 0)
        return error("KV cache type {} needs kv_dim ({}) to be a multiple of {}", dtype_name(type), c.kv_dim(),
                     block_size(type));
    KvCache kv;
    kv.n_ctx_ = n_ctx;
    kv.kv_dim_ = c.kv_dim();
    kv.type_ = type;
    kv.row_bytes_ = row_bytes(type, c.kv_dim());
    kv.k_.assign(c.n_layers, std::vector<uint8_t>((size_t)n_ctx * kv.row_bytes_));
    if (transposed_values) {
        if (type != DType::F16) return error("transposed KV values need an F16 cache, not {}", dtype_name(type));
        kv.v_trans_ = true;
        kv.vt_len_ = ((int64_t)n_ctx + kGgmlKvPad - 1) / kGgmlKvPad * kGgmlKvPad;
        kv.v_.assign(c.n_layers, std::vector<uint8_t>((size_t)kv.kv_dim_ * kv.vt_len_ * sizeof(uint16_t)));
    } else {
        kv.v_.assign(c.n_layers, std::vector<uint8_t>((size_t)n_ctx * kv.row_bytes_));
    }
    return kv;
}

size_t KvCache::bytes() const {
    size_t b = 0;
    for (size_t l = 0; l < k_.size(); ++l) b += k_[l].size() + v_[l].size();
    return b;
}

void KvCache::store(int layer, int64_t pos0, int64_t n, const float* k, const float* v, int n_threads) {
    LLM_CHECK(pos0 >= 0 && pos0 + n <= n_ctx_);
#pragma omp parallel for num_threads(std::max(1, n_threads)) if (n_threads > 1 && n > 1)
    for (int64_t i = 0; i < n; ++i) {
        quantize_row(type_, k + i * kv_dim_, k_[layer].data() + (pos0 + i) * row_bytes_, kv_dim_);
        if (!v_trans_) quantize_row(type_, v + i * kv_dim_, v_[layer].data() + (pos0 + i) * row_bytes_, kv_dim_);
    }
    if (v_trans_) {
        uint16_t* vt = reinterpret_cast<uint16_t*>(v_[layer].data());
#pragma omp parallel for num_threads(std::max(1, n_threads)) if (n_threads > 1 && n * kv_dim_ > 4096)
        for (int64_t d = 0; d < kv_dim_; ++d)
            for (int64_t i = 0; i < n; ++i) vt[d * vt_len_ + pos0 + i] = fp32_to_fp16(v[i * kv_dim_ + d]);
    }
}

void KvCache::load(int layer, int64_t n, float* k, float* v, int n_threads) const {
    LLM_CHECK(n <= n_ctx_);
#pragma omp parallel for num_threads(std::max(1, n_threads)) if (n_threads > 1 && n > 16)
    for (int64_t i = 0; i < n; ++i) {
        dequantize_row(type_, k_[layer].data() + i * row_bytes_, k + i * kv_dim_, kv_dim_);
        if (!v_trans_) {
            dequantize_row(type_, v_[layer].data() + i * row_bytes_, v + i * kv_dim_, kv_dim_);
        } else {
            const uint16_t* vt = reinterpret_cast<const uint16_t*>(v_[layer].data());
            for (int64_t d = 0; d < kv_dim_; ++d) v[i * kv_dim_ + d] = fp16_to_fp32(vt[d * vt_len_ + i]);
        }
    }
}

}  // namespace llm
