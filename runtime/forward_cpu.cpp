// CPU executor of the node list. Column views (q, k, v of a fused QKV product; gate, up) are strided: ops
// whose kernels want dense rows get a dense copy (copies are exact, so results equal a dense layout).
#include "runtime/forward_cpu.hpp"

#include <cstring>
#include <iterator>

#include "kernels/cpu/attention.hpp"
#include "kernels/cpu/attention_ggml.hpp"
#include "kernels/cpu/matmul.hpp"
#include "kernels/cpu/ops.hpp"
#include "runtime/kv_pool.hpp"

namespace llm {
namespace {

// One pass in progress: where each tensor lives, and the pass inputs.
struct CpuRun {
    const Graph& g;
    const ForwardInputs& in;
    KvCache* kv;  // null for a paged pass (in.paged)
    float* output;
    ForwardScratch& s;
    const MemoryPlan& plan;
    int nt;
    Numerics numerics;
    int64_t pos0;  // first position when the batch positions are consecutive, else -1

    float* ptr(Tensor t) const {
        const TensorDesc& d = g.desc(t);
        float* base = g.desc(Tensor{d.root}).is_output ? output : s.slots[plan.slot[t.id]].data();
        return base + d.offset();
    }
    // t's rows packed densely: t itself when already dense, else a copy in s.dense[which].
    float* dense(Tensor t, int which) {
        const TensorDesc& d = g.desc(t);
        if (d.dense()) return ptr(t);
        std::vector<float>& buf = s.dense[which];
        if (buf.size() < (size_t)(d.rows * d.cols)) buf.resize(d.rows * d.cols);
        const float* src = ptr(t);
        for (int64_t r = 0; r < d.rows; ++r)
            std::memcpy(buf.data() + r * d.cols, src + r * d.stride, d.cols * sizeof(float));
        return buf.data();
    }
    // Writes back a dense copy made by dense(t, which) (no-op when t is dense).
    void write_back(Tensor t, const float* rows) const {
        const TensorDesc& d = g.desc(t);
        if (d.dense()) return;
        float* dst = ptr(t);
        for (int64_t r = 0; r < d.rows; ++r)
            std::memcpy(dst + r * d.stride, rows + r * d.cols, d.cols * sizeof(float));
    }
    const TensorDesc& desc(Tensor t) const { return g.desc(t); }
};

void run_embed(CpuRun& r, const Node& n) {
    embed_rows(*n.w, r.in.batch->tokens.data(), r.desc(n.out).rows, r.ptr(n.out), r.nt);
}

void run_rms_norm(CpuRun& r, const Node& n) {
    const TensorDesc& d = r.desc(n.out);
    const int64_t width = n.head_dim > 0 ? n.head_dim : d.cols;  // per head (QK-norm) or per row
    rms_norm(r.dense(n.in[0], 0), n.gain, r.ptr(n.out), d.rows * (d.cols / width), width, n.eps, r.nt);
}

void run_matmul(CpuRun& r, const Node& n) {
    matmul(*n.w, r.dense(n.in[0], 0), r.desc(n.out).rows, r.ptr(n.out), r.nt, r.numerics);
}

void run_rope(CpuRun& r, const Node& n) {
    const TensorDesc& d = r.desc(n.out);
    const bool swa = n.rope_table == 1;  // the sliding-window layers' table (their own rope base)
    RopeParams p = swa ? r.in.rope_swa : r.in.rope;
    const std::vector<float>& table = swa ? r.in.rope_cs_swa : r.in.rope_cs;
    LLM_CHECK(p.n_rot == n.n_rot && !table.empty());  // the pass's cos/sin table has n_rot/2 pairs per token
    p.style = n.rope_style;
    float* x = r.dense(n.out, 0);
    rope_apply(x, d.rows, (int)(d.cols / n.head_dim), n.head_dim, table.data(), p, r.nt);
    r.write_back(n.out, x);
}

void run_scale(CpuRun& r, const Node& n) {
    const TensorDesc& d = r.desc(n.out);
    scale_rows(r.ptr(n.out), d.rows, d.cols, d.stride, n.factor, r.nt);
}

void run_kv_store(CpuRun& r, const Node& n) {
    const float* k = r.dense(n.in[0], 0);
    const float* v = r.dense(n.in[1], 1);
    const int64_t rows = r.desc(n.in[0]).rows, kv_dim = r.desc(n.in[0]).cols;
    if (const PagedKv* pk = r.in.paged) {
        [[maybe_unused]] const int nt = r.nt;  // read by the pragma only
#pragma omp parallel for num_threads(std::max(1, nt)) if (nt > 1 && rows > 1)
        for (int64_t i = 0; i < rows; ++i) pk->pool->store(n.layer, pk->slots[i], k + i * kv_dim, v + i * kv_dim);
        return;
    }
    if (r.pos0 >= 0) {
        r.kv->store(n.layer, r.pos0, rows, k, v, r.nt);
        return;
    }
    const std::vector<int32_t>& pos = r.in.batch->positions;
    for (int64_t i = 0; i < rows; ++i) r.kv->store(n.layer, pos[i], 1, k + i * kv_dim, v + i * kv_dim, r.nt);
}

// Every sequence through its block table, in one call (kernels/cpu/attention.hpp: paged_attention, batch
// invariant in every numerics mode).
void run_paged_attention(CpuRun& r, const Node& n, const float* q) {
    const PagedKv& pk = *r.in.paged;
    std::vector<AttnSeq>& seqs = r.s.attn_seqs;
    seqs.resize(pk.pool->transposed_values() ? 0 : pk.seqs.size());
    for (size_t i = 0; i < seqs.size(); ++i) {
        const PagedSeq& ps = pk.seqs[i];
        seqs[i] = {ps.tok0, ps.n_tokens, ps.n_keys, pk.pool->keys(n.layer, ps.blocks),
                   pk.pool->values(n.layer, ps.blocks)};
    }
    AttentionParams p = n.attn;
    p.round_to_f16 = pk.pool->type() == DType::F16;
    if (pk.pool->transposed_values()) {  // a Session in Numerics::Exact: llama.cpp's attention, per sequence
        LLM_CHECK(r.numerics == Numerics::Exact);
        const int64_t q_stride = (int64_t)p.n_heads * p.head_dim;
        for (const PagedSeq& ps : pk.seqs)
            ggml_attention(q + ps.tok0 * q_stride, pk.pool->ggml_view(n.layer, ps.blocks, ps.n_keys), ps.n_keys,
                           ps.n_tokens, r.in.batch->positions.data() + ps.tok0, p, r.ptr(n.out) + ps.tok0 * q_stride,
                           r.nt);
        return;
    }
    paged_attention(q, seqs.data(), (int)seqs.size(), r.in.batch->positions.data(), p, r.ptr(n.out), r.nt);
}

void run_attention(CpuRun& r, const Node& n) {
    const float* q = r.dense(n.in[0], 0);
    if (r.in.paged) return run_paged_attention(r, n, q);
    const int64_t rows = r.desc(n.out).rows;
    const int32_t* pos = r.in.batch->positions.data();
    AttentionParams p = n.attn;
    p.round_to_f16 = r.kv->type() == DType::F16;  // llama.cpp's numerics with an F16 cache
    p.batch_invariant = r.numerics == Numerics::Invariant;
    // A transposed-values cache is made for Exact only (ForwardOptions::numerics).
    LLM_CHECK(!r.kv->transposed_values() || r.numerics == Numerics::Exact);
    if (r.kv->transposed_values())  // llama.cpp's own arithmetic (F16 cache)
        ggml_attention(q, r.kv->ggml_view(n.layer), r.in.n_keys, rows, pos, p, r.ptr(n.out), r.nt);
    else
        flash_attention(q, r.kv->keys(n.layer), r.kv->values(n.layer), r.in.n_keys, rows, pos, p, r.ptr(n.out), r.nt);
}

void run_add(CpuRun& r, const Node& n) {
    const TensorDesc& d = r.desc(n.out);
    const float* y = r.dense(n.in[1], 1);
    float* x = r.dense(n.out, 0);
    add_inplace(x, y, d.rows * d.cols, r.nt);
    r.write_back(n.out, x);
}

void run_swiglu(CpuRun& r, const Node& n) {
    const TensorDesc &g = r.desc(n.in[0]), &u = r.desc(n.in[1]);
    swiglu_rows(r.ptr(n.in[0]), g.stride, r.ptr(n.in[1]), u.stride, r.ptr(n.out), g.rows, g.cols, r.nt);
}

void run_geglu(CpuRun& r, const Node& n) {
    const TensorDesc &g = r.desc(n.in[0]), &u = r.desc(n.in[1]);
    geglu_rows(r.ptr(n.in[0]), g.stride, r.ptr(n.in[1]), u.stride, r.ptr(n.out), g.rows, g.cols, r.nt);
}

void run_add_bias(CpuRun& r, const Node& n) {
    const TensorDesc& d = r.desc(n.out);
    add_bias_rows(r.ptr(n.out), d.rows, d.cols, d.stride, n.gain, r.nt);
}

void run_select_rows(CpuRun& r, const Node& n) {
    const TensorDesc& x = r.desc(n.in[0]);
    const float* src = r.ptr(n.in[0]);
    float* dst = r.ptr(n.out);
    for (size_t i = 0; i < n.rows.size(); ++i)
        std::memcpy(dst + i * x.cols, src + n.rows[i] * x.stride, x.cols * sizeof(float));
}

// The CPU column of the op table: one function per op, in enum order (checked below).
struct CpuOp {
    Op op;
    void (*run)(CpuRun&, const Node&);
};
constexpr CpuOp kCpuOps[] = {
    {Op::Embed, run_embed},   {Op::RmsNorm, run_rms_norm},     {Op::Matmul, run_matmul},
    {Op::Rope, run_rope},     {Op::Scale, run_scale},          {Op::KvStore, run_kv_store},
    {Op::Attention, run_attention}, {Op::Add, run_add},        {Op::Swiglu, run_swiglu},
    {Op::SelectRows, run_select_rows}, {Op::Geglu, run_geglu}, {Op::AddBias, run_add_bias},
};
constexpr bool cpu_ops_in_order() {
    for (size_t i = 0; i < std::size(kCpuOps); ++i)
        if ((size_t)kCpuOps[i].op != i) return false;
    return std::size(kCpuOps) == (size_t)Op::Count;
}
static_assert(cpu_ops_in_order(), "kCpuOps: one function per Op, in enum order");

}  // namespace

void run_graph_cpu(const Graph& g, const ForwardInputs& in, KvCache& kv, float* out, ForwardScratch& s,
                   const ForwardOptions& opt, const NodeHook& hook) {
    run_graph_cpu(g, plan_memory(g), in, kv, out, s, opt, hook);
}

namespace {

void run_nodes(const Graph& g, const MemoryPlan& plan, const ForwardInputs& in, KvCache* kv, float* out,
               ForwardScratch& s, const ForwardOptions& opt, const NodeHook& hook) {
    const Batch& b = *in.batch;
    LLM_CHECK(b.size() == g.n_tokens() && (int64_t)b.positions.size() == b.size());
    const DType kv_type = kv ? kv->type() : in.paged->pool->type();
    CpuRun r{g, in, kv, out, s, plan, opt.n_threads, opt.numerics, b.contiguous_pos0()};
    if (s.slots.size() < plan.slot_elems.size()) s.slots.resize(plan.slot_elems.size());
    for (size_t i = 0; i < plan.slot_elems.size(); ++i)
        if (s.slots[i].size() < (size_t)plan.slot_elems[i]) s.slots[i].resize(plan.slot_elems[i]);

    const auto& nodes = g.nodes();
    for (size_t i = 0; i < nodes.size(); ++i) {
        const Node& n = nodes[i];
        const OpInfo& info = op_info(n.op);
        if (n.w) LLM_CHECK(op_supports(Backend::Cpu, n.op, n.w->type));
        if (info.weight == WeightKind::Cache) LLM_CHECK(op_supports(Backend::Cpu, n.op, kv_type));
        kCpuOps[(size_t)n.op].run(r, n);
        if (hook && info.has_output) {
            const TensorDesc& d = g.desc(n.out);
            hook(i, n, NodeOutput{r.ptr(n.out), d.rows, d.cols, d.stride});
        }
    }
}

// The graph of the last pass when c, w and the batch shape are the same, else a new one.
ForwardScratch::CachedGraph& cached_graph(const ModelConfig& c, const ModelWeights& w, const Batch& b,
                                          ForwardScratch& s, bool hidden_output) {
    auto& cg = s.cached;
    if (!cg || cg->config != &c || cg->weights != &w || !cg->shape.same_shape(b) || cg->hidden != hidden_output) {
        Graph g = build_forward(c, w, b, hidden_output);
        MemoryPlan plan = plan_memory(g);
        Batch shape;
        shape.tokens.resize(b.tokens.size()), shape.out_rows = b.out_rows;
        cg.reset(new ForwardScratch::CachedGraph{&c, &w, std::move(shape), std::move(g), std::move(plan),
                                                 hidden_output});
    }
    return *cg;
}

}  // namespace

void run_graph_cpu(const Graph& g, const MemoryPlan& plan, const ForwardInputs& in, KvCache& kv, float* out,
                   ForwardScratch& s, const ForwardOptions& opt, const NodeHook& hook) {
    for (int32_t id : in.batch->seq_ids) LLM_CHECK(id == 0);  // several sequences per pass: a PagedKv
    LLM_CHECK(in.n_keys <= kv.n_ctx() && !in.paged);
    run_nodes(g, plan, in, &kv, out, s, opt, hook);
}

void run_graph_cpu_paged(const Graph& g, const MemoryPlan& plan, const ForwardInputs& in, float* out,
                         ForwardScratch& s, const ForwardOptions& opt, const NodeHook& hook) {
    LLM_CHECK(in.paged && in.paged->pool && (int64_t)in.paged->slots.size() == in.batch->size());
    run_nodes(g, plan, in, nullptr, out, s, opt, hook);
}

void forward_cpu_paged(const ModelConfig& c, const ModelWeights& w, const PagedKv& kv, const Batch& b, float* out,
                       ForwardScratch& s, const ForwardOptions& opt) {
    ForwardScratch::CachedGraph& cg = cached_graph(c, w, b, s, false);
    ForwardInputs in = forward_inputs(c, b, opt.longrope);
    in.paged = &kv;
    run_graph_cpu_paged(cg.graph, cg.plan, in, out, s, opt);
}

void forward_cpu(const ModelConfig& c, const ModelWeights& w, KvCache& kv, const Batch& b, float* logits,
                 ForwardScratch& s, const ForwardOptions& opt, bool hidden_output) {
    ForwardScratch::CachedGraph& cg = cached_graph(c, w, b, s, hidden_output);
    const ForwardInputs in = forward_inputs(c, b, opt.longrope);
    run_graph_cpu(cg.graph, cg.plan, in, kv, logits, s, opt);
}

}  // namespace llm
