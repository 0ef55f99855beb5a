// Internals of the serving engine (include/llm/engine.hpp): per-sequence state, the scheduler's queues, the
// paged pool and its allocator. engine_api.cpp: creation, submit/cancel, thread, stats, embed;
// engine_step.cpp: the scheduler (one forward pass per step); engine_output.cpp: sampling and streaming;
// session.cpp: Session, a sequence the caller drives through the same passes.
#pragma once
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <thread>
#include <vector>

#include "llm/engine.hpp"
#include "models/model_weights.hpp"
#include "runtime/forward_cpu.hpp"
#include "runtime/kv_pool.hpp"
#include "runtime/stop_matcher.hpp"
#include "tokenizer/tokenizer.hpp"

namespace llm {
namespace vk {
class VulkanDecoder;
}

using EngineClock = std::chrono::steady_clock;

// Everything about one request, kept together (what vLLM splits over several tables).
struct Sequence {
    RequestId id = 0;
    Request req;
    RequestCallbacks cb;
    std::vector<int32_t> tokens;  // prompt, then generated tokens; the KV of [0, n_computed) is in `blocks`
    int n_prompt = 0;
    int64_t n_computed = 0;
    int64_t limit = 0;             // tokens (prompt + generated) at most: n_ctx, the pool, max_tokens
    std::vector<int32_t> blocks;   // block table: blocks[j / block_tokens] holds position j
    std::vector<uint64_t> hashes;  // chained content hashes of the leading full computed blocks
    std::optional<Sampler> sampler;
    std::unique_ptr<StreamDecoder> stream;  // null without a tokenizer
    std::unique_ptr<StopMatcher> stops;
    RequestResult result;
    EngineClock::time_point t_submit, t_first_step, t_first_token, t_last_token;
    bool started = false, done = false;
    uint64_t admitted = 0;  // admission order (preemption takes the most recent)

    int64_t pending() const { return (int64_t)tokens.size() - n_computed; }
};

// A sequence the caller drives (a Session): its tokens run in passes of up to step_tokens through the same forward
// pass as the scheduler's; no sampling, no prefix cache, its blocks its own (taken in pool order, so a Session's
// blocks are consecutive: llama.cpp's attention reads them in place).
struct DirectSequence {
    std::vector<int32_t> blocks;
    int64_t n_past = 0;
};

// Test hook: each sampled step's logits per request (the position is that of the token they follow).
using StepLogitsHook = std::function<void(RequestId id, int64_t position, std::span<const float> logits)>;

struct Engine::Impl {
    std::shared_ptr<const Model> model;
    EngineOptions opts;
    const ModelConfig* c = nullptr;
    const ModelWeights* w = nullptr;
    const Tokenizer* tok = nullptr;
    KvPool pool;  // the blocks' bookkeeping and, on the CPU, their storage (untouched when `device` holds it)
    std::unique_ptr<BlockAllocator> alloc;
    // Set when the passes run on a Vulkan device: the pool's storage lives there (same blocks, same tables).
    std::shared_ptr<vk::VulkanDecoder> device;
    ForwardOptions fo;
    ForwardScratch scratch, embed_scratch;
    int64_t pool_tokens = 0;
    int64_t long_chain_blocks = 0;  // full blocks from which a released chain is protected from eviction

    // Shared with other threads (mu): what submit() and cancel() hand over, and the published statistics.
    mutable std::mutex mu;
    std::condition_variable cv;
    std::deque<std::unique_ptr<Sequence>> incoming;
    std::vector<RequestId> cancels;
    EngineStats published;
    RequestId next_id = 1;
    bool stopping = false;
    std::thread thread;

    // The engine thread's (one step at a time: step_mu).
    std::mutex step_mu;
    std::deque<std::unique_ptr<Sequence>> waiting;   // FIFO; preempted sequences go back to the front
    std::vector<std::unique_ptr<Sequence>> running;  // in admission order
    EngineStats stats;
    uint64_t admissions = 0;
    Batch batch;
    PagedKv paged;
    std::vector<float> logits;
    StepLogitsHook logits_hook;

    // engine_step.cpp
    bool step();
    // step()'s phases, in order.
    struct Work {  // a sequence and the tokens it computes this step
        Sequence* s;
        int64_t n;
    };
    void sweep_done();
    bool schedule_running(std::vector<Work>& plan, int64_t& budget);  // true when a sequence was preempted
    void admit_waiting(std::vector<Work>& plan, int64_t& budget);
    std::vector<Sequence*> build_batch(const std::vector<Work>& plan);  // the sequences whose logits come back
    void use_device();  // engine_api.cpp: the decoder for opts.device, or the CPU with a message
    // False when the pass failed (a device error): the plan's sequences have ended with the error.
    bool run_batch(const std::vector<Work>& plan);
    void retire_and_emit(const std::vector<Work>& plan, const std::vector<Sequence*>& out_seqs);
    void take_handovers();
    bool ensure_blocks(Sequence& s, int64_t n_tokens);
    void release_blocks(Sequence& s);
    void preempt(std::unique_ptr<Sequence> s);
    int64_t reuse_prefix(Sequence& s);
    void register_full_blocks(Sequence& s);
    void publish();
    // session.cpp: a DirectSequence's passes. out: the logits of every token (all_logits) or of the last; the
    // caller checks the ids and the context.
    Status eval_direct(DirectSequence& d, std::span<const int32_t> tokens, bool all_logits, float* out);
    void truncate_direct(DirectSequence& d, int64_t n);  // keeps positions [0, n)

    // engine_output.cpp
    void on_logits(Sequence& s, const float* logits);
    void finish(Sequence& s, StopReason reason, Status status = Status::ok());
    void emit(Sequence& s, TokenEvent& e);
};

// What only the library asks of an engine (a Session's: see DirectSequence).
struct EngineInternals {
    bool ggml_attention = false;     // a pool with transposed values: llama.cpp's attention (Numerics::Exact, F16)
    bool per_pass_longrope = false;  // keep LongRopeMode::Auto (factors by each pass's length, as Hugging Face)
};

// The library's and the tests' view of an engine.
struct EngineAccess {
    static Engine::Impl& impl(Engine& e) { return *e.impl_; }
    static Expected<std::unique_ptr<Engine>> create(std::shared_ptr<const Model> model, const EngineOptions& opts,
                                                    const EngineInternals& internals);
};
inline void engine_set_logits_hook(Engine& e, StepLogitsHook hook) { EngineAccess::impl(e).logits_hook = std::move(hook); }

}  // namespace llm
