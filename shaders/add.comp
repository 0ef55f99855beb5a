#version 450
#extension GL_GOOGLE_include_directive : require
// x[x_offset + i] += y[y_offset + i] for i < n. Grid: (min(G, 65535), ceil(G / 65535)), G = ceil(n / 256).
#include "common.glsl"
layout(local_size_x = 256) in;
layout(binding = 0) buffer X { float x[]; };
layout(binding = 1) readonly buffer Y { float y[]; };
layout(push_constant) uniform PC { uint n, x_offset, y_offset; } pc;

void main() {
    const uint i = flat_group() * 256u + gl_LocalInvocationID.x;
    if (i < pc.n) x[pc.x_offset + i] += y[pc.y_offset + i];
}
