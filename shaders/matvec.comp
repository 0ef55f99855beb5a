#version 450
#extension GL_GOOGLE_include_directive : require
// y[t, r] = sum_k W[r, k] * x[t, k] for few tokens (decode): one workgroup per (row, token), threads
// stride over k, then a reduction of the per-thread sums: a shared-memory tree, or with -DUSE_SUBGROUP
// (matvec_sg_<t>, for devices with subgroup arithmetic in compute shaders) subgroupAdd within each
// subgroup and one shared slot per subgroup. Compiled once per weight type (-DWTYPE_<T>).
// Grid: (min(n_out, 65535), n_tokens, ceil(n_out / 65535)).
#ifdef USE_SUBGROUP
#extension GL_KHR_shader_subgroup_basic : require
#extension GL_KHR_shader_subgroup_arithmetic : require
#endif
layout(local_size_x_id = 0) in;
layout(constant_id = 0) const uint WG = 64;
// The device's subgroup size (VkPhysicalDeviceSubgroupProperties): with WG <= SG a workgroup is one
// subgroup and needs no shared memory (checked at run time too: drivers may pick smaller subgroups).
layout(constant_id = 1) const uint SG = 32;
layout(binding = 0) readonly buffer W { uint wdata[]; };
layout(binding = 1) readonly buffer X { float x[]; };
layout(binding = 2) buffer Y { float y[]; };
layout(push_constant) uniform PC {
    uint n_in, n_out, n_tokens, row_bytes;
    uint x_offset, x_stride, y_offset, y_stride;  // floats
} pc;
#include "dequant.glsl"

shared float red[WG];

void main() {
    const uint r = gl_WorkGroupID.x + gl_WorkGroupID.z * gl_NumWorkGroups.x;
    const uint t = gl_WorkGroupID.y;
    const uint tid = gl_LocalInvocationID.x;
    if (r >= pc.n_out) return;  // uniform per workgroup
    const uint row = r * pc.row_bytes;
    const uint xb = pc.x_offset + t * pc.x_stride;
    float sum = 0.0;
    // Each thread takes 4 consecutive elements per step (one block header read for the four); the
    // last n_in % 4 elements (float types only) are added one by one.
    const uint n4 = pc.n_in & ~3u;
    for (uint k = tid * 4u; k < n4; k += WG * 4u) {
        const vec4 w4 = dq_elem4(row, k);
        sum += w4.x * x[xb + k] + w4.y * x[xb + k + 1u] + w4.z * x[xb + k + 2u] + w4.w * x[xb + k + 3u];
    }
    for (uint k = n4 + tid; k < pc.n_in; k += WG) sum += dq_elem(row, k) * x[xb + k];
    const uint yi = pc.y_offset + t * pc.y_stride + r;
#ifdef USE_SUBGROUP
    sum = subgroupAdd(sum);
    if (WG <= SG && gl_NumSubgroups == 1u) {
        if (subgroupElect()) y[yi] = sum;
        return;
    }
    if (subgroupElect()) red[gl_SubgroupID] = sum;
    barrier();
    if (gl_SubgroupID == 0u) {  // the first subgroup adds the per-subgroup sums
        float part = 0.0;
        for (uint i = gl_SubgroupInvocationID; i < gl_NumSubgroups; i += gl_SubgroupSize) part += red[i];
        part = subgroupAdd(part);
        if (subgroupElect()) y[yi] = part;
    }
#else
    red[tid] = sum;
    barrier();
    for (uint s = WG / 2; s > 0; s >>= 1) {
        if (tid < s) red[tid] += red[tid + s];
        barrier();
    }
    if (tid == 0) y[yi] = red[0];
#endif
}
