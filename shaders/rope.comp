#version 450
#extension GL_GOOGLE_include_directive : require
// Rotary embedding in place. cs holds, per token t and pair i < n_rot/2, (cos, sin) already scaled by
// attn_factor (computed on the host in double exactly as the CPU reference does). Style 0 rotates
// (x[2i], x[2i+1]) (GGML normal), style 1 (x[i], x[i + n_rot/2]) (NEOX). Row t of x starts at
// x_offset + t * x_stride; head h at + h * head_dim. Grid: (ceil(n_tokens * n_heads * n_rot/2 / 256)).
#include "common.glsl"
layout(local_size_x = 256) in;
layout(binding = 0) buffer X { float x[]; };
layout(binding = 1) readonly buffer CS { float cs[]; };
layout(push_constant) uniform PC {
    uint n_tokens, n_heads, head_dim, n_rot;
    uint style, x_offset, x_stride;
} pc;

void main() {
    const uint half_ = pc.n_rot / 2u;
    const uint id = flat_group() * 256u + gl_LocalInvocationID.x;
    if (id >= pc.n_tokens * pc.n_heads * half_) return;
    const uint i = id % half_, h = (id / half_) % pc.n_heads, t = id / (half_ * pc.n_heads);
    const uint base = pc.x_offset + t * pc.x_stride + h * pc.head_dim;
    const uint i0 = base + (pc.style == 0u ? 2u * i : i);
    const uint i1 = base + (pc.style == 0u ? 2u * i + 1u : i + half_);
    const float c = cs[(t * half_ + i) * 2u], s = cs[(t * half_ + i) * 2u + 1u];
    const float a = x[i0], b = x[i1];
    // As the CPU (and llama.cpp): fma(a, c, -(b*s)), fma(a, s, b*c); precise keeps each fma one rounding.
    precise float bs = b * s;
    precise float bc = b * c;
    precise float r0 = fma(a, c, -bs);
    precise float r1 = fma(a, s, bc);
    x[i0] = r0;
    x[i1] = r1;
}
