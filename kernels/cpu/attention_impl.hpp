// Internal: the flash-attention tile kernel, written once over a small SIMD traits class V and instantiated
// per ISA (attention.cpp: portable, attention_avx2.cpp, attention_avx512.cpp, attention_neon.cpp).
//
// Layout: one tile = up to V::W "rows" (query token t, query head h) of ONE KV head, rows in SIMD lanes.
//   qt[d][r]   q of row r, transposed (rounded to fp16 when asked)
//   S[j][r]    scores of key j for all rows: one FMA per (key, dim) for W rows, no horizontal sums
//   ot[d][r]   output accumulator, transposed
// K/V are used row-major as stored (converted per tile of kTileKeys rows to float, F32 read in place),
// so a K or V tile is read and converted once for all the query heads that share the KV head.
// Online softmax per lane: m (running max), l (running sum of exp), ot rescaled by exp(m_old - m_new).
#pragma once
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <limits>
#include <vector>

#include "core/fp16.hpp"
#include "kernels/cpu/attention.hpp"
#include "kernels/quant/quant.hpp"

namespace llm::cpu {

struct AttnJob {
    const float* q = nullptr;
    int64_t q_stride = 0;  // n_heads * head_dim
    KvRows k, v;
    int64_t n_keys = 0, n_tokens = 0;
    const int32_t* positions = nullptr;
    int head_dim = 0, group = 1;
    float scale = 1.0f;
    int sliding_window = 0;
    bool round_f16 = false;
    // Key tiles at multiples of kTileKeys (else from the tile's first key): with it a row meets the same
    // tiles whatever rows share its tile (masked keys add exact zeros, exp(0) = 1 rescales exactly).
    bool aligned_tiles = false;
    float* out = nullptr;
};

// Per-thread buffers, sized by the driver in attention.cpp (outside the ISA files: no std::vector code is
// instantiated with AVX flags, so the linker can never pick such a copy for the portable path).
struct AttnScratch {
    std::vector<float> qt, lo, hi, s, kv, ot, tmp;
};

// Computes rows [f0, f0 + W) (flat row f = t * group + g, query head kvh * group + g) of KV head kvh over
// the keys in [k_begin, k_end). partial == nullptr: writes the normalized rows to a.out. Else (a split of
// the keys, merged by the caller) writes the unnormalized state to partial: m[W], l[W], ot[hd][W].
using AttnTileFn = void (*)(const AttnJob&, int kvh, int64_t f0, int64_t k_begin, int64_t k_end, float* partial,
                            AttnScratch&);
#define LLM_ATTN_TILE_ARGS \
    const AttnJob &a, int kvh, int64_t f0, int64_t k_begin, int64_t k_end, float *partial, AttnScratch &s
void attention_tile_scalar(LLM_ATTN_TILE_ARGS);
void attention_tile_avx2(LLM_ATTN_TILE_ARGS);
void attention_tile_avx512(LLM_ATTN_TILE_ARGS);
void attention_tile_avx512_8(LLM_ATTN_TILE_ARGS);  // 8 lanes
void attention_tile_neon(LLM_ATTN_TILE_ARGS);      // attention_neon.cpp
constexpr int kAttnLanesScalar = 8, kAttnLanesAvx2 = 8, kAttnLanesAvx512 = 16, kAttnLanesNeon = 8;
// The ISA's tile of 8 rows (every ISA has one; AVX-512 also has a 16-row one): a row's arithmetic is the same
// whichever path (contiguous or paged KV) runs it.
AttnTileFn attention_tile_8_rows(Isa isa);

constexpr int kTileKeys = 64;

// Float view of rows [j0, j0 + nk), columns [col0, col0 + hd) of m; *stride: floats between rows.
template <class V>
const float* attn_load_rows(const KvRows& m, int64_t col0, int hd, int64_t j0, int nk, AttnScratch& s,
                            int64_t* stride) {
    const uint8_t* base = m.data + j0 * (int64_t)m.row_bytes;
    switch (m.type) {
        case DType::F32:
            if (!m.blocks) {
                *stride = (int64_t)(m.row_bytes / sizeof(float));
                return reinterpret_cast<const float*>(base) + col0;
            }
            for (int i = 0; i < nk; ++i)
                std::memcpy(s.kv.data() + i * hd, reinterpret_cast<const float*>(m.row(j0 + i)) + col0, hd * sizeof(float));
            *stride = hd;
            return s.kv.data();
        case DType::F16:
            for (int i = 0; i < nk; ++i)
                V::cvt_f16(reinterpret_cast<const uint16_t*>(m.row(j0 + i)) + col0, s.kv.data() + i * hd, hd);
            *stride = hd;
            return s.kv.data();
        case DType::BF16:
            for (int i = 0; i < nk; ++i) {
                const uint16_t* src = reinterpret_cast<const uint16_t*>(m.row(j0 + i)) + col0;
                float* dst = s.kv.data() + i * hd;
                for (int d = 0; d < hd; ++d) dst[d] = bf16_to_fp32(src[d]);
            }
            *stride = hd;
            return s.kv.data();
        default: {  // block types (Q8_0): dequantize the blocks that cover the head's columns
            const int64_t bs = block_size(m.type);
            const size_t bb = llm::row_bytes(m.type, bs);
            const int64_t b0 = col0 / bs, b1 = (col0 + hd + bs - 1) / bs;
            for (int i = 0; i < nk; ++i) {
                dequantize_row(m.type, m.row(j0 + i) + b0 * bb, s.tmp.data(), (b1 - b0) * bs);
                std::memcpy(s.kv.data() + i * hd, s.tmp.data() + (col0 - b0 * bs), hd * sizeof(float));
            }
            *stride = hd;
            return s.kv.data();
        }
    }
}

template <class V>
void attention_tile(LLM_ATTN_TILE_ARGS) {
    constexpr int W = V::W;
    using vec = typename V::vec;
    const int hd = a.head_dim;
    const int64_t n_rows = std::min<int64_t>(W, a.n_tokens * a.group - f0);
    std::memset(s.ot.data(), 0, sizeof(float) * hd * W);
    float* qt = s.qt.data();
    float* ot = s.ot.data();
    float* S = s.s.data();

    // Rows: transposed q, per-lane key range [lo, hi] (empty range: lo = +big, hi = -1).
    int64_t jlo = std::numeric_limits<int64_t>::max(), jhi = -1;
    for (int r = 0; r < W; ++r) {
        s.lo[r] = 3e38f, s.hi[r] = -1.0f;
        if (r >= n_rows) {
            for (int d = 0; d < hd; ++d) qt[d * W + r] = 0.0f;
            continue;
        }
        const int64_t f = f0 + r, t = f / a.group, h = (int64_t)kvh * a.group + f % a.group;
        const float* qr = a.q + t * a.q_stride + h * hd;
        for (int d = 0; d < hd; ++d) qt[d * W + r] = a.round_f16 ? fp16_to_fp32(fp32_to_fp16(qr[d])) : qr[d];
        const int64_t pos = a.positions[t];
        const int64_t lo = std::max<int64_t>(k_begin, a.sliding_window > 0 ? pos - a.sliding_window + 1 : 0);
        const int64_t hi = std::min<int64_t>(std::min<int64_t>(pos, a.n_keys - 1), k_end - 1);
        if (hi < lo) continue;
        s.lo[r] = (float)lo, s.hi[r] = (float)hi;
        jlo = std::min(jlo, lo), jhi = std::max(jhi, hi);
    }

    const vec vlo = V::load(s.lo.data()), vhi = V::load(s.hi.data()), vscale = V::set1(a.scale);
    vec m = V::set1(-std::numeric_limits<float>::infinity()), l = V::zero();
    if (a.aligned_tiles && jlo <= jhi) jlo -= jlo % kTileKeys;
    for (int64_t j0 = jlo; j0 <= jhi; j0 += kTileKeys) {
        const int nk = (int)std::min<int64_t>(kTileKeys, jhi - j0 + 1);
        int64_t ks = 0;
        const float* K = attn_load_rows<V>(a.k, (int64_t)kvh * hd, hd, j0, nk, s, &ks);
        // Scores, masked outside each lane's [lo, hi].
        int jj = 0;
        for (; jj + 8 <= nk; jj += 8) {
            const float* k0 = K + jj * ks;
            vec c0 = V::zero(), c1 = V::zero(), c2 = V::zero(), c3 = V::zero();
            vec c4 = V::zero(), c5 = V::zero(), c6 = V::zero(), c7 = V::zero();
            for (int d = 0; d < hd; ++d) {
                const vec qv = V::load(qt + d * W);
                c0 = V::fma(qv, V::set1(k0[d]), c0);
                c1 = V::fma(qv, V::set1(k0[ks + d]), c1);
                c2 = V::fma(qv, V::set1(k0[2 * ks + d]), c2);
                c3 = V::fma(qv, V::set1(k0[3 * ks + d]), c3);
                c4 = V::fma(qv, V::set1(k0[4 * ks + d]), c4);
                c5 = V::fma(qv, V::set1(k0[5 * ks + d]), c5);
                c6 = V::fma(qv, V::set1(k0[6 * ks + d]), c6);
                c7 = V::fma(qv, V::set1(k0[7 * ks + d]), c7);
            }
            const float j = (float)(j0 + jj);
            V::store(S + (jj + 0) * W, V::mask_range(V::mul(c0, vscale), j + 0, vlo, vhi));
            V::store(S + (jj + 1) * W, V::mask_range(V::mul(c1, vscale), j + 1, vlo, vhi));
            V::store(S + (jj + 2) * W, V::mask_range(V::mul(c2, vscale), j + 2, vlo, vhi));
            V::store(S + (jj + 3) * W, V::mask_range(V::mul(c3, vscale), j + 3, vlo, vhi));
            V::store(S + (jj + 4) * W, V::mask_range(V::mul(c4, vscale), j + 4, vlo, vhi));
            V::store(S + (jj + 5) * W, V::mask_range(V::mul(c5, vscale), j + 5, vlo, vhi));
            V::store(S + (jj + 6) * W, V::mask_range(V::mul(c6, vscale), j + 6, vlo, vhi));
            V::store(S + (jj + 7) * W, V::mask_range(V::mul(c7, vscale), j + 7, vlo, vhi));
        }
        for (; jj < nk; ++jj) {
            const float* k0 = K + jj * ks;
            vec c0 = V::zero();
            for (int d = 0; d < hd; ++d) c0 = V::fma(V::load(qt + d * W), V::set1(k0[d]), c0);
            V::store(S + jj * W, V::mask_range(V::mul(c0, vscale), (float)(j0 + jj), vlo, vhi));
        }
        // Online softmax: new running max, rescale factor, weights exp(s - max).
        vec mt = m;
        for (jj = 0; jj < nk; ++jj) mt = V::max(mt, V::load(S + jj * W));
        const vec mu = V::finite_or_zero(mt);  // lanes without any key yet: exp(-inf - 0) = 0
        const vec c = V::exp(V::sub(m, mu));
        vec sum = V::zero();
        for (jj = 0; jj < nk; ++jj) {
            vec p = V::exp(V::sub(V::load(S + jj * W), mu));
            sum = V::add(sum, p);
            if (a.round_f16) p = V::round_f16(p);
            V::store(S + jj * W, p);
        }
        l = V::fma(l, c, sum);
        m = mt;
        // ot = ot * c + P^T V.
        const float* Vt = attn_load_rows<V>(a.v, (int64_t)kvh * hd, hd, j0, nk, s, &ks);
        int d = 0;
        for (; d + 8 <= hd; d += 8) {
            vec o0 = V::mul(V::load(ot + (d + 0) * W), c), o1 = V::mul(V::load(ot + (d + 1) * W), c);
            vec o2 = V::mul(V::load(ot + (d + 2) * W), c), o3 = V::mul(V::load(ot + (d + 3) * W), c);
            vec o4 = V::mul(V::load(ot + (d + 4) * W), c), o5 = V::mul(V::load(ot + (d + 5) * W), c);
            vec o6 = V::mul(V::load(ot + (d + 6) * W), c), o7 = V::mul(V::load(ot + (d + 7) * W), c);
            for (jj = 0; jj < nk; ++jj) {
                const vec p = V::load(S + jj * W);
                const float* vr = Vt + jj * ks + d;
                o0 = V::fma(p, V::set1(vr[0]), o0);
                o1 = V::fma(p, V::set1(vr[1]), o1);
                o2 = V::fma(p, V::set1(vr[2]), o2);
                o3 = V::fma(p, V::set1(vr[3]), o3);
                o4 = V::fma(p, V::set1(vr[4]), o4);
                o5 = V::fma(p, V::set1(vr[5]), o5);
                o6 = V::fma(p, V::set1(vr[6]), o6);
                o7 = V::fma(p, V::set1(vr[7]), o7);
            }
            V::store(ot + (d + 0) * W, o0), V::store(ot + (d + 1) * W, o1);
            V::store(ot + (d + 2) * W, o2), V::store(ot + (d + 3) * W, o3);
            V::store(ot + (d + 4) * W, o4), V::store(ot + (d + 5) * W, o5);
            V::store(ot + (d + 6) * W, o6), V::store(ot + (d + 7) * W, o7);
        }
        for (; d < hd; ++d) {
            vec o0 = V::mul(V::load(ot + d * W), c);
            for (jj = 0; jj < nk; ++jj) o0 = V::fma(V::load(S + jj * W), V::set1(Vt[jj * ks + d]), o0);
            V::store(ot + d * W, o0);
        }
    }

    if (partial) {
        V::store(partial, m), V::store(partial + W, l);
        std::memcpy(partial + 2 * W, ot, sizeof(float) * hd * W);
        return;
    }
    // out = ot / l (rows without keys: l = 0, output 0 as the reference).
    float lsum[W];
    V::store(lsum, l);
    for (int r = 0; r < n_rows; ++r) {
        const int64_t f = f0 + r, t = f / a.group, h = (int64_t)kvh * a.group + f % a.group;
        float* o = a.out + t * a.q_stride + h * hd;
        const float inv = lsum[r] > 0.0f ? 1.0f / lsum[r] : 0.0f;
        for (int d = 0; d < hd; ++d) o[d] = ot[d * W + r] * inv;
    }
}

}  // namespace llm::cpu
