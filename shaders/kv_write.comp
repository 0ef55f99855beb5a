#version 450
#extension GL_GOOGLE_include_directive : require
// Writes n rows of kv_dim floats (src row t at src_offset + t * src_stride) into a cache at rows
// [pos0, pos0 + n) (row p at dst_offset + p * kv_dim elements), as F32 (-DKV_F32) or F16 (-DKV_F16,
// rounded to nearest even like the CPU KvCache; two halves per uint, kv_dim and dst_offset even).
// Grid: (ceil(kv_dim / 256), n). With dyn != 0, pos0 is params[0] (see attention.comp). With paged != 0, row
// t goes to cache row slots[t] (the serving engine's pool: block * block_tokens + offset in the block).
#include "common.glsl"
layout(local_size_x = 256) in;
layout(binding = 0) readonly buffer S { float src[]; };
#if defined(KV_F16)
layout(binding = 1) buffer D { uint dst[]; };
#else
layout(binding = 1) buffer D { float dst[]; };
#endif
layout(binding = 2) readonly buffer P { uint params[]; };
layout(binding = 3) readonly buffer Slots { uint slots[]; };
layout(push_constant) uniform PC { uint n, kv_dim, pos0, src_offset, src_stride, dst_offset, dyn, paged; } pc;

void main() {
    const uint t = gl_WorkGroupID.y;
    const uint sb = pc.src_offset + t * pc.src_stride;
    const uint row = pc.paged != 0u ? slots[t] : (pc.dyn != 0u ? params[0] : pc.pos0) + t;
    const uint db = pc.dst_offset + row * pc.kv_dim;
#if defined(KV_F16)
    const uint i = gl_GlobalInvocationID.x * 2u;
    if (i >= pc.kv_dim) return;
    dst[(db + i) >> 1] = float_to_half(src[sb + i]) | (float_to_half(src[sb + i + 1u]) << 16);
#else
    const uint i = gl_GlobalInvocationID.x;
    if (i >= pc.kv_dim) return;
    dst[db + i] = src[sb + i];
#endif
}
