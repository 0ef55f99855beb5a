// Attention of several sequences in one call, through their block tables, with results that do not depend on
// what shares the call (attention.hpp: paged_attention). Work items are (sequence, KV head, 8-row tile, key
// chunk at a fixed position); each writes an unnormalized partial, merged per row in chunk order.
#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "core/status.hpp"
#include "kernels/cpu/attention.hpp"
#include "kernels/cpu/attention_impl.hpp"

namespace llm {
namespace {

constexpr int kLanes = 8;  // every ISA: one lane width, so a row's arithmetic never depends on the tile size

struct Item {
    int seq, kvh;
    int64_t f0;     // first flat row (t * group + g) of the tile, within the sequence
    int64_t chunk;  // keys [chunk * kAttnChunkKeys, (chunk + 1) * kAttnChunkKeys)
};
struct Group {        // one (sequence, KV head, tile): its items are consecutive, chunks 0..n_chunks-1
    int64_t item0 = 0, n_chunks = 0;
};

}  // namespace

void paged_attention_isa(Isa isa, const float* q, const AttnSeq* seqs, int n_seqs, const int32_t* positions,
                         const AttentionParams& p, float* out, int n_threads) {
    LLM_CHECK(p.n_kv_heads > 0 && p.n_heads % p.n_kv_heads == 0 && p.head_dim > 0);
    LLM_CHECK(isa_supported(isa));
    const cpu::AttnTileFn fn = cpu::attention_tile_8_rows(isa);  // the contiguous path's: llm-run and llm-serve agree
    const int group = p.n_heads / p.n_kv_heads, hd = p.head_dim;
    const int64_t q_stride = (int64_t)p.n_heads * hd;

    // Per calling thread; the OpenMP workers see the caller's through these references (locals are shared).
    static thread_local std::vector<Item> items_buf;
    static thread_local std::vector<Group> groups_buf;
    static thread_local std::vector<float> partials_buf;
    std::vector<Item>& items = items_buf;
    std::vector<Group>& groups = groups_buf;
    std::vector<float>& partials = partials_buf;
    items.clear(), groups.clear();
    for (int s = 0; s < n_seqs; ++s) {
        const AttnSeq& sq = seqs[s];
        const int64_t n_rows = sq.n_tokens * group;
        for (int64_t f0 = 0; f0 < n_rows; f0 += kLanes) {
            // Chunks up to the last key any row of the tile may see (later ones would be all masked).
            int32_t max_pos = 0;
            for (int64_t t = f0 / group; t <= std::min(n_rows - 1, f0 + kLanes - 1) / group; ++t)
                max_pos = std::max(max_pos, positions[sq.tok0 + t]);
            const int64_t last_key = std::min<int64_t>(max_pos, sq.n_keys - 1);
            const int64_t n_chunks = last_key < 0 ? 0 : last_key / kAttnChunkKeys + 1;
            for (int kvh = 0; kvh < p.n_kv_heads; ++kvh) {
                groups.push_back({(int64_t)items.size(), n_chunks});
                for (int64_t c = 0; c < n_chunks; ++c) items.push_back({s, kvh, f0, c});
            }
        }
    }
    const size_t part_size = (size_t)(2 + hd) * kLanes;
    if (partials.size() < part_size * items.size()) partials.resize(part_size * items.size());
    float* part = partials.data();
    const int64_t n_items = (int64_t)items.size(), n_groups = (int64_t)groups.size();

    auto job_of = [&](int s) {
        const AttnSeq& sq = seqs[s];
        cpu::AttnJob a;
        a.q = q + sq.tok0 * q_stride, a.q_stride = q_stride, a.k = sq.k, a.v = sq.v, a.n_keys = sq.n_keys;
        a.n_tokens = sq.n_tokens, a.positions = positions + sq.tok0, a.head_dim = hd, a.group = group;
        a.scale = p.scale, a.sliding_window = p.sliding_window, a.round_f16 = p.round_to_f16;
        a.aligned_tiles = true, a.out = out + sq.tok0 * q_stride;
        return a;
    };
#pragma omp parallel num_threads(std::max(1, n_threads)) if (n_threads > 1 && n_items > 1)
    {
        static thread_local cpu::AttnScratch scratch;
        scratch.qt.resize((size_t)hd * kLanes), scratch.lo.resize(kLanes), scratch.hi.resize(kLanes);
        scratch.s.resize((size_t)cpu::kTileKeys * kLanes), scratch.kv.resize((size_t)cpu::kTileKeys * hd);
        scratch.ot.resize((size_t)hd * kLanes);
        // The widest block covering a head's columns, for the Q8_0 dequantization.
        scratch.tmp.resize(hd + 2 * (size_t)std::max(block_size(seqs[0].k.type), block_size(seqs[0].v.type)));
#pragma omp for schedule(dynamic, 1)
        for (int64_t i = 0; i < n_items; ++i) {
            const Item& it = items[i];
            const cpu::AttnJob a = job_of(it.seq);
            const int64_t k0 = it.chunk * kAttnChunkKeys;
            fn(a, it.kvh, it.f0, k0, std::min(a.n_keys, k0 + kAttnChunkKeys), part + i * part_size, scratch);
        }
        // Merge each row's chunks in position order: out = sum_c e_c ot_c / sum_c e_c l_c, e_c = exp(m_c - max m).
        // A chunk without keys for the row has m = -inf: e = 0 adds exact zeros.
#pragma omp for schedule(static)
        for (int64_t gi = 0; gi < n_groups; ++gi) {
            const Group& g = groups[gi];
            if (g.n_chunks == 0) continue;
            const Item& it0 = items[g.item0];
            const AttnSeq& sq = seqs[it0.seq];
            const int64_t n_rows = std::min<int64_t>(kLanes, sq.n_tokens * group - it0.f0);
            const float* pk = part + g.item0 * part_size;
            for (int64_t r = 0; r < n_rows; ++r) {
                const int64_t f = it0.f0 + r, t = f / group, h = (int64_t)it0.kvh * group + f % group;
                float* o = out + (sq.tok0 + t) * q_stride + h * hd;
                std::fill(o, o + hd, 0.0f);
                float mx = -std::numeric_limits<float>::infinity();
                for (int64_t c = 0; c < g.n_chunks; ++c) mx = std::max(mx, pk[c * part_size + r]);
                if (mx == -std::numeric_limits<float>::infinity()) continue;
                float l = 0;
                for (int64_t c = 0; c < g.n_chunks; ++c) {
                    const float* pc = pk + c * part_size;
                    const float e = std::exp(pc[r] - mx);
                    l += e * pc[kLanes + r];
                    for (int d = 0; d < hd; ++d) o[d] += e * pc[2 * kLanes + (size_t)d * kLanes + r];
                }
                const float inv = l > 0.0f ? 1.0f / l : 0.0f;
                for (int d = 0; d < hd; ++d) o[d] *= inv;
            }
        }
    }
}

void paged_attention(const float* q, const AttnSeq* seqs, int n_seqs, const int32_t* positions,
                     const AttentionParams& p, float* out, int n_threads) {
    paged_attention_isa(best_isa(), q, seqs, n_seqs, positions, p, out, n_threads);
}

}  // namespace llm
