// Per-sequence output of a step: sampling (constraint mask through the sampler), logprobs of the raw
// distribution, stop tokens and strings, UTF-8-safe streaming, and the end of a request.
#include <algorithm>
#include <cmath>

#include "engine/engine_impl.hpp"

namespace llm {
namespace {

double ms_between(EngineClock::time_point a, EngineClock::time_point b) {
    return std::chrono::duration<double, std::milli>(b - a).count();
}

// log-softmax of the raw logits at `token`, and the n best (logprob descending, ids ascending on ties).
void fill_logprobs(std::span<const float> logits, int32_t token, int n, TokenEvent& e) {
    float mx = -INFINITY;
    for (float x : logits) mx = std::max(mx, x);
    double sum = 0;
    for (float x : logits) sum += std::exp((double)x - mx);
    const double lse = (double)mx + std::log(sum);
    e.logprob = (float)((double)logits[token] - lse);
    if (n <= 0) return;
    std::vector<int32_t> ids(logits.size());
    for (size_t i = 0; i < ids.size(); ++i) ids[i] = (int32_t)i;
    std::partial_sort(ids.begin(), ids.begin() + n, ids.end(), [&](int32_t a, int32_t b) {
        return logits[a] != logits[b] ? logits[a] > logits[b] : a < b;
    });
    for (int i = 0; i < n; ++i) e.top_logprobs.push_back({ids[i], (float)((double)logits[ids[i]] - lse)});
}

}  // namespace

void Engine::Impl::emit(Sequence& s, TokenEvent& e) {
    s.result.text += e.text;
    if (s.cb.on_token) s.cb.on_token(e);
}

void Engine::Impl::on_logits(Sequence& s, const float* row) {
    const std::span<const float> logits(row, (size_t)c->n_vocab);
    if (logits_hook) logits_hook(s.id, (int64_t)s.tokens.size() - 1, logits);
    const int32_t token = s.sampler->sample(logits);
    if (token < 0) return finish(s, StopReason::EndOfGeneration, s.sampler->constraint_status());
    const auto now = EngineClock::now();
    if (s.result.tokens.empty()) {
        s.t_first_token = now;
        s.result.ttft_ms = ms_between(s.t_submit, now);
    }
    s.t_last_token = now;
    stats.generated_tokens++;
    s.sampler->accept(token);
    if (s.req.constraint)
        if (Status st = s.req.constraint->accept(token); !st) return finish(s, StopReason::EndOfGeneration, st);

    TokenEvent e{s.id, token, {}, 0, {}};
    if (s.req.top_logprobs >= 0) fill_logprobs(logits, token, s.req.top_logprobs, e);
    const bool stop_token = std::find(s.req.stop_tokens.begin(), s.req.stop_tokens.end(), token) !=
                            s.req.stop_tokens.end();
    if (stop_token || (s.req.stop_at_end_of_generation && tok && tok->is_end_of_generation(token))) {
        // Not part of the output: flush what was held back, then end.
        TokenEvent tail{s.id, -1, {}, 0, {}};
        if (s.stream) tail.text = s.stops->push(s.stream->flush()) + s.stops->flush();
        if (!tail.text.empty()) emit(s, tail);
        return finish(s, stop_token ? StopReason::StopString : StopReason::EndOfGeneration);
    }
    s.tokens.push_back(token);
    s.result.tokens.push_back(token);
    if (s.stream) e.text = s.stops->push(s.stream->push(token));
    std::optional<StopReason> end;
    if (s.stops->stopped()) {
        end = StopReason::StopString;
    } else if (s.req.max_tokens >= 0 && (int)s.result.tokens.size() >= s.req.max_tokens) {
        end = StopReason::MaxTokens;
    } else if ((int64_t)s.tokens.size() >= s.limit) {
        end = StopReason::ContextFull;
    }
    if (end && *end != StopReason::StopString && s.stream) e.text += s.stops->push(s.stream->flush()) + s.stops->flush();
    emit(s, e);
    if (end) finish(s, *end);
}

void Engine::Impl::finish(Sequence& s, StopReason reason, Status status) {
    if (s.done) return;
    s.done = true;
    release_blocks(s);
    s.result.stop_reason = reason;
    s.result.status = std::move(status);
    if (!s.result.tokens.empty()) s.result.generate_ms = ms_between(s.t_first_token, s.t_last_token);
    stats.requests_done++;
    if (s.cb.on_done) s.cb.on_done(s.result);
}

}  // namespace llm
