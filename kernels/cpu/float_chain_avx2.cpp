// The float GEMM on AVX2 + FMA + F16C (see float_chain.hpp for the order every output follows). Lane r of an
// accumulator is the chain of weight row r; step i multiplies the vector of 16 rows' element i by the broadcast
// activation i: 16-row x kKc-column blocks of the weights transposed once per call into a float panel (or converted
// from the panels interleaved at load), the activations packed 6 tokens at a time, then a 16-row x 6-token
// micro-kernel (12 accumulators, 2 panel loads + 6 broadcasts per 12 FMAs) for every token; partial sums go through y
// between column blocks. Matrices interleaved at load also run few tokens straight from their panels (direct_rows),
// and the load-time interleaving itself is here (pack_panels).
#include <immintrin.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "core/fp16.hpp"
#include "core/openmp.hpp"
#include "kernels/cpu/float_chain.hpp"

namespace llm::cpu {
namespace {

constexpr int64_t kKc = 512;  // columns per packed block: 16 rows x 512 floats = 32 KiB (measured best of 256-1024)
constexpr int kGemmTokens = 6;  // tokens per micro-kernel call

// ---- 8 rows x 16 columns to 16 column vectors (col[j] lane r = float(w[r][k + j])) ----

// 16-bit elements: the 8 rows' 32-byte loads transposed within each 128-bit lane (halves 0-7 in the low lane, 8-15
// in the high one): afterwards v[j] holds column j in its low lane and column j + 8 in its high lane.
inline void transpose_halves(const uint8_t* const* rows, int64_t k, __m256i v[8]) {
    __m256i r[8], t[8], u[8];
#pragma GCC unroll 16
    for (int i = 0; i < 8; ++i) r[i] = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(rows[i] + 2 * k));
#pragma GCC unroll 16
    for (int i = 0; i < 4; ++i) {
        t[2 * i] = _mm256_unpacklo_epi16(r[2 * i], r[2 * i + 1]);      // cols 0-3 of rows 2i, 2i+1
        t[2 * i + 1] = _mm256_unpackhi_epi16(r[2 * i], r[2 * i + 1]);  // cols 4-7
    }
#pragma GCC unroll 16
    for (int h = 0; h < 2; ++h) {  // rows 0-3 (h = 0) and 4-7 (h = 1)
        u[4 * h + 0] = _mm256_unpacklo_epi32(t[4 * h], t[4 * h + 2]);      // cols 0, 1
        u[4 * h + 1] = _mm256_unpackhi_epi32(t[4 * h], t[4 * h + 2]);      // cols 2, 3
        u[4 * h + 2] = _mm256_unpacklo_epi32(t[4 * h + 1], t[4 * h + 3]);  // cols 4, 5
        u[4 * h + 3] = _mm256_unpackhi_epi32(t[4 * h + 1], t[4 * h + 3]);  // cols 6, 7
    }
#pragma GCC unroll 16
    for (int c = 0; c < 4; ++c) {
        v[2 * c] = _mm256_unpacklo_epi64(u[c], u[4 + c]);
        v[2 * c + 1] = _mm256_unpackhi_epi64(u[c], u[4 + c]);
    }
}

struct F16Rows {
    static constexpr size_t kElem = 2;
    static __m256 widen(__m128i h) { return _mm256_cvtph_ps(h); }
    static __m256 load8(const uint8_t* p) { return widen(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p))); }
    static float scalar(const uint8_t* row, int64_t i) {
        uint16_t h;
        std::memcpy(&h, row + 2 * i, 2);
        return fp16_to_fp32(h);
    }
};

struct BF16Rows {
    static constexpr size_t kElem = 2;
    static __m256 widen(__m128i h) { return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16)); }
    static __m256 load8(const uint8_t* p) { return widen(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p))); }
    static float scalar(const uint8_t* row, int64_t i) {
        uint16_t h;
        std::memcpy(&h, row + 2 * i, 2);
        return bf16_to_fp32(h);
    }
};

// Column j (0-15) of the block transposed by transpose_halves.
template <class L>
inline __m256 half_column(const __m256i v[8], int j) {
    return L::widen(j < 8 ? _mm256_castsi256_si128(v[j]) : _mm256_extracti128_si256(v[j - 8], 1));
}

struct F32Rows {
    static constexpr size_t kElem = 4;
    static __m256 load8(const uint8_t* p) { return _mm256_loadu_ps(reinterpret_cast<const float*>(p)); }
    static float scalar(const uint8_t* row, int64_t i) {
        float f;
        std::memcpy(&f, row + 4 * i, 4);
        return f;
    }
};

// 8 rows x 8 floats from column k: col[j] lane r = w[r][k + j].
inline void transpose_floats(const uint8_t* const* rows, int64_t k, __m256 col[8]) {
    __m256 r[8], t[8], s[8];
#pragma GCC unroll 16
    for (int i = 0; i < 8; ++i) r[i] = _mm256_loadu_ps(reinterpret_cast<const float*>(rows[i]) + k);
#pragma GCC unroll 16
    for (int i = 0; i < 4; ++i) {
        t[2 * i] = _mm256_unpacklo_ps(r[2 * i], r[2 * i + 1]);
        t[2 * i + 1] = _mm256_unpackhi_ps(r[2 * i], r[2 * i + 1]);
    }
#pragma GCC unroll 16
    for (int h = 0; h < 2; ++h) {
        s[4 * h + 0] = _mm256_shuffle_ps(t[4 * h], t[4 * h + 2], 0x44);
        s[4 * h + 1] = _mm256_shuffle_ps(t[4 * h], t[4 * h + 2], 0xEE);
        s[4 * h + 2] = _mm256_shuffle_ps(t[4 * h + 1], t[4 * h + 3], 0x44);
        s[4 * h + 3] = _mm256_shuffle_ps(t[4 * h + 1], t[4 * h + 3], 0xEE);
    }
#pragma GCC unroll 16
    for (int c = 0; c < 4; ++c) {
        col[c] = _mm256_permute2f128_ps(s[c], s[4 + c], 0x20);
        col[c + 4] = _mm256_permute2f128_ps(s[c], s[4 + c], 0x31);
    }
}

// Calls f(j, column vector) for the 16 columns k .. k + 15 of 8 rows, in order.
template <class L, class F>
inline void for_16_columns(const uint8_t* const* rows, int64_t k, F&& f) {
    if constexpr (L::kElem == 2) {
        __m256i v[8];
        transpose_halves(rows, k, v);
#pragma GCC unroll 16
        for (int j = 0; j < 16; ++j) f(j, half_column<L>(v, j));
    } else {
        __m256 c[8];
        transpose_floats(rows, k, c);
#pragma GCC unroll 16
        for (int j = 0; j < 8; ++j) f(j, c[j]);
        transpose_floats(rows, k + 8, c);
#pragma GCC unroll 16
        for (int j = 0; j < 8; ++j) f(8 + j, c[j]);
    }
}

// Column k of 8 rows, one element at a time (the last n % 16 columns).
template <class L>
inline __m256 scalar_column(const uint8_t* const* rows, int64_t k) {
    alignas(32) float c[8];
#pragma GCC unroll 16
    for (int r = 0; r < 8; ++r) c[r] = L::scalar(rows[r], k);
    return _mm256_load_ps(c);
}

// The pointers of the 8 rows from r0; rows past n_out repeat the last row (their lanes are never stored), so no load
// goes past the matrix.
inline void group_rows(const TensorView& w, int64_t r0, const uint8_t* rows[8]) {
    const int64_t n_out = w.ne[1];
    for (int r = 0; r < 8; ++r) rows[r] = w.row(std::min(r0 + r, n_out - 1));
}

// ---- interleaved panels (float_chain.hpp's layout), made once at load ----

// Panels [p0, p1) of w's rows into dst: 8 rows x 16 columns transposed in registers at a time.
template <class L>
void pack_panels(const TensorView& w, int64_t p0, int64_t p1, uint8_t* dst) {
    constexpr size_t E = L::kElem;
    const int64_t n_in = w.ne[0], n_out = w.ne[1], n16 = n_in - n_in % 16;
    for (int64_t p = p0; p < p1; ++p) {
        uint8_t* pan = dst + (size_t)p * (size_t)n_in * 16 * E;
        const uint8_t* rows[2][8];
        group_rows(w, 16 * p, rows[0]);
        group_rows(w, 16 * p + 8, rows[1]);
        for (int64_t i = 0; i < n16; i += 16)
            for (int g = 0; g < 2; ++g) {
                if constexpr (E == 2) {
                    __m256i v[8];
                    transpose_halves(rows[g], i, v);
                    for (int j = 0; j < 8; ++j) {
                        _mm_storeu_si128(reinterpret_cast<__m128i*>(pan + ((i + j) * 16 + 8 * g) * E), _mm256_castsi256_si128(v[j]));
                        _mm_storeu_si128(reinterpret_cast<__m128i*>(pan + ((i + j + 8) * 16 + 8 * g) * E),
                                         _mm256_extracti128_si256(v[j], 1));
                    }
                } else {
                    for (int h = 0; h < 2; ++h) {
                        __m256 c[8];
                        transpose_floats(rows[g], i + 8 * h, c);
                        for (int j = 0; j < 8; ++j) _mm256_storeu_ps(reinterpret_cast<float*>(pan) + (i + 8 * h + j) * 16 + 8 * g, c[j]);
                    }
                }
            }
        for (int64_t i = n16; i < n_in; ++i)
            for (int r = 0; r < 16; ++r) std::memcpy(pan + (i * 16 + r) * E, rows[r / 8][r % 8] + i * E, E);
        const int64_t valid = std::min<int64_t>(16, n_out - 16 * p);
        if (valid < 16)  // rows past n_out (group_rows repeated the last one): zeros
            for (int64_t i = 0; i < n_in; ++i) std::memset(pan + (i * 16 + valid) * E, 0, (size_t)(16 - valid) * E);
    }
}

// ---- few tokens straight from the interleaved panels ----

// P consecutive panels x T tokens over all n_in columns: lane r of acc[p][h][t] is the chain of row 16p + 8h + r for
// token t, fed column by column from the weight-type panels (one load per 8 rows' element, T broadcasts per column):
// 2PT accumulators + T broadcasts + 2 weight vectors must fit the 16 registers (P = 2, T = 3 spilled one accumulator
// to the stack and ran at half speed). Results to y[t * ldy + r] for the rows r < valid of the P panels (valid
// counted from the first).
template <class L, int P, int T>
void direct_panels(const uint8_t* pan, int64_t n_in, const float* x, int64_t ldx, float* y, int64_t ldy, int64_t valid) {
    constexpr size_t E = L::kElem;
    const size_t pan_bytes = (size_t)n_in * 16 * E;
    __m256 acc[P][2][T];
#pragma GCC unroll 16
    for (int p = 0; p < P; ++p)
#pragma GCC unroll 16
        for (int h = 0; h < 2; ++h)
#pragma GCC unroll 16
            for (int t = 0; t < T; ++t) acc[p][h][t] = _mm256_setzero_ps();
    for (int64_t i = 0; i < n_in; ++i) {
#pragma GCC unroll 16
        for (int p = 0; p < P; ++p) {
            const __m256 w0 = L::load8(pan + p * pan_bytes + (size_t)i * 16 * E);
            const __m256 w1 = L::load8(pan + p * pan_bytes + ((size_t)i * 16 + 8) * E);
#pragma GCC unroll 16
            for (int t = 0; t < T; ++t) {
                const __m256 b = _mm256_broadcast_ss(x + t * ldx + i);
                acc[p][0][t] = _mm256_fmadd_ps(w0, b, acc[p][0][t]);
                acc[p][1][t] = _mm256_fmadd_ps(w1, b, acc[p][1][t]);
            }
        }
    }
#pragma GCC unroll 16
    for (int p = 0; p < P; ++p)
#pragma GCC unroll 16
        for (int t = 0; t < T; ++t) {
            const int64_t rows = std::min<int64_t>(16, valid - 16 * p);
            if (rows <= 0) continue;
            float* out = y + t * ldy + 16 * p;
            if (rows == 16) {
                _mm256_storeu_ps(out, acc[p][0][t]);
                _mm256_storeu_ps(out + 8, acc[p][1][t]);
                continue;
            }
            alignas(32) float tmp[16];
            _mm256_store_ps(tmp, acc[p][0][t]);
            _mm256_store_ps(tmp + 8, acc[p][1][t]);
            std::memcpy(out, tmp, (size_t)rows * sizeof(float));
        }
}

// Panels [p0, p1) for every token, a group of panels at a time: 4 for one token, else 3 with passes of 2 tokens (the
// group's panels come from L2 again after the first pass). Several panels per kernel because each is a stream of its
// own and one stream per core reads DRAM well below what 3-4 do. Measured on Zen 4 capped to AVX2, one thread, F16
// 2048 x 5632 from DRAM, GB/s of weights, panels / the rows' vec_dot: 1 token 21-22 / 19-20 (2 panels per kernel:
// 19-20), 2 tokens 19-21 / 15, 3 tokens 15-16 / 10-11; from L2 (2048 x 96) 2 tokens 55 (112 GFLOP/s), 15 tokens 7.5
// (112 GFLOP/s: as fast as the packed GEMM, whose copies only pay off from more tokens).
template <class L>
void direct_rows(const TensorView& w, int64_t p0, int64_t p1, const float* x, int64_t n_tokens, float* y) {
    const int64_t n_in = w.ne[0], n_out = w.ne[1];
    const size_t pan_bytes = (size_t)n_in * 16 * L::kElem;
    const auto* panels = static_cast<const uint8_t*>(w.panels);
    const int64_t group = n_tokens == 1 ? 4 : 3;
    const int pass = n_tokens == 1 ? 1 : 2;
    using std::integral_constant;
    for (int64_t p = p0; p < p1; p += group) {
        const int g = (int)std::min<int64_t>(group, p1 - p);
        for (int64_t t0 = 0; t0 < n_tokens; t0 += pass) {
            const int m = (int)std::min<int64_t>(pass, n_tokens - t0);
            auto run = [&](auto P, auto T) {
                direct_panels<L, decltype(P)::value, decltype(T)::value>(panels + (size_t)p * pan_bytes, n_in,
                                                                         x + t0 * n_in, n_in, y + t0 * n_out + 16 * p,
                                                                         n_out, n_out - 16 * p);
            };
            switch (g * 4 + m) {  // (panels, tokens): at most 12 accumulators, 16 registers in all
                case 4 + 1: run(integral_constant<int, 1>{}, integral_constant<int, 1>{}); break;
                case 4 + 2: run(integral_constant<int, 1>{}, integral_constant<int, 2>{}); break;
                case 8 + 1: run(integral_constant<int, 2>{}, integral_constant<int, 1>{}); break;
                case 8 + 2: run(integral_constant<int, 2>{}, integral_constant<int, 2>{}); break;
                case 12 + 1: run(integral_constant<int, 3>{}, integral_constant<int, 1>{}); break;
                case 12 + 2: run(integral_constant<int, 3>{}, integral_constant<int, 2>{}); break;
                default: run(integral_constant<int, 4>{}, integral_constant<int, 1>{}); break;  // 4 panels, 1 token
            }
        }
    }
}

// ---- gemm: packed 16-row panels ----

// panel[i * 16 + r] = float(w[r0 + r][k0 + i]) for i < kc (rows past n_out repeat the last row).
template <class L>
void pack_panel(const TensorView& w, int64_t r0, int64_t k0, int64_t kc, float* panel) {
    const uint8_t* rows[2][8];
    group_rows(w, r0, rows[0]);
    group_rows(w, r0 + 8, rows[1]);
    const int64_t kc16 = kc - kc % 16;
    for (int64_t i = 0; i < kc16; i += 16)
        for (int g = 0; g < 2; ++g)
            for_16_columns<L>(rows[g], k0 + i, [&](int j, __m256 c) { _mm256_store_ps(panel + (i + j) * 16 + 8 * g, c); });
    for (int64_t i = kc16; i < kc; ++i)
        for (int g = 0; g < 2; ++g) _mm256_store_ps(panel + i * 16 + 8 * g, scalar_column<L>(rows[g], k0 + i));
}

// The 16 rows' chains of T tokens over the panel's kc columns (activation i of token t at x[6 i + t]): in from
// c[t * ldc + r] (zero when `first`), out to it.
template <int T>
void micro_kernel(const float* panel, int64_t kc, const float* x, float* c, int64_t ldc, bool first) {
    __m256 a0[T], a1[T];
    // Unrolled: GCC otherwise keeps the accumulators on the stack.
#pragma GCC unroll 8
    for (int t = 0; t < T; ++t) {
        a0[t] = first ? _mm256_setzero_ps() : _mm256_loadu_ps(c + t * ldc);
        a1[t] = first ? _mm256_setzero_ps() : _mm256_loadu_ps(c + t * ldc + 8);
    }
    for (int64_t i = 0; i < kc; ++i) {
        const __m256 w0 = _mm256_load_ps(panel + 16 * i), w1 = _mm256_load_ps(panel + 16 * i + 8);
#pragma GCC unroll 8
        for (int t = 0; t < T; ++t) {
            const __m256 b = _mm256_broadcast_ss(x + kGemmTokens * i + t);
            a0[t] = _mm256_fmadd_ps(w0, b, a0[t]);
            a1[t] = _mm256_fmadd_ps(w1, b, a1[t]);
        }
    }
#pragma GCC unroll 8
    for (int t = 0; t < T; ++t) {
        _mm256_storeu_ps(c + t * ldc, a0[t]);
        _mm256_storeu_ps(c + t * ldc + 8, a1[t]);
    }
}

using MicroKernel = void (*)(const float*, int64_t, const float*, float*, int64_t, bool);
constexpr MicroKernel kMicro[kGemmTokens + 1] = {nullptr,         micro_kernel<1>, micro_kernel<2>, micro_kernel<3>,
                                                 micro_kernel<4>, micro_kernel<5>, micro_kernel<6>};

// The calling thread's buffer of at least n floats, 32-byte aligned, reused across calls (`which` tells apart the
// weight panel and the packed activations).
float* thread_buffer(int which, size_t n) {
    thread_local std::vector<float> buf[2];
    if (buf[which].size() < n + 8) buf[which].resize(n + 8);
    const uintptr_t p = reinterpret_cast<uintptr_t>(buf[which].data());
    return reinterpret_cast<float*>((p + 31) & ~(uintptr_t)31);
}

// Columns [k0, k0 + kc) of every token, tile by tile of 6 tokens: xp[(tile * kc + i) * 6 + t] = x[tile * 6 + t][k0 + i]
// (zeros past the last token), so the micro-kernel's broadcasts read one contiguous stream.
void pack_tokens(const float* x, int64_t n_in, int64_t n_tokens, int64_t k0, int64_t kc, float* xp) {
    for (int64_t t0 = 0; t0 < n_tokens; t0 += kGemmTokens) {
        float* dst = xp + t0 * kc;
        for (int t = 0; t < kGemmTokens; ++t) {
            if (t0 + t >= n_tokens) {
                for (int64_t i = 0; i < kc; ++i) dst[i * kGemmTokens + t] = 0.0f;
                continue;
            }
            const float* src = x + (t0 + t) * n_in + k0;
            for (int64_t i = 0; i < kc; ++i) dst[i * kGemmTokens + t] = src[i];
        }
    }
}

// Panels [p0, p1) of 16 rows for every token.
template <class L>
void gemm_panels(const TensorView& w, int64_t p0, int64_t p1, const float* x, int64_t n_tokens, float* y) {
    const int64_t n_in = w.ne[0], n_out = w.ne[1];
    const int64_t n_tiles = (n_tokens + kGemmTokens - 1) / kGemmTokens;
    float* panel = thread_buffer(0, 16 * kKc);
    float* xp = thread_buffer(1, (size_t)(n_tiles * kGemmTokens * kKc));
    for (int64_t k0 = 0; k0 < n_in; k0 += kKc) {
        const int64_t kc = std::min(kKc, n_in - k0);
        pack_tokens(x, n_in, n_tokens, k0, kc, xp);
        for (int64_t p = p0; p < p1; ++p) {
            const int64_t r0 = 16 * p;
            const int valid = (int)std::min<int64_t>(16, n_out - r0);
            const float* block = panel;
            if (!w.panels) {
                pack_panel<L>(w, r0, k0, kc, panel);
            } else if constexpr (L::kElem == 4) {  // F32 panels are the packed layout already
                block = static_cast<const float*>(w.panels) + ((size_t)p * n_in + k0) * 16;
            } else {  // the interleaved columns k0 .. k0 + kc - 1, contiguous: converted to float
                const uint8_t* src = static_cast<const uint8_t*>(w.panels) + ((size_t)p * n_in + k0) * 16 * L::kElem;
                for (int64_t i = 0; i < 16 * kc; i += 8) _mm256_store_ps(panel + i, L::load8(src + i * L::kElem));
            }
            for (int64_t t = 0; t < n_tokens; t += kGemmTokens) {
                const int m = (int)std::min<int64_t>(kGemmTokens, n_tokens - t);
                const float* xt = xp + t * kc;
                float* yt = y + t * n_out + r0;
                // The next tile's partial sums (from L3 for big matrices) while this tile computes.
                if (k0 > 0)
                    for (int64_t i = 0; i < std::min<int64_t>(kGemmTokens, n_tokens - t - kGemmTokens); ++i) {
                        const float* c = yt + (kGemmTokens + i) * n_out;
                        _mm_prefetch(reinterpret_cast<const char*>(c), _MM_HINT_T0);
                        _mm_prefetch(reinterpret_cast<const char*>(c + 15), _MM_HINT_T0);
                    }
                if (valid == 16) {
                    kMicro[m](block, kc, xt, yt, n_out, k0 == 0);
                    continue;
                }
                // The last panel of a matrix whose row count is not a multiple of 16: through a 16-wide copy.
                alignas(32) float acc[kGemmTokens * 16];
                if (k0 > 0)
                    for (int i = 0; i < m; ++i) std::memcpy(acc + 16 * i, yt + i * n_out, valid * sizeof(float));
                kMicro[m](block, kc, xt, acc, 16, k0 == 0);
                for (int i = 0; i < m; ++i) std::memcpy(yt + i * n_out, acc + 16 * i, valid * sizeof(float));
            }
        }
    }
}

// Panels [p0, p1): straight from the interleaved panels for few tokens, else through the packed GEMM.
template <class L>
void run_panels(const TensorView& w, int64_t p0, int64_t p1, const float* x, int64_t n_tokens, float* y) {
    if (w.panels && n_tokens <= kFloatPanelsDirectMaxTokens) direct_rows<L>(w, p0, p1, x, n_tokens, y);
    else gemm_panels<L>(w, p0, p1, x, n_tokens, y);
}

template <class L>
void matmul_rows(const TensorView& w, const float* x, int64_t n_tokens, float* y, int n_threads) {
    const int64_t panels = (w.ne[1] + 15) / 16;
    const int nt = (int)std::min<int64_t>(std::max(n_threads, 1), panels);
    if (nt <= 1) {
        run_panels<L>(w, 0, panels, x, n_tokens, y);
        return;
    }
#pragma omp parallel num_threads(nt)
    {
        const int64_t n = omp_get_num_threads(), i = omp_get_thread_num();
        if (panels * i / n < panels * (i + 1) / n) run_panels<L>(w, panels * i / n, panels * (i + 1) / n, x, n_tokens, y);
    }
}

template <class L>
void pack_all_panels(const TensorView& w, uint8_t* dst, int n_threads) {
    const int64_t panels = (w.ne[1] + 15) / 16;
#pragma omp parallel for num_threads(std::max(1, n_threads)) schedule(static)
    for (int64_t p = 0; p < panels; ++p) pack_panels<L>(w, p, p + 1, dst);
}

}  // namespace

void float_chain_matmul_avx2(const TensorView& w, const float* x, int64_t n_tokens, float* y, int n_threads) {
    if (n_tokens <= 0 || w.ne[1] <= 0) return;
    switch (w.type) {
        case DType::F16: matmul_rows<F16Rows>(w, x, n_tokens, y, n_threads); return;
        case DType::BF16: matmul_rows<BF16Rows>(w, x, n_tokens, y, n_threads); return;
        case DType::F32: matmul_rows<F32Rows>(w, x, n_tokens, y, n_threads); return;
        default: break;
    }
}

void float_panels_pack_avx2(const TensorView& w, void* dst, int n_threads) {
    auto* d = static_cast<uint8_t*>(dst);
    switch (w.type) {
        case DType::F16: pack_all_panels<F16Rows>(w, d, n_threads); return;
        case DType::BF16: pack_all_panels<BF16Rows>(w, d, n_threads); return;
        case DType::F32: pack_all_panels<F32Rows>(w, d, n_threads); return;
        default: break;
    }
}

}  // namespace llm::cpu
