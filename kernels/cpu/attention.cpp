// Flash attention: the portable instantiation of the tile kernel and the threaded driver.
#include "kernels/cpu/attention.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "core/status.hpp"
#include "kernels/cpu/attention_impl.hpp"

namespace llm {
namespace cpu {
namespace {

// Plain-C++ "vectors" of 8 floats (the compiler may use SSE2 for them).
struct ScalarVec {
    static constexpr int W = kAttnLanesScalar;
    struct vec { float v[W]; };
    static vec zero() { return set1(0.0f); }
    static vec set1(float x) { vec r; for (int i = 0; i < W; ++i) r.v[i] = x; return r; }
    static vec load(const float* p) { vec r; for (int i = 0; i < W; ++i) r.v[i] = p[i]; return r; }
    static void store(float* p, const vec& a) { for (int i = 0; i < W; ++i) p[i] = a.v[i]; }
    static vec fma(const vec& a, const vec& b, const vec& c) {
        vec r; for (int i = 0; i < W; ++i) r.v[i] = a.v[i] * b.v[i] + c.v[i]; return r;
    }
    static vec mul(const vec& a, const vec& b) { vec r; for (int i = 0; i < W; ++i) r.v[i] = a.v[i] * b.v[i]; return r; }
    static vec add(const vec& a, const vec& b) { vec r; for (int i = 0; i < W; ++i) r.v[i] = a.v[i] + b.v[i]; return r; }
    static vec sub(const vec& a, const vec& b) { vec r; for (int i = 0; i < W; ++i) r.v[i] = a.v[i] - b.v[i]; return r; }
    static vec max(const vec& a, const vec& b) { vec r; for (int i = 0; i < W; ++i) r.v[i] = std::max(a.v[i], b.v[i]); return r; }
    static vec exp(const vec& a) { vec r; for (int i = 0; i < W; ++i) r.v[i] = std::exp(a.v[i]); return r; }
    static vec round_f16(const vec& a) {
        vec r; for (int i = 0; i < W; ++i) r.v[i] = fp16_to_fp32(fp32_to_fp16(a.v[i])); return r;
    }
    static vec mask_range(const vec& s, float j, const vec& lo, const vec& hi) {
        vec r;
        for (int i = 0; i < W; ++i)
            r.v[i] = j >= lo.v[i] && j <= hi.v[i] ? s.v[i] : -std::numeric_limits<float>::infinity();
        return r;
    }
    static vec finite_or_zero(const vec& a) {
        vec r;
        for (int i = 0; i < W; ++i) r.v[i] = a.v[i] == -std::numeric_limits<float>::infinity() ? 0.0f : a.v[i];
        return r;
    }
    static void cvt_f16(const uint16_t* src, float* dst, int n) { for (int i = 0; i < n; ++i) dst[i] = fp16_to_fp32(src[i]); }
};

}  // namespace

void attention_tile_scalar(LLM_ATTN_TILE_ARGS) {
    attention_tile<ScalarVec>(a, kvh, f0, k_begin, k_end, partial, s);
}

AttnTileFn attention_tile_8_rows(Isa isa) {
    static_assert(kAttnLanesScalar == 8 && kAttnLanesAvx2 == 8 && kAttnLanesNeon == 8);
    if (isa == Isa::Avx512) return attention_tile_avx512_8;
    if (isa == Isa::Avx2) return attention_tile_avx2;
    if (isa_is_arm(isa)) return attention_tile_neon;
    return attention_tile_scalar;
}

}  // namespace cpu

void flash_attention_isa(Isa isa, const float* q, const KvRows& k, const KvRows& v, int64_t n_keys,
                         int64_t n_tokens, const int32_t* positions, const AttentionParams& p, float* out,
                         int n_threads) {
    LLM_CHECK(p.n_kv_heads > 0 && p.n_heads % p.n_kv_heads == 0 && p.head_dim > 0);
    LLM_CHECK(isa_supported(isa));
    constexpr int64_t kSplitKeys = 256;
    if (n_tokens <= 0) return;
    cpu::AttnJob a;
    a.q = q, a.q_stride = (int64_t)p.n_heads * p.head_dim, a.k = k, a.v = v, a.n_keys = n_keys;
    a.n_tokens = n_tokens, a.positions = positions, a.head_dim = p.head_dim, a.group = p.n_heads / p.n_kv_heads;
    a.scale = p.scale, a.sliding_window = p.sliding_window, a.round_f16 = p.round_to_f16, a.out = out;
    a.aligned_tiles = p.batch_invariant;
    cpu::AttnTileFn fn = cpu::attention_tile_8_rows(isa);
    int lanes = 8;
    if (isa == Isa::Avx512 && !(n_tokens * a.group <= 8 && !p.batch_invariant))
        fn = cpu::attention_tile_avx512, lanes = cpu::kAttnLanesAvx512;

    const int64_t n_rows = n_tokens * a.group, n_tiles = (n_rows + lanes - 1) / lanes;
    const int hd = p.head_dim;
    // Decoding (one tile per KV head) over a long history: split the keys into fixed chunks (not depending
    // on n_threads, so results do not either) to use more threads than KV heads, merged after.
    // Not in batch-invariant mode: whether a row's keys are split would depend on the other rows.
    const int64_t n_chunks = n_tiles == 1 && n_keys >= 2 * kSplitKeys && !p.batch_invariant ? (n_keys + kSplitKeys - 1) / kSplitKeys : 1;
    const int64_t n_items = n_tiles * p.n_kv_heads * n_chunks;
    const size_t part_size = (size_t)(2 + hd) * lanes;
    static thread_local std::vector<float> partials;
    if (n_chunks > 1) partials.resize(part_size * n_items);
    float* part = partials.data();
#pragma omp parallel num_threads(std::max(1, n_threads)) if (n_threads > 1 && n_items > 1)
    {
        static thread_local cpu::AttnScratch scratch;
        scratch.qt.resize((size_t)hd * lanes), scratch.lo.resize(lanes), scratch.hi.resize(lanes);
        scratch.s.resize((size_t)cpu::kTileKeys * lanes), scratch.kv.resize((size_t)cpu::kTileKeys * hd);
        scratch.ot.resize((size_t)hd * lanes);
        scratch.tmp.resize(hd + 2 * (size_t)std::max(block_size(k.type), block_size(v.type)));
        if (n_chunks == 1) {
            // Items in decreasing query position (causal: later queries see more keys), dynamically scheduled.
#pragma omp for schedule(dynamic, 1)
            for (int64_t item = 0; item < n_items; ++item) {
                const int64_t tile = n_tiles - 1 - item / p.n_kv_heads;
                fn(a, (int)(item % p.n_kv_heads), tile * lanes, 0, n_keys, nullptr, scratch);
            }
        } else {
#pragma omp for schedule(dynamic, 1)
            for (int64_t item = 0; item < n_items; ++item) {
                const int64_t c = item % n_chunks;
                fn(a, (int)(item / n_chunks), 0, c * kSplitKeys, std::min(n_keys, (c + 1) * kSplitKeys),
                   part + item * part_size, scratch);
            }
            // Merge the chunks of each KV head in a fixed order: out = sum_c e_c ot_c / sum_c e_c l_c with
            // e_c = exp(m_c - max_c m_c).
#pragma omp for schedule(static)
            for (int kvh = 0; kvh < p.n_kv_heads; ++kvh) {
                const float* pk = part + (size_t)kvh * n_chunks * part_size;
                for (int64_t r = 0; r < n_rows; ++r) {
                    float mx = -std::numeric_limits<float>::infinity();
                    for (int64_t c = 0; c < n_chunks; ++c) mx = std::max(mx, pk[c * part_size + r]);
                    const int64_t t = r / a.group, h = (int64_t)kvh * a.group + r % a.group;
                    float* o = out + t * a.q_stride + h * hd;
                    std::fill(o, o + hd, 0.0f);
                    if (mx == -std::numeric_limits<float>::infinity()) continue;
                    float l = 0;
                    for (int64_t c = 0; c < n_chunks; ++c) {
                        const float* pc = pk + c * part_size;
                        const float e = std::exp(pc[r] - mx);  // 0 for chunks without keys (m = -inf)
                        l += e * pc[lanes + r];
                        for (int d = 0; d < hd; ++d) o[d] += e * pc[2 * lanes + (size_t)d * lanes + r];
                    }
                    const float inv = l > 0.0f ? 1.0f / l : 0.0f;
                    for (int d = 0; d < hd; ++d) o[d] *= inv;
                }
            }
        }
    }
}

void flash_attention(const float* q, const KvRows& k, const KvRows& v, int64_t n_keys, int64_t n_tokens,
                     const int32_t* positions, const AttentionParams& p, float* out, int n_threads) {
    flash_attention_isa(best_isa(), q, k, v, n_keys, n_tokens, positions, p, out, n_threads);
}

}  // namespace llm
