#version 450
#extension GL_GOOGLE_include_directive : require
// Causal (optionally windowed) attention with GQA, flash style: one workgroup per (head, token); keys in
// chunks of WG, one score per thread, an online softmax (running max m and sum l) rescales the output
// accumulators, so memory does not grow with the context. Query t sits at position pos0 + t and sees
// keys j with lo <= j <= hi, hi = min(pos, n_keys - 1), lo = window ? max(0, pos - window + 1) : 0.
// K/V rows: key j of kv head g at kv_offset + j * kv_stride + g * head_dim (F32 or F16 via -DKV_*).
// With round_f16 the weights must be normalized before rounding, so a first pass finds the max and the
// sum and a second accumulates V (two passes over K). Grid: (n_heads, n_tokens), independent of n_keys.
// With dyn != 0, pos0 and n_keys come from params[0], params[1] instead of the push constants, so one
// recorded command buffer serves every decode step (the host writes the positions before submitting).
// With paged != 0 (the serving engine: several sequences per pass over a pool of fixed-size blocks), token t
// reads its own position, its sequence's key count and the offset of its sequence's block table from
// tok[3t], tok[3t + 1], tok[3t + 2], and key j is pool row tables[offset + j / block_tokens] * block_tokens +
// j % block_tokens. A token's arithmetic never depends on the other tokens of the pass (batch invariance).
#include "common.glsl"
layout(local_size_x_id = 0) in;
layout(constant_id = 0) const uint WG = 64;
layout(binding = 0) readonly buffer Q { float q[]; };
#if defined(KV_F16)
layout(binding = 1) readonly buffer K { uint kd[]; };
layout(binding = 2) readonly buffer V { uint vd[]; };
float kval(uint e) { return half_to_float((kd[e >> 1] >> ((e & 1u) << 4)) & 0xFFFFu); }
float vval(uint e) { return half_to_float((vd[e >> 1] >> ((e & 1u) << 4)) & 0xFFFFu); }
#else
layout(binding = 1) readonly buffer K { float kd[]; };
layout(binding = 2) readonly buffer V { float vd[]; };
float kval(uint e) { return kd[e]; }
float vval(uint e) { return vd[e]; }
#endif
layout(binding = 3) writeonly buffer O { float o[]; };
layout(binding = 4) readonly buffer P { uint params[]; };
layout(binding = 5) readonly buffer T { uint tok[]; };
layout(binding = 6) readonly buffer B { uint tables[]; };
layout(push_constant) uniform PC {
    uint n_tokens, n_keys, n_heads, n_kv_heads;
    uint head_dim, pos0, window, q_offset;
    uint q_stride, o_offset, o_stride, k_offset;
    uint v_offset, kv_stride;
    float scale;
    uint round_f16;  // round q and the softmax weights to fp16 (llama.cpp with an F16 cache; CPU round_to_f16)
    uint dyn;        // pos0 and n_keys from the params buffer
    uint paged;      // positions, key counts and block tables from tok / tables
    uint block_tokens;
} pc;

const uint MAX_HEAD_DIM = 256;
const uint MAXD = (MAX_HEAD_DIM + WG - 1) / WG;  // output elements per thread
shared float qs[MAX_HEAD_DIM];
shared float ps[WG];
shared float red[WG];
shared uint rows[WG];  // the cache row of each key of the chunk

void main() {
    const uint h = gl_WorkGroupID.x, t = gl_WorkGroupID.y, tid = gl_LocalInvocationID.x;
    const uint hd = pc.head_dim, g = h / (pc.n_heads / pc.n_kv_heads);
    const bool paged = pc.paged != 0u;
    const uint pos0 = pc.dyn != 0u ? params[0] : pc.pos0;
    const uint n_keys = paged ? tok[3u * t + 1u] : pc.dyn != 0u ? params[1] : pc.n_keys;
    const uint pos = paged ? tok[3u * t] : pos0 + t;
    const uint table = paged ? tok[3u * t + 2u] : 0u;
    const int hi = int(min(pos, n_keys - 1u));
    const int lo = pc.window > 0u ? max(0, int(pos) - int(pc.window) + 1) : 0;
    const uint qb = pc.q_offset + t * pc.q_stride + h * hd;
    const uint ob = pc.o_offset + t * pc.o_stride + h * hd;
    const bool r16 = pc.round_f16 != 0u;
    for (uint d = tid; d < hd; d += WG) qs[d] = r16 ? half_to_float(float_to_half(q[qb + d])) : q[qb + d];
    barrier();
    const uint kvh = g * hd;

    float acc[MAXD];
    for (uint i = 0; i < MAXD; ++i) acc[i] = 0.0;
    float m = NEG_BIG, l = 0.0;
    // Pass 0 (round_f16 only): running max and sum. Pass 1: weights and V accumulation.
    for (uint pass = r16 ? 0u : 1u; pass < 2u; ++pass) {
        const float inv_l = r16 && pass == 1u ? 1.0 / l : 1.0;
        for (int c = lo; c <= hi; c += int(WG)) {
            const int j = c + int(tid);
            float s = NEG_BIG;
            if (j <= hi) {
                const uint row = paged ? tables[table + uint(j) / pc.block_tokens] * pc.block_tokens +
                                             uint(j) % pc.block_tokens
                                       : uint(j);
                rows[tid] = row;
                const uint kb = pc.k_offset + row * pc.kv_stride + kvh;
                float dot_ = 0.0;
                for (uint d = 0; d < hd; ++d) dot_ += qs[d] * kval(kb + d);
                s = dot_ * pc.scale;
            }
            float corr = 1.0;
            float p;
            if (r16 && pass == 1u) {  // m and l are final: normalized, rounded weights
                p = j <= hi ? half_to_float(float_to_half(exp(s - m) * inv_l)) : 0.0;
                ps[tid] = p;
                barrier();
            } else {  // online softmax step
                red[tid] = s;
                barrier();
                for (uint st = WG / 2; st > 0; st >>= 1) {
                    if (tid < st) red[tid] = max(red[tid], red[tid + st]);
                    barrier();
                }
                const float m_new = max(m, red[0]);
                barrier();
                p = j <= hi ? exp(s - m_new) : 0.0;
                ps[tid] = p;
                red[tid] = p;
                barrier();
                for (uint st = WG / 2; st > 0; st >>= 1) {
                    if (tid < st) red[tid] += red[tid + st];
                    barrier();
                }
                corr = exp(m - m_new);
                l = l * corr + red[0];
                m = m_new;
            }
            if (pass == 1u) {
                const int n_here = min(int(WG), hi - c + 1);
                for (uint i = 0; i < MAXD; ++i) {
                    const uint d = tid + i * WG;
                    if (d < hd) {
                        float a = acc[i] * corr;
                        for (int jj = 0; jj < n_here; ++jj) a += ps[jj] * vval(pc.v_offset + rows[jj] * pc.kv_stride + kvh + d);
                        acc[i] = a;
                    }
                }
            }
            barrier();
        }
    }
    const float inv = r16 ? 1.0 : (l > 0.0 ? 1.0 / l : 0.0);  // rounded weights are already normalized
    for (uint i = 0; i < MAXD; ++i) {
        const uint d = tid + i * WG;
        if (d < hd) o[ob + d] = acc[i] * inv;
    }
}
