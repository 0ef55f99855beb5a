// VulkanDecoder: the op sequence of models/decoder.cpp recorded into command lists, cached by shape.
// q, k and v always land in one [n x (q_dim + 2 kv_dim)] buffer (fused or not), gate and up in one
// [n x 2 d_ff] buffer, so rope, the cache writes, attention and silu_mul read them through offsets/strides.
// A recording is a list of segments: one command list each, preceded by host work (the ops of matrices
// left on the CPU, reading and writing host-visible staging buffers that the lists copy from and to).
#include "kernels/vulkan/vk_decoder.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <functional>

#include "core/system_info.hpp"
#include "kernels/cpu/matmul.hpp"

namespace llm::vk {
namespace {

Expected<Buffer> upload_vec(Context& ctx, const std::vector<float>& v, const std::string& what) {
    if (v.empty()) return error("vulkan: {} is missing", what);
    return upload_floats(ctx, v.data(), v.size());
}

// Types named by LLM_VULKAN_CPU_TYPES ("q2_k,iq4_xs").
Expected<std::vector<DType>> env_cpu_types() {
    std::vector<DType> out;
    const char* env = std::getenv("LLM_VULKAN_CPU_TYPES");
    if (!env) return out;
    std::string_view rest(env);
    while (!rest.empty()) {
        const size_t comma = rest.find(',');
        const std::string_view name = rest.substr(0, comma);
        if (!name.empty()) {
            auto t = dtype_from_name(name);
            if (!t) return error("vulkan: LLM_VULKAN_CPU_TYPES: unknown type '{}'", name);
            out.push_back(*t);
        }
        rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
    }
    return out;
}

}  // namespace

Expected<std::shared_ptr<const VulkanWeights>> VulkanWeights::upload(std::shared_ptr<Context> ctx,
                                                                     const ModelConfig& c, const ModelWeights& w,
                                                                     const UploadOptions& uo) {
    if (!ctx) return error("vulkan: no context");
    if (c.head_dim > 256) return error("vulkan: head_dim {} > 256 is not supported", c.head_dim);
    if (c.kv_dim() % 2) return error("vulkan: odd kv_dim {}", c.kv_dim());
    auto d = std::make_shared<VulkanWeights>();
    d->ctx = std::move(ctx);
    d->config = c;
    Context& cx = *d->ctx;
    auto env = env_cpu_types();
    if (!env) return env.status();

    // Which weight types run where: the activation pipelines must build; a type's matrices go to the CPU
    // when it has no shaders, is forced there, or its pipelines fail to build on this device.
    struct TypeInfo {
        DType type;
        std::string why;  // empty: on the device
        std::string first;
        const char* op = "matmul";
        int count = 0;
    };
    std::vector<TypeInfo> types;
    {
        auto guard = cx.lock();
        LLM_TRY(warm_up_pipelines(cx, {}));
        auto classify = [&](const TensorView& t) {
            if (!t.valid()) return;
            for (const TypeInfo& ti : types)
                if (ti.type == t.type) return;
            TypeInfo ti{t.type};
            if (!supports_type(t.type)) {
                ti.why = "has no Vulkan kernel";
            } else if (std::find(env->begin(), env->end(), t.type) != env->end()) {
                ti.why = "is set to run on the CPU (LLM_VULKAN_CPU_TYPES)";
            } else if (std::find(uo.cpu_types.begin(), uo.cpu_types.end(), t.type) != uo.cpu_types.end()) {
                ti.why = "is set to run on the CPU (UploadOptions::cpu_types)";
            } else {
                const DType one[] = {t.type};
                if (Status st = warm_up_pipelines(cx, one); !st)
                    ti.why = fmt::format("has no Vulkan kernel this device can build ({})", st.message());
            }
            types.push_back(std::move(ti));
        };
        classify(w.token_embd);
        classify(w.output);
        for (const LayerWeights& L : w.layers)
            for (const TensorView* t : {&L.wq, &L.wk, &L.wv, &L.wqkv, &L.wo, &L.w_gate, &L.w_up, &L.w_gate_up, &L.w_down})
                classify(*t);
    }
    auto find_type = [&](DType t) -> TypeInfo& {
        for (TypeInfo& ti : types)
            if (ti.type == t) return ti;
        LLM_CHECK(false);
        return types.front();
    };
    auto upload_one = [&](const TensorView& t, DeviceMatrix& out, const char* op) -> Status {
        if (!t.valid()) return {};
        TypeInfo& ti = find_type(t.type);
        if (ti.why.empty()) {
            auto m = upload_matrix(cx, t);
            if (!m) return m.status();
            d->bytes += m->bytes();
            out = std::move(*m);
            return {};
        }
        if (!matmul_supports(t.type))
            return error("vulkan: tensor '{}' ({}) {} and the CPU has no kernel for it either", t.name,
                         dtype_name(t.type), ti.why);
        out = DeviceMatrix{};
        out.type = t.type;
        out.n_in = (uint32_t)t.ne[0];
        out.n_out = (uint32_t)t.n_rows();
        out.row_bytes = (uint32_t)t.row_size();
        out.cpu = t;
        if (ti.count++ == 0) ti.first = t.name, ti.op = op;
        ++d->n_cpu_matrices;
        return {};
    };
    LLM_TRY(upload_one(w.token_embd, d->token_embd, "get_rows"));
    if (!d->token_embd.valid()) return error("vulkan: token_embd is missing");
    d->tied = w.output.data == w.token_embd.data;
    if (!d->tied) LLM_TRY(upload_one(w.output, d->output, "matmul"));
    auto on = upload_vec(cx, w.output_norm, "output_norm");
    if (!on) return on.status();
    d->output_norm = std::move(*on);
    for (int il = 0; il < c.n_layers; ++il) {
        const LayerWeights& L = w.layers[il];
        Layer dl;
        auto an = upload_vec(cx, L.attn_norm, fmt::format("layer {} attn_norm", il));
        if (!an) return an.status();
        auto fn = upload_vec(cx, L.ffn_norm, fmt::format("layer {} ffn_norm", il));
        if (!fn) return fn.status();
        dl.attn_norm = std::move(*an), dl.ffn_norm = std::move(*fn);
        for (auto [src, dst] : {std::pair{&L.wq, &dl.wq}, {&L.wk, &dl.wk}, {&L.wv, &dl.wv}, {&L.wqkv, &dl.wqkv},
                                {&L.wo, &dl.wo}, {&L.w_gate, &dl.w_gate}, {&L.w_up, &dl.w_up},
                                {&L.w_gate_up, &dl.w_gate_up}, {&L.w_down, &dl.w_down}})
            LLM_TRY(upload_one(*src, *dst, "matmul"));
        d->layers.push_back(std::move(dl));
    }
    for (const TypeInfo& ti : types) {
        if (ti.count == 0) continue;
        std::string line = fmt::format("vulkan: {} {} ({}) {}; running it on the CPU", ti.op, ti.first,
                                       dtype_name(ti.type), ti.why);
        if (ti.count > 1) line += fmt::format(" (and {} more {} matrices)", ti.count - 1, dtype_name(ti.type));
        if (uo.log) std::fprintf(stderr, "llm: %s\n", line.c_str());
        d->cpu_notes.push_back(std::move(line));
    }
    if (d->n_cpu_matrices) d->owners = w.owners;
    return std::shared_ptr<const VulkanWeights>(std::move(d));
}

Expected<std::unique_ptr<VulkanDecoder>> VulkanDecoder::create(std::shared_ptr<const VulkanWeights> weights,
                                                               const DecoderOptions& opt) {
    if (!weights) return error("vulkan: decoder needs weights");
    if (opt.kv_type != DType::F16 && opt.kv_type != DType::F32)
        return error("vulkan: KV cache type {} is not supported (F16 or F32)", dtype_name(opt.kv_type));
    if (opt.n_ctx <= 0) return error("vulkan: n_ctx must be positive");
    std::unique_ptr<VulkanDecoder> d(new VulkanDecoder());
    d->w_ = std::move(weights);
    d->opt_ = opt;
    const ModelConfig& c = d->w_->config;
    const size_t cache_bytes = (size_t)opt.n_ctx * c.kv_dim() * (opt.kv_type == DType::F16 ? 2 : 4);
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

// A recorded forward pass: segments run in order, each its host work (CPU ops) then its command list.
struct VulkanDecoder::Recording {
    struct Segment {
        std::function<void()> host_before;
        std::unique_ptr<CommandList> list;
    };
    uint32_t n = 0;
    bool all_logits = false;
    uint64_t last_use = 0;
    std::vector<Segment> segs;
    std::deque<Buffer> staging;  // host-visible inputs/outputs of the CPU ops (stable addresses)
};

VulkanDecoder::~VulkanDecoder() {
    if (w_ && !recordings_.empty()) {
        auto guard = w_->ctx->lock();  // command buffers go back to the context's pool
        recordings_.clear();
    }
}

Status VulkanDecoder::ensure_scratch(uint32_t n) {
    if (n <= cap_ && params_.valid()) return {};
    Context& cx = *w_->ctx;
    const ModelConfig& c_ = w_->config;
    const size_t D = c_.d_model, QKV = c_.q_dim() + 2 * c_.kv_dim(), F = c_.d_ff, V = c_.n_vocab;
    const size_t half = c_.n_rot / 2;
    n = std::max(n, cap_);
    recordings_.clear();  // they bind the buffers replaced here (the caller holds the context lock)
    struct Want {
        Buffer* buf;
        size_t bytes;
        bool host;
    };
    const Want wants[] = {{&x_, n * D * 4, false},        {&h_, n * D * 4, false},
                          {&qkv_, n * QKV * 4, false},     {&attn_, n * (size_t)c_.q_dim() * 4, false},
                          {&ff_, n * 2 * F * 4, false},    {&ffo_, n * F * 4, false},
                          {&logits_, n * V * 4, false},    {&logits_host_, n * V * 4, true},
                          {&ids_, n * 4, true},            {&rope_cs_, n * half * 2 * 4, true},
                          {&params_, 16, true}};
    for (const Want& wt : wants) {
        auto b = wt.host ? cx.create_host_buffer(wt.bytes) : cx.create_buffer(wt.bytes);
        if (!b) return b.status().with_context("activations");
        *wt.buf = std::move(*b);
    }
    cap_ = n;
    return {};
}

Status VulkanDecoder::record(Recording& R, uint32_t n, uint32_t pos0, bool all_logits) {
    Context& cx = *w_->ctx;
    const VulkanWeights& W = *w_;
    const ModelConfig& c_ = W.config;
    const uint32_t D = c_.d_model, QD = c_.q_dim(), KVD = c_.kv_dim(), F = c_.d_ff, QKV = QD + 2 * KVD;
    const uint32_t n_keys = pos0 + n;
    AttentionParams ap;
    ap.n_heads = c_.n_heads, ap.n_kv_heads = c_.n_kv_heads, ap.head_dim = c_.head_dim;
    ap.scale = 1.0f / std::sqrt((float)c_.head_dim);
    ap.sliding_window = c_.sliding_window;
    ap.round_to_f16 = opt_.kv_type == DType::F16;  // as the CPU decoder and llama.cpp with an F16 cache
    // Only n_rot and the style reach the shaders; the (cos, sin) table is written per pass by the host.
    RopeParams rp = rope_params(c_, n_keys, opt_.longrope);
    const bool f16 = opt_.kv_type == DType::F16;
    // Reused recordings read pos0 / n_keys from params_; single-use ones get them as push constants.
    const Buffer* dyn = opt_.reuse_commands ? &params_ : nullptr;
    const int threads = opt_.n_threads > 0 ? opt_.n_threads : physical_core_count();
    R.n = n, R.all_logits = all_logits;

    CommandList* cl = nullptr;
    // Starts the next segment (after host work): a new command list, inside a barrier-free group when the
    // previous one ended inside one.
    auto next_segment = [&](std::function<void()> host) -> Status {
        const bool grouped = cl && cl->grouped();
        auto l = cx.create_list();
        if (!l) return l.status();
        cx.begin(**l);
        if (grouped) (*l)->begin_group();
        if (opt_.profile) (*l)->timestamp("start");
        cl = l->get();
        R.segs.push_back({std::move(host), std::move(*l)});
        return {};
    };
    auto host_buffer = [&](size_t bytes) -> Expected<Buffer*> {
        auto b = cx.create_host_buffer(bytes);
        if (!b) return b.status().with_context("CPU op staging");
        R.staging.push_back(std::move(*b));
        return &R.staging.back();
    };
    // y = W x on the device, or for a matrix left on the CPU: copy x's rows out, end the segment, multiply
    // on the CPU before the next one, which starts by copying the result rows into y.
    auto mm = [&](const DeviceMatrix& w, Act x, uint32_t rows, Act y) -> Status {
        if (!w.on_cpu()) return matmul(cx, *cl, w, x, rows, y);
        const size_t xs = x.stride ? x.stride : w.n_in, ys = y.stride ? y.stride : w.n_out;
        auto in = host_buffer((size_t)rows * w.n_in * 4);
        if (!in) return in.status();
        auto out = host_buffer((size_t)rows * w.n_out * 4);
        if (!out) return out.status();
        cl->copy_rows(*x.buf, (size_t)x.offset * 4, xs * 4, **in, 0, (size_t)w.n_in * 4, (size_t)w.n_in * 4, rows);
        const float* xin = static_cast<const float*>((*in)->mapped());
        float* yout = static_cast<float*>((*out)->mapped());
        LLM_TRY(next_segment([wt = w.cpu, xin, yout, rows, threads] { llm::matmul(wt, xin, rows, yout, threads); }));
        cl->copy_rows(**out, 0, (size_t)w.n_out * 4, *y.buf, (size_t)y.offset * 4, ys * 4, (size_t)w.n_out * 4, rows);
        return {};
    };
    // Records one op; with profiling, a timestamp labeled with the op name follows it.
#define OP(name, call)                                 \
    do {                                               \
        LLM_TRY(call);                                 \
        if (opt_.profile) cl->timestamp(#name);        \
    } while (0)

    if (W.token_embd.on_cpu()) {  // rows dequantized on the host, then copied into x
        auto rows = host_buffer((size_t)n * D * 4);
        if (!rows) return rows.status();
        const int32_t* ids = static_cast<const int32_t*>(ids_.mapped());
        float* dst = static_cast<float*>((*rows)->mapped());
        LLM_TRY(next_segment([t = W.token_embd.cpu, ids, dst, n, D] {
            const ToFloatFn to_float = type_traits(t.type).to_float;
            for (uint32_t i = 0; i < n; ++i) to_float(t.row(ids[i]), dst + (size_t)i * D, D);
        }));
        cl->copy(**rows, 0, x_, 0, (size_t)n * D * 4);
        if (opt_.profile) cl->timestamp("get_rows");
    } else {
        LLM_TRY(next_segment({}));
        OP(get_rows, get_rows(cx, *cl, W.token_embd, ids_, n, x_));
    }
    for (size_t il = 0; il < W.layers.size(); ++il) {
        const VulkanWeights::Layer& L = W.layers[il];
        OP(rms_norm, rms_norm(cx, *cl, x_, 0, L.attn_norm, h_, 0, n, D, c_.rms_eps));
        if (L.wqkv.valid()) {
            OP(matmul, mm(L.wqkv, {&h_, 0, D}, n, {&qkv_, 0, QKV}));
        } else {
            cl->begin_group();  // q, k, v: same input, disjoint outputs
            OP(matmul, mm(L.wq, {&h_, 0, D}, n, {&qkv_, 0, QKV}));
            OP(matmul, mm(L.wk, {&h_, 0, D}, n, {&qkv_, QD, QKV}));
            OP(matmul, mm(L.wv, {&h_, 0, D}, n, {&qkv_, QD + KVD, QKV}));
            cl->end_group();
        }
        const KvView kv{&k_cache_[il], 0, KVD, f16}, vv{&v_cache_[il], 0, KVD, f16};
        cl->begin_group();  // rope q, rope k and the V cache write touch disjoint columns
        OP(rope, rope(cx, *cl, {&qkv_, 0, QKV}, n, c_.n_heads, c_.head_dim, rp, rope_cs_));
        OP(rope, rope(cx, *cl, {&qkv_, QD, QKV}, n, c_.n_kv_heads, c_.head_dim, rp, rope_cs_));
        OP(kv_write, kv_write(cx, *cl, {&qkv_, QD + KVD, QKV}, n, KVD, pos0, vv, dyn));
        cl->end_group();
        OP(kv_write, kv_write(cx, *cl, {&qkv_, QD, QKV}, n, KVD, pos0, kv, dyn));
        OP(attention, attention(cx, *cl, {&qkv_, 0, QKV}, kv, vv, n_keys, n, pos0, ap, {&attn_, 0, QD}, dyn));
        OP(matmul, mm(L.wo, {&attn_, 0, QD}, n, {&h_, 0, D}));
        OP(add_inplace, add_inplace(cx, *cl, x_, 0, h_, 0, n * D));

        OP(rms_norm, rms_norm(cx, *cl, x_, 0, L.ffn_norm, h_, 0, n, D, c_.rms_eps));
        if (L.w_gate_up.valid()) {
            OP(matmul, mm(L.w_gate_up, {&h_, 0, D}, n, {&ff_, 0, 2 * F}));
        } else {
            cl->begin_group();  // gate and up: same input, disjoint outputs
            OP(matmul, mm(L.w_gate, {&h_, 0, D}, n, {&ff_, 0, 2 * F}));
            OP(matmul, mm(L.w_up, {&h_, 0, D}, n, {&ff_, F, 2 * F}));
            cl->end_group();
        }
        OP(silu_mul, silu_mul(cx, *cl, {&ff_, 0, 2 * F}, {&ff_, F, 2 * F}, {&ffo_, 0, F}, F, n));
        OP(matmul, mm(L.w_down, {&ffo_, 0, F}, n, {&h_, 0, D}));
        OP(add_inplace, add_inplace(cx, *cl, x_, 0, h_, 0, n * D));
    }
    const uint32_t first = all_logits ? 0 : n - 1, n_out = n - first;
    OP(rms_norm, rms_norm(cx, *cl, x_, first * D, W.output_norm, h_, 0, n_out, D, c_.rms_eps));
    OP(matmul, mm(W.tied ? W.token_embd : W.output, {&h_, 0, D}, n_out, {&logits_, 0, (uint32_t)c_.n_vocab}));
#undef OP
    if (!logits_.mapped()) cl->copy(logits_, 0, logits_host_, 0, (size_t)n_out * c_.n_vocab * 4);
    for (Recording::Segment& seg : R.segs) LLM_TRY(cx.end(*seg.list));
    return {};
}

Status VulkanDecoder::forward(std::span<const int32_t> tokens, int64_t pos0, bool all_logits, float* logits) {
    const ModelConfig& c_ = w_->config;
    Context& cx = *w_->ctx;
    const int64_t n = (int64_t)tokens.size();
    if (n == 0) return {};
    if (pos0 < 0 || pos0 + n > opt_.n_ctx)
        return error("vulkan: positions {}..{} exceed the KV cache of {}", pos0, pos0 + n, opt_.n_ctx);
    for (int32_t t : tokens)
        if (t < 0 || t >= c_.n_vocab) return error("vulkan: token id {} out of range (n_vocab {})", t, c_.n_vocab);
    // Every activation buffer must fit one storage-buffer binding (128 MiB on some drivers): a batch with
    // wider per-token rows than that allows runs as consecutive sub-batches (same result, causal).
    const uint64_t row_bytes = 4 * std::max<uint64_t>({(uint64_t)c_.q_dim() + 2 * c_.kv_dim(), 2 * (uint64_t)c_.d_ff,
                                                        (uint64_t)c_.n_vocab, (uint64_t)c_.d_model});
    int64_t max_tokens = std::max<int64_t>(1, (int64_t)((cx.info().max_buffer_range - 16) / row_bytes));
    if (opt_.max_batch > 0) max_tokens = std::min<int64_t>(max_tokens, opt_.max_batch);
    if (n > max_tokens) {
        for (int64_t done = 0; done < n; done += max_tokens) {
            const int64_t chunk = std::min(max_tokens, n - done);
            float* out = all_logits ? logits + done * c_.n_vocab : logits;
            LLM_TRY(forward(tokens.subspan(done, chunk), pos0 + done, all_logits, out));
        }
        return {};
    }
    all_logits = all_logits && n > 1;  // one token: the same single row either way (one recording)
    auto guard = cx.lock();  // one command pool and queue per context, possibly shared by several sessions
    LLM_TRY(ensure_scratch((uint32_t)n));
    std::memcpy(ids_.mapped(), tokens.data(), n * sizeof(int32_t));
    std::vector<int32_t> pos(n);
    for (int64_t i = 0; i < n; ++i) pos[i] = (int32_t)(pos0 + i);
    const std::vector<float> cs = rope_table(rope_params(c_, pos0 + n, opt_.longrope), pos.data(), n);
    std::memcpy(rope_cs_.mapped(), cs.data(), cs.size() * sizeof(float));
    const uint32_t params[4] = {(uint32_t)pos0, (uint32_t)(pos0 + n), 0, 0};
    std::memcpy(params_.mapped(), params, sizeof(params));

    // A cached recording of this shape, else a new one (cached when reuse is on, LRU beyond max_cached).
    Recording* rec = nullptr;
    std::unique_ptr<Recording> once;
    if (opt_.reuse_commands)
        for (auto& r : recordings_)
            if (r->n == (uint32_t)n && r->all_logits == all_logits) rec = r.get();
    if (!rec) {
        auto r = std::make_unique<Recording>();
        ++n_recordings_;
        LLM_TRY(record(*r, (uint32_t)n, (uint32_t)pos0, all_logits));
        if (opt_.reuse_commands) {
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
    const size_t n_out = all_logits ? (size_t)n : 1;
    const Buffer& src = logits_.mapped() ? logits_ : logits_host_;
    std::memcpy(logits, src.mapped(), n_out * c_.n_vocab * sizeof(float));
    return {};
}

std::vector<std::pair<std::string, double>> VulkanDecoder::last_profile() const { return last_profile_; }

}  // namespace llm::vk
