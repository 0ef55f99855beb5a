// Vulkan ops: each function records one op (one or a few dispatches) into a CommandList. Every op
// mirrors a CPU reference in kernels/cpu (ops.hpp, matmul.hpp) and is checked against it by
// tests/vulkan/vk_ops_test.cpp. Activations are float32; offsets and strides count floats.
#pragma once
#include <cstdint>
#include <vector>

#include "core/tensor.hpp"
#include "kernels/cpu/ops.hpp"
#include "kernels/vulkan/vk_context.hpp"

namespace llm::vk {

// Whether matrix-vector, tiled matrix-matrix and row-lookup shaders exist for weights of this type (the
// Vulkan column of the op table, core/op_table.hpp).
bool supports_type(DType type);
// Shader variant suffix of a weight type ("q4_k"), or nullptr when unsupported.
const char* type_suffix(DType type);

// A weight matrix (ne[0] = n_in, ne[1] = n_out rows; also an embedding table) resident on the device.
// Rows are split over several buffers when the matrix exceeds the device's storage buffer range (128 MiB
// on some drivers); ops dispatch once per part.
struct DeviceMatrix {
    struct Part {
        Buffer buf;
        uint32_t row0 = 0, n_rows = 0;
    };
    std::vector<Part> parts;
    DType type = DType::F32;
    uint32_t n_in = 0, n_out = 0;
    uint32_t row_bytes = 0;
    // A matrix the device cannot run (see VulkanWeights::upload): no parts, its ops run on the CPU from
    // these host weights (memory owned by the model).
    TensorView cpu;
    bool on_cpu() const { return parts.empty() && cpu.valid(); }
    bool valid() const { return !parts.empty() || cpu.valid(); }
    size_t bytes() const {
        size_t b = 0;
        for (const Part& p : parts) b += p.buf.size();
        return b;
    }
};
// max_part_bytes: 0 = the device's storage buffer range (smaller values force a split, for tests).
Expected<DeviceMatrix> upload_matrix(Context& ctx, const TensorView& w, size_t max_part_bytes = 0);
// A float vector (norm gains, rope tables) on the device.
Expected<Buffer> upload_floats(Context& ctx, const float* data, size_t n);

// Creates every pipeline the decoder uses for these weight types (and the activation ops) now, so the
// first forward pass does not pay for shader compilation. Hold ctx.lock() when sharing the context.
Status warm_up_pipelines(Context& ctx, std::span<const DType> weight_types);

// A float32 activation operand: rows of a matrix inside a buffer.
struct Act {
    const Buffer* buf = nullptr;
    uint32_t offset = 0;  // first element
    uint32_t stride = 0;  // elements between rows
};

// MatVec: shared-memory reduction; MatVecSubgroup: subgroupAdd reduction (MatVec where the device lacks
// subgroup arithmetic); Tiled: 32x32 tiles for prompts.
enum class MatmulKernel { Auto, MatVec, MatVecSubgroup, Tiled };

// y[t, :] = W x[t, :] for t < n_tokens (Auto: matrix-vector for up to 4 tokens, the subgroup one where
// ctx.subgroup_matvec(); tiled beyond).
Status matmul(Context& ctx, CommandList& cl, const DeviceMatrix& w, Act x, uint32_t n_tokens, Act y,
              MatmulKernel kernel = MatmulKernel::Auto);
// out[i, :] = dequantized row ids[i] of table (ids: int32 device buffer, out rows of n_in floats).
Status get_rows(Context& ctx, CommandList& cl, const DeviceMatrix& table, const Buffer& ids, uint32_t n_ids,
                const Buffer& out, uint32_t out_offset = 0);
// Contiguous rows of width d: y = rms_norm(x) * w. y may alias x.
Status rms_norm(Context& ctx, CommandList& cl, const Buffer& x, uint32_t x_offset, const Buffer& w,
                const Buffer& y, uint32_t y_offset, uint32_t n_rows, uint32_t d, float eps);

// Rotates n_heads heads of head_dim in each of n_tokens rows of x in place; cs from rope_table.
Status rope(Context& ctx, CommandList& cl, Act x, uint32_t n_tokens, uint32_t n_heads, uint32_t head_dim,
            const RopeParams& p, const Buffer& cs);

// A key or value history: row j (position j) of kv head g at offset + j * stride + g * head_dim.
struct KvView {
    const Buffer* buf = nullptr;
    uint32_t offset = 0;  // elements (even for F16)
    uint32_t stride = 0;  // elements between positions
    bool f16 = false;
};
// The serving engine's cache: a pool of blocks of block_tokens rows, read through block tables. Per query
// token t: tokens holds uint32 {position, key count of its sequence, offset of its sequence's table in
// tables}; key j of that sequence is row tables[offset + j / block_tokens] * block_tokens + j % block_tokens.
struct PagedTables {
    const Buffer* tokens = nullptr;
    const Buffer* tables = nullptr;
    uint32_t block_tokens = 0;
};
// Query t is at position pos0 + t; out rows hold n_heads * head_dim values.
// params (optional): a buffer holding uint32 {pos0, n_keys}, read by the shader at run time instead of
// the pos0 / n_keys arguments, so a recorded command list can be re-submitted for other positions.
// paged (optional): positions, key counts and rows from block tables instead (pos0, n_keys, params unused).
Status attention(Context& ctx, CommandList& cl, Act q, KvView k, KvView v, uint32_t n_keys, uint32_t n_tokens,
                 uint32_t pos0, const AttentionParams& p, Act out, const Buffer* params = nullptr,
                 const PagedTables* paged = nullptr);
// Writes n rows of kv_dim floats into cache rows [pos0, pos0 + n) (row p at dst.offset + p * kv_dim).
// params (optional): pos0 read from params[0] at run time (as attention). slots (optional): row t goes to
// cache row slots[t] (uint32) instead.
Status kv_write(Context& ctx, CommandList& cl, Act src, uint32_t n, uint32_t kv_dim, uint32_t pos0, KvView dst,
                const Buffer* params = nullptr, const Buffer* slots = nullptr);

Status softmax(Context& ctx, CommandList& cl, const Buffer& x, uint32_t offset, uint32_t n, uint32_t n_rows);
Status silu_mul(Context& ctx, CommandList& cl, Act gate, Act up, Act out, uint32_t width, uint32_t n_rows);
// out = gelu_tanh(gate) * up, operands as silu_mul's (Gemma).
Status geglu(Context& ctx, CommandList& cl, Act gate, Act up, Act out, uint32_t width, uint32_t n_rows);
Status add_inplace(Context& ctx, CommandList& cl, const Buffer& x, uint32_t x_offset, const Buffer& y,
                   uint32_t y_offset, uint32_t n);
// x[r, i] += bias[i] for n_rows rows of width values (strided rows: a column view), as the CPU's add_bias_rows.
Status add_bias(Context& ctx, CommandList& cl, Act x, const Buffer& bias, uint32_t width, uint32_t n_rows);
// x[r, i] *= s for n_rows rows of width values (strided rows: a column view), as the CPU's scale_rows.
Status scale(Context& ctx, CommandList& cl, Act x, uint32_t width, uint32_t n_rows, float s);

}  // namespace llm::vk
