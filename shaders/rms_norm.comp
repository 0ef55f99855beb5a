#version 450
#extension GL_GOOGLE_include_directive : require
// y = x / sqrt(mean(x^2) + eps) * w per row of width d; one workgroup per row. y may alias x.
// Grid: (n_rows).
layout(local_size_x_id = 0) in;
layout(constant_id = 0) const uint WG = 64;
layout(binding = 0) readonly buffer X { float x[]; };
layout(binding = 1) readonly buffer Wt { float w[]; };
layout(binding = 2) buffer Y { float y[]; };
layout(push_constant) uniform PC {
    uint d, n_rows, x_offset, y_offset;  // floats; rows are contiguous (stride d)
    float eps;
} pc;

shared float red[WG];

void main() {
    const uint row = gl_WorkGroupID.x, tid = gl_LocalInvocationID.x;
    const uint xb = pc.x_offset + row * pc.d, yb = pc.y_offset + row * pc.d;
    float sum = 0.0;
    for (uint i = tid; i < pc.d; i += WG) sum += x[xb + i] * x[xb + i];
    red[tid] = sum;
    barrier();
    for (uint s = WG / 2; s > 0; s >>= 1) {
        if (tid < s) red[tid] += red[tid + s];
        barrier();
    }
    const float scale = 1.0 / sqrt(red[0] / float(pc.d) + pc.eps);
    for (uint i = tid; i < pc.d; i += WG) y[yb + i] = x[xb + i] * scale * w[i];
}
