// AVX-512 kernel of the llama.cpp-arithmetic attention (see attention_ggml.hpp): one token x the query
// heads of one KV head. Keys / values are converted once for all heads of the group, and the per-score
// (per-output) horizontal sums of 16 keys (dims) at a time run as one transposed reduction that performs
// exactly the additions of _mm512_reduce_add_ps for each of them.
#pragma GCC diagnostic ignored "-Wuninitialized"
#ifndef __clang__  // clang has no -Wmaybe-uninitialized (and would warn about the unknown group)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "kernels/cpu/attention_ggml.hpp"
#include "kernels/cpu/ops_simd.hpp"

namespace llm::cpu {
namespace {

// Query heads per KV head the tiled loops take (larger groups run one score / output at a time).
constexpr int kMaxGroup = 64;

inline __m512 load_f16(const uint16_t* p) { return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p))); }

// ggml_vec_dot_f16 (vec.cpp, AVX-512): four 16-lane FMA accumulators over steps of 64 elements, reduced
// as (s0+s2)+(s1+s3), then to double; leftover elements added one by one as double. Here over [begin, end)
// of y's (already converted) values; elements outside contribute exact zeros in llama.cpp.
inline float dot_f16_ggml(const uint16_t* x, const float* y, int64_t begin, int64_t end) {
    __m512 s0 = _mm512_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
    const int64_t np = begin + ((end - begin) & ~(int64_t)63);
    for (int64_t i = begin; i < np; i += 64) {
        s0 = _mm512_fmadd_ps(load_f16(x + i), _mm512_loadu_ps(y + i), s0);
        s1 = _mm512_fmadd_ps(load_f16(x + i + 16), _mm512_loadu_ps(y + i + 16), s1);
        s2 = _mm512_fmadd_ps(load_f16(x + i + 32), _mm512_loadu_ps(y + i + 32), s2);
        s3 = _mm512_fmadd_ps(load_f16(x + i + 48), _mm512_loadu_ps(y + i + 48), s3);
    }
    double sum = (double)_mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(s0, s2), _mm512_add_ps(s1, s3)));
    for (int64_t i = np; i < end; ++i) sum += (double)(_cvtsh_ss(x[i]) * y[i]);
    return (float)sum;
}

// out[k] = _mm512_reduce_add_ps(v[k]) for 16 vectors, bit for bit: GCC's reduction adds lanes i and i+8,
// then i and i+4, then i and i+2, then 0 and 1; the same pairs are added here, 16 vectors at a time.
__m512 reduce_add_16(const __m512* v) {
    __m512 w[8], u[4], z[2];
    for (int k = 0; k < 8; ++k)  // [lanes 0-7 of v0 | of v1] + [lanes 8-15 of v0 | of v1]
        w[k] = _mm512_add_ps(_mm512_shuffle_f32x4(v[2 * k], v[2 * k + 1], 0x44),
                             _mm512_shuffle_f32x4(v[2 * k], v[2 * k + 1], 0xEE));
    for (int k = 0; k < 4; ++k)  // 128-bit blocks 0,2 of each + blocks 1,3
        u[k] = _mm512_add_ps(_mm512_shuffle_f32x4(w[2 * k], w[2 * k + 1], _MM_SHUFFLE(2, 0, 2, 0)),
                             _mm512_shuffle_f32x4(w[2 * k], w[2 * k + 1], _MM_SHUFFLE(3, 1, 3, 1)));
    for (int k = 0; k < 2; ++k)  // lanes 0,1 + lanes 2,3 of each block
        z[k] = _mm512_add_ps(_mm512_shuffle_ps(u[2 * k], u[2 * k + 1], _MM_SHUFFLE(1, 0, 1, 0)),
                             _mm512_shuffle_ps(u[2 * k], u[2 * k + 1], _MM_SHUFFLE(3, 2, 3, 2)));
    const __m512 r = _mm512_add_ps(_mm512_shuffle_ps(z[0], z[1], _MM_SHUFFLE(2, 0, 2, 0)),
                                   _mm512_shuffle_ps(z[0], z[1], _MM_SHUFFLE(3, 1, 3, 1)));
    // Lane 4b + m of r holds vector b + 4m.
    const __m512i idx = _mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15);
    return _mm512_permutexvar_ps(idx, r);
}

// tinyBLAS's per-output chains for A fp16 rows x B float rows: c[a][b] = one 16-lane FMA chain over [begin, end)
// of a[a] and b[b] (in steps of 16), not yet reduced. A tile runs the A x B chains together, so that each fp16
// vector is converted once for the B rows and each float vector loaded once for the A rows; every chain is
// unchanged, so the sums are bit-identical to one output at a time.
template <int A, int B>
[[gnu::always_inline]] inline void chain_tile(const uint16_t* const* a, const float* const* b, int64_t begin,
                                              int64_t end, __m512* out) {
    __m512 c[A][B];
    for (int i = 0; i < A; ++i)
        for (int k = 0; k < B; ++k) c[i][k] = _mm512_setzero_ps();
    for (int64_t x = begin; x < end; x += 16) {
        __m512 av[A];
        for (int i = 0; i < A; ++i) av[i] = load_f16(a[i] + x);
        for (int k = 0; k < B; ++k) {
            const __m512 bv = _mm512_loadu_ps(b[k] + x);
            for (int i = 0; i < A; ++i) c[i][k] = _mm512_fmadd_ps(av[i], bv, c[i][k]);
        }
    }
    for (int i = 0; i < A; ++i)
        for (int k = 0; k < B; ++k) out[k * 16 + i] = c[i][k];  // 16 vectors per head (b row)
}

// The 16 partial-sum vectors per head of 16 keys (scores: rows at `rows`, chains over head_dim) or 16 value dims
// (outputs: chains over the keys [begin, end)) for heads [h0, h0 + HT): 4 rows x 4 heads, 8 x 2 or 8 x 1 per tile.
template <int HT>
void block_tiled(const uint16_t* const* rows, const float* const* heads, int h0, int64_t begin, int64_t end,
                 __m512* part) {
    constexpr int RT = HT == 4 ? 4 : 8;
    for (int r0 = 0; r0 < 16; r0 += RT) chain_tile<RT, HT>(rows + r0, heads + h0, begin, end, part + h0 * 16 + r0);
}

// Heads [0, group) in tiles of 4, 2 or 1 (the widest that divides the group).
template <typename Fn>
void for_head_tiles(int group, Fn&& fn) {
    const int ht = group % 4 == 0 ? 4 : group % 2 == 0 ? 2 : 1;
    for (int h0 = 0; h0 < group; h0 += ht) fn(ht, h0);
}

}  // namespace

void ggml_attention_group_avx512(const float* q, int64_t q_head_stride, const GgmlKv& kv, int64_t n_pad,
                                 int32_t pos, bool batch, const AttentionParams& p, int g, float* out,
                                 float* scratch, bool tiles) {
    const int hd = p.head_dim, group = p.n_heads / p.n_kv_heads;
    // scratch: per head: scores/weights [n_pad], normalized fp16 weights as float [n_pad], q [hd];
    // then 16 vectors x group of partial sums.
    const int64_t per_head = 2 * n_pad + hd;
    auto w_of = [&](int hh) { return scratch + hh * per_head; };
    auto pw_of = [&](int hh) { return scratch + hh * per_head + n_pad; };
    auto qf_of = [&](int hh) { return scratch + hh * per_head + 2 * n_pad; };
    __m512* part = reinterpret_cast<__m512*>(scratch + group * per_head);  // 64-byte aligned by the caller
    for (int hh = 0; hh < group; ++hh)
        for (int d = 0; d < hd; ++d)
            qf_of(hh)[d] = _cvtsh_ss(_cvtss_sh(q[hh * q_head_stride + d], _MM_FROUND_TO_NEAREST_INT));

    // Keys in the window, and the step-aligned range of keys the dots visit.
    const int64_t lo = p.sliding_window > 0 ? std::max<int64_t>(0, (int64_t)pos - p.sliding_window + 1) : 0;
    const int64_t hi = pos;  // inclusive
    const int64_t step = batch ? 16 : 64;
    const int64_t r0 = lo / step * step, r1 = std::min(n_pad, (hi + step) / step * step);
    constexpr float kNegInf = -std::numeric_limits<float>::infinity();
    const uint16_t* kg = kv.k + (int64_t)g * hd;

    // Scores kq * scale, -inf outside the window.
    if (batch && hd % 16 == 0) {
        // tinyBLAS: per score one 16-lane FMA chain over head_dim, then a horizontal add (16 keys at once).
        const __m512 vscale = _mm512_set1_ps(p.scale);
        const float* q_rows[kMaxGroup];
        for (int hh = 0; hh < group && hh < kMaxGroup; ++hh) q_rows[hh] = qf_of(hh);
        for (int64_t j0 = r0; j0 < r1; j0 += 16) {
            if (tiles && group <= kMaxGroup && j0 >= lo && j0 + 15 <= hi) {  // all 16 keys in the window
                const uint16_t* keys[16];
                for (int jj = 0; jj < 16; ++jj) keys[jj] = kg + (j0 + jj) * kv.k_row_elems;
                for_head_tiles(group, [&](int ht, int h0) {
                    if (ht == 4) block_tiled<4>(keys, q_rows, h0, 0, hd, part);
                    else if (ht == 2) block_tiled<2>(keys, q_rows, h0, 0, hd, part);
                    else block_tiled<1>(keys, q_rows, h0, 0, hd, part);
                });
                for (int hh = 0; hh < group; ++hh)
                    _mm512_storeu_ps(w_of(hh) + j0, _mm512_mul_ps(reduce_add_16(part + hh * 16), vscale));
                continue;
            }
            for (int jj = 0; jj < 16; ++jj) {
                if (j0 + jj < lo || j0 + jj > hi) {  // masked below; keys past the history may not exist
                    for (int hh = 0; hh < group; ++hh) part[hh * 16 + jj] = _mm512_setzero_ps();
                    continue;
                }
                const uint16_t* kj = kg + (j0 + jj) * kv.k_row_elems;
                for (int hh = 0; hh < group; ++hh) {
                    const float* qf = qf_of(hh);
                    __m512 c = _mm512_setzero_ps();
                    for (int d = 0; d < hd; d += 16) c = _mm512_fmadd_ps(load_f16(kj + d), _mm512_loadu_ps(qf + d), c);
                    part[hh * 16 + jj] = c;
                }
            }
            const int64_t a = std::max<int64_t>(lo - j0, 0), b = std::min<int64_t>(hi + 1 - j0, 16);
            const __mmask16 in = (__mmask16)(((1u << b) - 1u) & ~((1u << a) - 1u));  // lanes [a, b) in the window
            for (int hh = 0; hh < group; ++hh) {
                const __m512 s = _mm512_mul_ps(reduce_add_16(part + hh * 16), vscale);
                _mm512_storeu_ps(w_of(hh) + j0, _mm512_mask_blend_ps(in, _mm512_set1_ps(kNegInf), s));
            }
        }
    } else {
        for (int hh = 0; hh < group; ++hh) {
            float* w = w_of(hh);
            for (int64_t j = r0; j < r1; ++j) {
                if (j < lo || j > hi) {
                    w[j] = kNegInf;
                    continue;
                }
                w[j] = dot_f16_ggml(kg + j * kv.k_row_elems, qf_of(hh), 0, hd) * p.scale;
            }
        }
    }
    // ggml_vec_soft_max_f32: exp per 16 keys, each 16-lane sum added in double; keys outside [r0, r1)
    // are masked in llama.cpp too and add exact zeros. Then weights * (float)(1/sum), rounded to fp16.
    for (int hh = 0; hh < group; ++hh) {
        float* w = w_of(hh);
        float* pw = pw_of(hh);
        __m512 vmx = _mm512_set1_ps(kNegInf);
        for (int64_t j = r0; j < r1; j += 16) vmx = _mm512_max_ps(vmx, _mm512_loadu_ps(w + j));
        vmx = _mm512_set1_ps(_mm512_reduce_max_ps(vmx));
        double sum = 0.0;
        for (int64_t j = r0; j < r1; j += 16) {
            const __m512 e = ggml_expf_avx512(_mm512_sub_ps(_mm512_loadu_ps(w + j), vmx));
            _mm512_storeu_ps(w + j, e);
            sum += (double)_mm512_reduce_add_ps(e);
        }
        const __m512 inv = _mm512_set1_ps((float)(1.0 / sum));
        for (int64_t j = r0; j < r1; j += 16) {
            const __m256i h = _mm512_cvtps_ph(_mm512_mul_ps(_mm512_loadu_ps(w + j), inv), _MM_FROUND_TO_NEAREST_INT);
            _mm512_storeu_ps(pw + j, _mm512_cvtph_ps(h));
        }
    }
    // out = V^T p per head and dim.
    const uint16_t* vg = kv.vt + (int64_t)g * hd * kv.vt_row_elems;
    if (batch && hd % 16 == 0) {
        // tinyBLAS: one FMA chain per output over the keys (V rows converted once for the group), then
        // horizontal adds 16 dims at once.
        const float* p_rows[kMaxGroup];
        for (int hh = 0; hh < group && hh < kMaxGroup; ++hh) p_rows[hh] = pw_of(hh);
        for (int d0 = 0; d0 < hd; d0 += 16) {
            if (tiles && group <= kMaxGroup) {
                const uint16_t* values[16];
                for (int dd = 0; dd < 16; ++dd) values[dd] = vg + (int64_t)(d0 + dd) * kv.vt_row_elems;
                for_head_tiles(group, [&](int ht, int h0) {
                    if (ht == 4) block_tiled<4>(values, p_rows, h0, r0, r1, part);
                    else if (ht == 2) block_tiled<2>(values, p_rows, h0, r0, r1, part);
                    else block_tiled<1>(values, p_rows, h0, r0, r1, part);
                });
                for (int hh = 0; hh < group; ++hh)
                    _mm512_storeu_ps(out + hh * q_head_stride + d0, reduce_add_16(part + hh * 16));
                continue;
            }
            for (int dd = 0; dd < 16; ++dd) {
                const uint16_t* vd = vg + (int64_t)(d0 + dd) * kv.vt_row_elems;
                int hh = 0;
                for (; hh + 4 <= group; hh += 4) {
                    __m512 c0 = _mm512_setzero_ps(), c1 = c0, c2 = c0, c3 = c0;
                    const float *p0 = pw_of(hh), *p1 = pw_of(hh + 1), *p2 = pw_of(hh + 2), *p3 = pw_of(hh + 3);
                    for (int64_t j = r0; j < r1; j += 16) {
                        const __m512 v = load_f16(vd + j);
                        c0 = _mm512_fmadd_ps(v, _mm512_loadu_ps(p0 + j), c0);
                        c1 = _mm512_fmadd_ps(v, _mm512_loadu_ps(p1 + j), c1);
                        c2 = _mm512_fmadd_ps(v, _mm512_loadu_ps(p2 + j), c2);
                        c3 = _mm512_fmadd_ps(v, _mm512_loadu_ps(p3 + j), c3);
                    }
                    part[hh * 16 + dd] = c0, part[(hh + 1) * 16 + dd] = c1;
                    part[(hh + 2) * 16 + dd] = c2, part[(hh + 3) * 16 + dd] = c3;
                }
                for (; hh < group; ++hh) {
                    __m512 c = _mm512_setzero_ps();
                    const float* ph = pw_of(hh);
                    for (int64_t j = r0; j < r1; j += 16) c = _mm512_fmadd_ps(load_f16(vd + j), _mm512_loadu_ps(ph + j), c);
                    part[hh * 16 + dd] = c;
                }
            }
            for (int hh = 0; hh < group; ++hh)
                _mm512_storeu_ps(out + hh * q_head_stride + d0, reduce_add_16(part + hh * 16));
        }
    } else {
        for (int hh = 0; hh < group; ++hh)
            for (int d = 0; d < hd; ++d) {
                const uint16_t* vd = vg + (int64_t)d * kv.vt_row_elems;
                if (batch) {  // tinyBLAS element with head_dim not a multiple of 16 (keys still are)
                    __m512 c = _mm512_setzero_ps();
                    for (int64_t j = r0; j < r1; j += 16) c = _mm512_fmadd_ps(load_f16(vd + j), _mm512_loadu_ps(pw_of(hh) + j), c);
                    out[hh * q_head_stride + d] = _mm512_reduce_add_ps(c);
                } else {
                    out[hh * q_head_stride + d] = dot_f16_ggml(vd, pw_of(hh), r0, r1);
                }
            }
    }
}

}  // namespace llm::cpu
