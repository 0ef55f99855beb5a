// VulkanDecoder: a pass's node list recorded into command lists (one function per op of the op table),
// cached by batch shape. Activations live in one buffer per MemoryPlan slot; column views (q, k, v of a
// fused QKV product, gate and up) are read and written in place through offsets and strides.
// A recording is a list of segments: one command list each, preceded by host work (the nodes that run on
// the CPU, reading and writing host-visible staging buffers that the lists copy from and to).
// Barriers: dispatches are recorded without barriers between them, and one is inserted before a node
// that reads or writes what an earlier node since the last barrier wrote, or writes what it read (also
// through a slot reused by a new tensor), so independent nodes (the q, k, v products; rope of q and k)
// overlap.
#include "kernels/vulkan/vk_decoder.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <deque>
#include <functional>
#include <iterator>
#include <optional>

#include "core/system_info.hpp"
#include "kernels/cpu/matmul.hpp"

namespace llm::vk {

Expected<std::unique_ptr<VulkanDecoder>> VulkanDecoder::create(std::shared_ptr<const VulkanWeights> weights,
                                                               const DecoderOptions& opt) {
    if (!weights) return error("vulkan: decoder needs weights");
    if (!op_supports(Backend::Vulkan, Op::Attention, opt.kv_type) || !op_supports(Backend::Vulkan, Op::KvStore, opt.kv_type))
        return error("vulkan: KV cache type {} is not supported (F16 or F32)", dtype_name(opt.kv_type));
    if (opt.n_ctx <= 0) return error("vulkan: n_ctx must be positive");
    if (opt.paged_blocks < 0 || (opt.paged_blocks > 0 && opt.block_tokens <= 0))
        return error("vulkan: a paged cache needs a positive block count and block size");
    std::unique_ptr<VulkanDecoder> d(new VulkanDecoder());
    d->w_ = std::move(weights);
    d->opt_ = opt;
    const ModelConfig& c = d->w_->config;
    const int64_t rows = opt.paged_blocks > 0 ? opt.paged_blocks * opt.block_tokens : opt.n_ctx;
    if ((uint64_t)rows * c.kv_dim() >= (1ull << 32))  // the shaders index elements with uint32
        return error("vulkan: a KV cache of {} positions x {} values exceeds the shaders' 32-bit indices", rows, c.kv_dim());
    const size_t cache_bytes = (size_t)rows * c.kv_dim() * (opt.kv_type == DType::F16 ? 2 : 4);
    for (int il = 0; il < c.n_layers; ++il) {
        for (auto* caches : {&d->k_cache_, &d->v_cache_}) {
            auto b = d->w_->ctx->create_buffer(cache_bytes);
            if (!b) return b.status().with_context(fmt::format("layer {} KV cache", il));
            caches->push_back(std::move(*b));
        }
    }
    return d;
}

Expected<std::unique_ptr<VulkanDecoder>> VulkanDecoder::create(std::shared_ptr<Context> ctx, const ModelConfig& c,
                                                               const ModelWeights& w, const DecoderOptions& opt,
                                                               const UploadOptions& uo) {
    auto weights = VulkanWeights::upload(std::move(ctx), c, w, uo);
    if (!weights) return weights.status();
    return create(std::move(*weights), opt);
}

// A recorded forward pass: segments run in order, each its host work (CPU nodes) then its command list.
struct VulkanDecoder::Recording {
    struct Segment {
        std::function<void()> host_before;
        std::unique_ptr<CommandList> list;
    };
    // A node's output copied to a host buffer right after the node (passes with a debug hook).
    struct NodeCopy {
        size_t node;
        const Buffer* host;
        int64_t rows, cols;
    };
    uint32_t n = 0;
    std::vector<int32_t> out_rows;
    uint64_t last_use = 0;
    std::vector<Segment> segs;
    std::deque<Buffer> staging;  // host-visible inputs/outputs of the CPU nodes (stable addresses)
    std::vector<NodeCopy> copies;
};

VulkanDecoder::~VulkanDecoder() {
    if (w_ && !recordings_.empty()) {
        auto guard = w_->ctx->lock();  // command buffers go back to the context's pool
        recordings_.clear();
    }
}

int64_t VulkanDecoder::max_tokens() const {
    const ModelConfig& c = w_->config;
    const uint64_t row_bytes = 4 * std::max<uint64_t>({(uint64_t)c.q_dim() + 2 * c.kv_dim(), 2 * (uint64_t)c.d_ff,
                                                        (uint64_t)c.n_vocab, (uint64_t)c.d_model});
    int64_t n = std::max<int64_t>(1, (int64_t)((w_->ctx->info().max_buffer_range - 16) / row_bytes));
    return opt_.max_batch > 0 ? std::min<int64_t>(n, opt_.max_batch) : n;
}

Status VulkanDecoder::ensure_buffers(const MemoryPlan& plan, const Batch& b) {
    Context& cx = *w_->ctx;
    const ModelConfig& c = w_->config;
    const size_t n = (size_t)b.size(), n_out = b.out_rows.size(), half = c.n_rot / 2;
    // Replacing a buffer invalidates the recordings that bind it (the caller holds the context lock).
    auto ensure = [&](Buffer& buf, size_t bytes, bool host) -> Status {
        if (buf.valid() && buf.size() >= bytes) return {};
        recordings_.clear();
        auto nb = host ? cx.create_host_buffer(bytes) : cx.create_buffer(bytes);
        if (!nb) return nb.status().with_context("activations");
        buf = std::move(*nb);
        return {};
    };
    if (slots_.size() < plan.slot_elems.size()) slots_.resize(plan.slot_elems.size());
    for (size_t i = 0; i < plan.slot_elems.size(); ++i) LLM_TRY(ensure(slots_[i], plan.slot_elems[i] * 4, false));
    LLM_TRY(ensure(logits_, n_out * c.n_vocab * 4, false));
    LLM_TRY(ensure(logits_host_, n_out * c.n_vocab * 4, true));
    LLM_TRY(ensure(ids_, n * 4, true));
    LLM_TRY(ensure(rope_cs_, std::max<size_t>(1, n * half * 2) * 4, true));
    LLM_TRY(ensure(rope_cs_swa_, std::max<size_t>(1, n * half * 2) * 4, true));
    return ensure(params_, 16, true);
}

// Records the nodes of one graph; the functions of kVkOps below record one node each.
class GraphRecorder {
public:
    GraphRecorder(VulkanDecoder& d, VulkanDecoder::Recording& rec, const Graph& g, const MemoryPlan& plan,
                  uint32_t pos0, uint32_t n_keys, bool debug)
        : d(d), W(*d.w_), cx(*W.ctx), recording(rec), g(g), plan(plan), pos0(pos0), n_keys(n_keys), debug(debug) {
        // Reused recordings read pos0 / n_keys from params_; single-use ones get them as push constants.
        dyn = d.opt_.reuse_commands && !debug ? &d.params_ : nullptr;
        threads = d.opt_.n_threads > 0 ? d.opt_.n_threads : physical_core_count();
        if (d.paged()) {  // positions, key counts and cache rows come from the paged buffers, every pass
            slots = &d.kv_slots_;
            paged = PagedTables{&d.tok_info_, &d.tables_, (uint32_t)d.opt_.block_tokens};
        }
        numerics = d.opt_.numerics;
        mm_kernel = numerics == Numerics::Invariant ? MatmulKernel::Tiled : MatmulKernel::Auto;
    }
    Status record();

    // Operands.
    const Buffer& buf(Tensor t) const {
        const TensorDesc& td = g.desc(t);
        return g.desc(Tensor{td.root}).is_output ? d.logits_ : d.slots_[plan.slot[t.id]];
    }
    Act act(Tensor t) const { return {&buf(t), (uint32_t)g.desc(t).offset(), (uint32_t)g.desc(t).stride}; }
    const TensorDesc& desc(Tensor t) const { return g.desc(t); }
    KvView cache(const std::vector<Buffer>& c, int layer) const {
        return {&c[layer], 0, (uint32_t)W.config.kv_dim(), d.opt_.kv_type == DType::F16};
    }
    // Whether a node with a weight runs on the device: the weight was uploaded and the op table has a
    // Vulkan kernel of the op for its type.
    bool on_device(const Node& n) const {
        return !n.w || (!W.matrix(*n.w).on_cpu() && op_supports(Backend::Vulkan, n.op, n.w->type));
    }
    CommandList& list() { return *cl; }
    const Buffer& ids() const { return d.ids_; }
    const Buffer& rope_cs(int table) const { return table == 1 ? d.rope_cs_swa_ : d.rope_cs_; }
    Status ensure_list() { return cl ? Status{} : next_segment({}); }
    // Ends the current command list; the next one starts after host work (a CPU node).
    Status next_segment(std::function<void()> host);
    Expected<Buffer*> host_buffer(size_t bytes);
    // A barrier now when anything recorded since the last one is pending (before copies, at list ends).
    void flush();
    // y = W x for a matrix left on the CPU: copy x's rows out, end the segment, multiply on the CPU
    // before the next one, which starts by copying the result rows into y.
    Status cpu_matmul(const TensorView& w, Act x, uint32_t rows, Act y);

    VulkanDecoder& d;
    const VulkanWeights& W;
    Context& cx;
    VulkanDecoder::Recording& recording;
    const Graph& g;
    const MemoryPlan& plan;
    uint32_t pos0, n_keys;
    bool debug;
    const Buffer* dyn = nullptr;
    int threads = 1;
    const Buffer* slots = nullptr;        // paged decoders: each token's cache row
    std::optional<PagedTables> paged;     // paged decoders: positions, key counts, block tables
    Numerics numerics = Numerics::Exact;  // of the CPU fallback matmuls
    MatmulKernel mm_kernel = MatmulKernel::Auto;

private:
    // What a node reads or writes: a block of a root tensor in a storage buffer (a MemoryPlan slot, the
    // logits) or a layer's KV cache. Different roots sharing a slot (one dead before the other is born)
    // count as overlapping: a write to the new one must wait for the reads of the old one.
    struct Region {
        int64_t storage, root, row0, rows, col0, cols;
        bool overlaps(const Region& o) const {
            if (storage != o.storage) return false;
            if (root != o.root) return true;
            return row0 < o.row0 + o.rows && o.row0 < row0 + rows && col0 < o.col0 + o.cols && o.col0 < col0 + cols;
        }
    };
    Region region(Tensor t) const {
        const TensorDesc& td = g.desc(t);
        const int64_t storage = g.desc(Tensor{td.root}).is_output ? -1 : plan.slot[t.id];
        return {storage, td.root, td.row0, td.rows, td.col0, td.cols};
    }
    static Region cache_region(int layer) { return {-2 - (int64_t)layer, -1, 0, 1, 0, 1}; }
    void before_node(const Node& n);
    Status after_node(size_t index, const Node& n);

    CommandList* cl = nullptr;
    std::vector<Region> reads_, writes_;  // since the last barrier
};

Status GraphRecorder::next_segment(std::function<void()> host) {
    if (cl) flush();
    auto l = cx.create_list();
    if (!l) return l.status();
    cx.begin(**l);
    (*l)->begin_group();  // barriers are placed by before_node() / flush()
    if (d.opt_.profile) (*l)->timestamp("start");
    cl = l->get();
    recording.segs.push_back({std::move(host), std::move(*l)});
    reads_.clear(), writes_.clear();  // a new submission sees every earlier write
    return {};
}

Expected<Buffer*> GraphRecorder::host_buffer(size_t bytes) {
    auto b = cx.create_host_buffer(bytes);
    if (!b) return b.status().with_context("CPU node staging");
    recording.staging.push_back(std::move(*b));
    return &recording.staging.back();
}

void GraphRecorder::flush() {
    if (reads_.empty() && writes_.empty()) return;
    cl->barrier();
    reads_.clear(), writes_.clear();
}

void GraphRecorder::before_node(const Node& n) {
    const OpInfo& info = op_info(n.op);
    std::vector<Region> r, w;
    for (int k = 0; k < info.n_inputs; ++k) r.push_back(region(n.in[k]));
    if (info.has_output) w.push_back(region(n.out));
    if (n.op == Op::KvStore) w.push_back(cache_region(n.layer));
    if (n.op == Op::Attention) r.push_back(cache_region(n.layer));
    auto hits = [](const std::vector<Region>& a, const std::vector<Region>& b) {
        for (const Region& x : a)
            for (const Region& y : b)
                if (x.overlaps(y)) return true;
        return false;
    };
    if (hits(r, writes_) || hits(w, writes_) || hits(w, reads_)) flush();
    reads_.insert(reads_.end(), r.begin(), r.end());
    writes_.insert(writes_.end(), w.begin(), w.end());
}

Status GraphRecorder::after_node(size_t index, const Node& n) {
    if (d.opt_.profile) {  // barrier first, so the timestamp follows the node's work
        flush();
        cl->timestamp(std::string(op_name(n.op)));
    }
    if (!debug || !op_info(n.op).has_output) return {};
    const TensorDesc& td = desc(n.out);
    auto host = host_buffer((size_t)(td.rows * td.cols) * 4);
    if (!host) return host.status();
    flush();
    cl->copy_rows(buf(n.out), (size_t)td.offset() * 4, (size_t)td.stride * 4, **host, 0, (size_t)td.cols * 4,
                  (size_t)td.cols * 4, (uint32_t)td.rows);
    recording.copies.push_back({index, *host, td.rows, td.cols});
    return {};
}

Status GraphRecorder::cpu_matmul(const TensorView& w, Act x, uint32_t rows, Act y) {
    const size_t n_in = (size_t)w.ne[0], n_out = (size_t)w.n_rows();
    auto in = host_buffer(rows * n_in * 4);
    if (!in) return in.status();
    auto out = host_buffer(rows * n_out * 4);
    if (!out) return out.status();
    flush();
    cl->copy_rows(*x.buf, (size_t)x.offset * 4, (size_t)x.stride * 4, **in, 0, n_in * 4, n_in * 4, rows);
    const float* xin = static_cast<const float*>((*in)->mapped());
    float* yout = static_cast<float*>((*out)->mapped());
    LLM_TRY(next_segment([w, xin, yout, rows, t = threads, nm = numerics] { llm::matmul(w, xin, rows, yout, t, nm); }));
    cl->copy_rows(**out, 0, n_out * 4, *y.buf, (size_t)y.offset * 4, (size_t)y.stride * 4, n_out * 4, rows);
    return {};
}

namespace {

using R = GraphRecorder;

Status rec_embed(R& r, const Node& n) {
    const uint32_t rows = (uint32_t)r.desc(n.out).rows, D = (uint32_t)r.desc(n.out).cols;
    if (r.on_device(n)) {
        LLM_TRY(r.ensure_list());
        return get_rows(r.cx, r.list(), r.W.matrix(*n.w), r.ids(), rows, r.buf(n.out), r.act(n.out).offset);
    }
    // Rows dequantized on the host (before the next command list), then copied into the output.
    auto host = r.host_buffer((size_t)rows * D * 4);
    if (!host) return host.status();
    const int32_t* ids = static_cast<const int32_t*>(r.ids().mapped());
    float* dst = static_cast<float*>((*host)->mapped());
    LLM_TRY(r.next_segment([t = *n.w, ids, dst, rows, D] {
        const ToFloatFn to_float = type_traits(t.type).to_float;
        for (uint32_t i = 0; i < rows; ++i) to_float(t.row(ids[i]), dst + (size_t)i * D, D);
    }));
    r.list().copy(**host, 0, r.buf(n.out), (size_t)r.act(n.out).offset * 4, (size_t)rows * D * 4);
    return {};
}

Status rec_rms_norm(R& r, const Node& n) {  // per head (QK-norm): the dense rows as rows of head_dim values
    const TensorDesc &x = r.desc(n.in[0]), &y = r.desc(n.out);
    if (!x.dense() || !y.dense()) return error("vulkan: rms_norm of a column view");
    const int64_t d = n.head_dim > 0 ? n.head_dim : y.cols;
    LLM_TRY(r.ensure_list());
    return rms_norm(r.cx, r.list(), r.buf(n.in[0]), (uint32_t)x.offset(), r.W.gain(n.gain), r.buf(n.out),
                    (uint32_t)y.offset(), (uint32_t)(y.rows * (y.cols / d)), (uint32_t)d, n.eps);
}

Status rec_matmul(R& r, const Node& n) {
    LLM_TRY(r.ensure_list());
    const uint32_t rows = (uint32_t)r.desc(n.out).rows;
    if (r.on_device(n)) return matmul(r.cx, r.list(), r.W.matrix(*n.w), r.act(n.in[0]), rows, r.act(n.out), r.mm_kernel);
    return r.cpu_matmul(*n.w, r.act(n.in[0]), rows, r.act(n.out));
}

Status rec_rope(R& r, const Node& n) {
    const TensorDesc& x = r.desc(n.out);
    RopeParams p;  // only the style and n_rot reach the shader; the (cos, sin) table is one of the pass's
    p.style = n.rope_style, p.n_rot = n.n_rot;
    LLM_TRY(r.ensure_list());
    return rope(r.cx, r.list(), r.act(n.out), (uint32_t)x.rows, (uint32_t)(x.cols / n.head_dim), (uint32_t)n.head_dim,
                p, r.rope_cs(n.rope_table));
}

Status rec_scale(R& r, const Node& n) {
    const TensorDesc& x = r.desc(n.out);
    LLM_TRY(r.ensure_list());
    return scale(r.cx, r.list(), r.act(n.out), (uint32_t)x.cols, (uint32_t)x.rows, n.factor);
}

Status rec_kv_store(R& r, const Node& n) {
    const TensorDesc& k = r.desc(n.in[0]);
    LLM_TRY(r.ensure_list());
    const uint32_t rows = (uint32_t)k.rows, kv_dim = (uint32_t)k.cols;
    LLM_TRY(kv_write(r.cx, r.list(), r.act(n.in[1]), rows, kv_dim, r.pos0, r.cache(r.d.v_cache(), n.layer), r.dyn, r.slots));
    return kv_write(r.cx, r.list(), r.act(n.in[0]), rows, kv_dim, r.pos0, r.cache(r.d.k_cache(), n.layer), r.dyn, r.slots);
}

Status rec_attention(R& r, const Node& n) {
    AttentionParams p = n.attn;
    p.round_to_f16 = r.d.kv_f16();  // as the CPU executor and llama.cpp with an F16 cache
    LLM_TRY(r.ensure_list());
    return attention(r.cx, r.list(), r.act(n.in[0]), r.cache(r.d.k_cache(), n.layer), r.cache(r.d.v_cache(), n.layer),
                     r.n_keys, (uint32_t)r.desc(n.out).rows, r.pos0, p, r.act(n.out), r.dyn,
                     r.paged ? &*r.paged : nullptr);
}

Status rec_add(R& r, const Node& n) {
    const TensorDesc &x = r.desc(n.in[0]), &y = r.desc(n.in[1]);
    if (!x.dense() || !y.dense()) return error("vulkan: add of a column view");
    LLM_TRY(r.ensure_list());
    return add_inplace(r.cx, r.list(), r.buf(n.in[0]), (uint32_t)x.offset(), r.buf(n.in[1]), (uint32_t)y.offset(),
                       (uint32_t)(x.rows * x.cols));
}

Status rec_geglu(R& r, const Node& n) {
    const TensorDesc& o = r.desc(n.out);
    LLM_TRY(r.ensure_list());
    return geglu(r.cx, r.list(), r.act(n.in[0]), r.act(n.in[1]), r.act(n.out), (uint32_t)o.cols, (uint32_t)o.rows);
}

Status rec_add_bias(R& r, const Node& n) {
    const TensorDesc& x = r.desc(n.out);
    LLM_TRY(r.ensure_list());
    return add_bias(r.cx, r.list(), r.act(n.out), r.W.gain(n.gain), (uint32_t)x.cols, (uint32_t)x.rows);
}

Status rec_swiglu(R& r, const Node& n) {
    const TensorDesc& o = r.desc(n.out);
    LLM_TRY(r.ensure_list());
    return silu_mul(r.cx, r.list(), r.act(n.in[0]), r.act(n.in[1]), r.act(n.out), (uint32_t)o.cols, (uint32_t)o.rows);
}

Status rec_select_rows(R& r, const Node& n) {  // row copies (the serving engine's last token per sequence)
    const TensorDesc &x = r.desc(n.in[0]), &o = r.desc(n.out);
    LLM_TRY(r.ensure_list());
    r.flush();
    for (size_t i = 0; i < n.rows.size(); ++i)
        r.list().copy(r.buf(n.in[0]), (size_t)(x.offset() + n.rows[i] * x.stride) * 4, r.buf(n.out),
                      (size_t)(o.offset() + i * o.stride) * 4, (size_t)x.cols * 4);
    return {};
}

// The Vulkan column of the op table: one recording function per op, in enum order (checked below).
struct VkOp {
    Op op;
    Status (*record)(R&, const Node&);
};
constexpr VkOp kVkOps[] = {
    {Op::Embed, rec_embed},         {Op::RmsNorm, rec_rms_norm}, {Op::Matmul, rec_matmul},
    {Op::Rope, rec_rope},           {Op::Scale, rec_scale},      {Op::KvStore, rec_kv_store},
    {Op::Attention, rec_attention}, {Op::Add, rec_add},          {Op::Swiglu, rec_swiglu},
    {Op::SelectRows, rec_select_rows}, {Op::Geglu, rec_geglu}, {Op::AddBias, rec_add_bias},
};
constexpr bool vk_ops_in_order() {
    for (size_t i = 0; i < std::size(kVkOps); ++i)
        if ((size_t)kVkOps[i].op != i) return false;
    return std::size(kVkOps) == (size_t)Op::Count;
}
static_assert(vk_ops_in_order(), "kVkOps: one function per Op, in enum order");

}  // namespace

Status GraphRecorder::record() {
    const auto& nodes = g.nodes();
    for (size_t i = 0; i < nodes.size(); ++i) {
        before_node(nodes[i]);
        LLM_TRY(kVkOps[(size_t)nodes[i].op].record(*this, nodes[i]));
        LLM_TRY(after_node(i, nodes[i]));
    }
    flush();
    const Tensor out = g.output();
    const size_t bytes = (size_t)(desc(out).rows * desc(out).cols) * 4;
    if (!d.logits_.mapped()) cl->copy(d.logits_, 0, d.logits_host_, 0, bytes);
    for (VulkanDecoder::Recording::Segment& seg : recording.segs) LLM_TRY(cx.end(*seg.list));
    return {};
}

Status VulkanDecoder::record(Recording& rec, const Graph& g, const MemoryPlan& plan, uint32_t pos0, uint32_t n_keys,
                             bool debug) {
    GraphRecorder gr(*this, rec, g, plan, pos0, n_keys, debug);
    return gr.record();
}

Status VulkanDecoder::forward(std::span<const int32_t> tokens, int64_t pos0, bool all_logits, float* logits) {
    const int64_t n = (int64_t)tokens.size(), nv = w_->config.n_vocab, step = max_tokens();
    for (int64_t done = 0; done < n; done += step) {  // consecutive sub-batches: the same result (causal)
        const int64_t chunk = std::min(step, n - done);
        float* out = all_logits ? logits + done * nv : logits;
        LLM_TRY(forward(Batch::contiguous(tokens.subspan(done, chunk), pos0 + done, all_logits), out));
    }
    return {};
}

Status VulkanDecoder::forward(const Batch& b, float* logits, const NodeHook& hook) {
    const ModelConfig& c = w_->config;
    const int64_t n = b.size(), pos0 = b.contiguous_pos0();
    if (n == 0) return {};
    if (paged()) return error("vulkan: a paged decoder runs passes through block tables (forward with PagedKv)");
    if (n > max_tokens()) return error("vulkan: a pass of {} tokens exceeds the {} one pass holds", n, max_tokens());
    if (pos0 < 0) return error("vulkan: batch positions must be consecutive (one sequence per pass)");
    for (int32_t s : b.seq_ids)
        if (s != 0) return error("vulkan: sequence id {}: one sequence per pass on this backend", s);
    if (pos0 + n > opt_.n_ctx)
        return error("vulkan: positions {}..{} exceed the KV cache of {}", pos0, pos0 + n, opt_.n_ctx);
    for (int32_t t : b.tokens)
        if (t < 0 || t >= c.n_vocab) return error("vulkan: token id {} out of range (n_vocab {})", t, c.n_vocab);
    const ForwardInputs in = forward_inputs(c, b, opt_.longrope);
    auto guard = w_->ctx->lock();  // one command pool and queue per context, possibly shared by several sessions
    return run_pass(b, in, pos0, logits, hook);
}

Status VulkanDecoder::ensure_host(Buffer& buf, size_t bytes) {
    if (buf.valid() && buf.size() >= bytes) return {};
    recordings_.clear();  // they bind the old buffer
    auto nb = w_->ctx->create_host_buffer(std::max<size_t>(2 * bytes, 256));  // room to grow: tables do, step by step
    if (!nb) return nb.status().with_context("paged pass inputs");
    buf = std::move(*nb);
    return {};
}

Status VulkanDecoder::forward(const Batch& b, const PagedKv& kv, float* logits) {
    const ModelConfig& c = w_->config;
    const int64_t n = b.size(), pool_rows = opt_.paged_blocks * opt_.block_tokens, bt = opt_.block_tokens;
    if (!paged()) return error("vulkan: this decoder has no paged cache (DecoderOptions::paged_blocks)");
    if (n == 0) return {};
    if (n > max_tokens()) return error("vulkan: a pass of {} tokens exceeds the {} one pass holds", n, max_tokens());
    if ((int64_t)kv.slots.size() != n || (int64_t)b.positions.size() != n)
        return error("vulkan: a paged pass needs one position and one cache slot per token");
    for (int32_t t : b.tokens)
        if (t < 0 || t >= c.n_vocab) return error("vulkan: token id {} out of range (n_vocab {})", t, c.n_vocab);
    for (int64_t slot : kv.slots)
        if (slot < 0 || slot >= pool_rows) return error("vulkan: cache slot {} outside the pool of {} rows", slot, pool_rows);
    // Per token {position, its sequence's key count, the offset of its sequence's block table}; the tables.
    std::vector<uint32_t> tok(3 * (size_t)n), tables;
    int64_t covered = 0;
    for (const PagedSeq& sq : kv.seqs) {
        if (sq.tok0 != covered || sq.n_tokens <= 0 || sq.tok0 + sq.n_tokens > n || sq.n_keys > opt_.n_ctx || !sq.blocks)
            return error("vulkan: paged pass: sequences must cover the batch's tokens in order, within n_ctx");
        const uint32_t table0 = (uint32_t)tables.size();
        for (int64_t j = 0; j < sq.n_keys; j += bt) {
            const int32_t blk = sq.blocks[j / bt];
            if (blk < 0 || blk >= opt_.paged_blocks) return error("vulkan: block {} outside the pool", blk);
            tables.push_back((uint32_t)blk);
        }
        for (int64_t t = sq.tok0; t < sq.tok0 + sq.n_tokens; ++t) {
            if (b.positions[t] < 0 || b.positions[t] >= sq.n_keys)
                return error("vulkan: position {} outside its sequence's {} keys", b.positions[t], sq.n_keys);
            tok[3 * t] = (uint32_t)b.positions[t], tok[3 * t + 1] = (uint32_t)sq.n_keys, tok[3 * t + 2] = table0;
        }
        covered = sq.tok0 + sq.n_tokens;
    }
    if (covered != n) return error("vulkan: paged pass: the sequences cover {} of {} tokens", covered, n);
    const ForwardInputs in = forward_inputs(c, b, opt_.longrope);
    auto guard = w_->ctx->lock();
    LLM_TRY(ensure_host(kv_slots_, (size_t)n * 4));
    LLM_TRY(ensure_host(tok_info_, tok.size() * 4));
    LLM_TRY(ensure_host(tables_, tables.size() * 4));
    auto* slots = static_cast<uint32_t*>(kv_slots_.mapped());
    for (int64_t i = 0; i < n; ++i) slots[i] = (uint32_t)kv.slots[i];
    std::memcpy(tok_info_.mapped(), tok.data(), tok.size() * 4);
    if (!tables.empty()) std::memcpy(tables_.mapped(), tables.data(), tables.size() * 4);
    return run_pass(b, in, 0, logits, {});
}

Status VulkanDecoder::run_pass(const Batch& b, const ForwardInputs& in, int64_t pos0, float* logits,
                               const NodeHook& hook) {
    const ModelConfig& c = w_->config;
    Context& cx = *w_->ctx;
    const int64_t n = b.size();
    // A cached recording of this shape, else a new one (cached when reuse is on, LRU beyond max_cached).
    Recording* rec = nullptr;
    std::unique_ptr<Recording> once;
    std::unique_ptr<Graph> graph;  // kept for the hook
    if (opt_.reuse_commands && !hook)
        for (auto& r : recordings_)
            if (r->n == (uint32_t)n && r->out_rows == b.out_rows) rec = r.get();
    if (!rec) {
        graph = std::make_unique<Graph>(build_forward(c, w_->host, b));
        const MemoryPlan plan = plan_memory(*graph);
        LLM_TRY(ensure_buffers(plan, b));
        auto r = std::make_unique<Recording>();
        r->n = (uint32_t)n, r->out_rows = b.out_rows;
        ++n_recordings_;
        LLM_TRY(record(*r, *graph, plan, (uint32_t)pos0, (uint32_t)in.n_keys, (bool)hook));
        if (opt_.reuse_commands && !hook) {
            if ((int)recordings_.size() >= std::max(1, opt_.max_cached)) {
                auto lru = std::min_element(recordings_.begin(), recordings_.end(),
                                            [](const auto& a, const auto& b) { return a->last_use < b->last_use; });
                recordings_.erase(lru);
            }
            recordings_.push_back(std::move(r));
            rec = recordings_.back().get();
        } else {
            once = std::move(r);
            rec = once.get();
        }
    }
    std::memcpy(ids_.mapped(), b.tokens.data(), n * sizeof(int32_t));
    std::memcpy(rope_cs_.mapped(), in.rope_cs.data(), in.rope_cs.size() * sizeof(float));
    if (!in.rope_cs_swa.empty())  // only models with sliding-window layers have a second table (memcpy of null is UB)
        std::memcpy(rope_cs_swa_.mapped(), in.rope_cs_swa.data(), in.rope_cs_swa.size() * sizeof(float));
    const uint32_t params[4] = {(uint32_t)pos0, (uint32_t)in.n_keys, 0, 0};
    std::memcpy(params_.mapped(), params, sizeof(params));
    rec->last_use = ++use_clock_;
    last_profile_.clear();
    for (Recording::Segment& seg : rec->segs) {
        if (seg.host_before) seg.host_before();
        LLM_TRY(cx.submit(*seg.list));
        ++n_submits_;
        if (opt_.profile) {  // per op: time since the previous timestamp of the same list
            const auto ts = cx.timings();
            for (size_t i = 1; i < ts.size(); ++i) {
                const double ms = ts[i].second - ts[i - 1].second;
                auto it = std::find_if(last_profile_.begin(), last_profile_.end(),
                                       [&](const auto& p) { return p.first == ts[i].first; });
                if (it == last_profile_.end())
                    last_profile_.emplace_back(ts[i].first, ms);
                else
                    it->second += ms;
            }
        }
    }
    const Buffer& src = logits_.mapped() ? logits_ : logits_host_;
    std::memcpy(logits, src.mapped(), b.out_rows.size() * c.n_vocab * sizeof(float));
    for (const Recording::NodeCopy& nc : rec->copies) {
        const float* data = static_cast<const float*>(nc.host->mapped());
        hook(nc.node, graph->nodes()[nc.node], NodeOutput{data, nc.rows, nc.cols, nc.cols});
    }
    return {};
}

std::vector<std::pair<std::string, double>> VulkanDecoder::last_profile() const { return last_profile_; }

}  // namespace llm::vk
