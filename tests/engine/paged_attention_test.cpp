// Paged attention (kernels/cpu/attention.hpp): agrees with the contiguous flash attention within rounding, and
// a query row's output is bit-identical whatever other rows and sequences share the call (batch invariance).
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "core/fp16.hpp"
#include "kernels/cpu/attention.hpp"
#include "kernels/quant/quant.hpp"

namespace llm {
namespace {

struct Fixture {
    AttentionParams p;
    int bt = 16;
    int64_t n_blocks = 0;
    DType type;
    std::vector<uint8_t> kpool, vpool;  // paged
    std::vector<uint8_t> kflat, vflat;  // contiguous, one sequence
    std::vector<int32_t> table;
    size_t rb = 0;
};

// One sequence of n_keys positions stored in shuffled blocks of a pool, and contiguously.
Fixture make(DType type, int n_heads, int n_kv_heads, int hd, int64_t n_keys, int window, uint32_t seed) {
    Fixture f;
    f.type = type;
    f.p.n_heads = n_heads, f.p.n_kv_heads = n_kv_heads, f.p.head_dim = hd;
    f.p.scale = 1.0f / std::sqrt((float)hd), f.p.sliding_window = window, f.p.round_to_f16 = type == DType::F16;
    const int kvd = n_kv_heads * hd;
    f.rb = row_bytes(type, kvd);
    const int64_t nb = (n_keys + f.bt - 1) / f.bt;
    f.n_blocks = nb * 2;
    f.kpool.assign(f.n_blocks * f.bt * f.rb, 0), f.vpool = f.kpool;
    f.kflat.assign(n_keys * f.rb, 0), f.vflat = f.kflat;
    std::mt19937 rng(seed);
    std::vector<int32_t> ids(f.n_blocks);
    for (int64_t i = 0; i < f.n_blocks; ++i) ids[i] = (int32_t)i;
    std::shuffle(ids.begin(), ids.end(), rng);
    f.table.assign(ids.begin(), ids.begin() + nb);
    std::normal_distribution<float> nd(0, 1);
    std::vector<float> k(kvd), v(kvd);
    for (int64_t j = 0; j < n_keys; ++j) {
        for (int d = 0; d < kvd; ++d) k[d] = nd(rng), v[d] = nd(rng);
        const int64_t slot = (int64_t)f.table[j / f.bt] * f.bt + j % f.bt;
        quantize_row(type, k.data(), f.kpool.data() + slot * f.rb, kvd);
        quantize_row(type, v.data(), f.vpool.data() + slot * f.rb, kvd);
        quantize_row(type, k.data(), f.kflat.data() + j * f.rb, kvd);
        quantize_row(type, v.data(), f.vflat.data() + j * f.rb, kvd);
    }
    return f;
}

AttnSeq seq_of(const Fixture& f, int64_t tok0, int64_t n_tokens, int64_t n_keys) {
    AttnSeq s;
    s.tok0 = tok0, s.n_tokens = n_tokens, s.n_keys = n_keys;
    s.k = {f.kpool.data(), f.rb, f.type, f.table.data(), f.bt};
    s.v = {f.vpool.data(), f.rb, f.type, f.table.data(), f.bt};
    return s;
}

std::vector<float> random_q(int64_t n, int qd, uint32_t seed) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> nd(0, 1);
    std::vector<float> q(n * qd);
    for (float& x : q) x = nd(rng);
    return q;
}

TEST(PagedAttention, MatchesContiguousFlashAttention) {
    for (DType type : {DType::F32, DType::F16, DType::BF16, DType::Q8_0})
        for (int window : {0, 40}) {
            const int64_t n_keys = 700, n_tok = 37;  // the last 37 positions: a prompt chunk
            Fixture f = make(type, 8, 2, 32, n_keys, window, 11);
            const int qd = 8 * 32;
            std::vector<float> q = random_q(n_tok, qd, 3);
            std::vector<int32_t> pos(n_tok);
            for (int64_t i = 0; i < n_tok; ++i) pos[i] = (int32_t)(n_keys - n_tok + i);
            std::vector<float> a(n_tok * qd), b(n_tok * qd);
            const AttnSeq s = seq_of(f, 0, n_tok, n_keys);
            paged_attention(q.data(), &s, 1, pos.data(), f.p, a.data(), 2);
            flash_attention(q.data(), {f.kflat.data(), f.rb, type}, {f.vflat.data(), f.rb, type}, n_keys, n_tok,
                            pos.data(), f.p, b.data(), 2);
            double max_diff = 0;
            for (size_t i = 0; i < a.size(); ++i) max_diff = std::max(max_diff, (double)std::fabs(a[i] - b[i]));
            // F16: q and the softmax weights are rounded to fp16 after different running maxima (2^-11 each).
            EXPECT_LT(max_diff, type == DType::F16 ? 5e-4 : 2e-5) << dtype_name(type) << " window " << window;
        }
}

// Row i of a chunk computed alone, in chunks of other sizes, and next to other sequences: identical bits.
TEST(PagedAttention, RowsDoNotDependOnTheirNeighbours) {
    for (int window : {0, 100}) {
        const int64_t n_keys = 600;
        Fixture f = make(DType::F16, 9, 3, 64, n_keys, window, 5);
        Fixture other = make(DType::F16, 9, 3, 64, 300, window, 6);
        const int qd = 9 * 64;
        std::vector<float> q = random_q(n_keys, qd, 9);  // one query per position
        std::vector<int32_t> pos(n_keys);
        for (int64_t i = 0; i < n_keys; ++i) pos[i] = (int32_t)i;
        // Reference: every position alone (a decode step each, n_keys = pos + 1).
        std::vector<float> ref(n_keys * qd);
        for (int64_t i = 0; i < n_keys; ++i) {
            const AttnSeq s = seq_of(f, 0, 1, i + 1);
            paged_attention(q.data() + i * qd, &s, 1, pos.data() + i, f.p, ref.data() + i * qd, 2);
        }
        for (int64_t chunk : {1, 7, 64, 250, 600}) {
            std::vector<float> got(n_keys * qd);
            for (int64_t t0 = 0; t0 < n_keys; t0 += chunk) {
                const int64_t n = std::min(chunk, n_keys - t0);
                // The chunk, after a decode row of another sequence (different batch rows and tiles).
                std::vector<float> qq(random_q(1, qd, 77));
                qq.insert(qq.end(), q.begin() + t0 * qd, q.begin() + (t0 + n) * qd);
                std::vector<int32_t> pp = {299};
                pp.insert(pp.end(), pos.begin() + t0, pos.begin() + t0 + n);
                AttnSeq seqs[2] = {seq_of(other, 0, 1, 300), seq_of(f, 1, n, t0 + n)};
                std::vector<float> o((n + 1) * qd);
                paged_attention(qq.data(), seqs, 2, pp.data(), f.p, o.data(), 2);
                std::memcpy(got.data() + t0 * qd, o.data() + qd, n * qd * sizeof(float));
            }
            EXPECT_EQ(std::memcmp(got.data(), ref.data(), got.size() * sizeof(float)), 0)
                << "chunk " << chunk << " window " << window;
        }
    }
}

}  // namespace
}  // namespace llm
