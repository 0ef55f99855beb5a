#version 450
#extension GL_GOOGLE_include_directive : require
// Embedding lookup / dequantization: out[i, :] = dequantized row ids[i] of the weight table.
// Dispatched once per buffer of a split table; each dispatch writes the ids in its row range.
// Grid: (ceil(n_cols / 256), n_ids). Compiled once per weight type (-DWTYPE_<T>).
layout(local_size_x = 256) in;
layout(binding = 0) readonly buffer W { uint wdata[]; };
layout(binding = 1) readonly buffer Ids { int ids[]; };
layout(binding = 2) writeonly buffer Out { float outp[]; };
layout(push_constant) uniform PC {
    uint n_cols;     // elements per row
    uint row_bytes;  // bytes per packed row
    uint n_ids;
    uint out_offset; // floats
    uint row0, n_rows; // rows of the table in this buffer (a large table is split over several)
} pc;
#include "dequant.glsl"

void main() {
    const uint c = gl_GlobalInvocationID.x, i = gl_WorkGroupID.y;
    if (c >= pc.n_cols || i >= pc.n_ids) return;
    const int r = ids[i] - int(pc.row0);
    if (r < 0 || r >= int(pc.n_rows)) return;  // another part's row
    outp[pc.out_offset + i * pc.n_cols + c] = dq_elem(uint(r) * pc.row_bytes, c);
}
