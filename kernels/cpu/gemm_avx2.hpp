// The AVX2 GEMM micro-kernel and packers, for CPUs without AVX-512 VNNI. Included by gemm_avx2.cpp and by
// gemm_avxvnni.cpp (the same kernel with vpdpbusd on ymm for the integer sums), each compiling its own copy
// with its own flags (internal linkage, as gemm_pack.hpp). The panel and tile formats are gemm.hpp's: a
// 64-byte panel vector holds 4 consecutive k of 16 rows, its two 32-byte halves rows 0-7 and 8-15, so
// vpmaddubsw + vpmaddwd(ones) on a half gives vpdpbusd's int32 lanes for 8 rows.
//
// vpmaddubsw adds each pair of u8*s8 products into an int16 with saturation, so the exact integer sums the
// scalar kernel defines need care per type (activations are |a| <= 127, see vec_dot.hpp):
//  - Int16, u <= 63 (Q4_*, Q5_*, Q2_K..Q6_K): a pair is at most 2*u*127 <= 16002, so G = 32767 / (2*umax*127)
//    consecutive vpmaddubsw results (G quads: 8 for 4-bit u, 4 for 5-bit, 2 for 6-bit) are summed in int16
//    (vpaddw, exact) before one vpmaddwd by ones widens them to int32: 2 instructions per 32 MACs.
//  - Wide, u up to 255 (Q8_0, IQ4_NL, IQ4_XS: offset 128), which would saturate: the panel holds int16
//    w = u - 128 and the tile int16 activations (gemm.hpp's wide formats), multiplied by vpmaddwd (pairs of
//    int16 products into int32, exact): 2 vpmaddwd + 2 vpaddd per 32 MACs and no widening, no offset term.
//    Measured on Zen 4 (one core, kernel alone, L1-resident) against the alternatives on the u8 formats:
//    ~76 GMAC/s, vs 65-68 for u = 16*hi + lo (two int16-summed 4-bit halves: 2 vpmaddubsw + 2 vpaddw per 32
//    MACs plus the split and a double widening) and ~60 for the usual sign trick, vpmaddubsw(|w|, sign(a, w))
//    (vpsignb, vpmaddubsw and vpmaddwd per 32 MACs, all three on the two multiply ports of Zen 4 and Intel
//    cores). The price: 2.25 bytes per packed weight instead of 1.25, and twice the activation tile.
//  - Dpbusd (AVX-VNNI): vpdpbusd has no intermediate saturation: 1 instruction per 32 MACs for every type.
// The integer sums are exact, and the float epilogue per sub-block is kernel_scalar's (gemm_scalar.cpp)
// operation for operation, so results are bit-identical to it (and to the AVX-512 kernel).
//
// Register blocking (16 ymm): a pass covers both 8-row halves x H tokens of the 16-row x 8-token block for
// one sub-block, holding 2*H sums (int16 partial sums for Int16, plus 2*H int32 sums when a sub-block has
// several int16 groups), 2 weight vectors (4 for Wide) and one broadcast activation (2 for Wide). H = 4 (8
// accumulators; 2 weight loads + 4 broadcasts per 8 multiplies) except H = 2 for the multi-group Int16 types
// (Q5_*, Q6_K). The float accumulators (16 rows x 8 tokens, and the K-quants' per-super-block partial
// sums) live in a 512-byte stack array that stays in L1: one load + store per 8 outputs and sub-block,
// against 4-8 multiplies.

#pragma once
#include <immintrin.h>

#include <cstddef>
#include <type_traits>

#include "kernels/cpu/gemm_pack.hpp"
#include "kernels/cpu/kquant_lanes_avx2.hpp"
#include "kernels/cpu/vec_dot_avx2.hpp"

namespace llm::cpu::gemm_detail {
namespace {

inline __m256i load256(const uint8_t* p) { return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)); }
// Pins a running sum in a register at this point: without it GCC reassociates the chains of integer adds
// into trees whose terms (16 vpmaddubsw results) are all live at once and spill. Emits nothing.
inline void keep(__m256i& v) { __asm__("" : "+x"(v)); }

// vbroadcastss from memory: a pure load (no trip through a general register).
inline __m256 bcastf(const uint8_t* p) { return _mm256_broadcast_ss(reinterpret_cast<const float*>(p)); }
inline __m256i bcast32(const uint8_t* p) { return _mm256_castps_si256(bcastf(p)); }

// The largest packed byte per type (bounds the int16 pair sums; see the file comment).
constexpr int umax_of(DType t) {
    switch (t) {
        case DType::Q2_K: return 3;
        case DType::Q3_K: return 7;
        case DType::Q4_0: case DType::Q4_1: case DType::Q4_K: return 15;
        case DType::Q5_0: case DType::Q5_1: case DType::Q5_K: return 31;
        case DType::Q6_K: return 63;
        default: return 255;
    }
}
// How a type's integer sums are formed (see the file comment): Int16 for u <= 63, in groups of G quads;
// Wide (int16 formats) for the others; Dpbusd (AVX-VNNI) for all when Vnni. A pass: 2 8-row halves x H tokens.
enum class Mode { Int16, Wide, Dpbusd };
template <DType Ty, int SB, bool Vnni>
struct Plan {
    static constexpr int umax = umax_of(Ty);
    static constexpr Mode mode = Vnni ? Mode::Dpbusd : umax <= 63 ? Mode::Int16 : Mode::Wide;
    static constexpr int G = mode == Mode::Int16 ? 32767 / (2 * umax * 127) : SB / 4;
    static constexpr int H = G < SB / 4 ? 2 : 4;
};

// vpdpbusd for the Dpbusd mode, given by the file compiled with AVX-VNNI (gemm_avxvnni.cpp); a template
// so that the AVX2 file, which cannot name the instruction, never instantiates it.
template <bool Vnni>
struct Dot;

// Integer sums of one sub-block for both 8-row halves and H tokens starting at a (tile + 4*h0 bytes, 8*h0
// for Wide): s[v][t] = sum over the sub-block of u*a (w*a for Wide) for the rows of half v and token t.
template <int SB, Mode M, int G, int H>
inline void sub_block_sums(const uint8_t* w, const uint8_t* a, __m256i (&s)[2][H]) {
    constexpr int T = kGemmTokens, Q = SB / 4;
    const __m256i ones = _mm256_set1_epi16(1);
    if constexpr (M == Mode::Dpbusd) {
        for (int v = 0; v < 2; ++v)
            for (int t = 0; t < H; ++t) s[v][t] = _mm256_setzero_si256();
#pragma GCC unroll 16
        for (int q = 0; q < Q; ++q) {
            const __m256i w0 = load256(w + 64 * q), w1 = load256(w + 64 * q + 32);
#pragma GCC unroll 8
            for (int t = 0; t < H; ++t) {
                const __m256i av = bcast32(a + 4 * T * q + 4 * t);
                s[0][t] = Dot<M == Mode::Dpbusd>::dpbusd(s[0][t], w0, av);
                s[1][t] = Dot<M == Mode::Dpbusd>::dpbusd(s[1][t], w1, av);
            }
        }
    } else if constexpr (M == Mode::Wide) {
        // Per 4-k group and half v: [8 rows][k0, k1] and [8 rows][k2, k3] int16 against the token's (a0, a1)
        // and (a2, a3) int16 pairs.
#pragma GCC unroll 16
        for (int q = 0; q < Q; ++q) {
            __m256i w01[2], w23[2];
            for (int v = 0; v < 2; ++v) {
                w01[v] = load256(w + 128 * q + 64 * v);
                w23[v] = load256(w + 128 * q + 64 * v + 32);
            }
#pragma GCC unroll 8
            for (int t = 0; t < H; ++t) {
                const __m256i a01 = bcast32(a + 8 * T * q + 8 * t), a23 = bcast32(a + 8 * T * q + 8 * t + 4);
                for (int v = 0; v < 2; ++v) {
                    const __m256i m = _mm256_add_epi32(_mm256_madd_epi16(w01[v], a01), _mm256_madd_epi16(w23[v], a23));
                    s[v][t] = q == 0 ? m : _mm256_add_epi32(s[v][t], m);
                    keep(s[v][t]);
                }
            }
        }
    } else {
        __m256i p[2][H];  // int16 partial sums of the current group
#pragma GCC unroll 16
        for (int q = 0; q < Q; ++q) {
            const __m256i wv[2] = {load256(w + 64 * q), load256(w + 64 * q + 32)};
#pragma GCC unroll 8
            for (int t = 0; t < H; ++t) {
                const __m256i av = bcast32(a + 4 * T * q + 4 * t);
                for (int v = 0; v < 2; ++v) {
                    const __m256i m = _mm256_maddubs_epi16(wv[v], av);
                    p[v][t] = q % G == 0 ? m : _mm256_add_epi16(p[v][t], m);
                    keep(p[v][t]);
                }
            }
            if (q % G == G - 1 || q == Q - 1)
                for (int v = 0; v < 2; ++v)
                    for (int t = 0; t < H; ++t) {
                        const __m256i m = _mm256_madd_epi16(p[v][t], ones);
                        s[v][t] = q < G ? m : _mm256_add_epi32(s[v][t], m);
                        keep(s[v][t]);
                    }
        }
    }
}

// One panel x one tile (see GemmKernelFn). P sub-blocks share one activation scale (kernel_scalar).
// Off: add the activations' -offset*sum(a) (the types with an integer offset; not Wide, whose w is signed).
template <int SB, bool HasBias, int P, Mode M, int G, bool Off, int H>
void kernel_avx2(const uint8_t* panel, const uint8_t* act, int64_t n_sub, float* y, int64_t ldy, int n_rows,
                 int n_tok) {
    constexpr int T = kGemmTokens, R = kGemmRows;
    constexpr bool wide = M == Mode::Wide;
    constexpr int AB = wide ? 2 : 1;  // bytes per weight and per activation
    constexpr size_t wsb = wide ? gemm_wide_sub_block_bytes(SB) : gemm_sub_block_bytes(SB);
    constexpr size_t asb = wide ? gemm_wide_act_sub_block_bytes(SB) : gemm_act_sub_block_bytes(SB);
    alignas(32) float acc[T * R] = {};  // [token][row], as y
    alignas(32) float part[P > 1 ? T * R : 1];
    const int n_pass_tok = (n_tok + H - 1) / H * H;  // tokens past n_tok are zeros in the tile: skip them
    for (int64_t g = 0; g < n_sub; g += P) {
        if constexpr (P > 1)
            for (int i = 0; i < T * R; i += 8) _mm256_store_ps(part + i, _mm256_setzero_ps());
        for (int j = 0; j < P; ++j, panel += wsb, act += asb) {
            const float* scp = reinterpret_cast<const float*>(panel + R * SB * AB);  // scale[16], bias[16]
            const uint8_t* meta = act + T * SB * AB;  // d[8], c[8], s[8]
            for (int h0 = 0; h0 < n_pass_tok; h0 += H) {
                // Opaque to the optimizer: otherwise GCC hoists the passes' common weight loads out of this
                // loop into stack spills, which cost more than the L1 reloads.
                const uint8_t* wp = panel;
                __asm__("" : "+r"(wp));
                __m256i s[2][H];
                sub_block_sums<SB, M, G, H>(wp, act + 4 * AB * h0, s);
#pragma GCC unroll 8
                for (int t = 0; t < H; ++t) {
                    const uint8_t* at = meta + 4 * (h0 + t);  // d[t]; c[t] at +4T, s[t] at +8T
                    const __m256i c = Off ? bcast32(at + 4 * T) : _mm256_setzero_si256();
                    float* o = (P == 1 ? acc : part) + (h0 + t) * R;
                    for (int v = 0; v < 2; ++v) {
                        const __m256 f = _mm256_cvtepi32_ps(Off ? _mm256_add_epi32(s[v][t], c) : s[v][t]);
                        const __m256 sc = _mm256_load_ps(scp + 8 * v);
                        __m256 r = _mm256_load_ps(o + 8 * v);
                        if constexpr (P == 1) r = _mm256_fmadd_ps(f, _mm256_mul_ps(sc, bcastf(at)), r);
                        else r = _mm256_fmadd_ps(f, sc, r);
                        if constexpr (HasBias)
                            r = _mm256_fmadd_ps(_mm256_load_ps(scp + R + 8 * v), bcastf(at + 8 * T), r);
                        _mm256_store_ps(o + 8 * v, r);
                    }
                }
            }
        }
        if constexpr (P > 1)
            for (int t = 0; t < n_pass_tok; ++t) {
                const __m256 d = bcastf(act - asb + T * SB * AB + 4 * t);
                for (int v = 0; v < 2; ++v)
                    _mm256_store_ps(acc + t * R + 8 * v, _mm256_fmadd_ps(_mm256_load_ps(part + t * R + 8 * v), d,
                                                                         _mm256_load_ps(acc + t * R + 8 * v)));
            }
    }
    for (int t = 0; t < n_tok; ++t) {
        if (n_rows == R) {
            _mm256_storeu_ps(y + t * ldy, _mm256_load_ps(acc + t * R));
            _mm256_storeu_ps(y + t * ldy + 8, _mm256_load_ps(acc + t * R + 8));
        } else {
            std::memcpy(y + t * ldy, acc + t * R, sizeof(float) * (size_t)n_rows);
        }
    }
}

// The kint panels (gemm.hpp gemm_kint: Q4_K, Q5_K), kernel_scalar_kint's operations: per super-block the min pairs'
// vpmaddwd against the tokens' bsum pairs and one FMA into acc_m; per sub-block the passes' exact sums times the
// rows' scales (vpmulld) into the super-block's integers (a stack array, as the float accumulators); per
// super-block one FMA into acc; then acc - acc_m.
// SB = 16, !HasMin: Q6_K.
template <int SB, bool HasMin, Mode M, int G, int H>
void kernel_avx2_kint(const uint8_t* panel, const uint8_t* act, int64_t n_sub, float* y, int64_t ldy, int n_rows,
                      int n_tok) {
    static_assert(M != Mode::Wide, "K-quant bytes fit the u8 formats");
    constexpr int T = kGemmTokens, R = kGemmRows, P = QK_K / SB;
    constexpr size_t wsb = gemm_sub_block_bytes(SB), asb = gemm_act_sub_block_bytes(SB);
    alignas(32) float acc[T * R] = {}, acc_m[T * R] = {};  // [token][row], as y
    alignas(32) int32_t isum[T * R];
    const int n_pass_tok = (n_tok + H - 1) / H * H;  // tokens past n_tok are zeros in the tile: skip them
    auto slot = [](const uint8_t* blk, int j) { return blk + j * wsb + R * SB + 64; };
    auto meta = [](const uint8_t* a, int j, int field, int t) { return a + j * asb + T * SB + 4 * T * field + 4 * t; };
    for (int64_t g = 0; g < n_sub; g += P, panel += P * wsb, act += P * asb) {
        for (int t = 0; t < (HasMin ? n_pass_tok : 0); ++t) {
            const __m256 da = bcastf(meta(act, 0, 0, t));
            for (int v = 0; v < 2; ++v) {
                __m256i im = _mm256_setzero_si256();
                for (int i = 0; i < 4; ++i)
                    im = _mm256_add_epi32(im, _mm256_madd_epi16(load256(slot(panel, kKintSlotMins + i) + 32 * v),
                                                                bcast32(meta(act, 2 * i, 2, t))));
                const __m256 dmin = _mm256_load_ps(reinterpret_cast<const float*>(slot(panel, kKintSlotDmin)) + 8 * v);
                float* o = acc_m + t * R + 8 * v;
                _mm256_store_ps(o, _mm256_fmadd_ps(_mm256_cvtepi32_ps(im), _mm256_mul_ps(dmin, da), _mm256_load_ps(o)));
            }
        }
        for (int i = 0; i < n_pass_tok * R; i += 8) _mm256_store_si256(reinterpret_cast<__m256i*>(isum + i), _mm256_setzero_si256());
        for (int j = 0; j < P; ++j) {
            const uint8_t* sc = panel + j * wsb + R * SB;
            for (int h0 = 0; h0 < n_pass_tok; h0 += H) {
                const uint8_t* wp = panel + j * wsb;
                __asm__("" : "+r"(wp));  // as kernel_avx2: keeps the weight loads in the passes
                __m256i s[2][H];
                sub_block_sums<SB, M, G, H>(wp, act + j * asb + 4 * h0, s);
#pragma GCC unroll 8
                for (int t = 0; t < H; ++t) {
                    const __m256i c = bcast32(meta(act, j, 1, h0 + t));
                    for (int v = 0; v < 2; ++v) {
                        auto* o = reinterpret_cast<__m256i*>(isum + (h0 + t) * R + 8 * v);
                        const __m256i x = _mm256_mullo_epi32(_mm256_add_epi32(s[v][t], c), load256(sc + 32 * v));
                        _mm256_store_si256(o, _mm256_add_epi32(_mm256_load_si256(o), x));
                    }
                }
            }
        }
        for (int t = 0; t < n_pass_tok; ++t) {
            const __m256 da = bcastf(meta(act, 0, 0, t));
            for (int v = 0; v < 2; ++v) {
                const __m256 d = _mm256_load_ps(reinterpret_cast<const float*>(slot(panel, kKintSlotD)) + 8 * v);
                const __m256i is = _mm256_load_si256(reinterpret_cast<const __m256i*>(isum + t * R + 8 * v));
                float* o = acc + t * R + 8 * v;
                _mm256_store_ps(o, _mm256_fmadd_ps(_mm256_cvtepi32_ps(is), _mm256_mul_ps(d, da), _mm256_load_ps(o)));
            }
        }
    }
    for (int t = 0; t < n_tok; ++t) {
        alignas(32) float row[R];
        for (int v = 0; v < 2; ++v)
            _mm256_store_ps(row + 8 * v, _mm256_sub_ps(_mm256_load_ps(acc + t * R + 8 * v), _mm256_load_ps(acc_m + t * R + 8 * v)));
        std::memcpy(y + t * ldy, row, sizeof(float) * (size_t)n_rows);
    }
}

// ---- vectorized decoders for the common types (same output as gemm_pack.hpp's; the others use those) ----

inline void nibbles32_avx2(const uint8_t* qs, uint8_t* u) {
    const __m128i t = _mm_loadu_si128(reinterpret_cast<const __m128i*>(qs)), m = _mm_set1_epi8(0x0F);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(u), _mm_and_si128(t, m));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(u + 16), _mm_and_si128(_mm_srli_epi16(t, 4), m));
}
void unpack_q4_0_avx2(const void* blk, uint8_t* u, float* sc, float*) {
    const auto& b = *static_cast<const BlockQ4_0*>(blk);
    nibbles32_avx2(b.qs, u);
    sc[0] = _cvtsh_ss(b.d);
}
void unpack_q4_1_avx2(const void* blk, uint8_t* u, float* sc, float* bi) {
    const auto& b = *static_cast<const BlockQ4_1*>(blk);
    nibbles32_avx2(b.qs, u);
    sc[0] = _cvtsh_ss(b.d);
    bi[0] = _cvtsh_ss(b.m);
}
template <typename Block, bool HasMin>
void unpack_q5_avx2(const void* blk, uint8_t* u, float* sc, float* bi) {
    const auto& b = *static_cast<const Block*>(blk);
    nibbles32_avx2(b.qs, u);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(u), _mm256_or_si256(load256(u), high_bits32_avx2(b.qh)));
    sc[0] = _cvtsh_ss(b.d);
    if constexpr (HasMin) bi[0] = _cvtsh_ss(b.m);
}
void unpack_q8_0_avx2(const void* blk, uint8_t* u, float* sc, float*) {
    const auto& b = *static_cast<const BlockQ8_0*>(blk);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(u),
                        _mm256_xor_si256(load256(reinterpret_cast<const uint8_t*>(b.qs)), _mm256_set1_epi8((char)0x80)));
    sc[0] = _cvtsh_ss(b.d);
}
// IQ4: u = codebook[nibble] + 128 by pshufb on the shifted codebook.
inline void iq4_nibbles_avx2(const uint8_t* qs, uint8_t* u) {
    const __m128i tab = _mm_xor_si128(_mm_loadu_si128(reinterpret_cast<const __m128i*>(kvalues_iq4nl)),
                                      _mm_set1_epi8((char)0x80));
    const __m128i t = _mm_loadu_si128(reinterpret_cast<const __m128i*>(qs)), m = _mm_set1_epi8(0x0F);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(u), _mm_shuffle_epi8(tab, _mm_and_si128(t, m)));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(u + 16), _mm_shuffle_epi8(tab, _mm_and_si128(_mm_srli_epi16(t, 4), m)));
}
void unpack_iq4_nl_avx2(const void* blk, uint8_t* u, float* sc, float*) {
    const auto& b = *static_cast<const BlockIQ4_NL*>(blk);
    iq4_nibbles_avx2(b.qs, u);
    sc[0] = _cvtsh_ss(b.d);
}
void unpack_iq4_xs_avx2(const void* blk, uint8_t* u, float* sc, float*) {
    const auto& b = *static_cast<const BlockIQ4_XS*>(blk);
    for (int ib = 0; ib < 8; ++ib) iq4_nibbles_avx2(b.qs + 16 * ib, u + 32 * ib);
    const float d = _cvtsh_ss(b.d);
    for (int ib = 0; ib < 8; ++ib) sc[ib] = d * (float)iq4xs_scale(b, ib);
}
template <bool Five>
void nibbles_q45_k_avx2(const uint8_t* qs, const uint8_t* qh, uint8_t* u) {
    const __m256i m = _mm256_set1_epi8(0x0F), one = _mm256_set1_epi8(1);
    __m256i h = Five ? load256(qh) : _mm256_setzero_si256();
    for (int j = 0; j < 4; ++j) {
        const __m256i t = load256(qs + 32 * j);
        __m256i lo = _mm256_and_si256(t, m), hi = _mm256_and_si256(_mm256_srli_epi16(t, 4), m);
        if constexpr (Five) {
            lo = _mm256_or_si256(lo, _mm256_slli_epi16(_mm256_and_si256(h, one), 4));
            hi = _mm256_or_si256(hi, _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(h, 1), one), 4));
            h = _mm256_srli_epi16(h, 2);
        }
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(u + 64 * j), lo);
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(u + 64 * j + 32), hi);
    }
}
void weights_q6_k_avx2(const void* blk, uint8_t* u) {
    const auto& b = *static_cast<const BlockQ6_K*>(blk);
    const __m256i m4 = _mm256_set1_epi8(0x0F), m2 = _mm256_set1_epi8(0x30);
    for (int h = 0; h < 2; ++h) {
        const __m256i ql0 = load256(b.ql + 64 * h), ql1 = load256(b.ql + 64 * h + 32), qh = load256(b.qh + 32 * h);
        auto* o = reinterpret_cast<__m256i*>(u + 128 * h);
        _mm256_storeu_si256(o, _mm256_or_si256(_mm256_and_si256(ql0, m4), _mm256_and_si256(_mm256_slli_epi16(qh, 4), m2)));
        _mm256_storeu_si256(o + 1, _mm256_or_si256(_mm256_and_si256(ql1, m4), _mm256_and_si256(_mm256_slli_epi16(qh, 2), m2)));
        _mm256_storeu_si256(o + 2, _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(ql0, 4), m4), _mm256_and_si256(qh, m2)));
        _mm256_storeu_si256(o + 3, _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(ql1, 4), m4), _mm256_and_si256(_mm256_srli_epi16(qh, 2), m2)));
    }
}

// ---- K-quant panels: the weights decoded row by row, the scales of 8 rows per ymm at once ---------------------
// Lane r = row r (gathers): the same d * s and -dmin * m as the decoders above compute one row at a time (the
// per-row scalar unpack and the scalar transpose of the scales were most of the packing's cost). Rows >= n_rows
// get +0, as pack_panel's memset gives them. f: the block's sub-block 0 scales (f + j * sb_floats: sub-block j's;
// scale[16] then bias[16]).
using WeightsFn = void (*)(const void* blk, uint8_t* u);
using LaneScalesFn = void (*)(const uint8_t* blk, size_t row_size, int n_rows, float* f, size_t sb_floats);

inline __m256i gather8(const uint8_t* p, __m256i offs, __m256i mask) {
    return _mm256_mask_i32gather_epi32(_mm256_setzero_si256(), reinterpret_cast<const int*>(p), offs, mask, 1);
}
// fp16 in the low / high 16 bits of each dword, as float.
inline __m256 half8(__m256i g, bool high) {
    const __m256i sel = high ? _mm256_setr_epi8(2, 3, 6, 7, 10, 11, 14, 15, -1, -1, -1, -1, -1, -1, -1, -1, 2, 3, 6, 7,
                                                10, 11, 14, 15, -1, -1, -1, -1, -1, -1, -1, -1)
                             : _mm256_setr_epi8(0, 1, 4, 5, 8, 9, 12, 13, -1, -1, -1, -1, -1, -1, -1, -1, 0, 1, 4, 5,
                                                8, 9, 12, 13, -1, -1, -1, -1, -1, -1, -1, -1);
    const __m256i p = _mm256_permute4x64_epi64(_mm256_shuffle_epi8(g, sel), _MM_SHUFFLE(3, 1, 2, 0));
    return _mm256_cvtph_ps(_mm256_castsi256_si128(p));
}
// Lanes of rows h8..h8+7 that exist (all ones) or not (zero).
inline __m256i rows_mask8(int h8, int n_rows) {
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(n_rows - h8), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

template <typename Block>
void weights_q45_k_avx2(const void* blk, uint8_t* u) {
    const auto& b = *static_cast<const Block*>(blk);
    if constexpr (std::is_same_v<Block, BlockQ5_K>) nibbles_q45_k_avx2<true>(b.qs, b.qh, u);
    else nibbles_q45_k_avx2<false>(b.qs, nullptr, u);
}
// The kint tails of the 16 rows (gemm_pack.hpp kint_write_row, 8 lanes at a time): f = sub-block 0's tail as floats,
// sub-block j's sb_floats further.
template <typename Block>
void lane_scales_kint(const uint8_t* blk, size_t row_size, int n_rows, float* f, size_t sb_floats) {
    constexpr size_t kSc = offsetof(Block, scales);
    const __m256i offs = _mm256_mullo_epi32(_mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7), _mm256_set1_epi32((int)row_size));
    auto put = [&](int j, int half, int h8, __m256i v) {
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(f + j * sb_floats + kGemmRows * half + h8), v);
    };
    for (int h8 = 0; h8 < kGemmRows; h8 += 8) {
        const __m256i mask = rows_mask8(h8, n_rows);  // missing rows: gathered as zero, so every field is zero
        const uint8_t* p = blk + (size_t)h8 * row_size;
        const __m256i g = gather8(p + offsetof(Block, d), offs, mask);  // d in the low half, dmin in the high
        const __m256i u0 = gather8(p + kSc, offs, mask), u1 = gather8(p + kSc + 4, offs, mask),
                      u2 = gather8(p + kSc + 8, offs, mask);
        __m256i mins[8];
        for (int j = 0; j < 8; ++j) {
            __m256i sj;
            scale_min_k4(u0, u1, u2, j, sj, mins[j]);
            put(j, 0, h8, sj);
        }
        put(kKintSlotD, 1, h8, _mm256_castps_si256(half8(g, false)));
        put(kKintSlotDmin, 1, h8, _mm256_castps_si256(half8(g, true)));
        for (int i = 0; i < 4; ++i) put(kKintSlotMins + i, 1, h8, _mm256_or_si256(mins[2 * i], _mm256_slli_epi32(mins[2 * i + 1], 16)));
        for (int j = kKintSlotMins + 4; j < 8; ++j) put(j, 1, h8, _mm256_setzero_si256());
    }
}
// Q6_K's kint tails (gemm_pack.hpp pack_panel_kint_q6_k, 8 lanes at a time): sc_j, then d in slot 0.
inline void lane_scales_q6_k_kint(const uint8_t* blk, size_t row_size, int n_rows, float* f, size_t sb_floats) {
    constexpr size_t kSc = offsetof(BlockQ6_K, scales);
    const __m256i offs = _mm256_mullo_epi32(_mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7), _mm256_set1_epi32((int)row_size));
    for (int h8 = 0; h8 < kGemmRows; h8 += 8) {
        const __m256i mask = rows_mask8(h8, n_rows);
        const uint8_t* p = blk + (size_t)h8 * row_size;
        // d is the block's last 2 bytes: gather the dword ending there (no read past the row).
        const __m256 d = half8(gather8(p + offsetof(BlockQ6_K, d) - 2, offs, mask), true);
        for (int q = 0; q < 4; ++q) {
            const __m256i us = gather8(p + kSc + 4 * q, offs, mask);
            for (int i = 0; i < 4; ++i) {
                const int j = 4 * q + i;
                float* o = f + j * sb_floats + h8;
                _mm256_storeu_si256(reinterpret_cast<__m256i*>(o), _mm256_srai_epi32(_mm256_slli_epi32(us, 24 - 8 * i), 24));
                _mm256_storeu_ps(o + kGemmRows, j == kKintSlotD ? d : _mm256_setzero_ps());
            }
        }
    }
}

// The generic decoder, or its vectorized version where there is one.
using UnpackFn = void (*)(const void*, uint8_t*, float*, float*);
template <UnpackFn U> constexpr UnpackFn fast_unpack = U;
template <> constexpr UnpackFn fast_unpack<unpack_q4_0> = unpack_q4_0_avx2;
template <> constexpr UnpackFn fast_unpack<unpack_q4_1> = unpack_q4_1_avx2;
template <> constexpr UnpackFn fast_unpack<unpack_q5_0> = unpack_q5_avx2<BlockQ5_0, false>;
template <> constexpr UnpackFn fast_unpack<unpack_q5_1> = unpack_q5_avx2<BlockQ5_1, true>;
template <> constexpr UnpackFn fast_unpack<unpack_q8_0> = unpack_q8_0_avx2;
template <> constexpr UnpackFn fast_unpack<unpack_iq4_nl> = unpack_iq4_nl_avx2;
template <> constexpr UnpackFn fast_unpack<unpack_iq4_xs> = unpack_iq4_xs_avx2;

// In-register transpose of 8 rows x 8 dwords: afterwards r[g] holds dword g of rows 0..7.
inline void transpose8x8_epi32(__m256i (&r)[8]) {
    __m256i t[8], u[8];
    for (int i = 0; i < 8; i += 2) {
        t[i] = _mm256_unpacklo_epi32(r[i], r[i + 1]);
        t[i + 1] = _mm256_unpackhi_epi32(r[i], r[i + 1]);
    }
    for (int i = 0; i < 8; i += 4) {
        u[i] = _mm256_unpacklo_epi64(t[i], t[i + 2]);
        u[i + 1] = _mm256_unpackhi_epi64(t[i], t[i + 2]);
        u[i + 2] = _mm256_unpacklo_epi64(t[i + 1], t[i + 3]);
        u[i + 3] = _mm256_unpackhi_epi64(t[i + 1], t[i + 3]);
    }
    for (int i = 0; i < 4; ++i) {
        r[i] = _mm256_permute2x128_si256(u[i], u[i + 4], 0x20);
        r[i + 4] = _mm256_permute2x128_si256(u[i], u[i + 4], 0x31);
    }
}

// The same panel bytes as pack_panel (gemm_pack.hpp), built per block: the 16 rows are decoded into a
// row-major scratch, then each 8 rows x 32 bytes is transposed as 8 x 8 dwords (dword g of a row is its
// quad g), giving the rows-0-7 or rows-8-15 halves of 8 panel vectors.
template <int BS, int SB, size_t BlockBytes, UnpackFn Unpack, bool Wide, WeightsFn Weights = nullptr,
          LaneScalesFn Scales = nullptr>
void pack_panel_avx2(const TensorView& w, int64_t r0, int n_rows, uint8_t* dst) {
    constexpr int R = kGemmRows, n_sub = BS / SB, QS = SB / 4, AB = Wide ? 2 : 1;
    constexpr size_t sb_bytes = Wide ? gemm_wide_sub_block_bytes(SB) : gemm_sub_block_bytes(SB);
    const int64_t n_blocks = w.ne[0] / BS;
    alignas(32) uint8_t u[R][BS];
    float sc[R][n_sub], bi[R][n_sub];
    if (n_rows < R) {
        std::memset(u, 0, sizeof u);
        std::memset(sc, 0, sizeof sc);
        std::memset(bi, 0, sizeof bi);
    }
    const size_t row_size = w.row_size();
    const uint8_t* base = w.row(r0);
    // Scales lane-wise where the type has that form and the rows' offsets fit the gathers' int32 indices.
    const bool lanes = Scales != nullptr && (size_t)(R - 1) * row_size < ((size_t)1 << 31);
    for (int64_t b = 0; b < n_blocks; ++b) {
        uint8_t* out = dst + (size_t)b * n_sub * sb_bytes;
        bool scales_done = false;
        if constexpr (Scales != nullptr)
            if (lanes) {
                for (int r = 0; r < n_rows; ++r) Weights(base + r * row_size + (size_t)b * BlockBytes, u[r]);
                Scales(base + (size_t)b * BlockBytes, row_size, n_rows, reinterpret_cast<float*>(out + R * SB * AB),
                       sb_bytes / 4);
                scales_done = true;
            }
        if (!scales_done)
            for (int r = 0; r < n_rows; ++r) {
                for (int k = 0; k < n_sub; ++k) bi[r][k] = 0.0f;
                Unpack(base + r * row_size + (size_t)b * BlockBytes, u[r], sc[r], bi[r]);
            }
        for (int m = 0; m < BS / 32; ++m)
            for (int half = 0; half < 2; ++half) {
                __m256i v[8];
                for (int i = 0; i < 8; ++i) v[i] = load256(&u[8 * half + i][32 * m]);
                transpose8x8_epi32(v);
                for (int i = 0; i < 8; ++i) {
                    const int g = 8 * m + i;  // quad index within the block
                    uint8_t* o = out + (g / QS) * sb_bytes + 64 * AB * (g % QS) + 32 * AB * half;
                    if constexpr (Wide) {
                        // w = u - 128; per row bytes (0, 1) to the first vector, (2, 3) to the second: within
                        // each 128-bit lane gather the 4 rows' first pairs then their second pairs, reorder
                        // the 64-bit quarters to [k0k1 rows 0-3, rows 4-7, k2k3 rows 0-3, rows 4-7], widen.
                        const __m256i sel = _mm256_setr_epi8(0, 1, 4, 5, 8, 9, 12, 13, 2, 3, 6, 7, 10, 11, 14, 15,
                                                             0, 1, 4, 5, 8, 9, 12, 13, 2, 3, 6, 7, 10, 11, 14, 15);
                        const __m256i x = _mm256_xor_si256(v[i], _mm256_set1_epi8((char)0x80));
                        const __m256i p =
                            _mm256_permute4x64_epi64(_mm256_shuffle_epi8(x, sel), _MM_SHUFFLE(3, 1, 2, 0));
                        _mm256_store_si256(reinterpret_cast<__m256i*>(o),
                                           _mm256_cvtepi8_epi16(_mm256_castsi256_si128(p)));
                        _mm256_store_si256(reinterpret_cast<__m256i*>(o + 32),
                                           _mm256_cvtepi8_epi16(_mm256_extracti128_si256(p, 1)));
                    } else {
                        _mm256_store_si256(reinterpret_cast<__m256i*>(o), v[i]);
                    }
                }
            }
        for (int k = 0; k < n_sub && !scales_done; ++k) {
            float* f = reinterpret_cast<float*>(out + k * sb_bytes + R * SB * AB);
            for (int r = 0; r < R; ++r) {
                f[r] = sc[r][k];
                f[R + r] = bi[r][k];
            }
        }
    }
}

// The kint panel: pack_panel_avx2 with the lane-wise tails, or the scalar packer where the rows are too far apart for
// the gathers.
template <typename Block>
void pack_panel_kint_avx2(const TensorView& w, int64_t r0, int n_rows, uint8_t* dst) {
    constexpr bool kFive = std::is_same_v<Block, BlockQ5_K>;
    if ((size_t)(kGemmRows - 1) * w.row_size() >= ((size_t)1 << 31)) return pack_panel_kint<kFive>(w, r0, n_rows, dst);
    pack_panel_avx2<QK_K, 32, sizeof(Block), kFive ? unpack_q5_k : unpack_q4_k, false, weights_q45_k_avx2<Block>,
                    lane_scales_kint<Block>>(w, r0, n_rows, dst);
}

inline void pack_panel_kint_q6_k_avx2(const TensorView& w, int64_t r0, int n_rows, uint8_t* dst) {
    if ((size_t)(kGemmRows - 1) * w.row_size() >= ((size_t)1 << 31)) return pack_panel_kint_q6_k(w, r0, n_rows, dst);
    pack_panel_avx2<QK_K, 16, sizeof(BlockQ6_K), unpack_q6_k, false, weights_q6_k_avx2, lane_scales_q6_k_kint>(w, r0, n_rows, dst);
}

template <bool Vnni, DType Ty, int BS, int SB, size_t BlockBytes, UnpackFn Unpack, bool HasBias, int Offset>
GemmOps ops_avx2() {
    using Pl = Plan<Ty, SB, Vnni>;
    constexpr bool wide = Pl::mode == Mode::Wide;
    static_assert(!wide || Offset == 128, "the wide weights are u - 128");
    return {pack_panel_avx2<BS, SB, BlockBytes, fast_unpack<Unpack>, wide>,
            kernel_avx2<SB, HasBias, BS == 32 ? 1 : BS / SB, Pl::mode, Pl::G, Offset != 0 && !wide, Pl::H>, wide};
}

// gemm_ops_avx2 / gemm_ops_avxvnni: every packed type.
template <bool Vnni>
bool gemm_ops_avx2_family(DType type, GemmOps& o) {
    if (type == DType::Q4_K) {
        using Pl = Plan<DType::Q4_K, 32, Vnni>;
        return o = {pack_panel_kint_avx2<BlockQ4_K>, kernel_avx2_kint<32, true, Pl::mode, Pl::G, Pl::H>}, true;
    }
    if (type == DType::Q5_K) {
        using Pl = Plan<DType::Q5_K, 32, Vnni>;
        return o = {pack_panel_kint_avx2<BlockQ5_K>, kernel_avx2_kint<32, true, Pl::mode, Pl::G, Pl::H>}, true;
    }
    if (type == DType::Q6_K) {
        using Pl = Plan<DType::Q6_K, 16, Vnni>;
        return o = {pack_panel_kint_q6_k_avx2, kernel_avx2_kint<16, false, Pl::mode, Pl::G, Pl::H>}, true;
    }
    switch (type) {
#define LLM_GEMM_CASE(T, BS, SB, Block, Unpack, HasBias, Offset, UseSm) \
    case DType::T: o = ops_avx2<Vnni, DType::T, BS, SB, sizeof(Block), Unpack, HasBias, Offset>(); return true;
        LLM_GEMM_TYPES(LLM_GEMM_CASE)
#undef LLM_GEMM_CASE
        default: return false;
    }
}

}  // namespace
}  // namespace llm::cpu::gemm_detail
