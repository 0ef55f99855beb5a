// AVX2 kernel of the llama.cpp-arithmetic attention (see attention_ggml.hpp): one token x the query heads of
// one KV head, with the operations of llama.cpp's AVX2 build (8-lane vectors):
//   one query token  ggml_vec_dot_f16: four 8-lane FMA accumulators over steps of 32, GGML_F32x8_REDUCE
//                    ((s0+s2)+(s1+s3), then the two 128-bit halves, then two hadds), to double
//   >= 2 tokens      llamafile's tinyBLAS<8, __m256>: one 8-lane FMA chain per output, then its hsum
//   softmax          ggml_v_expf (AVX2) per 8 keys, each 8-lane sum added in double
#include <immintrin.h>

#include <algorithm>
#include <limits>

#include "kernels/cpu/attention_ggml.hpp"
#include "kernels/cpu/ops_simd.hpp"

namespace llm::cpu {
namespace {

inline __m256 load_f16(const uint16_t* p) { return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p))); }

// _mm_add_ps(x, movehl(x)), then add_ss(movehdup): the tail of ggml's and tinyBLAS's 8-lane sums.
inline float hsum128(__m128 x) {
    x = _mm_add_ps(x, _mm_movehl_ps(x, x));
    x = _mm_add_ss(x, _mm_movehdup_ps(x));
    return _mm_cvtss_f32(x);
}
// tinyBLAS's hsum(__m256) and the 8-lane sum in ggml_vec_soft_max_f32.
inline float hsum8(__m256 x) { return hsum128(_mm_add_ps(_mm256_extractf128_ps(x, 1), _mm256_castps256_ps128(x))); }

// ggml_vec_dot_f16 over [begin, end) of y's (already converted) values, begin a multiple of 32 from where
// llama.cpp's loop starts (elements outside contribute exact zeros there).
inline float dot_f16_ggml(const uint16_t* x, const float* y, int64_t begin, int64_t end) {
    __m256 s0 = _mm256_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
    const int64_t np = begin + ((end - begin) & ~(int64_t)31);
    for (int64_t i = begin; i < np; i += 32) {
        s0 = _mm256_fmadd_ps(load_f16(x + i), _mm256_loadu_ps(y + i), s0);
        s1 = _mm256_fmadd_ps(load_f16(x + i + 8), _mm256_loadu_ps(y + i + 8), s1);
        s2 = _mm256_fmadd_ps(load_f16(x + i + 16), _mm256_loadu_ps(y + i + 16), s2);
        s3 = _mm256_fmadd_ps(load_f16(x + i + 24), _mm256_loadu_ps(y + i + 24), s3);
    }
    const __m256 r = _mm256_add_ps(_mm256_add_ps(s0, s2), _mm256_add_ps(s1, s3));
    const __m128 t0 = _mm_add_ps(_mm256_castps256_ps128(r), _mm256_extractf128_ps(r, 1));
    const __m128 t1 = _mm_hadd_ps(t0, t0);
    double sum = (double)_mm_cvtss_f32(_mm_hadd_ps(t1, t1));
    for (int64_t i = np; i < end; ++i) sum += (double)(_cvtsh_ss(x[i]) * y[i]);
    return (float)sum;
}

// tinyBLAS's per-output chain: 8 lanes over [begin, end) (begin, end multiples of 8), then hsum8.
inline float dot_f16_tiny(const uint16_t* x, const float* y, int64_t begin, int64_t end) {
    __m256 c = _mm256_setzero_ps();
    for (int64_t i = begin; i < end; i += 8) c = _mm256_fmadd_ps(load_f16(x + i), _mm256_loadu_ps(y + i), c);
    return hsum8(c);
}

// Query heads per KV head the tiled loops take (larger groups run one score / output at a time).
constexpr int kMaxGroup = 64;

// tinyBLAS's per-output chains (dot_f16_tiny) for A fp16 rows x B float rows: c[a][b] = one 8-lane FMA chain
// over [begin, end) of a[a] and b[b], not yet reduced. A tile runs the A x B chains together, so that each fp16
// vector is converted once for the B rows and each float vector loaded once for the A rows; every chain is
// unchanged, so the sums are bit-identical to one output at a time.
template <int A, int B>
[[gnu::always_inline]] inline void chain_tile(const uint16_t* const* a, const float* const* b, int64_t begin,
                                              int64_t end, __m256 (&c)[A][B]) {
    for (int i = 0; i < A; ++i)
        for (int k = 0; k < B; ++k) c[i][k] = _mm256_setzero_ps();
    for (int64_t x = begin; x < end; x += 8) {
        __m256 av[A];
        for (int i = 0; i < A; ++i) av[i] = load_f16(a[i] + x);
        for (int k = 0; k < B; ++k) {
            const __m256 bv = _mm256_loadu_ps(b[k] + x);
            for (int i = 0; i < A; ++i) c[i][k] = _mm256_fmadd_ps(av[i], bv, c[i][k]);
        }
    }
}

// Scores (times scale) of the 8 keys from j0, all inside the window, for heads [h0, h0 + HT): 4 keys x 2 heads or
// 8 x 1 per tile.
template <int HT>
void kq_block_tiled(const uint16_t* kg, int64_t k_row_elems, int64_t j0, int hd, const float* const* qf, int h0,
                    float scale, float* const* w) {
    constexpr int KT = HT == 2 ? 4 : 8;
    for (int k0 = 0; k0 < 8; k0 += KT) {
        const uint16_t* keys[KT];
        for (int kt = 0; kt < KT; ++kt) keys[kt] = kg + (j0 + k0 + kt) * k_row_elems;
        __m256 c[KT][HT];
        chain_tile<KT, HT>(keys, qf + h0, 0, hd, c);
        for (int kt = 0; kt < KT; ++kt)
            for (int ht = 0; ht < HT; ++ht) w[h0 + ht][j0 + k0 + kt] = hsum8(c[kt][ht]) * scale;
    }
}

// V^T p for the DT dims from d0 and heads [h0, h0 + HT), chains over the keys [r0, r1): 4 dims x 2 heads or 8 x 1.
template <int HT>
void pv_block_tiled(const uint16_t* vg, int64_t vt_row_elems, int d0, int64_t r0, int64_t r1, const float* const* pw,
                    int h0, float* out, int64_t q_head_stride) {
    constexpr int DT = HT == 2 ? 4 : 8;
    const uint16_t* values[DT];
    for (int dt = 0; dt < DT; ++dt) values[dt] = vg + (int64_t)(d0 + dt) * vt_row_elems;
    __m256 c[DT][HT];
    chain_tile<DT, HT>(values, pw + h0, r0, r1, c);
    for (int dt = 0; dt < DT; ++dt)
        for (int ht = 0; ht < HT; ++ht) out[(h0 + ht) * q_head_stride + d0 + dt] = hsum8(c[dt][ht]);
}

}  // namespace

void ggml_attention_group_avx2(const float* q, int64_t q_head_stride, const GgmlKv& kv, int64_t n_pad, int32_t pos,
                               bool batch, const AttentionParams& p, int g, float* out, float* scratch, bool tiles) {
    const int hd = p.head_dim, group = p.n_heads / p.n_kv_heads;
    // scratch: per head: scores/weights [n_pad], normalized fp16 weights as float [n_pad], q [hd].
    const int64_t per_head = 2 * n_pad + hd;
    auto w_of = [&](int hh) { return scratch + hh * per_head; };
    auto pw_of = [&](int hh) { return scratch + hh * per_head + n_pad; };
    auto qf_of = [&](int hh) { return scratch + hh * per_head + 2 * n_pad; };
    for (int hh = 0; hh < group; ++hh)
        for (int d = 0; d < hd; ++d)
            qf_of(hh)[d] = _cvtsh_ss(_cvtss_sh(q[hh * q_head_stride + d], _MM_FROUND_TO_NEAREST_INT));

    // Keys in the window, and the step-aligned range of keys the sums visit (32: the single-token dot's
    // step over keys; 8: tinyBLAS's and the softmax's).
    const int64_t lo = p.sliding_window > 0 ? std::max<int64_t>(0, (int64_t)pos - p.sliding_window + 1) : 0;
    const int64_t hi = pos;  // inclusive
    const int64_t step = batch ? 8 : 32;
    const int64_t r0 = lo / step * step, r1 = std::min(n_pad, (hi + step) / step * step);
    constexpr float kNegInf = -std::numeric_limits<float>::infinity();
    const uint16_t* kg = kv.k + (int64_t)g * hd;
    const bool tiny_kq = batch && hd % 8 == 0;  // tinyBLAS needs the reduced dimension in whole vectors
    // Tiles: KT keys (or DT dims) x HT heads per pass, HT the widest of 2 and 1 that divides the group.
    const bool tiled = tiles && tiny_kq && group <= kMaxGroup;
    const int ht = group % 2 == 0 ? 2 : 1;
    const float* q_rows[kMaxGroup];
    float* w_rows[kMaxGroup];
    const float* p_rows[kMaxGroup];
    for (int hh = 0; hh < group && hh < kMaxGroup; ++hh)
        q_rows[hh] = qf_of(hh), w_rows[hh] = w_of(hh), p_rows[hh] = pw_of(hh);

    // The 8-key blocks wholly inside the window, [t0, t1), by tiles; the rest one score at a time.
    const int64_t t0 = tiled ? (lo + 7) / 8 * 8 : r1, t1 = tiled ? std::max(t0, (hi + 1) / 8 * 8) : r1;
    for (int64_t j0 = t0; j0 < t1; j0 += 8)
        for (int h0 = 0; h0 < group; h0 += ht) {
            if (ht == 2) kq_block_tiled<2>(kg, kv.k_row_elems, j0, hd, q_rows, h0, p.scale, w_rows);
            else kq_block_tiled<1>(kg, kv.k_row_elems, j0, hd, q_rows, h0, p.scale, w_rows);
        }
    for (int hh = 0; hh < group; ++hh) {
        float* w = w_of(hh);
        const float* qf = qf_of(hh);
        for (int64_t j = r0; j < r1; ++j) {
            if (j == t0 && t1 > t0) j = t1;  // done by the tiles
            if (j >= r1) break;
            if (j < lo || j > hi) {  // masked; keys past the history may not exist
                w[j] = kNegInf;
                continue;
            }
            const uint16_t* kj = kg + j * kv.k_row_elems;
            w[j] = (tiny_kq ? dot_f16_tiny(kj, qf, 0, hd) : dot_f16_ggml(kj, qf, 0, hd)) * p.scale;
        }
    }
    // ggml_vec_soft_max_f32: exp per 8 keys, each 8-lane sum added in double (keys outside [r0, r1) are
    // masked in llama.cpp too and add exact zeros). Then weights * (float)(1/sum), rounded to fp16.
    for (int hh = 0; hh < group; ++hh) {
        float* w = w_of(hh);
        float* pw = pw_of(hh);
        float mx = kNegInf;
        for (int64_t j = r0; j < r1; ++j) mx = std::max(mx, w[j]);
        const __m256 vmx = _mm256_set1_ps(mx);
        double sum = 0.0;
        for (int64_t j = r0; j < r1; j += 8) {
            const __m256 e = ggml_expf_avx2(_mm256_sub_ps(_mm256_loadu_ps(w + j), vmx));
            _mm256_storeu_ps(w + j, e);
            sum += (double)hsum8(e);
        }
        const __m256 inv = _mm256_set1_ps((float)(1.0 / sum));
        for (int64_t j = r0; j < r1; j += 8) {
            const __m128i h = _mm256_cvtps_ph(_mm256_mul_ps(_mm256_loadu_ps(w + j), inv), _MM_FROUND_TO_NEAREST_INT);
            _mm256_storeu_ps(pw + j, _mm256_cvtph_ps(h));
        }
    }
    // out = V^T p per head and dim (the reduced dimension is the padded key count: tinyBLAS always applies
    // to batches).
    const uint16_t* vg = kv.vt + (int64_t)g * hd * kv.vt_row_elems;
    int d_tiled = 0;
    if (tiles && batch && group <= kMaxGroup) {
        const int dt = ht == 2 ? 4 : 8;
        for (; d_tiled + dt <= hd; d_tiled += dt)
            for (int h0 = 0; h0 < group; h0 += ht) {
                if (ht == 2) pv_block_tiled<2>(vg, kv.vt_row_elems, d_tiled, r0, r1, p_rows, h0, out, q_head_stride);
                else pv_block_tiled<1>(vg, kv.vt_row_elems, d_tiled, r0, r1, p_rows, h0, out, q_head_stride);
            }
    }
    for (int d = d_tiled; d < hd; ++d) {
        const uint16_t* vd = vg + (int64_t)d * kv.vt_row_elems;
        for (int hh = 0; hh < group; ++hh)
            out[hh * q_head_stride + d] = batch ? dot_f16_tiny(vd, pw_of(hh), r0, r1) : dot_f16_ggml(vd, pw_of(hh), r0, r1);
    }
}

}  // namespace llm::cpu
