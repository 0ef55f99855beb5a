// Graph builder (shape checks, views) and the scratch-memory plan shared by the executors.
#include "core/graph.hpp"

#include <algorithm>

#include "core/status.hpp"

namespace llm {

Graph::Graph(int64_t n_tokens) : n_tokens_(n_tokens) { LLM_CHECK(n_tokens > 0); }

Tensor Graph::new_root(int64_t rows, int64_t cols) {
    LLM_CHECK(rows > 0 && cols > 0);
    const int32_t id = (int32_t)tensors_.size();
    tensors_.push_back({rows, cols, id, 0, 0, cols, false});
    return {id};
}

Node& Graph::push(Op op, Tensor out) {
    Node n;
    n.op = op;
    n.out = out;
    nodes_.push_back(std::move(n));
    return nodes_.back();
}

Tensor Graph::embed(const TensorView& table) {
    LLM_CHECK(table.valid());
    const Tensor out = new_root(n_tokens_, table.ne[0]);
    push(Op::Embed, out).w = &table;
    return out;
}

Tensor Graph::rms_norm(Tensor x, const float* gain, float eps) {
    LLM_CHECK(gain != nullptr);
    const Tensor out = new_root(desc(x).rows, desc(x).cols);
    Node& n = push(Op::RmsNorm, out);
    n.in[0] = x, n.gain = gain, n.eps = eps;
    return out;
}

Tensor Graph::rms_norm_heads(Tensor x, int head_dim, const float* gain, float eps) {
    LLM_CHECK(gain != nullptr && head_dim > 0 && desc(x).cols % head_dim == 0);
    const Tensor out = new_root(desc(x).rows, desc(x).cols);
    Node& n = push(Op::RmsNorm, out);
    n.in[0] = x, n.gain = gain, n.eps = eps, n.head_dim = head_dim;
    return out;
}

Tensor Graph::matmul(const TensorView& w, Tensor x) {
    LLM_CHECK(w.valid() && desc(x).cols == w.ne[0]);
    const Tensor out = new_root(desc(x).rows, w.n_rows());
    Node& n = push(Op::Matmul, out);
    n.in[0] = x, n.w = &w;
    return out;
}

void Graph::rope(Tensor x, int head_dim, RopeStyle style, int n_rot, int table) {
    LLM_CHECK(desc(x).rows == n_tokens_ && head_dim > 0 && desc(x).cols % head_dim == 0);
    LLM_CHECK(n_rot > 0 && n_rot % 2 == 0 && n_rot <= head_dim && (table == 0 || table == 1));
    Node& n = push(Op::Rope, x);
    n.in[0] = x, n.head_dim = head_dim, n.rope_style = style, n.n_rot = n_rot, n.rope_table = table;
}

void Graph::scale(Tensor x, float factor) {
    Node& n = push(Op::Scale, x);
    n.in[0] = x, n.factor = factor;
}

void Graph::kv_store(int layer, Tensor k, Tensor v) {
    LLM_CHECK(layer >= 0 && desc(k).rows == n_tokens_ && desc(v).rows == n_tokens_ && desc(k).cols == desc(v).cols);
    Node& n = push(Op::KvStore, Tensor{});
    n.in = {k, v}, n.layer = layer;
}

Tensor Graph::attention(int layer, Tensor q, const AttentionParams& p) {
    LLM_CHECK(layer >= 0 && desc(q).rows == n_tokens_ && desc(q).cols == (int64_t)p.n_heads * p.head_dim);
    LLM_CHECK(p.n_kv_heads > 0 && p.n_heads % p.n_kv_heads == 0);
    const Tensor out = new_root(n_tokens_, desc(q).cols);
    Node& n = push(Op::Attention, out);
    n.in[0] = q, n.layer = layer, n.attn = p;
    return out;
}

void Graph::add(Tensor x, Tensor y) {
    LLM_CHECK(desc(x).rows == desc(y).rows && desc(x).cols == desc(y).cols);
    push(Op::Add, x).in = {x, y};
}

Tensor Graph::swiglu(Tensor gate, Tensor up) {
    LLM_CHECK(desc(gate).rows == desc(up).rows && desc(gate).cols == desc(up).cols);
    const Tensor out = new_root(desc(gate).rows, desc(gate).cols);
    push(Op::Swiglu, out).in = {gate, up};
    return out;
}

Tensor Graph::geglu(Tensor gate, Tensor up) {
    LLM_CHECK(desc(gate).rows == desc(up).rows && desc(gate).cols == desc(up).cols);
    const Tensor out = new_root(desc(gate).rows, desc(gate).cols);
    push(Op::Geglu, out).in = {gate, up};
    return out;
}

void Graph::add_bias(Tensor x, const float* bias) {
    LLM_CHECK(bias != nullptr);
    Node& n = push(Op::AddBias, x);
    n.in[0] = x, n.gain = bias;
}

Tensor Graph::select_rows(Tensor x, std::vector<int32_t> rows) {
    LLM_CHECK(!rows.empty());
    for (int32_t r : rows) LLM_CHECK(r >= 0 && r < desc(x).rows);
    const Tensor out = new_root((int64_t)rows.size(), desc(x).cols);
    Node& n = push(Op::SelectRows, out);
    n.in[0] = x, n.rows = std::move(rows);
    return out;
}

Tensor Graph::cols(Tensor x, int64_t col0, int64_t n) {
    TensorDesc d = desc(x);
    LLM_CHECK(col0 >= 0 && n > 0 && col0 + n <= d.cols);
    d.col0 += col0, d.cols = n;
    tensors_.push_back(d);
    return {(int32_t)tensors_.size() - 1};
}

Tensor Graph::rows(Tensor x, int64_t row0, int64_t n) {
    TensorDesc d = desc(x);
    LLM_CHECK(row0 >= 0 && n > 0 && row0 + n <= d.rows);
    d.row0 += row0, d.rows = n;
    tensors_.push_back(d);
    return {(int32_t)tensors_.size() - 1};
}

void Graph::set_output(Tensor t) {
    LLM_CHECK(desc(t).root == t.id);
    tensors_[t.id].is_output = true;
    output_ = t;
}

std::string Graph::dump() const {
    std::string s;
    auto shape = [&](Tensor t) {
        const TensorDesc& d = desc(t);
        return fmt::format("t{}[{}x{}]", t.id, d.rows, d.cols);
    };
    for (size_t i = 0; i < nodes_.size(); ++i) {
        const Node& n = nodes_[i];
        s += fmt::format("{} {}", i, op_name(n.op));
        // Appends, not "x" + temporary (GCC 12 warns -Wrestrict on that inlined operator+).
        if (n.w) s.append(" ").append(n.w->name.empty() ? "(weight)" : n.w->name.c_str());
        if (n.layer >= 0) s += fmt::format(" layer {}", n.layer);
        if (n.out.valid()) s.append(" ").append(shape(n.out));
        for (int k = 0; k < op_info(n.op).n_inputs; ++k) s.append(k ? ", " : " <- ").append(shape(n.in[k]));
        s += "\n";
    }
    return s;
}

MemoryPlan plan_memory(const Graph& g) {
    const auto& nodes = g.nodes();
    const size_t n_t = g.n_tensors();
    // Per root: the node that defines it and the last node that touches it (through any view).
    std::vector<int64_t> first(n_t, -1), last(n_t, -1);
    for (size_t i = 0; i < nodes.size(); ++i) {
        const Node& n = nodes[i];
        auto touch = [&](Tensor t) {
            if (!t.valid()) return;
            const int32_t r = g.desc(t).root;
            if (first[r] < 0) first[r] = (int64_t)i;
            last[r] = (int64_t)i;
        };
        touch(n.out);
        for (int k = 0; k < op_info(n.op).n_inputs; ++k) touch(n.in[k]);
    }
    std::vector<std::vector<int32_t>> dies_at(nodes.size());
    for (size_t r = 0; r < n_t; ++r)
        if (last[r] >= 0) dies_at[last[r]].push_back((int32_t)r);

    MemoryPlan plan;
    plan.slot.assign(n_t, -1);
    std::vector<int32_t> root_slot(n_t, -1);
    std::vector<bool> busy;
    // The smallest free slot that fits, else the largest free one (grown), else a new one.
    auto pick_slot = [&](int64_t need) {
        int32_t fit = -1, largest = -1;
        for (size_t s = 0; s < busy.size(); ++s) {
            if (busy[s]) continue;
            const int64_t have = plan.slot_elems[s];
            if (have >= need && (fit < 0 || have < plan.slot_elems[fit])) fit = (int32_t)s;
            if (largest < 0 || have > plan.slot_elems[largest]) largest = (int32_t)s;
        }
        int32_t s = fit >= 0 ? fit : largest;
        if (s < 0) {
            s = (int32_t)busy.size();
            busy.push_back(false);
            plan.slot_elems.push_back(0);
        }
        plan.slot_elems[s] = std::max(plan.slot_elems[s], need);
        busy[s] = true;
        return s;
    };
    for (size_t i = 0; i < nodes.size(); ++i) {
        // Allocate the root first touched here before freeing this node's dead operands.
        const Tensor out = nodes[i].out;
        if (out.valid()) {
            const TensorDesc& d = g.desc(out);
            if (d.root == out.id && first[out.id] == (int64_t)i && !d.is_output)
                root_slot[out.id] = pick_slot(d.rows * d.cols);
        }
        for (int32_t r : dies_at[i])
            if (root_slot[r] >= 0) busy[root_slot[r]] = false;
    }
    for (size_t t = 0; t < n_t; ++t) plan.slot[t] = root_slot[g.desc(Tensor{(int32_t)t}).root];
    return plan;
}

}  // namespace llm
