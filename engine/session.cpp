// Session: one conversation the caller drives token by token, a thin layer over the serving engine (one
// forward pass and one KV pool for every frontend): an engine with one sequence, a pool of n_ctx tokens, no
// prefix cache. In Numerics::Exact with an F16 cache the pool keeps its values transposed and attention is
// llama.cpp's (ggml_attention), so greedy tokens equal llama.cpp's; other modes run the engine's paged attention.
#include <algorithm>
#include <new>

#include "core/system_info.hpp"
#include "engine/engine_impl.hpp"
#include "kernels/cpu/attention_ggml.hpp"
#include "runtime/kv_cache.hpp"
#include "runtime/model_access.hpp"
#include "runtime/model_impl.hpp"
#ifdef LLM_HAVE_VULKAN
#include "kernels/vulkan/vk_decoder.hpp"
#endif

namespace llm {

Status Engine::Impl::eval_direct(DirectSequence& d, std::span<const int32_t> tokens, bool all_logits, float* out) {
    std::lock_guard step_lock(step_mu);
    const int bt = opts.block_tokens;
    const int64_t n = (int64_t)tokens.size();
    for (int64_t done = 0; done < n;) {
        const int64_t chunk = std::min<int64_t>(opts.step_tokens, n - done);
        while ((int64_t)d.blocks.size() * bt < d.n_past + chunk) {
            const int32_t b = alloc->allocate();
            if (b < 0)
                return error(StatusCode::ContextOverflow,
                             "context overflow: {} tokens in history + {} new > the KV pool ({})", d.n_past, n - done,
                             pool_tokens);
            d.blocks.push_back(b);
        }
        batch = Batch::contiguous(tokens.subspan(done, chunk), d.n_past, all_logits);
        paged.pool = &pool;
        paged.seqs.assign(1, {0, chunk, d.n_past + chunk, d.blocks.data()});
        paged.slots.resize(chunk);
        for (int64_t i = 0; i < chunk; ++i) {
            const int64_t pos = d.n_past + i;
            paged.slots[i] = (int64_t)d.blocks[pos / bt] * bt + pos % bt;
        }
        // Without all_logits every chunk writes its last row to the same place; the final chunk's stays.
        float* o = all_logits ? out + done * (int64_t)c->n_vocab : out;
#ifdef LLM_HAVE_VULKAN
        if (device) {
            LLM_TRY(device->forward(batch, paged, o));
        } else {
            forward_cpu_paged(*c, *w, paged, batch, o, scratch, fo);
        }
#else
        forward_cpu_paged(*c, *w, paged, batch, o, scratch, fo);
#endif
        d.n_past += chunk, done += chunk;
        stats.steps++, stats.step_tokens += chunk, stats.step_sequences++;
        stats.max_step_sequences = std::max(stats.max_step_sequences, 1);
    }
    return Status::ok();
}

void Engine::Impl::truncate_direct(DirectSequence& d, int64_t n) {
    std::lock_guard step_lock(step_mu);
    const int bt = opts.block_tokens;
    const size_t keep = (size_t)((n + bt - 1) / bt);
    // Last blocks first: the allocator hands the lowest released id out next, so the table stays consecutive.
    while (d.blocks.size() > keep) {
        alloc->release(d.blocks.back());
        d.blocks.pop_back();
    }
    d.n_past = n;
}

struct Session::Impl {
    std::shared_ptr<const Model> model;
    SessionOptions opts;
    std::unique_ptr<Engine> engine;
    DirectSequence seq;
    std::vector<float> logits;
    int64_t n_logit_rows = 0;
};

Session::Session(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Session::~Session() = default;

Status validate(const SessionOptions& o) {
    if (o.n_ctx < 0) return error("n_ctx must be >= 0 (0 = the model's, capped at 4096), got {}", o.n_ctx);
    if (o.n_threads < 0 || o.n_threads > kMaxThreads)
        return error("n_threads must be in [0, {}] (0 = physical cores), got {}", kMaxThreads, o.n_threads);
    if (o.n_batch <= 0) return error("n_batch must be positive, got {}", o.n_batch);
    if (o.kv_type != DType::F16 && o.kv_type != DType::F32 && o.kv_type != DType::Q8_0 && o.kv_type != DType::BF16)
        return error("unsupported KV cache type {} (use f16, bf16, f32 or q8_0)", dtype_name(o.kv_type));
    const std::string& d = o.device;
    const bool vulkan_n = d.rfind("vulkan:", 0) == 0 && d.size() > 7 && d.size() <= 10 &&
                          d.find_first_not_of("0123456789", 7) == std::string::npos;
    if (d != "cpu" && d != "vulkan" && !vulkan_n)
        return error("unknown device '{}' (use cpu, vulkan or vulkan:N)", d);
    return {};
}

Expected<std::unique_ptr<Session>> Session::create(std::shared_ptr<const Model> model, const SessionOptions& opts) {
    if (!model) return error("Session::create: no model");
    LLM_TRY(validate(opts));
    const ModelConfig& c = model_config(*model);
    SessionOptions o = opts;
    if (o.n_threads <= 0) o.n_threads = physical_core_count();
    if (o.n_ctx <= 0) o.n_ctx = std::min(c.n_ctx_train > 0 ? c.n_ctx_train : 4096, 4096);
    const bool ggml_attn = o.numerics == Numerics::Exact && o.kv_type == DType::F16 && ggml_attention_available();
    if (o.device == "cpu") {
        // Say what fits instead of an uncaught bad_alloc or the OOM killer; the mapped weights still count.
        const auto& m = ModelAccess::impl(*model);
        LLM_TRY(check_kv_memory(c, o.n_ctx, o.kv_type, ggml_attn,
                                (int64_t)m.mapped_weight_bytes, available_memory_bytes()));
    }
    EngineOptions eo;
    eo.n_ctx = o.n_ctx;
    eo.block_tokens = 16;
    eo.kv_pool_tokens = ((int64_t)o.n_ctx + eo.block_tokens - 1) / eo.block_tokens * eo.block_tokens;
    eo.kv_type = o.kv_type;
    eo.n_threads = o.n_threads;
    eo.max_running = 1;
    eo.step_tokens = o.n_batch;
    eo.numerics = o.numerics;
    eo.prefix_cache = false;
    eo.device = o.device;
    eo.longrope = o.longrope;
    Expected<std::unique_ptr<Engine>> engine = error("no engine");
    try {
        engine = EngineAccess::create(model, eo, {.ggml_attention = ggml_attn, .per_pass_longrope = true});
    } catch (const std::bad_alloc&) {  // overcommit off, or memory taken since the check
        return error(StatusCode::OutOfMemory, "cannot allocate the KV cache for a context of {} tokens ({:.1f} GiB)",
                     o.n_ctx, KvCache::bytes_needed(c, o.n_ctx, o.kv_type, ggml_attn) / 1073741824.0);
    }
    if (!engine) return engine.status();
    auto impl = std::make_unique<Impl>();
    impl->model = std::move(model);
    impl->engine = std::move(*engine);
    o.device = impl->engine->options().device;  // "cpu" after a fallback
    impl->opts = o;
    return std::unique_ptr<Session>(new Session(std::move(impl)));
}

Status Session::eval(std::span<const int32_t> tokens, bool all_logits) {
    Impl& s = *impl_;
    const ModelConfig& c = model_config(*s.model);
    if (tokens.empty()) return error("eval: no tokens");
    for (size_t i = 0; i < tokens.size(); ++i)
        if (tokens[i] < 0 || tokens[i] >= c.n_vocab)
            return error("token id {} at index {} is out of range [0, {})", tokens[i], i, c.n_vocab);
    if (s.seq.n_past + (int64_t)tokens.size() > s.opts.n_ctx)
        return error(StatusCode::ContextOverflow, "context overflow: {} tokens in history + {} new > context size {}",
                     s.seq.n_past, tokens.size(), s.opts.n_ctx);
    s.n_logit_rows = all_logits ? (int64_t)tokens.size() : 1;
    s.logits.resize((size_t)s.n_logit_rows * c.n_vocab);
    return EngineAccess::impl(*s.engine).eval_direct(s.seq, tokens, all_logits, s.logits.data());
}

std::span<const float> Session::logits(int64_t i) const {
    const Impl& s = *impl_;
    const int64_t nv = model_config(*s.model).n_vocab;
    if (i < 0) i = s.n_logit_rows - 1;
    LLM_CHECK(i >= 0 && i < s.n_logit_rows);
    return {s.logits.data() + i * nv, (size_t)nv};
}

const float* Session::logits_or_null(int64_t i) const {
    const Impl& s = *impl_;
    if (i < 0) i = s.n_logit_rows - 1;
    if (i < 0 || i >= s.n_logit_rows) return nullptr;
    return s.logits.data() + i * model_config(*s.model).n_vocab;
}

int64_t Session::n_past() const { return impl_->seq.n_past; }
int Session::n_ctx() const { return impl_->opts.n_ctx; }
void Session::truncate(int64_t n) {
    LLM_CHECK(n >= 0 && n <= impl_->seq.n_past);
    EngineAccess::impl(*impl_->engine).truncate_direct(impl_->seq, n);
}
const Model& Session::model() const { return *impl_->model; }
const std::string& Session::device() const { return impl_->opts.device; }

}  // namespace llm
