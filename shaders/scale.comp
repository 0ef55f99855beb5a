#version 450
// x[offset + r * stride + i] *= s over n_rows rows of width values (a column view scaled in place, e.g.
// Phi-3's q before attention). One float multiply per value, as the CPU's scale_rows. Grid: (ceil(width/256),
// n_rows).
layout(local_size_x = 256) in;
layout(binding = 0) buffer X { float x[]; };
layout(push_constant) uniform PC {
    uint width, n_rows, offset, stride;
    float s;
} pc;

void main() {
    const uint i = gl_GlobalInvocationID.x, r = gl_WorkGroupID.y;
    if (i >= pc.width) return;
    x[pc.offset + r * pc.stride + i] *= pc.s;
}
