#version 450
// x[offset + r * stride + i] += b[i] over n_rows rows of width values, in place (Qwen 2's Q/K/V biases; the rows may
// be a column view of a fused product). One float add per value, as the CPU's add_bias_rows.
// Grid: (ceil(width/256), n_rows).
layout(local_size_x = 256) in;
layout(binding = 0) buffer X { float x[]; };
layout(binding = 1) readonly buffer B { float b[]; };
layout(push_constant) uniform PC { uint width, n_rows, offset, stride; } pc;

void main() {
    const uint i = gl_GlobalInvocationID.x, r = gl_WorkGroupID.y;
    if (i >= pc.width) return;
    x[pc.offset + r * pc.stride + i] += b[i];
}
