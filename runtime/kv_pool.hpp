// The serving engine's paged KV cache: a pool of fixed-size blocks (block_tokens positions each) shared by all
// sequences, and the allocator over it (reference counts, free list, content-addressed prefix cache whose
// unreferenced blocks are evicted least recently used first, short chains before protected long ones).
#pragma once
#include <cstdint>
#include <list>
#include <memory>
#include <unordered_map>
#include <vector>

#include "core/dtype.hpp"
#include "core/status.hpp"
#include "kernels/cpu/attention.hpp"
#include "kernels/cpu/attention_ggml.hpp"
#include "models/model_config.hpp"

namespace llm {

// Storage. Layout per layer, for K and V alike: n_blocks x block_tokens rows of kv_dim values of type(); block b
// of every layer holds the same positions of the same sequence (one block id addresses all layers). The memory
// is allocated uninitialized: pages are committed as blocks are first written.
// With transposed values (F16 only; a Session in Numerics::Exact: llama.cpp's attention, ggml_attention) each
// layer's values are kv_dim rows over the slots instead (llama.cpp's "v_trans" layout), each row the slot count
// rounded up to 256 long; that storage and the keys' are zeroed, as ggml_attention reads whole 256-key steps.
class KvPool {
public:
    static Expected<KvPool> create(const ModelConfig& c, int64_t n_blocks, int block_tokens, DType type,
                                   bool transposed_values = false);
    // Bytes one token takes over all layers (K and V): what a pool size in MiB is divided by.
    static size_t bytes_per_token(const ModelConfig& c, DType type);

    int64_t n_blocks() const { return n_blocks_; }
    int block_tokens() const { return block_tokens_; }
    DType type() const { return type_; }
    size_t row_bytes() const { return row_bytes_; }
    size_t bytes() const {
        const size_t rows = (size_t)n_blocks_ * block_tokens_ * row_bytes_;
        return (size_t)n_layers_ * (rows + (v_trans_ ? (size_t)kv_dim_ * vt_len_ * sizeof(uint16_t) : rows));
    }

    // Writes one position: slot = block * block_tokens + offset in the block.
    void store(int layer, int64_t slot, const float* k, const float* v);
    // Rows of a layer read through a block table (row j of the sequence: block table[j / block_tokens]).
    KvRows keys(int layer, const int32_t* table) const { return rows(k_[layer].get(), table); }
    KvRows values(int layer, const int32_t* table) const {
        LLM_CHECK(!v_trans_);
        return rows(v_[layer].get(), table);
    }
    bool transposed_values() const { return v_trans_; }
    // Keys and transposed values of a layer's first n_keys positions of a sequence for ggml_attention
    // (transposed_values() only): its blocks must be consecutive (table[i] = table[0] + i), as a Session's are.
    GgmlKv ggml_view(int layer, const int32_t* table, int64_t n_keys) const;
    // Float copy of one stored row (tests).
    void load_row(int layer, int64_t slot, float* k, float* v) const;

private:
    KvRows rows(const uint8_t* base, const int32_t* table) const {
        KvRows r{base, row_bytes_, type_};
        r.blocks = table, r.block_tokens = block_tokens_;
        return r;
    }
    int n_layers_ = 0, kv_dim_ = 0, block_tokens_ = 0;
    int64_t n_blocks_ = 0;
    bool v_trans_ = false;
    int64_t vt_len_ = 0;  // row length of transposed values
    DType type_ = DType::F16;
    size_t row_bytes_ = 0;
    std::vector<std::unique_ptr<uint8_t[]>> k_, v_;  // [layer][n_blocks * block_tokens * row_bytes]
};

// Block ownership. A block is free, referenced (refcount > 0: in some sequence's table) or cached (refcount 0
// but registered under a content hash: kept for reuse, evicted when the pool needs room). Only full blocks are
// registered; a registered block is never written again (read-only sharing).
// Eviction: cached blocks sit in one of two LRU lists, chosen at release. Blocks released by a long chain (the
// caller says which: a long conversation's prefix) go to the protected list, others to the cold list; the cold
// list is evicted first, the protected list only when the cold one is empty, so bursts of short requests cycle
// through the cold list and leave a long conversation's prefix alone. The protected list holds at most
// protected_cap blocks: beyond it its least recently released blocks move to the cold list's recent end.
class BlockAllocator {
public:
    // protected_cap < 0: three quarters of the pool.
    explicit BlockAllocator(int64_t n_blocks, int64_t protected_cap = -1);

    // A block with refcount 1, or -1 when every block is referenced. May evict a cached block (its hash is
    // forgotten): the least recently released cold one, else the least recently released protected one.
    int32_t allocate();
    void retain(int32_t b);   // refcount + 1 (a cached block leaves its LRU list)
    // refcount - 1; at 0 a registered block becomes cached (protected when long_chain), others free
    void release(int32_t b, bool long_chain = false);
    // Registers a full, computed block under its chained hash. False (nothing changes) when another block
    // already holds that hash.
    bool register_hash(int32_t b, uint64_t hash);
    // The block holding this content, or -1. Does not retain it.
    int32_t lookup(uint64_t hash) const;

    int64_t n_blocks() const { return (int64_t)ref_.size(); }
    int64_t n_available() const { return (int64_t)free_.size() + n_cached(); }  // free + cached
    int64_t n_referenced() const { return n_blocks() - n_available(); }
    int64_t n_cached() const { return (int64_t)(cold_.size() + protected_.size()); }
    int64_t n_protected() const { return (int64_t)protected_.size(); }
    int32_t refcount(int32_t b) const { return ref_[b]; }
    int64_t evictions() const { return evictions_; }

    static uint64_t block_hash(uint64_t parent, const int32_t* tokens, int n);

private:
    std::vector<int32_t> ref_;
    std::vector<uint64_t> hash_;  // per block, when registered
    std::vector<uint8_t> hashed_;
    std::vector<int32_t> free_;   // stack, lowest ids on top
    std::list<int32_t> cold_, protected_;  // cached blocks, least recently released first
    std::vector<std::list<int32_t>::iterator> lru_pos_;
    std::vector<uint8_t> in_protected_;  // which list lru_pos_[b] points into
    int64_t protected_cap_ = 0;
    std::unordered_map<uint64_t, int32_t> by_hash_;
    int64_t evictions_ = 0;
};

}  // namespace llm
