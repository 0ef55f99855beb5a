// The serving engine's public surface: options resolved, requests validated and handed to the engine thread,
// the optional own thread, statistics, embeddings.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <string>

#include "core/system_info.hpp"
#include "engine/engine_impl.hpp"
#ifdef LLM_HAVE_VULKAN
#include "kernels/vulkan/vk_session.hpp"
#endif
#include "runtime/model_access.hpp"
#include "runtime/model_impl.hpp"

namespace llm {
namespace {

// MemAvailable of /proc/meminfo in bytes (0 when unknown).
int64_t available_memory() {
    std::ifstream f("/proc/meminfo");
    std::string key;
    int64_t kb = 0;
    std::string unit;
    while (f >> key >> kb >> unit)
        if (key == "MemAvailable:") return kb * 1024;
    return 0;
}

Status resolve_options(const ModelConfig& c, EngineOptions& o, const EngineInternals& in, int64_t* pool_tokens) {
    if (o.n_ctx < 0) return error("n_ctx must be >= 0, got {}", o.n_ctx);
    if (o.n_ctx == 0) o.n_ctx = c.n_ctx_train > 0 ? c.n_ctx_train : 4096;
    if (o.n_threads <= 0) o.n_threads = physical_core_count();
    if (o.max_running <= 0) return error("max_running must be positive, got {}", o.max_running);
    if (o.step_tokens <= 0) return error("step_tokens must be positive, got {}", o.step_tokens);
    if (o.block_tokens <= 0 || o.block_tokens > 4096)
        return error("block_tokens must be in [1, 4096], got {}", o.block_tokens);
    if (o.kv_pool_tokens < 0 || o.kv_pool_mib < 0) return error("the KV pool size must not be negative");
    if (o.device.rfind("vulkan", 0) == 0) {
#ifndef LLM_HAVE_VULKAN
        std::fprintf(stderr, "llm: this build has no Vulkan backend; running on the CPU\n");
        o.device = "cpu";
#endif
    } else if (o.device != "cpu") {
        return error("unknown device '{}' (use cpu, vulkan or vulkan:N)", o.device);
    }
    if (o.longrope == LongRopeMode::Auto && !c.longrope_long.empty() && !in.per_pass_longrope)  // llama.cpp's rule:
        o.longrope = o.n_ctx > c.longrope_original_ctx ? LongRopeMode::Long : LongRopeMode::Short;  // by context
    const size_t per_token = KvPool::bytes_per_token(c, o.kv_type);
    const int64_t avail = available_memory();
    int64_t tokens = o.kv_pool_tokens;
    if (tokens == 0 && o.kv_pool_mib > 0) tokens = (o.kv_pool_mib << 20) / (int64_t)per_token;
    if (tokens == 0) {
        // Default: every running sequence at full context, within half the available memory.
        tokens = (int64_t)o.max_running * o.n_ctx;
        if (avail > 0) tokens = std::min<int64_t>(tokens, avail / 2 / (int64_t)per_token);
        tokens = std::max<int64_t>(tokens, o.block_tokens);
    } else if (avail > 0 && (double)tokens * per_token > 0.9 * (double)avail) {
        return error(StatusCode::OutOfMemory, "a KV pool of {} tokens needs {} MiB, but only {} MiB of memory is available", tokens,
                     (int64_t)(tokens * per_token) >> 20, avail >> 20);
    }
    if (tokens < o.block_tokens)
        return error("the KV pool ({} tokens) is smaller than one block ({} tokens)", tokens, o.block_tokens);
    *pool_tokens = tokens / o.block_tokens * o.block_tokens;
    return Status::ok();
}

}  // namespace

// The passes on a Vulkan device: a decoder whose cache is the pool's blocks (same block ids and tables as the
// host bookkeeping). On failure (no device, out of device memory) the engine says so and runs on the CPU.
void Engine::Impl::use_device() {
    Impl& m = *this;
#ifdef LLM_HAVE_VULKAN
    vk::SessionRequest req;
    req.device = m.opts.device, req.n_ctx = m.opts.n_ctx, req.kv_type = m.opts.kv_type, req.longrope = m.opts.longrope;
    req.paged_blocks = m.pool_tokens / m.opts.block_tokens, req.block_tokens = m.opts.block_tokens;
    req.numerics = m.opts.numerics;
    std::string note;
    auto d = vk::create_session_decoder(req, *m.c, *m.w, &note);
    if (!d) {
        std::fprintf(stderr, "llm: %s; the engine runs on the CPU\n", d.error_message().c_str());
        m.opts.device = "cpu";
        return;
    }
    if (!note.empty()) std::fprintf(stderr, "llm: %s\n", note.c_str());
    m.device = std::move(*d);
    // A pass must fit the device's buffers (every activation row in one binding): fewer tokens per step if not.
    if (m.device->max_tokens() < m.opts.step_tokens) {
        std::fprintf(stderr, "llm: vulkan: at most %lld tokens per pass on this device (step_tokens was %d)\n",
                     (long long)m.device->max_tokens(), m.opts.step_tokens);
        m.opts.step_tokens = (int)m.device->max_tokens();
    }
#else
    (void)m;
#endif
}

Engine::Engine(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Engine::~Engine() {
    stop();
    Impl& m = *impl_;
    std::lock_guard step_lock(m.step_mu);
    m.take_handovers();
    for (auto& s : m.running) m.finish(*s, StopReason::Cancelled);
    for (auto& s : m.waiting) m.finish(*s, StopReason::Cancelled);
}

Expected<std::unique_ptr<Engine>> Engine::create(std::shared_ptr<const Model> model, const EngineOptions& opts) {
    return EngineAccess::create(std::move(model), opts, {});
}

Expected<std::unique_ptr<Engine>> EngineAccess::create(std::shared_ptr<const Model> model, const EngineOptions& opts,
                                                       const EngineInternals& internals) {
    using Impl = Engine::Impl;
    if (!model) return error("Engine::create: no model");
    auto impl = std::make_unique<Impl>();
    Impl& m = *impl;
    m.model = std::move(model);
    m.c = &model_config(*m.model);
    m.w = &ModelAccess::impl(*m.model).loaded.weights;
    m.tok = m.model->tokenizer();
    m.opts = opts;
    LLM_TRY(resolve_options(*m.c, m.opts, internals, &m.pool_tokens));
    // On a device the pool's storage is the device's: llama.cpp's CPU attention has nothing to read there.
    if (m.opts.device != "cpu") m.use_device();  // may fall back to the CPU
    const bool ggml = internals.ggml_attention && m.opts.device == "cpu";
    auto pool = KvPool::create(*m.c, m.pool_tokens / m.opts.block_tokens, m.opts.block_tokens, m.opts.kv_type, ggml);
    if (!pool) return pool.status();
    m.pool = std::move(*pool);
    m.alloc = std::make_unique<BlockAllocator>(m.pool.n_blocks());
    // A chain is long from 1024 tokens, or an eighth of a smaller pool (at least two blocks).
    m.long_chain_blocks =
        std::max<int64_t>(2, std::min<int64_t>(1024, m.pool_tokens / 8) / m.opts.block_tokens);
    m.fo.n_threads = m.opts.n_threads;
    m.fo.longrope = m.opts.longrope;
    m.fo.numerics = m.opts.numerics;
    m.stats.kv_blocks_total = m.pool.n_blocks();
    m.stats.block_tokens = m.opts.block_tokens;
    m.published = m.stats;
    return std::unique_ptr<Engine>(new Engine(std::move(impl)));
}

Expected<RequestId> Engine::submit(Request request, RequestCallbacks callbacks) {
    Impl& m = *impl_;
    const ModelConfig& c = *m.c;
    const Request& r = request;
    if (r.prompt.empty()) return error("request: empty prompt");
    for (size_t i = 0; i < r.prompt.size(); ++i)
        if (r.prompt[i] < 0 || r.prompt[i] >= c.n_vocab)
            return error("request: prompt token id {} at index {} is out of range [0, {})", r.prompt[i], i, c.n_vocab);
    for (int32_t t : r.stop_tokens)
        if (t < 0 || t >= c.n_vocab) return error("request: stop token id {} is out of range [0, {})", t, c.n_vocab);
    if (r.top_logprobs > c.n_vocab)
        return error("request: top_logprobs must be at most the vocabulary size ({}), got {}", c.n_vocab, r.top_logprobs);
    if (!r.stop.empty() && !m.tok) return error(StatusCode::NoTokenizer, "request: stop strings need the model's tokenizer, which it lacks");
    for (const std::string& s : r.stop)
        if (s.empty()) return error("request: empty stop string");
    auto sampler = Sampler::create(r.sampling, c.n_vocab);
    if (!sampler) return sampler.status().with_context("request");

    // Will it ever fit? Prompt plus the tokens asked for, against one sequence's context and the whole pool.
    const int64_t fit = std::min<int64_t>(m.opts.n_ctx, m.pool_tokens);
    const int64_t need = (int64_t)r.prompt.size() + std::max(r.max_tokens, 1);
    if (need > fit)
        return error(StatusCode::ContextOverflow, "request needs {} tokens (prompt {} + {} new), but at most {} fit (context {}, KV pool {})", need,
                     r.prompt.size(), std::max(r.max_tokens, 1), fit, m.opts.n_ctx, m.pool_tokens);

    auto s = std::make_unique<Sequence>();
    s->t_submit = EngineClock::now();
    s->tokens = r.prompt;
    s->n_prompt = (int)r.prompt.size();
    s->limit = r.max_tokens >= 0 ? std::min<int64_t>(fit, need) : fit;
    s->sampler.emplace(std::move(*sampler));
    if (r.constraint) {
        r.constraint->reset();
        s->sampler->set_constraint(r.constraint);
    }
    for (int32_t t : r.prompt) s->sampler->accept(t);  // the penalty window sees the prompt, as in llama.cpp
    if (m.tok) s->stream = std::make_unique<StreamDecoder>(*m.tok);
    s->stops = std::make_unique<StopMatcher>(r.stop);
    s->req = std::move(request);
    s->cb = std::move(callbacks);
    s->result.n_prompt = s->n_prompt;
    std::lock_guard lock(m.mu);
    s->id = m.next_id++;
    s->result.id = s->id;
    const RequestId id = s->id;
    m.incoming.push_back(std::move(s));
    m.published.waiting++;
    m.cv.notify_all();
    return id;
}

void Engine::cancel(RequestId id) {
    Impl& m = *impl_;
    std::lock_guard lock(m.mu);
    m.cancels.push_back(id);
    m.cv.notify_all();
}

void Engine::start() {
    Impl& m = *impl_;
    if (m.thread.joinable()) return;
    {
        std::lock_guard lock(m.mu);
        m.stopping = false;
    }
    m.thread = std::thread([&m] {
        while (true) {
            {
                std::lock_guard lock(m.mu);
                if (m.stopping) return;
            }
            if (m.step()) continue;
            std::unique_lock lock(m.mu);
            m.cv.wait(lock, [&] { return m.stopping || !m.incoming.empty() || !m.cancels.empty(); });
        }
    });
}

void Engine::stop() {
    Impl& m = *impl_;
    if (!m.thread.joinable()) return;
    {
        std::lock_guard lock(m.mu);
        m.stopping = true;
        m.cv.notify_all();
    }
    m.thread.join();
}

bool Engine::step() { return impl_->step(); }

void Engine::run_until_idle() {
    while (impl_->step()) {
    }
}

Expected<std::vector<float>> Engine::embed(const std::vector<int32_t>& tokens, bool normalize) {
    Impl& m = *impl_;
    const ModelConfig& c = *m.c;
    if (tokens.empty()) return error("embed: no tokens");
    for (size_t i = 0; i < tokens.size(); ++i)
        if (tokens[i] < 0 || tokens[i] >= c.n_vocab)
            return error("embed: token id {} at index {} is out of range [0, {})", tokens[i], i, c.n_vocab);
    if ((int64_t)tokens.size() > m.opts.n_ctx)
        return error(StatusCode::ContextOverflow, "embed: {} tokens do not fit the context ({})", tokens.size(), m.opts.n_ctx);
    std::lock_guard step_lock(m.step_mu);  // between steps: the threads are the engine's
    auto kv = KvCache::create(c, (int)tokens.size(), DType::F32);
    if (!kv) return kv.status();
    std::vector<float> hidden(tokens.size() * (size_t)c.d_model);
    const Batch b = Batch::contiguous(tokens, 0, /*all_logits=*/true);
    forward_cpu(c, *m.w, *kv, b, hidden.data(), m.embed_scratch, m.fo, /*hidden_output=*/true);
    std::vector<double> sum(c.d_model, 0.0);
    for (size_t t = 0; t < tokens.size(); ++t)
        for (int d = 0; d < c.d_model; ++d) sum[d] += hidden[t * c.d_model + d];
    std::vector<float> out(c.d_model);
    double norm = 0;
    for (int d = 0; d < c.d_model; ++d) {
        out[d] = (float)(sum[d] / (double)tokens.size());
        norm += (double)out[d] * out[d];
    }
    if (normalize && norm > 0)
        for (float& x : out) x = (float)(x / std::sqrt(norm));
    return out;
}

EngineStats Engine::stats() const {
    std::lock_guard lock(impl_->mu);
    return impl_->published;
}

const Model& Engine::model() const { return *impl_->model; }
const EngineOptions& Engine::options() const { return impl_->opts; }
int64_t Engine::kv_pool_tokens() const { return impl_->pool_tokens; }
int64_t Engine::kv_pool_bytes() const { return (int64_t)impl_->pool.bytes(); }

}  // namespace llm
