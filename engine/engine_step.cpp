// The scheduler: each step is ONE forward pass over one decode token per running sequence plus chunks of
// prompts (chunked prefill) up to step_tokens, then per-sequence sampling. Blocks are allocated as positions
// are first written; a sequence that cannot get one preempts the most recently admitted sequence (released,
// resumed later by recomputation, which the prefix cache shortens).
#include <algorithm>

#include "engine/engine_impl.hpp"
#ifdef LLM_HAVE_VULKAN
#include "kernels/vulkan/vk_decoder.hpp"
#endif

namespace llm {

void Engine::Impl::take_handovers() {
    std::vector<RequestId> ids;
    {
        std::lock_guard lock(mu);
        while (!incoming.empty()) {
            waiting.push_back(std::move(incoming.front()));
            incoming.pop_front();
        }
        ids.swap(cancels);
    }
    for (RequestId id : ids) {
        for (auto& s : running)
            if (s->id == id && !s->done) finish(*s, StopReason::Cancelled), stats.cancellations++;
        for (auto& s : waiting)
            if (s->id == id && !s->done) finish(*s, StopReason::Cancelled), stats.cancellations++;
    }
}

bool Engine::Impl::ensure_blocks(Sequence& s, int64_t n_tokens) {
    const int64_t bt = opts.block_tokens;
    while ((int64_t)s.blocks.size() * bt < n_tokens) {
        const int32_t b = alloc->allocate();
        if (b < 0) return false;
        s.blocks.push_back(b);
    }
    return true;
}

void Engine::Impl::release_blocks(Sequence& s) {
    // Last blocks first: a sequence's tail is the least likely to be shared, so the LRU evicts it first (and a
    // chain loses its tail before its head, which keeps the rest reachable). A long chain's blocks, and those of
    // a request its caller marked as a conversation's main thread, go to the protected list, so short side
    // requests cannot evict a conversation's prefix (docs/SERVER.md).
    const bool keep = s.req.keep_prefix || (int64_t)s.hashes.size() >= long_chain_blocks;
    for (auto it = s.blocks.rbegin(); it != s.blocks.rend(); ++it) alloc->release(*it, keep);
    s.blocks.clear();
    s.hashes.clear();
    s.n_computed = 0;
}

void Engine::Impl::preempt(std::unique_ptr<Sequence> s) {
    release_blocks(*s);
    s->result.n_preempted++;
    stats.preemptions++;
    waiting.push_front(std::move(s));
}

// Takes the longest cached prefix of s's tokens (full blocks only, and never its last token, whose logits
// are needed): retains those blocks, sets n_computed past them. Returns the tokens reused.
int64_t Engine::Impl::reuse_prefix(Sequence& s) {
    if (!opts.prefix_cache) return 0;
    const int bt = opts.block_tokens;
    const int64_t max_blocks = ((int64_t)s.tokens.size() - 1) / bt;
    uint64_t h = 0;
    stats.prefix_lookups++;
    for (int64_t i = 0; i < max_blocks; ++i) {
        h = BlockAllocator::block_hash(h, s.tokens.data() + i * bt, bt);
        const int32_t b = alloc->lookup(h);
        if (b < 0) break;
        alloc->retain(b);
        s.blocks.push_back(b);
        s.hashes.push_back(h);
    }
    s.n_computed = (int64_t)s.blocks.size() * bt;
    if (s.n_computed > 0) stats.prefix_hits++, stats.prefix_hit_tokens += s.n_computed;
    return s.n_computed;
}

// Registers the blocks that became full and computed under their chained hashes (prefix cache).
void Engine::Impl::register_full_blocks(Sequence& s) {
    const int bt = opts.block_tokens;
    while ((int64_t)(s.hashes.size() + 1) * bt <= s.n_computed) {
        const size_t i = s.hashes.size();
        const uint64_t h = BlockAllocator::block_hash(i ? s.hashes.back() : 0, s.tokens.data() + i * bt, bt);
        s.hashes.push_back(h);
        if (opts.prefix_cache) alloc->register_hash(s.blocks[i], h);
    }
}

void Engine::Impl::publish() {
    std::lock_guard lock(mu);
    EngineStats p = stats;
    p.running = (int)running.size();
    p.waiting = (int)(waiting.size() + incoming.size());
    p.kv_blocks_used = alloc->n_referenced();
    p.kv_blocks_total = alloc->n_blocks();
    p.prefix_evictions = alloc->evictions();
    published = p;
}

// Drops the sequences that finished (or were cancelled) since the last look.
void Engine::Impl::sweep_done() {
    std::erase_if(running, [](const auto& s) { return s->done; });
    std::erase_if(waiting, [](const auto& s) { return s->done; });
}

// Plans the running sequences, oldest first, within the step's token budget; a sequence that cannot get its
// blocks preempts the most recently admitted one (possibly itself). Returns whether anything was preempted.
bool Engine::Impl::schedule_running(std::vector<Work>& plan, int64_t& budget) {
    bool preempted = false;
    for (size_t i = 0; i < running.size() && budget > 0; ++i) {
        Sequence& s = *running[i];
        const int64_t n = std::min(s.pending(), budget);
        bool self_preempted = false;
        while (!ensure_blocks(s, s.n_computed + n)) {
            // The most recently admitted sequence makes room (it is after s in admission order, or s itself).
            std::unique_ptr<Sequence> victim = std::move(running.back());
            running.pop_back();
            preempted = true;
            if (victim.get() == &s) {
                preempt(std::move(victim));
                self_preempted = true;
                break;
            }
            preempt(std::move(victim));
        }
        if (self_preempted) break;  // it was the last one
        plan.push_back({&s, n});
        budget -= n;
    }
    return preempted;
}

// Admissions (FIFO) while there is room in the budget, the running set and the block pool.
void Engine::Impl::admit_waiting(std::vector<Work>& plan, int64_t& budget) {
    while (budget > 0 && (int)running.size() < opts.max_running && !waiting.empty()) {
        Sequence& s = *waiting.front();
        reuse_prefix(s);
        const int64_t n = std::min(s.pending(), budget);
        const int64_t need = (s.n_computed + n + opts.block_tokens - 1) / opts.block_tokens - (int64_t)s.blocks.size();
        if (need > alloc->n_available()) {  // the pool is full: wait
            release_blocks(s);
            break;
        }
        LLM_CHECK(ensure_blocks(s, s.n_computed + n));
        s.admitted = ++admissions;
        if (!s.started) {
            s.started = true;
            s.t_first_step = EngineClock::now();
            s.result.queue_ms = std::chrono::duration<double, std::milli>(s.t_first_step - s.t_submit).count();
            s.result.n_cached = (int)s.n_computed;
        }
        running.push_back(std::move(waiting.front()));
        waiting.pop_front();
        plan.push_back({&s, n});
        budget -= n;
    }
}

// The batch: each sequence's tokens consecutively; logits for those whose chunk reaches their last token
// (returned in row order).
std::vector<Sequence*> Engine::Impl::build_batch(const std::vector<Work>& plan) {
    const int bt = opts.block_tokens;
    batch.tokens.clear(), batch.positions.clear(), batch.seq_ids.clear(), batch.out_rows.clear();
    paged.pool = &pool, paged.seqs.clear(), paged.slots.clear();
    std::vector<Sequence*> out_seqs;
    for (size_t k = 0; k < plan.size(); ++k) {
        Sequence& s = *plan[k].s;
        const int64_t tok0 = batch.size();
        for (int64_t i = 0; i < plan[k].n; ++i) {
            const int64_t pos = s.n_computed + i;
            batch.tokens.push_back(s.tokens[pos]);
            batch.positions.push_back((int32_t)pos);
            batch.seq_ids.push_back((int32_t)k);
            paged.slots.push_back((int64_t)s.blocks[pos / bt] * bt + pos % bt);
            if (pos < s.n_prompt) stats.prompt_tokens++;
        }
        paged.seqs.push_back({tok0, plan[k].n, s.n_computed + plan[k].n, s.blocks.data()});
        if (s.n_computed + plan[k].n == (int64_t)s.tokens.size()) {
            batch.out_rows.push_back((int32_t)(batch.size() - 1));
            out_seqs.push_back(&s);
        }
    }
    // All prompt chunks mid-way: the graph still wants a row (its logits are not used).
    if (batch.out_rows.empty()) batch.out_rows.push_back((int32_t)(batch.size() - 1));
    return out_seqs;
}

// The one forward pass, and the step counters.
bool Engine::Impl::run_batch(const std::vector<Work>& plan) {
    logits.resize(batch.out_rows.size() * (size_t)c->n_vocab);
#ifdef LLM_HAVE_VULKAN
    if (device) {
        if (Status st = device->forward(batch, paged, logits.data()); !st) {
            for (const Work& wk : plan) finish(*wk.s, StopReason::EndOfGeneration, st);
            return false;
        }
    } else {
        forward_cpu_paged(*c, *w, paged, batch, logits.data(), scratch, fo);
    }
#else
    forward_cpu_paged(*c, *w, paged, batch, logits.data(), scratch, fo);
#endif
    stats.steps++;
    stats.step_tokens += batch.size();
    stats.step_sequences += (int64_t)plan.size();
    stats.max_step_sequences = std::max(stats.max_step_sequences, (int)plan.size());
    return true;
}

// Advances every planned sequence past its computed tokens (registering blocks that became full), then samples
// and streams for those whose logits came back.
void Engine::Impl::retire_and_emit(const std::vector<Work>& plan, const std::vector<Sequence*>& out_seqs) {
    for (const Work& wk : plan) {
        wk.s->n_computed += wk.n;
        register_full_blocks(*wk.s);
    }
    for (size_t r = 0; r < out_seqs.size(); ++r) on_logits(*out_seqs[r], logits.data() + r * c->n_vocab);
}

bool Engine::Impl::step() {
    std::lock_guard step_lock(step_mu);
    take_handovers();
    sweep_done();
    if (running.empty() && waiting.empty()) {
        publish();
        return false;
    }
    // Plan: (sequence, tokens to compute). Running sequences first; admissions not in a step that had to preempt.
    std::vector<Work> plan;
    int64_t budget = opts.step_tokens;
    if (!schedule_running(plan, budget)) admit_waiting(plan, budget);
    if (plan.empty()) {  // the only running sequence preempted itself: it is admitted again next step
        publish();
        return true;
    }
    const std::vector<Sequence*> out_seqs = build_batch(plan);
    if (run_batch(plan)) retire_and_emit(plan, out_seqs);
    sweep_done();
    publish();
    return true;
}

}  // namespace llm
