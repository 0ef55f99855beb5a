#include "runtime/kv_cache.hpp"

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

int64_t KvCache::bytes_needed(const ModelConfig& c, int64_t n_ctx, DType type, bool transposed_values) {
    if (type != DType::F16 && type != DType::F32 && type != DType::Q8_0 && type != DType::BF16) return 0;
    if (n_ctx <= 0 || c.kv_dim() % block_size(type) != 0) return 0;
    const int64_t rows = (int64_t)row_bytes(type, c.kv_dim()) * n_ctx;
    const int64_t vt = ((n_ctx + kGgmlKvPad - 1) / kGgmlKvPad * kGgmlKvPad) * c.kv_dim() * (int64_t)sizeof(uint16_t);
    return (int64_t)c.n_layers * (rows + (transposed_values ? vt : rows));
}

Status check_kv_memory(const ModelConfig& c, int64_t n_ctx, DType type, bool transposed_values, int64_t weight_bytes,
                       int64_t available) {
    const int64_t need = KvCache::bytes_needed(c, n_ctx, type, transposed_values);
    if (available <= 0 || need <= 0) return {};
    const int64_t budget = std::max<int64_t>(0, (available - std::max<int64_t>(weight_bytes, 0)) / 10 * 9);
    if (need <= budget) return {};
    // The largest context that fits, rounded down to a multiple of 256 (bytes_needed is monotonic in n_ctx).
    auto max_ctx = [&](DType t, bool transposed) {
        int64_t lo = 0, hi = n_ctx;
        while (lo < hi) {
            const int64_t mid = lo + (hi - lo + 1) / 2;
            if (KvCache::bytes_needed(c, mid, t, transposed) <= budget) lo = mid;
            else hi = mid - 1;
        }
        return lo >= 256 ? lo / 256 * 256 : lo;
    };
    const double gib = 1024.0 * 1024.0 * 1024.0;
    std::string fits = fmt::format("a context of at most {} tokens fits", max_ctx(type, transposed_values));
    if (type != DType::Q8_0 && KvCache::bytes_needed(c, 1024, DType::Q8_0) > 0)
        fits += fmt::format(" ({} with a q8_0 cache)", max_ctx(DType::Q8_0, false));
    return error(StatusCode::OutOfMemory, "a context of {} tokens needs a {:.1f} GiB {} KV cache ({} layers x {} values x 2 per token) but "
                 "{:.1f} GiB of memory is available{}: {}",
                 n_ctx, need / gib, dtype_name(type), c.n_layers, c.kv_dim(), available / gib,
                 weight_bytes > 0 ? fmt::format(" ({:.1f} GiB of it for the weights)", weight_bytes / gib) : "",
                 fits);
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
