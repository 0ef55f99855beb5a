// Paged KV storage and its block allocator (see kv_pool.hpp).
#include "runtime/kv_pool.hpp"

#include <new>

#include "core/fp16.hpp"
#include "kernels/quant/quant.hpp"

namespace llm {

size_t KvPool::bytes_per_token(const ModelConfig& c, DType type) {
    return (size_t)c.n_layers * 2 * llm::row_bytes(type, c.kv_dim());
}

Expected<KvPool> KvPool::create(const ModelConfig& c, int64_t n_blocks, int block_tokens, DType type,
                                bool transposed_values) {
    if (type != DType::F16 && type != DType::F32 && type != DType::Q8_0 && type != DType::BF16)
        return error("unsupported KV cache type {} (use f16, bf16, f32 or q8_0)", dtype_name(type));
    if (c.kv_dim() % block_size(type) != 0)
        return error("KV cache type {} needs kv_dim ({}) to be a multiple of {}", dtype_name(type), c.kv_dim(),
                     block_size(type));
    if (block_tokens <= 0 || block_tokens > 4096)
        return error("KV block size must be in [1, 4096] tokens, got {}", block_tokens);
    if (n_blocks <= 0) return error("KV pool needs at least one block, got {}", n_blocks);
    if (transposed_values && type != DType::F16)
        return error("transposed KV values need an F16 cache, not {}", dtype_name(type));
    KvPool p;
    p.n_layers_ = c.n_layers, p.kv_dim_ = c.kv_dim(), p.block_tokens_ = block_tokens;
    p.n_blocks_ = n_blocks, p.type_ = type, p.row_bytes_ = llm::row_bytes(type, c.kv_dim());
    p.v_trans_ = transposed_values;
    const size_t layer_bytes = (size_t)n_blocks * block_tokens * p.row_bytes_;
    p.vt_len_ = (n_blocks * block_tokens + kGgmlKvPad - 1) / kGgmlKvPad * kGgmlKvPad;
    const size_t v_bytes = transposed_values ? (size_t)p.kv_dim_ * p.vt_len_ * sizeof(uint16_t) : layer_bytes;
    for (int l = 0; l < c.n_layers; ++l) {
        // new[] without () leaves the bytes uninitialized: nothing is touched until written (the transposed
        // layout is zeroed: its rows are read in whole 256-key steps).
        uint8_t* k = transposed_values ? new (std::nothrow) uint8_t[layer_bytes]()
                                       : new (std::nothrow) uint8_t[layer_bytes];
        uint8_t* v = transposed_values ? new (std::nothrow) uint8_t[v_bytes]() : new (std::nothrow) uint8_t[v_bytes];
        p.k_.emplace_back(k), p.v_.emplace_back(v);
        if (!k || !v)
            return error("cannot allocate the KV pool: {} blocks of {} tokens need {} MiB", n_blocks, block_tokens,
                         p.bytes() >> 20);
    }
    return p;
}

void KvPool::store(int layer, int64_t slot, const float* k, const float* v) {
    LLM_CHECK(slot >= 0 && slot < n_blocks_ * block_tokens_);
    quantize_row(type_, k, k_[layer].get() + slot * row_bytes_, kv_dim_);
    if (!v_trans_) {
        quantize_row(type_, v, v_[layer].get() + slot * row_bytes_, kv_dim_);
        return;
    }
    uint16_t* vt = reinterpret_cast<uint16_t*>(v_[layer].get());
    for (int64_t d = 0; d < kv_dim_; ++d) vt[d * vt_len_ + slot] = fp32_to_fp16(v[d]);
}

void KvPool::load_row(int layer, int64_t slot, float* k, float* v) const {
    dequantize_row(type_, k_[layer].get() + slot * row_bytes_, k, kv_dim_);
    if (!v_trans_) {
        dequantize_row(type_, v_[layer].get() + slot * row_bytes_, v, kv_dim_);
        return;
    }
    const uint16_t* vt = reinterpret_cast<const uint16_t*>(v_[layer].get());
    for (int64_t d = 0; d < kv_dim_; ++d) v[d] = fp16_to_fp32(vt[d * vt_len_ + slot]);
}

GgmlKv KvPool::ggml_view(int layer, const int32_t* table, int64_t n_keys) const {
    LLM_CHECK(v_trans_ && n_keys > 0);
    const int64_t first = (int64_t)table[0] * block_tokens_;
    for (int64_t i = 1; i < (n_keys + block_tokens_ - 1) / block_tokens_; ++i) LLM_CHECK(table[i] == table[0] + i);
    LLM_CHECK(first + (n_keys + kGgmlKvPad - 1) / kGgmlKvPad * kGgmlKvPad <= vt_len_);
    return {reinterpret_cast<const uint16_t*>(k_[layer].get() + first * row_bytes_), kv_dim_,
            reinterpret_cast<const uint16_t*>(v_[layer].get()) + first, vt_len_};
}

BlockAllocator::BlockAllocator(int64_t n_blocks, int64_t protected_cap)
    : ref_(n_blocks, 0), hash_(n_blocks, 0), hashed_(n_blocks, 0), lru_pos_(n_blocks), in_protected_(n_blocks, 0),
      protected_cap_(protected_cap < 0 ? n_blocks * 3 / 4 : protected_cap) {
    free_.reserve(n_blocks);
    for (int64_t b = n_blocks - 1; b >= 0; --b) free_.push_back((int32_t)b);
}

int32_t BlockAllocator::allocate() {
    int32_t b = -1;
    if (!free_.empty()) {
        b = free_.back();
        free_.pop_back();
    } else if (!cold_.empty() || !protected_.empty()) {
        auto& list = cold_.empty() ? protected_ : cold_;
        b = list.front();
        list.pop_front();
        by_hash_.erase(hash_[b]);
        hashed_[b] = 0;
        ++evictions_;
    } else {
        return -1;
    }
    ref_[b] = 1;
    return b;
}

void BlockAllocator::retain(int32_t b) {
    if (ref_[b]++ == 0) {
        LLM_CHECK(hashed_[b]);  // only cached blocks are found with refcount 0
        (in_protected_[b] ? protected_ : cold_).erase(lru_pos_[b]);
    }
}

void BlockAllocator::release(int32_t b, bool long_chain) {
    LLM_CHECK(ref_[b] > 0);
    if (--ref_[b] > 0) return;
    if (!hashed_[b]) {
        free_.push_back(b);
        return;
    }
    const bool prot = long_chain && protected_cap_ > 0;
    in_protected_[b] = prot;
    auto& list = prot ? protected_ : cold_;
    lru_pos_[b] = list.insert(list.end(), b);
    while ((int64_t)protected_.size() > protected_cap_) {  // over the cap: the oldest protected turn cold
        const int32_t d = protected_.front();
        protected_.pop_front();
        in_protected_[d] = 0;
        lru_pos_[d] = cold_.insert(cold_.end(), d);
    }
}

bool BlockAllocator::register_hash(int32_t b, uint64_t hash) {
    if (hashed_[b] || by_hash_.count(hash)) return false;
    by_hash_.emplace(hash, b);
    hash_[b] = hash, hashed_[b] = 1;
    return true;
}

int32_t BlockAllocator::lookup(uint64_t hash) const {
    auto it = by_hash_.find(hash);
    return it == by_hash_.end() ? -1 : it->second;
}

uint64_t BlockAllocator::block_hash(uint64_t parent, const int32_t* tokens, int n) {
    // FNV-1a over the parent hash and the ids, finished with a splitmix64 mix. 64 bits: a collision needs ~2^32
    // distinct cached blocks, far beyond any pool.
    uint64_t h = 0xcbf29ce484222325ull ^ parent;
    auto mix = [&](uint64_t x) {
        for (int i = 0; i < 8; ++i) h = (h ^ ((x >> (8 * i)) & 0xff)) * 0x100000001b3ull;
    };
    mix((uint64_t)n);
    for (int i = 0; i < n; ++i) mix((uint32_t)tokens[i]);
    h ^= h >> 30, h *= 0xbf58476d1ce4e5b9ull, h ^= h >> 27, h *= 0x94d049bb133111ebull, h ^= h >> 31;
    return h;
}

}  // namespace llm
