#version 450
#extension GL_GOOGLE_include_directive : require
#extension GL_EXT_control_flow_attributes : require
// Y[t, r] = sum_k W[r, k] * X[t, k] for prompts: 32x32 output tiles (rows x tokens), K in steps of 32.
// Weights are dequantized while loading the shared tile; tiles are stored as vec4 along K so the inner
// loop does 16 four-wide dot products per 8 shared loads (each of the 64 threads owns a 4x4 block).
// Grid: (ceil(n_out / 32), ceil(n_tokens / 32)). Compiled once per weight type (-DWTYPE_<T>).
layout(local_size_x = 64) in;
layout(binding = 0) readonly buffer W { uint wdata[]; };
layout(binding = 1) readonly buffer X { float x[]; };
layout(binding = 2) buffer Y { float y[]; };
layout(push_constant) uniform PC {
    uint n_in, n_out, n_tokens, row_bytes;
    uint x_offset, x_stride, y_offset, y_stride;  // floats
} pc;
#include "dequant.glsl"

const uint BM = 32, BN = 32, BK = 32, K4 = BK / 4;
shared vec4 ws[BM * K4];  // [row][k/4]
shared vec4 xs[BN * K4];  // [token][k/4]

void main() {
    const uint tid = gl_LocalInvocationID.x;
    const uint r0 = gl_WorkGroupID.x * BM, t0 = gl_WorkGroupID.y * BN;
    const uint tr = (tid & 7u) * 4u, tt = (tid >> 3) * 4u;  // this thread's 4x4 block in the tile
    vec4 acc[4] = vec4[4](vec4(0.0), vec4(0.0), vec4(0.0), vec4(0.0));  // acc[i][j]: row tr+i, token tt+j
    for (uint k0 = 0; k0 < pc.n_in; k0 += BK) {
        // 256 vec4 of weights and 256 of activations per tile: 4 + 4 per thread.
        for (uint j = 0; j < 4u; ++j) {
            const uint i = tid + 64u * j, rr = i / K4, k = k0 + (i % K4) * 4u;
            const uint r = r0 + rr, t = t0 + rr;
            vec4 wv = vec4(0.0), xv = vec4(0.0);
            if (r < pc.n_out) {
                const uint rb_ = r * pc.row_bytes;
                // One inlined copy of dq (not four): pipeline compile time matters on JIT drivers.
                [[dont_unroll]] for (uint e = 0; e < 4u; ++e)
                    if (k + e < pc.n_in) wv[e] = dq_elem(rb_, k + e);
            }
            if (t < pc.n_tokens) {
                const uint xb = pc.x_offset + t * pc.x_stride + k;
                for (uint e = 0; e < 4u; ++e)
                    if (k + e < pc.n_in) xv[e] = x[xb + e];
            }
            ws[i] = wv;
            xs[i] = xv;
        }
        barrier();
        for (uint k4 = 0; k4 < K4; ++k4) {
            const vec4 a0 = ws[(tr + 0u) * K4 + k4], a1 = ws[(tr + 1u) * K4 + k4];
            const vec4 a2 = ws[(tr + 2u) * K4 + k4], a3 = ws[(tr + 3u) * K4 + k4];
            for (uint j = 0; j < 4u; ++j) {
                const vec4 b = xs[(tt + j) * K4 + k4];
                acc[j] += vec4(dot(a0, b), dot(a1, b), dot(a2, b), dot(a3, b));
            }
        }
        barrier();
    }
    for (uint j = 0; j < 4u; ++j) {
        const uint t = t0 + tt + j;
        if (t >= pc.n_tokens) break;
        for (uint i = 0; i < 4u; ++i) {
            const uint r = r0 + tr + i;
            if (r < pc.n_out) y[pc.y_offset + t * pc.y_stride + r] = acc[j][i];
        }
    }
}
