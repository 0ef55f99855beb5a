// VulkanDecoder: the op sequence of models/decoder.cpp recorded into one command list per forward pass.
// q, k and v always land in one [n x (q_dim + 2 kv_dim)] buffer (fused or not), gate and up in one
// [n x 2 d_ff] buffer, so rope, the cache writes, attention and silu_mul read them through offsets/strides.
#include "kernels/vulkan/vk_decoder.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>

namespace llm::vk {
namespace {

Status upload_opt(Context& ctx, const TensorView& t, DeviceMatrix& out, size_t& bytes) {
    if (!t.valid()) return {};
    auto m = upload_matrix(ctx, t);
    if (!m) return m.status();
    bytes += m->bytes();
    out = std::move(*m);
    return {};
}

Expected<Buffer> upload_vec(Context& ctx, const std::vector<float>& v, const std::string& what) {
    if (v.empty()) return error("vulkan: {} is missing", what);
    return upload_floats(ctx, v.data(), v.size());
}

}  // namespace

Expected<std::shared_ptr<const VulkanWeights>> VulkanWeights::upload(std::shared_ptr<Context> ctx,
                                                                     const ModelConfig& c, const ModelWeights& w) {
    if (!ctx) return error("vulkan: no context");
    if (c.head_dim > 256) return error("vulkan: head_dim {} > 256 is not supported", c.head_dim);
    if (c.kv_dim() % 2) return error("vulkan: odd kv_dim {}", c.kv_dim());
    auto d = std::make_shared<VulkanWeights>();
    d->ctx = std::move(ctx);
    d->config = c;
    Context& cx = *d->ctx;
    size_t& bytes = d->bytes;
    LLM_TRY(upload_opt(cx, w.token_embd, d->token_embd, bytes));
    if (!d->token_embd.valid()) return error("vulkan: token_embd is missing");
    d->tied = w.output.data == w.token_embd.data;
    if (!d->tied) LLM_TRY(upload_opt(cx, w.output, d->output, bytes));
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
            LLM_TRY(upload_opt(cx, *src, *dst, bytes));
        d->layers.push_back(std::move(dl));
    }
    std::vector<DType> types = {d->token_embd.type};
    if (d->output.valid()) types.push_back(d->output.type);
    for (const Layer& L : d->layers)
        for (const DeviceMatrix* m : {&L.wq, &L.wk, &L.wv, &L.wqkv, &L.wo, &L.w_gate, &L.w_up, &L.w_gate_up, &L.w_down})
            if (m->valid() && std::find(types.begin(), types.end(), m->type) == types.end()) types.push_back(m->type);
    {
        auto guard = cx.lock();
        LLM_TRY(warm_up_pipelines(cx, types));
    }
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
                                                               const ModelWeights& w, const DecoderOptions& opt) {
    auto weights = VulkanWeights::upload(std::move(ctx), c, w);
    if (!weights) return weights.status();
    return create(std::move(*weights), opt);
}

Status VulkanDecoder::ensure_scratch(uint32_t n) {
    if (n <= cap_) return {};
    Context& cx = *w_->ctx;
    const ModelConfig& c_ = w_->config;
    const size_t D = c_.d_model, QKV = c_.q_dim() + 2 * c_.kv_dim(), F = c_.d_ff, V = c_.n_vocab;
    const size_t half = c_.n_rot / 2;
    struct Want {
        Buffer* buf;
        size_t bytes;
        bool host;
    };
    const Want wants[] = {{&x_, n * D * 4, false},        {&h_, n * D * 4, false},
                          {&qkv_, n * QKV * 4, false},     {&attn_, n * (size_t)c_.q_dim() * 4, false},
                          {&ff_, n * 2 * F * 4, false},    {&ffo_, n * F * 4, false},
                          {&logits_, n * V * 4, false},    {&logits_host_, n * V * 4, true},
                          {&ids_, n * 4, true},            {&rope_cs_, n * half * 2 * 4, true}};
    for (const Want& wt : wants) {
        auto b = wt.host ? cx.create_host_buffer(wt.bytes) : cx.create_buffer(wt.bytes);
        if (!b) return b.status().with_context("activations");
        *wt.buf = std::move(*b);
    }
    cap_ = n;
    return {};
}

Status VulkanDecoder::record(CommandList& cl, uint32_t n, uint32_t pos0, bool all_logits) {
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
    RopeParams rp = rope_params(c_, n_keys, opt_.longrope);
    const bool f16 = opt_.kv_type == DType::F16;
    // Records one op; with profiling, a timestamp labeled with the op name follows it.
#define OP(name, call)                                 \
    do {                                               \
        LLM_TRY(call);                                 \
        if (opt_.profile) cl.timestamp(#name);         \
    } while (0)
    if (opt_.profile) cl.timestamp("start");

    OP(get_rows, get_rows(cx, cl, W.token_embd, ids_, n, x_));
    for (size_t il = 0; il < W.layers.size(); ++il) {
        const VulkanWeights::Layer& L = W.layers[il];
        OP(rms_norm, rms_norm(cx, cl, x_, 0, L.attn_norm, h_, 0, n, D, c_.rms_eps));
        if (L.wqkv.valid()) {
            OP(matmul, matmul(cx, cl, L.wqkv, {&h_, 0, D}, n, {&qkv_, 0, QKV}));
        } else {
            cl.begin_group();  // q, k, v: same input, disjoint outputs
            OP(matmul, matmul(cx, cl, L.wq, {&h_, 0, D}, n, {&qkv_, 0, QKV}));
            OP(matmul, matmul(cx, cl, L.wk, {&h_, 0, D}, n, {&qkv_, QD, QKV}));
            OP(matmul, matmul(cx, cl, L.wv, {&h_, 0, D}, n, {&qkv_, QD + KVD, QKV}));
            cl.end_group();
        }
        const KvView kv{&k_cache_[il], 0, KVD, f16}, vv{&v_cache_[il], 0, KVD, f16};
        cl.begin_group();  // rope q, rope k and the V cache write touch disjoint columns
        OP(rope, rope(cx, cl, {&qkv_, 0, QKV}, n, c_.n_heads, c_.head_dim, rp, rope_cs_));
        OP(rope, rope(cx, cl, {&qkv_, QD, QKV}, n, c_.n_kv_heads, c_.head_dim, rp, rope_cs_));
        OP(kv_write, kv_write(cx, cl, {&qkv_, QD + KVD, QKV}, n, KVD, pos0, vv));
        cl.end_group();
        OP(kv_write, kv_write(cx, cl, {&qkv_, QD, QKV}, n, KVD, pos0, kv));
        OP(attention, attention(cx, cl, {&qkv_, 0, QKV}, kv, vv, n_keys, n, pos0, ap, {&attn_, 0, QD}));
        OP(matmul, matmul(cx, cl, L.wo, {&attn_, 0, QD}, n, {&h_, 0, D}));
        OP(add_inplace, add_inplace(cx, cl, x_, 0, h_, 0, n * D));

        OP(rms_norm, rms_norm(cx, cl, x_, 0, L.ffn_norm, h_, 0, n, D, c_.rms_eps));
        if (L.w_gate_up.valid()) {
            OP(matmul, matmul(cx, cl, L.w_gate_up, {&h_, 0, D}, n, {&ff_, 0, 2 * F}));
        } else {
            cl.begin_group();  // gate and up: same input, disjoint outputs
            OP(matmul, matmul(cx, cl, L.w_gate, {&h_, 0, D}, n, {&ff_, 0, 2 * F}));
            OP(matmul, matmul(cx, cl, L.w_up, {&h_, 0, D}, n, {&ff_, F, 2 * F}));
            cl.end_group();
        }
        OP(silu_mul, silu_mul(cx, cl, {&ff_, 0, 2 * F}, {&ff_, F, 2 * F}, {&ffo_, 0, F}, F, n));
        OP(matmul, matmul(cx, cl, L.w_down, {&ffo_, 0, F}, n, {&h_, 0, D}));
        OP(add_inplace, add_inplace(cx, cl, x_, 0, h_, 0, n * D));
    }
    const uint32_t first = all_logits ? 0 : n - 1, n_out = n - first;
    OP(rms_norm, rms_norm(cx, cl, x_, first * D, W.output_norm, h_, 0, n_out, D, c_.rms_eps));
    OP(matmul, matmul(cx, cl, W.tied ? W.token_embd : W.output, {&h_, 0, D}, n_out, {&logits_, 0, (uint32_t)c_.n_vocab}));
#undef OP
    if (!logits_.mapped()) cl.copy(logits_, 0, logits_host_, 0, (size_t)n_out * c_.n_vocab * 4);
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
    LLM_TRY(ensure_scratch((uint32_t)n));
    std::memcpy(ids_.mapped(), tokens.data(), n * sizeof(int32_t));
    std::vector<int32_t> pos(n);
    for (int64_t i = 0; i < n; ++i) pos[i] = (int32_t)(pos0 + i);
    const std::vector<float> cs = rope_table(rope_params(c_, pos0 + n, opt_.longrope), pos.data(), n);
    std::memcpy(rope_cs_.mapped(), cs.data(), cs.size() * sizeof(float));

    auto guard = cx.lock();  // one command list per context, possibly shared by several sessions
    CommandList& cl = cx.begin();
    Status st = record(cl, (uint32_t)n, (uint32_t)pos0, all_logits);
    // Submit even after a recording error so the list is closed; report the first error.
    Status sub = cx.submit();
    if (!st) return st;
    if (!sub) return sub;
    const size_t n_out = all_logits ? (size_t)n : 1;
    const Buffer& src = logits_.mapped() ? logits_ : logits_host_;
    std::memcpy(logits, src.mapped(), n_out * c_.n_vocab * sizeof(float));
    return {};
}

std::vector<std::pair<std::string, double>> VulkanDecoder::last_profile() const {
    std::vector<std::pair<std::string, double>> out;
    const auto ts = w_->ctx->timings();
    for (size_t i = 1; i < ts.size(); ++i) {
        const double ms = ts[i].second - ts[i - 1].second;
        auto it = std::find_if(out.begin(), out.end(), [&](const auto& p) { return p.first == ts[i].first; });
        if (it == out.end())
            out.emplace_back(ts[i].first, ms);
        else
            it->second += ms;
    }
    return out;
}

}  // namespace llm::vk
