// The generation loop every frontend shares: prompt -> sample -> stream text -> stop.
// Text is streamed as valid UTF-8 only, with stop strings matched across token boundaries.
#pragma once
#include <atomic>
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.hpp"

namespace llm {

class Session;
class Sampler;
class Tokenizer;

struct GenerateOptions {
    int max_tokens = -1;             // new tokens at most (-1: until end of generation or a full context)
    std::vector<std::string> stop;   // stop strings (not included in the output)
    bool stop_at_end_of_generation = true;  // EOS / end-of-turn tokens end the answer
};

enum class StopReason { EndOfGeneration, StopString, MaxTokens, ContextFull, Cancelled };
const char* stop_reason_name(StopReason r);  // "eos", "stop", "length", "context", "cancelled"

struct GenerateResult {
    std::string text;             // what was streamed
    std::vector<int32_t> tokens;  // sampled tokens (the final end-of-generation token is not included)
    StopReason stop_reason = StopReason::MaxTokens;
    int n_prompt = 0;             // prompt tokens evaluated by this call
    double prompt_ms = 0, generate_ms = 0;
};

// Receives each newly completed piece of text; return false to stop (StopReason::Cancelled).
using TextCallback = std::function<bool(std::string_view text)>;

// Evaluates `prompt` (tokens after what the session already holds; may be empty if the session already has
// logits), then samples until a stop condition. The sampler sees the prompt through accept() for its penalty
// window. cancel, if given, is polled between tokens (e.g. set by a SIGINT handler).
Expected<GenerateResult> generate(Session& session, const Tokenizer& tok, Sampler& sampler,
                                  std::span<const int32_t> prompt, const GenerateOptions& opts,
                                  const TextCallback& on_text, const std::atomic<bool>* cancel = nullptr);

}  // namespace llm
