// Public C++ API of the serving engine: many requests, one forward pass per step over all of them.
//
//   auto engine = llm::Engine::create(model, {}).value();    // owns the threads and the paged KV pool
//   engine->start();                                          // steps on its own thread (or call step())
//   llm::Request r;  r.prompt = ids;  r.sampling = llm::SamplerConfig::greedy();  r.max_tokens = 64;
//   auto id = engine->submit(std::move(r), {.on_token = [](const llm::TokenEvent& e) { fputs(e.text.c_str(), stdout); },
//                                           .on_done = [](const llm::RequestResult& res) { ... }});
//   engine->cancel(*id);                                      // any time, from any thread
//
// Each step is one forward pass over the tokens of all active sequences: one decode token per running
// sequence plus chunks of waiting prompts, up to EngineOptions::step_tokens (chunked prefill). The KV cache
// is a pool of fixed-size blocks with a block table per sequence; full blocks are shared across requests by
// content (prefix cache). In Numerics::Invariant (the default) a request's logits, hence its tokens, are
// bit-identical whatever else shares its steps.
// Errors are returned as llm::Status / llm::Expected<T>; nothing throws or exits.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "llm/export.hpp"
#include "llm/generate.hpp"  // StopReason
#include "llm/llm.hpp"
#include "llm/sampler.hpp"   // SamplerConfig, TokenConstraint
#include "llm/types.hpp"

namespace llm {

struct EngineOptions {
    int n_ctx = 0;                 // most tokens one sequence may hold (0 = the model's training context)
    int64_t kv_pool_tokens = 0;    // KV pool size in tokens (0 = from kv_pool_mib, else from free memory)
    int64_t kv_pool_mib = 0;       // KV pool size in MiB (0 = see kv_pool_tokens)
    int block_tokens = 16;         // tokens per KV block
    DType kv_type = DType::F16;    // F16, BF16, F32 or Q8_0
    int n_threads = 0;             // 0 = physical cores
    int max_running = 16;          // sequences per step at most
    int step_tokens = 512;         // tokens per forward pass at most (decode tokens + prompt chunks)
    // The matmul arithmetic (core/numerics.hpp). Attention always reads the paged pool through the block tables
    // with the batch-invariant kernel (paged_attention), so Exact here is llama.cpp's matmuls but not its
    // attention: a Session in Exact (the engine with one sequence, its pool's values transposed) runs llama.cpp's
    // attention too, which the llama.cpp-equality tests use.
    Numerics numerics = Numerics::Invariant;
    bool prefix_cache = true;      // share full blocks across requests by content
    std::string device = "cpu";    // as SessionOptions::device
    LongRopeMode longrope = LongRopeMode::Auto;
};

using RequestId = uint64_t;

struct Request {
    std::vector<int32_t> prompt;          // token ids (the chat template is the caller's business)
    SamplerConfig sampling = SamplerConfig::greedy();
    int max_tokens = -1;                  // new tokens at most (-1: until end of generation or n_ctx)
    std::vector<std::string> stop;        // stop strings: generation ends before them, text is cut there
    std::vector<int32_t> stop_tokens;     // extra token ids that end generation (not included)
    bool stop_at_end_of_generation = true;
    int top_logprobs = -1;                // -1: no logprobs; 0: the chosen token's; n > 0: also the n best
    // Constrained decoding (grammar, JSON schema, tool calls): filters each step's candidates; the engine
    // advances it with every generated token. One constraint per request (it holds the request's state).
    std::shared_ptr<TokenConstraint> constraint;
    // The prompt is a conversation's main thread (a server tells from a session id): once released, its cached
    // blocks are protected from eviction as a long conversation's are, however short, so the side requests
    // sent between its turns cannot evict it.
    bool keep_prefix = false;
};

struct TokenLogprob {
    int32_t token;
    float logprob;  // natural log of the probability under the model's raw distribution (before sampling)
};

// One generated token. A last event with token -1 may follow the last token: text held back until the end
// (a possible stop string or a partial character) when generation ended on an end-of-generation or stop token.
struct TokenEvent {
    RequestId id;
    int32_t token;
    std::string text;                        // newly completed UTF-8 text (may be empty: a partial character
                                             // or a possible stop string is held back until resolved)
    float logprob = 0;                       // when Request::top_logprobs >= 0
    std::vector<TokenLogprob> top_logprobs;  // when Request::top_logprobs > 0, best first
};

struct RequestResult {
    RequestId id;
    Status status;                 // an error (a constraint dead end, a request that cannot fit) or ok
    StopReason stop_reason = StopReason::MaxTokens;
    std::string text;              // everything streamed through on_token
    std::vector<int32_t> tokens;   // generated tokens (a final end-of-generation token is not included)
    int n_prompt = 0;              // prompt tokens
    int n_cached = 0;              // of which taken from the prefix cache (not computed)
    int n_preempted = 0;           // times this request was preempted and resumed by recomputation
    double queue_ms = 0;           // submit -> first step that carried it
    double ttft_ms = 0;            // submit -> first generated token
    double generate_ms = 0;        // first -> last generated token
};

// Called on the engine's thread: keep them short (hand work to another thread). on_done is called exactly
// once per accepted request, after its last on_token; a request cancelled before its first step gets only
// on_done (StopReason::Cancelled).
struct RequestCallbacks {
    std::function<void(const TokenEvent&)> on_token;
    std::function<void(const RequestResult&)> on_done;
};

struct EngineStats {
    int running = 0, waiting = 0;
    int64_t kv_blocks_used = 0, kv_blocks_total = 0;
    int block_tokens = 0;
    int64_t prefix_lookups = 0, prefix_hits = 0, prefix_hit_tokens = 0, prefix_evictions = 0;
    int64_t preemptions = 0, cancellations = 0;
    int64_t prompt_tokens = 0, generated_tokens = 0;  // computed prompt tokens (cache hits excluded), sampled tokens
    int64_t requests_done = 0;
    int64_t steps = 0, step_tokens = 0, step_sequences = 0;  // sums over steps: tokens and sequences per pass
    int max_step_sequences = 0;                               // most sequences one pass carried
};

class LLM_API Engine {
public:
    static Expected<std::unique_ptr<Engine>> create(std::shared_ptr<const Model> model, const EngineOptions& opts = {});
    ~Engine();  // stops the thread; pending requests end as Cancelled

    // Validates the request (token ids, sampler settings, prompt + max_tokens within n_ctx and the pool) and
    // queues it. A request that can never fit is refused here with a message saying how many tokens it needs
    // and how many fit. Thread-safe.
    Expected<RequestId> submit(Request request, RequestCallbacks callbacks);
    // Ends a request (queued or running): its blocks are released before the next step; full blocks stay in
    // the prefix cache. Thread-safe; unknown or finished ids are ignored.
    void cancel(RequestId id);

    // Either run the steps on the engine's own thread...
    void start();
    void stop();  // waits for the current step; queued requests stay queued
    // ...or step from the caller's thread (not both). Returns false when there was nothing to do.
    bool step();
    void run_until_idle();

    // Mean-pooled final hidden states (after the output norm) of tokens, n_embd values (L2-normalized when
    // normalize). Runs between steps on the engine's thread (blocks the caller until done). Thread-safe.
    Expected<std::vector<float>> embed(const std::vector<int32_t>& tokens, bool normalize = true);

    EngineStats stats() const;  // thread-safe snapshot
    const Model& model() const;
    const EngineOptions& options() const;  // with defaults resolved (n_ctx, pool size, threads)
    int64_t kv_pool_tokens() const;
    int64_t kv_pool_bytes() const;  // the pool's reserved size (pages are committed as blocks are first written)

private:
    struct Impl;
    friend struct EngineAccess;  // engine/engine_impl.hpp: the library's (and tests') view of Impl
    explicit Engine(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> impl_;
};

}  // namespace llm
