#version 450
// out[r, i] = gelu_tanh(a[r, i]) * b[r, i] over n_rows rows of width values (Gemma's gated MLP); operands as
// silu_mul's (own offsets and row strides; out may alias a or b). gelu in float: the CPU executor rounds through
// ggml's fp16 gelu table, so the two differ by up to an fp16 step of the gelu. Grid: (ceil(width/256), n_rows).
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
    const float x = a[pc.a_offset + r * pc.a_stride + i];
    // 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))), written with exp so large |x| saturates instead of NaN.
    const float u = 0.7978845608 * x * (1.0 + 0.044715 * x * x);
    const float t = 1.0 - 2.0 / (exp(2.0 * clamp(u, -15.0, 15.0)) + 1.0);
    o[pc.o_offset + r * pc.o_stride + i] = 0.5 * x * (1.0 + t) * b[pc.b_offset + r * pc.b_stride + i];
}
