// The op table: every op of the forward-pass node list (core/graph.hpp), one row each, with its arity and,
// per backend, the types it runs (weight types for ops with a weight matrix, KV cache types for the cache
// ops). Executors keep one function per row (runtime/forward_cpu.cpp, kernels/vulkan/vk_graph.cpp); the
// Vulkan backend decides per node from this table whether it runs on the device or falls back to the CPU.
#pragma once
#include <cstdint>
#include <initializer_list>
#include <string_view>

#include "core/dtype.hpp"

namespace llm {

enum class Op : uint8_t {
    Embed,       // out = rows of a table, one per batch token id
    RmsNorm,     // out = rms_norm(x) * gain
    Matmul,      // out = W x
    Rope,        // x rotated in place by the batch positions (the pass's cos/sin table)
    Scale,       // x *= s in place
    KvStore,     // k, v rows written into a layer's KV cache at the batch positions
    Attention,   // out = causal attention of q over a layer's KV cache
    Add,         // x += y in place
    Swiglu,      // out = silu(gate) * up
    SelectRows,  // out = the listed rows of x (copies)
    Geglu,       // out = gelu_tanh(gate) * up (Gemma)
    AddBias,     // x += bias in place, the same bias row for every row (Qwen 2 QKV biases)
    Count
};

// What an op's weight operand is (Node::w / Node::gain in core/graph.hpp).
enum class WeightKind : uint8_t {
    None,
    Matrix,  // y = W x: TensorView with ne[0] = n_in
    Table,   // rows looked up by id: TensorView with ne[0] = width
    Gain,    // float32 vector of the row width
    Cache,   // no weight, but a KV cache layer whose storage type the type sets list
};

enum class Backend : uint8_t { Cpu, Vulkan, Count };

// A set of element types: one bit per DType id (all ids are < 64).
struct TypeSet {
    uint64_t bits = 0;
    constexpr TypeSet() = default;
    constexpr TypeSet(std::initializer_list<DType> types) {
        for (DType t : types) bits |= uint64_t{1} << (uint32_t)t;
    }
    constexpr bool has(DType t) const { return (uint32_t)t < 64 && (bits >> (uint32_t)t & 1); }
};

struct OpInfo {
    Op op;
    std::string_view name;  // profile labels, dumps, log lines
    int n_inputs;           // activation operands (Node::in)
    bool in_place;          // writes its first input; no new tensor
    bool has_output;        // defines Node::out (in-place ops: the updated first input)
    WeightKind weight;
    TypeSet types[(size_t)Backend::Count];  // per backend; ignored for WeightKind::None and Gain
};

namespace op_types {
// The weight types with vec_dot kernels (kernels/cpu/vec_dot_*.cpp) and with Vulkan shaders
// (cmake/vulkan_backend.cmake LLM_VK_TYPES): the same set today. Tests check both against the kernels.
inline constexpr TypeSet kMatmul = {DType::F32,  DType::F16,  DType::BF16, DType::Q4_0, DType::Q4_1,
                                    DType::Q5_0, DType::Q5_1, DType::Q8_0, DType::Q2_K, DType::Q3_K,
                                    DType::Q4_K, DType::Q5_K, DType::Q6_K, DType::IQ4_NL, DType::IQ4_XS};
// Row lookups dequantize a row: every known type on the CPU.
inline constexpr TypeSet kEveryType = {DType::F32,  DType::F16,  DType::BF16, DType::Q4_0, DType::Q4_1,
                                       DType::Q5_0, DType::Q5_1, DType::Q8_0, DType::Q8_1, DType::Q2_K,
                                       DType::Q3_K, DType::Q4_K, DType::Q5_K, DType::Q6_K, DType::Q8_K,
                                       DType::IQ4_NL, DType::IQ4_XS};
inline constexpr TypeSet kCpuCache = {DType::F16, DType::F32, DType::BF16, DType::Q8_0};
inline constexpr TypeSet kVulkanCache = {DType::F16, DType::F32};
inline constexpr TypeSet kFloat = {DType::F32};
}  // namespace op_types

// One row per op, in enum order (checked below). Columns: op, name, inputs, in place, output, weight,
// {CPU types, Vulkan types}.
inline constexpr OpInfo kOpTable[] = {
    {Op::Embed, "embed", 0, false, true, WeightKind::Table, {op_types::kEveryType, op_types::kMatmul}},
    {Op::RmsNorm, "rms_norm", 1, false, true, WeightKind::Gain, {op_types::kFloat, op_types::kFloat}},
    {Op::Matmul, "matmul", 1, false, true, WeightKind::Matrix, {op_types::kMatmul, op_types::kMatmul}},
    {Op::Rope, "rope", 1, true, true, WeightKind::None, {}},
    {Op::Scale, "scale", 1, true, true, WeightKind::None, {}},
    {Op::KvStore, "kv_store", 2, false, false, WeightKind::Cache, {op_types::kCpuCache, op_types::kVulkanCache}},
    {Op::Attention, "attention", 1, false, true, WeightKind::Cache, {op_types::kCpuCache, op_types::kVulkanCache}},
    {Op::Add, "add", 2, true, true, WeightKind::None, {}},
    {Op::Swiglu, "swiglu", 2, false, true, WeightKind::None, {}},
    {Op::SelectRows, "select_rows", 1, false, true, WeightKind::None, {}},
    {Op::Geglu, "geglu", 2, false, true, WeightKind::None, {}},
    {Op::AddBias, "add_bias", 1, true, true, WeightKind::Gain, {op_types::kFloat, op_types::kFloat}},
};

constexpr bool op_table_in_order() {
    for (size_t i = 0; i < sizeof(kOpTable) / sizeof(kOpTable[0]); ++i)
        if ((size_t)kOpTable[i].op != i) return false;
    return sizeof(kOpTable) / sizeof(kOpTable[0]) == (size_t)Op::Count;
}
static_assert(op_table_in_order(), "kOpTable: one row per Op, in enum order");

constexpr const OpInfo& op_info(Op op) { return kOpTable[(size_t)op]; }
constexpr std::string_view op_name(Op op) { return op_info(op).name; }

// Whether a backend runs an op on operands of this type (weight type, or KV cache type for the cache ops);
// ops without a typed operand run everywhere.
constexpr bool op_supports(Backend b, Op op, DType type) {
    const OpInfo& info = op_info(op);
    if (info.weight == WeightKind::None) return true;
    return info.types[(size_t)b].has(type);
}

}  // namespace llm
