// Vulkan ops: push-constant layouts (mirroring the shaders' PC blocks), grids and pipeline choice.
#include "kernels/vulkan/vk_ops.hpp"

#include <array>
#include <cmath>
#include <vector>

#include "core/op_table.hpp"

namespace llm::vk {
namespace {

constexpr uint32_t kWg = 64;                // workgroup size of the reduction shaders (spec constant 0)
constexpr uint32_t kMaxGroups = 65535;      // per grid dimension guaranteed by Vulkan
constexpr uint32_t kMatVecMaxTokens = 4;    // Auto: up to this many tokens use the matrix-vector kernel
const uint32_t kWgSpec[] = {kWg};

uint32_t ceil_div(uint64_t a, uint64_t b) { return (uint32_t)((a + b - 1) / b); }

// Spec constants of matvec_sg_*: workgroup size (at least one full subgroup) and the subgroup size.
std::array<uint32_t, 2> sg_spec(const Context& ctx) {
    const uint32_t sg = std::max<uint32_t>(1, ctx.info().subgroup_size);
    return {std::max(kWg, sg), sg};
}

// Runs one dispatch of a cached pipeline; the pipeline error (a missing shader) becomes the op's Status.
template <typename Push>
Status run(Context& ctx, CommandList& cl, std::string_view shader, std::initializer_list<const Buffer*> bufs,
           const Push& push, uint32_t gx, uint32_t gy = 1, uint32_t gz = 1, std::span<const uint32_t> spec = {}) {
    auto p = ctx.pipeline(shader, (uint32_t)bufs.size(), spec);
    if (!p) return p.status();
    cl.dispatch(**p, bufs, &push, sizeof(Push), gx, gy, gz);
    return {};
}

// A 1D grid of n groups as (x, y) with x <= 65535 (the shaders' flat_group()).
void split_grid(uint32_t n, uint32_t& gx, uint32_t& gy) {
    gx = n < kMaxGroups ? std::max<uint32_t>(n, 1) : kMaxGroups;
    gy = ceil_div(n, gx);
}

}  // namespace

const char* type_suffix(DType type) {
    switch (type) {
        case DType::F32: return "f32";
        case DType::F16: return "f16";
        case DType::BF16: return "bf16";
        case DType::Q4_0: return "q4_0";
        case DType::Q4_1: return "q4_1";
        case DType::Q5_0: return "q5_0";
        case DType::Q5_1: return "q5_1";
        case DType::Q8_0: return "q8_0";
        case DType::Q2_K: return "q2_k";
        case DType::Q3_K: return "q3_k";
        case DType::Q4_K: return "q4_k";
        case DType::Q5_K: return "q5_k";
        case DType::Q6_K: return "q6_k";
        case DType::IQ4_NL: return "iq4_nl";
        case DType::IQ4_XS: return "iq4_xs";
        default: return nullptr;
    }
}

bool supports_type(DType type) {
    return op_supports(Backend::Vulkan, Op::Matmul, type) && op_supports(Backend::Vulkan, Op::Embed, type) &&
           type_suffix(type) != nullptr;
}

Expected<DeviceMatrix> upload_matrix(Context& ctx, const TensorView& w, size_t max_part_bytes) {
    if (!supports_type(w.type))
        return error("vulkan: tensor '{}': weight type {} has no Vulkan kernels", w.name, dtype_name(w.type));
    if (!w.valid()) return error("vulkan: tensor '{}' has no data", w.name);
    DeviceMatrix m;
    m.type = w.type;
    m.n_in = (uint32_t)w.ne[0];
    m.n_out = (uint32_t)w.n_rows();
    m.row_bytes = (uint32_t)w.row_size();
    // Buffers are rounded up to 16 bytes: keep that slack below the device limit.
    if (max_part_bytes == 0) max_part_bytes = std::min<uint64_t>(ctx.info().max_buffer_range, 0xFFFFFFFFu) - 16;
    const uint64_t rows_per_part = max_part_bytes / m.row_bytes;
    if (rows_per_part == 0) return error("vulkan: tensor '{}': one row exceeds the device's buffer range", w.name);
    for (uint64_t r0 = 0; r0 < m.n_out; r0 += rows_per_part) {
        const uint32_t rows = (uint32_t)std::min<uint64_t>(rows_per_part, m.n_out - r0);
        const size_t bytes = (size_t)rows * m.row_bytes;
        auto buf = ctx.create_buffer(bytes);
        if (!buf) return buf.status().with_context(fmt::format("tensor '{}'", w.name));
        LLM_TRY(ctx.upload(*buf, w.row((int64_t)r0), bytes));
        m.parts.push_back({std::move(*buf), (uint32_t)r0, rows});
    }
    return m;
}

Status warm_up_pipelines(Context& ctx, std::span<const DType> weight_types) {
    auto make = [&](std::string_view name, uint32_t n_buffers, bool wg_spec) -> Status {
        auto p = ctx.pipeline(name, n_buffers, wg_spec ? std::span<const uint32_t>(kWgSpec) : std::span<const uint32_t>());
        return p ? Status{} : p.status();
    };
    for (DType t : weight_types) {
        const char* sfx = type_suffix(t);
        if (!sfx) return error("vulkan: no kernels for {}", dtype_name(t));
        LLM_TRY(make(fmt::format("matvec_{}", sfx), 3, true));
        if (ctx.subgroup_matvec()) {  // a driver that cannot build it gets the shared-memory kernels
            const auto spec = sg_spec(ctx);
            if (!ctx.pipeline(fmt::format("matvec_sg_{}", sfx), 3, spec)) ctx.set_subgroup_matvec(false);
        }
        LLM_TRY(make(fmt::format("matmul_tiled_{}", sfx), 3, false));
        LLM_TRY(make(fmt::format("get_rows_{}", sfx), 3, false));
    }
    LLM_TRY(make("rms_norm", 3, true));
    LLM_TRY(make("rope", 2, false));
    LLM_TRY(make("attention_f16", 7, true));
    LLM_TRY(make("attention_f32", 7, true));
    LLM_TRY(make("kv_write_f16", 4, false));
    LLM_TRY(make("kv_write_f32", 4, false));
    LLM_TRY(make("silu_mul", 3, false));
    LLM_TRY(make("add", 2, false));
    LLM_TRY(make("scale", 1, false));
    LLM_TRY(make("add_bias", 2, false));
    LLM_TRY(make("geglu", 3, false));
    return make("softmax", 1, true);
}

Expected<Buffer> upload_floats(Context& ctx, const float* data, size_t n) {
    auto buf = ctx.create_buffer(n * sizeof(float));
    if (!buf) return buf.status();
    LLM_TRY(ctx.upload(*buf, data, n * sizeof(float)));
    return std::move(*buf);
}

Status matmul(Context& ctx, CommandList& cl, const DeviceMatrix& w, Act x, uint32_t n_tokens, Act y,
              MatmulKernel kernel) {
    struct {
        uint32_t n_in, n_out, n_tokens, row_bytes, x_offset, x_stride, y_offset, y_stride;
    } pc{w.n_in, w.n_out, n_tokens, w.row_bytes, x.offset, x.stride ? x.stride : w.n_in, y.offset,
         y.stride ? y.stride : w.n_out};
    if (n_tokens == 0) return {};
    const char* sfx = type_suffix(w.type);
    if (!sfx || w.on_cpu()) return error("vulkan: matmul: no kernels for {} on this device", dtype_name(w.type));
    if (kernel == MatmulKernel::Auto)
        kernel = n_tokens > kMatVecMaxTokens ? MatmulKernel::Tiled
                 : ctx.subgroup_matvec()     ? MatmulKernel::MatVecSubgroup
                                             : MatmulKernel::MatVec;
    if (kernel == MatmulKernel::MatVecSubgroup && !ctx.info().subgroup_arithmetic) kernel = MatmulKernel::MatVec;
    if (n_tokens > kMaxGroups) return error("vulkan: matmul: {} tokens exceed one dispatch", n_tokens);
    const char* base = kernel == MatmulKernel::Tiled    ? "matmul_tiled"
                       : kernel == MatmulKernel::MatVec ? "matvec"
                                                        : "matvec_sg";
    const std::string shader = fmt::format("{}_{}", base, sfx);
    const auto sg = sg_spec(ctx);
    const std::span<const uint32_t> mv_spec =
        kernel == MatmulKernel::MatVecSubgroup ? std::span<const uint32_t>(sg) : std::span<const uint32_t>(kWgSpec);
    const uint32_t y_offset = pc.y_offset;
    for (const DeviceMatrix::Part& part : w.parts) {  // each part writes its rows' columns of y
        pc.n_out = part.n_rows;
        pc.y_offset = y_offset + part.row0;
        if (kernel != MatmulKernel::Tiled) {
            const uint32_t gx = std::min(part.n_rows, kMaxGroups), gz = ceil_div(part.n_rows, gx);
            LLM_TRY(run(ctx, cl, shader, {&part.buf, x.buf, y.buf}, pc, gx, n_tokens, gz, mv_spec));
        } else {
            LLM_TRY(run(ctx, cl, shader, {&part.buf, x.buf, y.buf}, pc, ceil_div(part.n_rows, 32),
                        ceil_div(n_tokens, 32)));
        }
    }
    return {};
}

Status get_rows(Context& ctx, CommandList& cl, const DeviceMatrix& table, const Buffer& ids, uint32_t n_ids,
                const Buffer& out, uint32_t out_offset) {
    struct {
        uint32_t n_cols, row_bytes, n_ids, out_offset, row0, n_rows;
    } pc{table.n_in, table.row_bytes, n_ids, out_offset, 0, 0};
    const char* sfx = type_suffix(table.type);
    if (!sfx || table.on_cpu())
        return error("vulkan: get_rows: no kernels for {} on this device", dtype_name(table.type));
    if (n_ids > kMaxGroups) return error("vulkan: get_rows: {} rows exceed one dispatch", n_ids);
    if (n_ids == 0) return {};
    for (const DeviceMatrix::Part& part : table.parts) {  // each part fills the ids that fall in its rows
        pc.row0 = part.row0, pc.n_rows = part.n_rows;
        LLM_TRY(run(ctx, cl, fmt::format("get_rows_{}", sfx), {&part.buf, &ids, &out}, pc, ceil_div(table.n_in, 256),
                    n_ids));
    }
    return {};
}

Status rms_norm(Context& ctx, CommandList& cl, const Buffer& x, uint32_t x_offset, const Buffer& w,
                const Buffer& y, uint32_t y_offset, uint32_t n_rows, uint32_t d, float eps) {
    struct {
        uint32_t d, n_rows, x_offset, y_offset;
        float eps;
    } pc{d, n_rows, x_offset, y_offset, eps};
    if (n_rows == 0) return {};
    return run(ctx, cl, "rms_norm", {&x, &w, &y}, pc, n_rows, 1, 1, kWgSpec);
}

Status rope(Context& ctx, CommandList& cl, Act x, uint32_t n_tokens, uint32_t n_heads, uint32_t head_dim,
            const RopeParams& p, const Buffer& cs) {
    struct {
        uint32_t n_tokens, n_heads, head_dim, n_rot, style, x_offset, x_stride;
    } pc{n_tokens, n_heads, head_dim, (uint32_t)p.n_rot, p.style == RopeStyle::Interleaved ? 0u : 1u, x.offset,
         x.stride ? x.stride : n_heads * head_dim};
    if (p.n_rot <= 0 || p.n_rot % 2 || (uint32_t)p.n_rot > head_dim)
        return error("vulkan: rope: n_rot {} must be even and <= head_dim {}", p.n_rot, head_dim);
    const uint64_t n = (uint64_t)n_tokens * n_heads * (p.n_rot / 2);
    if (n == 0) return {};
    uint32_t gx, gy;
    split_grid(ceil_div(n, 256), gx, gy);
    return run(ctx, cl, "rope", {x.buf, &cs}, pc, gx, gy);
}

Status attention(Context& ctx, CommandList& cl, Act q, KvView k, KvView v, uint32_t n_keys, uint32_t n_tokens,
                 uint32_t pos0, const AttentionParams& p, Act out, const Buffer* params, const PagedTables* paged) {
    if (p.head_dim > 256) return error("vulkan: attention: head_dim {} > 256", p.head_dim);
    if (p.n_kv_heads <= 0 || p.n_heads % p.n_kv_heads)
        return error("vulkan: attention: {} heads not a multiple of {} kv heads", p.n_heads, p.n_kv_heads);
    if (k.f16 != v.f16) return error("vulkan: attention: K and V must have the same type");
    const uint32_t qd = (uint32_t)(p.n_heads * p.head_dim);
    struct {
        uint32_t n_tokens, n_keys, n_heads, n_kv_heads, head_dim, pos0, window, q_offset, q_stride, o_offset,
            o_stride, k_offset, v_offset, kv_stride;
        float scale;
        uint32_t round_f16, dyn, paged, block_tokens;
    } pc{n_tokens, n_keys, (uint32_t)p.n_heads, (uint32_t)p.n_kv_heads, (uint32_t)p.head_dim, pos0,
         (uint32_t)std::max(0, p.sliding_window), q.offset, q.stride ? q.stride : qd, out.offset,
         out.stride ? out.stride : qd, k.offset, v.offset, k.stride, p.scale, p.round_to_f16 ? 1u : 0u,
         params && !paged ? 1u : 0u, paged ? 1u : 0u, paged ? paged->block_tokens : 0u};
    if (paged && (!paged->tokens || !paged->tables || paged->block_tokens == 0))
        return error("vulkan: attention: paged needs token and table buffers and a block size");
    if (k.stride != v.stride) return error("vulkan: attention: K and V row strides differ");
    if (n_tokens == 0) return {};
    if (n_tokens > kMaxGroups) return error("vulkan: attention: {} tokens exceed one dispatch", n_tokens);
    // Without params (paged) the binding is a dummy (never read): any valid buffer.
    return run(ctx, cl, k.f16 ? "attention_f16" : "attention_f32",
               {q.buf, k.buf, v.buf, out.buf, params ? params : q.buf, paged ? paged->tokens : q.buf,
                paged ? paged->tables : q.buf},
               pc, (uint32_t)p.n_heads, n_tokens, 1, kWgSpec);
}

Status kv_write(Context& ctx, CommandList& cl, Act src, uint32_t n, uint32_t kv_dim, uint32_t pos0, KvView dst,
                const Buffer* params, const Buffer* slots) {
    struct {
        uint32_t n, kv_dim, pos0, src_offset, src_stride, dst_offset, dyn, paged;
    } pc{n, kv_dim, pos0, src.offset, src.stride ? src.stride : kv_dim, dst.offset, params && !slots ? 1u : 0u,
         slots ? 1u : 0u};
    if (dst.f16 && (kv_dim % 2 || dst.offset % 2)) return error("vulkan: kv_write: F16 rows need an even kv_dim");
    if (n == 0) return {};
    const uint32_t per_thread = dst.f16 ? 2 : 1;
    return run(ctx, cl, dst.f16 ? "kv_write_f16" : "kv_write_f32",
               {src.buf, dst.buf, params ? params : src.buf, slots ? slots : src.buf}, pc, ceil_div(kv_dim / per_thread, 256), n);
}

Status softmax(Context& ctx, CommandList& cl, const Buffer& x, uint32_t offset, uint32_t n, uint32_t n_rows) {
    struct {
        uint32_t n, n_rows, offset;
    } pc{n, n_rows, offset};
    if (n_rows == 0) return {};
    return run(ctx, cl, "softmax", {&x}, pc, n_rows, 1, 1, kWgSpec);
}

Status silu_mul(Context& ctx, CommandList& cl, Act gate, Act up, Act out, uint32_t width, uint32_t n_rows) {
    struct {
        uint32_t width, n_rows, a_offset, a_stride, b_offset, b_stride, o_offset, o_stride;
    } pc{width, n_rows, gate.offset, gate.stride ? gate.stride : width, up.offset, up.stride ? up.stride : width,
         out.offset, out.stride ? out.stride : width};
    if (n_rows == 0 || width == 0) return {};
    return run(ctx, cl, "silu_mul", {gate.buf, up.buf, out.buf}, pc, ceil_div(width, 256), n_rows);
}

Status geglu(Context& ctx, CommandList& cl, Act gate, Act up, Act out, uint32_t width, uint32_t n_rows) {
    struct {
        uint32_t width, n_rows, a_offset, a_stride, b_offset, b_stride, o_offset, o_stride;
    } pc{width, n_rows, gate.offset, gate.stride ? gate.stride : width, up.offset, up.stride ? up.stride : width,
         out.offset, out.stride ? out.stride : width};
    if (n_rows == 0 || width == 0) return {};
    return run(ctx, cl, "geglu", {gate.buf, up.buf, out.buf}, pc, ceil_div(width, 256), n_rows);
}

Status add_inplace(Context& ctx, CommandList& cl, const Buffer& x, uint32_t x_offset, const Buffer& y,
                   uint32_t y_offset, uint32_t n) {
    struct {
        uint32_t n, x_offset, y_offset;
    } pc{n, x_offset, y_offset};
    if (n == 0) return {};
    uint32_t gx, gy;
    split_grid(ceil_div(n, 256), gx, gy);
    return run(ctx, cl, "add", {&x, &y}, pc, gx, gy);
}

Status add_bias(Context& ctx, CommandList& cl, Act x, const Buffer& bias, uint32_t width, uint32_t n_rows) {
    struct {
        uint32_t width, n_rows, offset, stride;
    } pc{width, n_rows, x.offset, x.stride ? x.stride : width};
    if (n_rows == 0 || width == 0) return {};
    if (n_rows > kMaxGroups) return error("vulkan: add_bias: {} rows exceed one dispatch", n_rows);
    return run(ctx, cl, "add_bias", {x.buf, &bias}, pc, ceil_div(width, 256), n_rows);
}

Status scale(Context& ctx, CommandList& cl, Act x, uint32_t width, uint32_t n_rows, float s) {
    struct {
        uint32_t width, n_rows, offset, stride;
        float s;
    } pc{width, n_rows, x.offset, x.stride ? x.stride : width, s};
    if (n_rows == 0 || width == 0) return {};
    if (n_rows > kMaxGroups) return error("vulkan: scale: {} rows exceed one dispatch", n_rows);
    return run(ctx, cl, "scale", {x.buf}, pc, ceil_div(width, 256), n_rows);
}

}  // namespace llm::vk
