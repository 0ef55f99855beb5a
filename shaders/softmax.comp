#version 450
#extension GL_GOOGLE_include_directive : require
// In-place numerically stable softmax of each row of n values; one workgroup per row. Grid: (n_rows).
#include "common.glsl"
layout(local_size_x_id = 0) in;
layout(constant_id = 0) const uint WG = 64;
layout(binding = 0) buffer X { float x[]; };
layout(push_constant) uniform PC { uint n, n_rows, offset; } pc;

shared float red[WG];

void main() {
    const uint tid = gl_LocalInvocationID.x, b = pc.offset + gl_WorkGroupID.x * pc.n;
    float m = NEG_BIG;
    for (uint i = tid; i < pc.n; i += WG) m = max(m, x[b + i]);
    red[tid] = m;
    barrier();
    for (uint s = WG / 2; s > 0; s >>= 1) {
        if (tid < s) red[tid] = max(red[tid], red[tid + s]);
        barrier();
    }
    m = red[0];
    barrier();
    float sum = 0.0;
    for (uint i = tid; i < pc.n; i += WG) {
        const float e = exp(x[b + i] - m);
        x[b + i] = e;
        sum += e;
    }
    red[tid] = sum;
    barrier();
    for (uint s = WG / 2; s > 0; s >>= 1) {
        if (tid < s) red[tid] += red[tid + s];
        barrier();
    }
    const float inv = 1.0 / red[0];
    for (uint i = tid; i < pc.n; i += WG) x[b + i] *= inv;
}
