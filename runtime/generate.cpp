#include "runtime/generate.hpp"

#include <chrono>

#include "llm/llm.hpp"
#include "runtime/sampler.hpp"
#include "runtime/stop_matcher.hpp"
#include "tokenizer/tokenizer.hpp"

namespace llm {

const char* stop_reason_name(StopReason r) {
    switch (r) {
        case StopReason::EndOfGeneration: return "eos";
        case StopReason::StopString: return "stop";
        case StopReason::MaxTokens: return "length";
        case StopReason::ContextFull: return "context";
        case StopReason::Cancelled: return "cancelled";
    }
    return "?";
}

Expected<GenerateResult> generate(Session& session, const Tokenizer& tok, Sampler& sampler,
                                  std::span<const int32_t> prompt, const GenerateOptions& opts,
                                  const TextCallback& on_text, const std::atomic<bool>* cancel) {
    using Clock = std::chrono::steady_clock;
    auto ms_since = [](Clock::time_point t) {
        return std::chrono::duration<double, std::milli>(Clock::now() - t).count();
    };
    GenerateResult r;
    const auto t0 = Clock::now();
    if (!prompt.empty()) {
        LLM_TRY(session.eval(prompt, false));
        r.n_prompt = (int)prompt.size();
    } else if (session.n_past() == 0) {
        return error("generate: empty prompt and empty session");
    }
    for (int32_t t : prompt) sampler.accept(t);
    r.prompt_ms = ms_since(t0);

    TokenConstraint* constraint = sampler.constraint();
    if (constraint) constraint->reset();  // each call's output must match the constraint from its start
    const auto t1 = Clock::now();
    StreamDecoder stream(tok);
    StopMatcher stops(opts.stop);
    auto emit = [&](const std::string& text) {
        if (text.empty()) return true;
        r.text += text;
        return on_text ? on_text(text) : true;
    };
    while (true) {
        if (cancel && cancel->load()) {
            r.stop_reason = StopReason::Cancelled;
            break;
        }
        if (opts.max_tokens >= 0 && (int)r.tokens.size() >= opts.max_tokens) {
            r.stop_reason = StopReason::MaxTokens;
            break;
        }
        const int32_t token = sampler.sample(session.logits());
        if (token < 0) return error("generate: {}", sampler.constraint_status().message());
        sampler.accept(token);
        if (constraint) LLM_TRY(constraint->accept(token).with_context("generate"));
        if (opts.stop_at_end_of_generation && tok.is_end_of_generation(token)) {
            r.stop_reason = StopReason::EndOfGeneration;
            break;
        }
        r.tokens.push_back(token);
        if (!emit(stops.push(stream.push(token)))) {
            r.stop_reason = StopReason::Cancelled;
            break;
        }
        if (stops.stopped()) {
            r.stop_reason = StopReason::StopString;
            break;
        }
        if (session.n_past() >= session.n_ctx()) {
            r.stop_reason = StopReason::ContextFull;
            break;
        }
        if (opts.max_tokens >= 0 && (int)r.tokens.size() >= opts.max_tokens) {
            r.stop_reason = StopReason::MaxTokens;
            break;  // no need to evaluate a token nobody will follow
        }
        LLM_TRY(session.eval({&token, 1}, false));
    }
    if (r.stop_reason != StopReason::StopString) emit(stops.push(stream.flush()) + stops.flush());
    r.generate_ms = ms_since(t1);
    return r;
}

}  // namespace llm
