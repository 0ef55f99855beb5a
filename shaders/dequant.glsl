// Per-type weight dequantization, mirroring kernels/quant/blocks.hpp and the CPU dequantize_row_*.
// The including shader declares `uint wdata[]` (the packed weight rows, any byte alignment handled
// here) and defines one WTYPE_<T>. Provides QK (elements per block), BLOCK_BYTES and
// dq(b, j): element j of the block starting at byte b. Arithmetic is `precise` and in the CPU's order
// so results are bit-identical to dequantize_row (no FMA contraction).
#include "common.glsl"

uint rb(uint o) { return (wdata[o >> 2] >> ((o & 3u) << 3)) & 0xFFu; }
uint ru16(uint o) { return (wdata[o >> 2] >> ((o & 2u) << 3)) & 0xFFFFu; }  // o even
int rs8(uint o) { return int(rb(o) << 24) >> 24; }
uint ru32_2(uint o) { return ru16(o) | (ru16(o + 2u) << 16); }              // o even

const int kvalues_iq4nl[16] = int[16](-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113);

// Q4_K / Q5_K packed 6-bit scale and min of sub-block j (get_scale_min_k4); s = byte offset of scales[12].
uvec2 scale_min_k4(uint s, uint j) {
    if (j < 4u) return uvec2(rb(s + j) & 63u, rb(s + j + 4u) & 63u);
    return uvec2((rb(s + j + 4u) & 0xFu) | ((rb(s + j - 4u) >> 6) << 4), (rb(s + j + 4u) >> 4) | ((rb(s + j) >> 6) << 4));
}

#if defined(WTYPE_F32)
#define QK 1u
#define BLOCK_BYTES 4u
float dq(uint b, uint j) { return uintBitsToFloat(wdata[b >> 2]); }

#elif defined(WTYPE_F16)
#define QK 1u
#define BLOCK_BYTES 2u
float dq(uint b, uint j) { return half_to_float(ru16(b)); }

#elif defined(WTYPE_BF16)
#define QK 1u
#define BLOCK_BYTES 2u
float dq(uint b, uint j) { return bf16_to_float(ru16(b)); }

#elif defined(WTYPE_Q4_0)
#define QK 32u
#define BLOCK_BYTES 18u
float dq(uint b, uint j) {
    const float d = half_to_float(ru16(b));
    const uint q = rb(b + 2u + (j & 15u));
    const int v = int(j < 16u ? (q & 0xFu) : (q >> 4)) - 8;
    precise float r = float(v) * d;
    return r;
}

#elif defined(WTYPE_Q4_1)
#define QK 32u
#define BLOCK_BYTES 20u
float dq(uint b, uint j) {
    const float d = half_to_float(ru16(b));
    const float m = half_to_float(ru16(b + 2u));
    const uint q = rb(b + 4u + (j & 15u));
    const uint v = j < 16u ? (q & 0xFu) : (q >> 4);
    precise float r = float(v) * d + m;
    return r;
}

#elif defined(WTYPE_Q5_0)
#define QK 32u
#define BLOCK_BYTES 22u
float dq(uint b, uint j) {
    const float d = half_to_float(ru16(b));
    const uint qh = ru32_2(b + 2u);
    const uint q = rb(b + 6u + (j & 15u));
    const uint lo = j < 16u ? (q & 0xFu) : (q >> 4);
    const int v = int(lo | (((qh >> j) & 1u) << 4)) - 16;
    precise float r = float(v) * d;
    return r;
}

#elif defined(WTYPE_Q5_1)
#define QK 32u
#define BLOCK_BYTES 24u
float dq(uint b, uint j) {
    const float d = half_to_float(ru16(b));
    const float m = half_to_float(ru16(b + 2u));
    const uint qh = ru32_2(b + 4u);
    const uint q = rb(b + 8u + (j & 15u));
    const uint lo = j < 16u ? (q & 0xFu) : (q >> 4);
    const uint v = lo | (((qh >> j) & 1u) << 4);
    precise float r = float(v) * d + m;
    return r;
}

#elif defined(WTYPE_Q8_0)
#define QK 32u
#define BLOCK_BYTES 34u
float dq(uint b, uint j) {
    const float d = half_to_float(ru16(b));
    precise float r = float(rs8(b + 2u + j)) * d;
    return r;
}

#elif defined(WTYPE_Q2_K)
#define QK 256u
#define BLOCK_BYTES 84u
// scales[16] @0, qs[64] @16, d @80, dmin @82. Element e: chunk nn = e/128, shift 2*((e%128)/32),
// half (e%32)/16 selects q[l] or q[l+16], scale index nn*8 + 2*shift_idx + half.
float dq(uint b, uint e) {
    const uint nn = e >> 7, r = e & 127u, jj = r >> 5, half_ = (r >> 4) & 1u, l = r & 15u;
    const uint sc = rb(b + nn * 8u + jj * 2u + half_);
    const float d = half_to_float(ru16(b + 80u));
    const float mn = half_to_float(ru16(b + 82u));
    const uint q = (rb(b + 16u + nn * 32u + half_ * 16u + l) >> (2u * jj)) & 3u;
    precise float dl = d * float(sc & 0xFu);
    precise float ml = mn * float(sc >> 4);
    precise float res = dl * float(q) - ml;
    return res;
}

#elif defined(WTYPE_Q3_K)
#define QK 256u
#define BLOCK_BYTES 110u
// hmask[32] @0, qs[64] @32, scales[12] @96, d @108 (see q3k_scale in k_quants.cpp).
float dq(uint b, uint e) {
    const uint nn = e >> 7, r = e & 127u, jj = r >> 5, half_ = (r >> 4) & 1u, l = r & 15u;
    const uint is = nn * 8u + jj * 2u + half_;
    const uint s = b + 96u;
    uint sc = is < 8u ? (rb(s + is) & 0xFu) : (rb(s + is - 8u) >> 4);
    sc |= ((rb(s + 8u + (is & 3u)) >> (2u * (is >> 2))) & 3u) << 4;
    const float d_all = half_to_float(ru16(b + 108u));
    const uint q = (rb(b + 32u + nn * 32u + half_ * 16u + l) >> (2u * jj)) & 3u;
    const uint hbit = rb(b + half_ * 16u + l) & (1u << (nn * 4u + jj));
    const int v = int(q) - (hbit != 0u ? 0 : 4);
    precise float dl = d_all * float(int(sc) - 32);
    precise float res = dl * float(v);
    return res;
}

#elif defined(WTYPE_Q4_K)
#define QK 256u
#define BLOCK_BYTES 144u
// d @0, dmin @2, scales[12] @4, qs[128] @16; 32-byte group g holds elements 64g+l (low), 64g+32+l (high).
float dq(uint b, uint e) {
    const uint g = e >> 6, hi = (e >> 5) & 1u, l = e & 31u;
    const uvec2 sm = scale_min_k4(b + 4u, 2u * g + hi);
    const float d = half_to_float(ru16(b));
    const float mn = half_to_float(ru16(b + 2u));
    const uint q = rb(b + 16u + g * 32u + l);
    const uint v = hi != 0u ? (q >> 4) : (q & 0xFu);
    precise float d1 = d * float(sm.x);
    precise float m1 = mn * float(sm.y);
    precise float res = d1 * float(v) - m1;
    return res;
}

#elif defined(WTYPE_Q5_K)
#define QK 256u
#define BLOCK_BYTES 176u
// d @0, dmin @2, scales[12] @4, qh[32] @16, qs[128] @48; high bit of element 64g+32h+l is bit 2g+h of qh[l].
float dq(uint b, uint e) {
    const uint g = e >> 6, hi = (e >> 5) & 1u, l = e & 31u;
    const uvec2 sm = scale_min_k4(b + 4u, 2u * g + hi);
    const float d = half_to_float(ru16(b));
    const float mn = half_to_float(ru16(b + 2u));
    const uint q = rb(b + 48u + g * 32u + l);
    const uint v = (hi != 0u ? (q >> 4) : (q & 0xFu)) + ((rb(b + 16u + l) & (1u << (2u * g + hi))) != 0u ? 16u : 0u);
    precise float d1 = d * float(sm.x);
    precise float m1 = mn * float(sm.y);
    precise float res = d1 * float(v) - m1;
    return res;
}

#elif defined(WTYPE_Q6_K)
#define QK 256u
#define BLOCK_BYTES 210u
// ql[128] @0, qh[64] @128, scales[16] (int8) @192, d @208. In each 128-chunk nn, quarter k = r/32 uses
// ql[l + 32*(k&1)] (low nibble for k<2, high for k>=2), bits 2k..2k+1 of qh[l], scale nn*8 + l/16 + 2k.
float dq(uint b, uint e) {
    const uint nn = e >> 7, r = e & 127u, k = r >> 5, l = r & 31u;
    const uint qlb = rb(b + nn * 64u + l + (k & 1u) * 32u);
    const uint lo = k < 2u ? (qlb & 0xFu) : (qlb >> 4);
    const uint hb = (rb(b + 128u + nn * 32u + l) >> (2u * k)) & 3u;
    const int q = int(lo | (hb << 4)) - 32;
    const int sc = rs8(b + 192u + nn * 8u + (l >> 4) + 2u * k);
    const float d = half_to_float(ru16(b + 208u));
    precise float ds = d * float(sc);
    precise float res = ds * float(q);
    return res;
}

#elif defined(WTYPE_IQ4_NL)
#define QK 32u
#define BLOCK_BYTES 18u
float dq(uint b, uint j) {
    const float d = half_to_float(ru16(b));
    const uint q = rb(b + 2u + (j & 15u));
    precise float r = d * float(kvalues_iq4nl[j < 16u ? (q & 0xFu) : (q >> 4)]);
    return r;
}

#elif defined(WTYPE_IQ4_XS)
#define QK 256u
#define BLOCK_BYTES 136u
// d @0, scales_h @2, scales_l[4] @4, qs[128] @8; sub-block ib = e/32 with 6-bit scale ls, d*(ls-32)*T[q].
float dq(uint b, uint e) {
    const uint ib = e >> 5, r = e & 31u;
    const uint ls = ((rb(b + 4u + (ib >> 1)) >> (4u * (ib & 1u))) & 0xFu) | (((ru16(b + 2u) >> (2u * ib)) & 3u) << 4);
    const float d = half_to_float(ru16(b));
    const uint q = rb(b + 8u + ib * 16u + (r & 15u));
    precise float dl = d * float(int(ls) - 32);
    precise float res = dl * float(kvalues_iq4nl[r < 16u ? (q & 0xFu) : (q >> 4)]);
    return res;
}

#else
#error "define one WTYPE_<T>"
#endif

// Element k of the weight row starting at byte row_base.
float dq_elem(uint row_base, uint k) { return dq(row_base + (k / QK) * BLOCK_BYTES, k % QK); }

// Elements k..k+3 (k a multiple of 4, all inside the row): one block base, so the compiler shares the
// scale loads of the four inlined dq() calls (4 consecutive elements never straddle a block when QK > 1).
vec4 dq_elem4(uint row_base, uint k) {
#if defined(WTYPE_F32) || defined(WTYPE_F16) || defined(WTYPE_BF16)
    return vec4(dq_elem(row_base, k), dq_elem(row_base, k + 1u), dq_elem(row_base, k + 2u), dq_elem(row_base, k + 3u));
#else
    const uint b = row_base + (k / QK) * BLOCK_BYTES, j = k % QK;
    return vec4(dq(b, j), dq(b, j + 1u), dq(b, j + 2u), dq(b, j + 3u));
#endif
}
