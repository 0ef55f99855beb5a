#version 450
#extension GL_GOOGLE_include_directive : require
// out[r, i] = silu(a[r, i]) * b[r, i] over n_rows rows of width values; each operand has its own offset
// and row stride (fused gate/up rows are [gate | up]). out may alias a or b. Grid: (ceil(width/256), n_rows).
layout(local_size_x = 256) in;
layout(binding = 0) readonly buffer A { float a[]; };
layout(binding = 1) readonly buffer B { float b[]; };
layout(binding = 2) buffer O { float o[]; };
layout(push_constant) uniform PC {
    uint width, n_rows;
    uint a_offset, a_stride, b_offset, b_stride, o_offset, o_stride;
} pc;

void main() {
    const uint i = gl_GlobalInvocationID.x, r = gl_WorkGroupID.y;
    if (i >= pc.width) return;
    const float g = a[pc.a_offset + r * pc.a_stride + i];
    o[pc.o_offset + r * pc.o_stride + i] = g / (1.0 + exp(-g)) * b[pc.b_offset + r * pc.b_stride + i];
}
