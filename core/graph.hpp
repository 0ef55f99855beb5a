// The forward pass as a node list. Model code calls the builder like eager code (Tensor q = g.matmul(wq, h))
// and each call appends one node; nothing runs until a backend executes the list: runtime/forward_cpu.hpp op
// by op with the CPU kernels, kernels/vulkan/vk_decoder.hpp recorded into one command buffer.
// Activations are float32 [rows x cols] row-major. Rows are batch tokens (n_tokens of them) except after
// select_rows / rows(), which keep the tokens whose logits are wanted.
// Per-token data (token ids, positions, sequence ids) is not in the graph: a graph depends on the batch
// only through its shape (token count, output rows), so backends may cache one per shape and feed each
// pass's batch at run time (models/forward.hpp: ForwardInputs).
#pragma once
#include <array>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "core/op_params.hpp"
#include "core/op_table.hpp"
#include "core/tensor.hpp"

namespace llm {

// A handle to an activation of one graph.
struct Tensor {
    int32_t id = -1;
    bool valid() const { return id >= 0; }
    friend bool operator==(Tensor, Tensor) = default;
};

// A root owns its storage ([rows x cols], dense); a view is the block rows [row0, row0 + rows) x columns
// [col0, col0 + cols) of its root, sharing the storage (row stride: the root's cols).
struct TensorDesc {
    int64_t rows = 0, cols = 0;
    int32_t root = -1;  // its own id for a root
    int64_t row0 = 0, col0 = 0;
    int64_t stride = 0;      // elements between rows
    bool is_output = false;  // (root) the pass result: written to the caller's memory, never to scratch
    int64_t offset() const { return row0 * stride + col0; }  // first element inside the root
    bool dense() const { return stride == cols; }
};

// One op application. Which fields an op reads is listed at its builder method.
struct Node {
    Op op = Op::Count;
    Tensor out;                     // defined (or, for in-place ops, updated); invalid without output
    std::array<Tensor, 2> in{};     // activation operands, op_info(op).n_inputs of them
    const TensorView* w = nullptr;  // WeightKind::Matrix / Table
    const float* gain = nullptr;    // WeightKind::Gain: out's cols floats (RmsNorm per head: head_dim floats)
    int layer = -1;                 // KvStore, Attention: the KV cache layer
    float eps = 0;                  // RmsNorm
    float factor = 0;               // Scale
    int head_dim = 0;               // Rope: each row holds cols / head_dim heads; RmsNorm: >0 = per head
    RopeStyle rope_style = RopeStyle::Neox;
    int n_rot = 0;                  // Rope: rotated dims per head
    int rope_table = 0;             // Rope: the pass's cos/sin table 0 (global layers) or 1 (sliding-window layers)
    AttentionParams attn;           // Attention; round_to_f16 is set by the executor from its cache type
    std::vector<int32_t> rows;      // SelectRows: source rows, in output order
};

class Graph {
public:
    explicit Graph(int64_t n_tokens);

    // Builder. Shapes are checked here; a mismatch is a bug in the model code and aborts with a message.
    Tensor embed(const TensorView& table);                    // [n_tokens x width]: rows of the batch ids
    Tensor rms_norm(Tensor x, const float* gain, float eps);  // gain: x's cols floats
    // RMSNorm of each head_dim-wide group of x's columns (QK-norm), gain: head_dim floats shared by the heads.
    Tensor rms_norm_heads(Tensor x, int head_dim, const float* gain, float eps);
    Tensor matmul(const TensorView& w, Tensor x);             // [x.rows x w.ne[1]]; x.cols == w.ne[0]
    // In place, one batch token per row; table: which of the pass's cos/sin tables (ForwardInputs::rope_cs).
    void rope(Tensor x, int head_dim, RopeStyle style, int n_rot, int table = 0);
    void scale(Tensor x, float factor);                              // in place
    void kv_store(int layer, Tensor k, Tensor v);                    // one batch token per row
    Tensor attention(int layer, Tensor q, const AttentionParams& p);  // [n_tokens x n_heads*head_dim]
    void add(Tensor x, Tensor y);                                    // x += y, same shape
    Tensor swiglu(Tensor gate, Tensor up);                           // silu(gate) * up, same shape
    Tensor geglu(Tensor gate, Tensor up);                            // gelu_tanh(gate) * up, same shape
    void add_bias(Tensor x, const float* bias);                      // x[r] += bias (x's cols floats), in place
    Tensor select_rows(Tensor x, std::vector<int32_t> rows);         // [rows.size() x x.cols]
    // Views (no node, no copy): columns [col0, col0 + n) or rows [row0, row0 + n) of x.
    Tensor cols(Tensor x, int64_t col0, int64_t n);
    Tensor rows(Tensor x, int64_t row0, int64_t n);
    // Marks a root as the pass result (the logits).
    void set_output(Tensor t);

    int64_t n_tokens() const { return n_tokens_; }
    const std::vector<Node>& nodes() const { return nodes_; }
    const TensorDesc& desc(Tensor t) const { return tensors_.at(t.id); }
    size_t n_tensors() const { return tensors_.size(); }
    Tensor output() const { return output_; }
    // One line per node ("12 matmul blk.0.attn_q.weight t7[32x64] <- t6[32x64]"), for tests and debugging.
    std::string dump() const;

private:
    Tensor new_root(int64_t rows, int64_t cols);
    Node& push(Op op, Tensor out);
    int64_t n_tokens_ = 0;
    std::vector<TensorDesc> tensors_;
    std::vector<Node> nodes_;
    Tensor output_;
};

// Scratch memory of a graph: each root (but the output) gets a slot from its defining node to its last use;
// slots of dead tensors are reused, so a pass needs a few slots, not one per node. A node's new tensor
// never shares a slot with its operands. Deterministic: equal graphs get equal plans.
struct MemoryPlan {
    std::vector<int64_t> slot_elems;  // floats per slot
    std::vector<int32_t> slot;        // per tensor id: the slot of its root; -1 for the output
};
MemoryPlan plan_memory(const Graph& g);

// Debug hook of the executors: called after each node that has an output, with that tensor's values.
struct NodeOutput {
    const float* data = nullptr;
    int64_t rows = 0, cols = 0, stride = 0;
};
using NodeHook = std::function<void(size_t node_index, const Node& node, const NodeOutput& out)>;

}  // namespace llm
