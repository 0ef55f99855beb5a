// The serving engine's C API (include/llm/llm.h): thin wrappers over llm::Engine; C callbacks get plain structs
// whose pointers live for the call. No exception crosses it.
#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

#include "capi/c_api_util.hpp"
#include "llm/engine.hpp"
#include "llm/llm.h"
#include "runtime/model_impl.hpp"

struct llm_engine {
    std::unique_ptr<llm::Engine> engine;
};

using llm::c_api::report;

namespace {

llm_stop_reason stop_code(llm::StopReason r) {
    switch (r) {
        case llm::StopReason::EndOfGeneration: return LLM_STOP_EOS;
        case llm::StopReason::StopString: return LLM_STOP_STRING;
        case llm::StopReason::MaxTokens: return LLM_STOP_LENGTH;
        case llm::StopReason::ContextFull: return LLM_STOP_CONTEXT;
        case llm::StopReason::Cancelled: return LLM_STOP_CANCELLED;
    }
    return LLM_STOP_EOS;
}

}  // namespace

extern "C" {

llm_engine_params llm_engine_default_params(void) {
    llm_engine_params p{};
    const llm::EngineOptions o;
    p.n_ctx = o.n_ctx, p.kv_pool_tokens = o.kv_pool_tokens, p.kv_pool_mib = o.kv_pool_mib;
    p.block_tokens = o.block_tokens, p.kv_type = LLM_KV_F16, p.n_threads = o.n_threads;
    p.max_running = o.max_running, p.step_tokens = o.step_tokens, p.numerics = LLM_NUMERICS_INVARIANT;
    p.prefix_cache = o.prefix_cache;
    return p;
}

llm_status llm_engine_create(llm_model* model, const llm_engine_params* params, llm_engine** out, char* err,
                             size_t err_size) {
    if (!model || !out) return report(LLM_ERR_INVALID_ARGUMENT, "llm_engine_create: null argument", err, err_size);
    *out = nullptr;
    const llm_engine_params p = params ? *params : llm_engine_default_params();
    llm::EngineOptions o;
    o.n_ctx = p.n_ctx, o.kv_pool_tokens = p.kv_pool_tokens, o.kv_pool_mib = p.kv_pool_mib;
    o.block_tokens = p.block_tokens, o.n_threads = p.n_threads, o.max_running = p.max_running;
    o.step_tokens = p.step_tokens, o.prefix_cache = p.prefix_cache;
    const auto kv = llm::c_api::kv_type(p.kv_type);
    if (!kv) return report(LLM_ERR_INVALID_ARGUMENT, "llm_engine_create: unknown kv_type", err, err_size);
    const auto numerics = llm::c_api::numerics(p.numerics);
    if (!numerics) return report(LLM_ERR_INVALID_ARGUMENT, "llm_engine_create: unknown numerics", err, err_size);
    o.kv_type = *kv, o.numerics = *numerics;
    try {
        auto e = llm::Engine::create(model->model, o);
        if (!e) return report(e.status(), err, err_size);
        *out = new llm_engine{std::move(*e)};
        return LLM_OK;
    } catch (const std::exception& e) {
        return report(LLM_ERR_INTERNAL, e.what(), err, err_size);
    }
}

void llm_engine_free(llm_engine* engine) { delete engine; }

llm_request_params llm_request_default_params(void) {
    llm_request_params r{};
    r.sampling = {0.0f, 40, 0.95f, 0.05f, 1.0f, 42};
    r.max_tokens = -1;
    r.top_logprobs = -1;
    r.stop_at_end_of_generation = true;
    return r;
}

llm_status llm_engine_submit(llm_engine* engine, const llm_request_params* request, llm_token_callback on_token,
                             llm_done_callback on_done, void* user, llm_request_id* out, char* err, size_t err_size) {
    if (!engine || !request || (request->n_prompt && !request->prompt) || (request->n_stop && !request->stop))
        return report(LLM_ERR_INVALID_ARGUMENT, "llm_engine_submit: null argument", err, err_size);
    try {
        llm::Request r;
        r.prompt.assign(request->prompt, request->prompt + request->n_prompt);
        const llm_sampling_params& sp = request->sampling;
        r.sampling.temperature = sp.temperature, r.sampling.top_k = sp.top_k, r.sampling.top_p = sp.top_p;
        r.sampling.min_p = sp.min_p, r.sampling.repeat_penalty = sp.repeat_penalty, r.sampling.seed = sp.seed;
        r.max_tokens = request->max_tokens;
        for (size_t i = 0; i < request->n_stop; ++i) {
            if (!request->stop[i]) return report(LLM_ERR_INVALID_ARGUMENT, "llm_engine_submit: null stop string", err, err_size);
            r.stop.emplace_back(request->stop[i]);
        }
        r.top_logprobs = request->top_logprobs;
        r.stop_at_end_of_generation = request->stop_at_end_of_generation;
        llm::RequestCallbacks cb;
        if (on_token)
            cb.on_token = [on_token, user](const llm::TokenEvent& e) {
                std::vector<int32_t> ids;
                std::vector<float> lps;
                for (const llm::TokenLogprob& t : e.top_logprobs) ids.push_back(t.token), lps.push_back(t.logprob);
                const llm_token_event ev{e.id, e.token, e.text.data(), e.text.size(), e.logprob, ids.data(),
                                         lps.data(), ids.size()};
                on_token(&ev, user);
            };
        if (on_done)
            cb.on_done = [on_done, user](const llm::RequestResult& res) {
                llm_request_result c{};
                c.id = res.id;
                c.status = llm::c_api::status_code(res.status);
                c.error = res.status ? "" : res.status.message().c_str();
                c.stop_reason = stop_code(res.stop_reason);
                c.tokens = res.tokens.data(), c.n_tokens = res.tokens.size(), c.text = res.text.c_str();
                c.n_prompt = res.n_prompt, c.n_cached = res.n_cached, c.n_preempted = res.n_preempted;
                c.queue_ms = res.queue_ms, c.ttft_ms = res.ttft_ms, c.generate_ms = res.generate_ms;
                on_done(&c, user);
            };
        auto id = engine->engine->submit(std::move(r), std::move(cb));
        if (!id) {
            return report(id.status(), err, err_size);
        }
        if (out) *out = *id;
        return LLM_OK;
    } catch (const std::exception& e) {
        return report(LLM_ERR_INTERNAL, e.what(), err, err_size);
    }
}

void llm_engine_cancel(llm_engine* engine, llm_request_id id) {
    if (engine) engine->engine->cancel(id);
}

bool llm_engine_step(llm_engine* engine) {
    try {
        return engine && engine->engine->step();
    } catch (const std::exception&) {
        return false;
    }
}

void llm_engine_run_until_idle(llm_engine* engine) {
    try {
        if (engine) engine->engine->run_until_idle();
    } catch (const std::exception&) {
    }
}

void llm_engine_start(llm_engine* engine) {
    if (engine) engine->engine->start();
}

void llm_engine_stop(llm_engine* engine) {
    if (engine) engine->engine->stop();
}

llm_engine_stats llm_engine_get_stats(const llm_engine* engine) {
    llm_engine_stats s{};
    if (!engine) return s;
    const llm::EngineStats t = engine->engine->stats();
    s.running = t.running, s.waiting = t.waiting;
    s.kv_blocks_used = t.kv_blocks_used, s.kv_blocks_total = t.kv_blocks_total, s.block_tokens = t.block_tokens;
    s.prefix_lookups = t.prefix_lookups, s.prefix_hits = t.prefix_hits, s.prefix_hit_tokens = t.prefix_hit_tokens;
    s.prefix_evictions = t.prefix_evictions, s.preemptions = t.preemptions, s.cancellations = t.cancellations;
    s.prompt_tokens = t.prompt_tokens, s.generated_tokens = t.generated_tokens, s.requests_done = t.requests_done;
    s.steps = t.steps, s.step_tokens = t.step_tokens, s.step_sequences = t.step_sequences;
    s.max_step_sequences = t.max_step_sequences;
    return s;
}

}  // extern "C"
