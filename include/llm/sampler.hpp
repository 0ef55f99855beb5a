// Sampler chain: turns one logits vector into a token id through llama.cpp-style stages (logit bias,
// penalties, top-k, typical-p, top-p, min-p, temperature) and a seeded draw that is bit-identical on
// every machine. Stop sequences and token limits belong to the generation loop, not here.
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <random>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "llm/export.hpp"
#include "llm/status.hpp"

namespace llm {

// One candidate, as llama.cpp's llama_token_data.
struct TokenData {
    int32_t id;
    float logit;
    float p;  // probability; only valid right after sampler_softmax (or a stage that calls it)
};

// The candidates a chain works on (llama.cpp's llama_token_data_array).
// Invariant when `sorted`: data is ordered by logit descending, ties by id ascending. That is a total
// order, so nth_element/partial_sort give the same array with every standard library, which keeps the
// seeded draws portable.
struct LLM_API TokenDataArray {
    std::vector<TokenData> data;
    bool sorted = false;

    // data = ids 0..n-1 in id order with their logits; NaN becomes -inf and +inf the largest float,
    // so comparisons stay a strict weak order and softmax stays finite.
    void assign(std::span<const float> logits);
    // The same for the ids whose bit is set in `allowed` only (a constraint's mask; see TokenConstraint), in
    // id order: cost proportional to the allowed tokens, not the vocabulary.
    void assign(std::span<const float> logits, std::span<const uint64_t> allowed);
    size_t size() const { return data.size(); }
};

// Constrained decoding (a grammar or JSON schema; implemented in constrain/): which tokens may come next.
// The sampler drops every other candidate before logit bias and the stages; whoever picks the token (the
// generation loop) advances the constraint with accept().
class LLM_API TokenConstraint {
public:
    virtual ~TokenConstraint() = default;
    // Bitmask over token ids, (n_vocab + 63) / 64 words, bit id % 64 of word id / 64 set = may come next.
    // Valid until the next call. An error (no token can continue, a limit exceeded) stops generation.
    virtual Expected<std::span<const uint64_t>> allowed_tokens() = 0;
    // Advances past a token that allowed_tokens() permitted.
    virtual Status accept(int32_t token) = 0;
    // True when the output so far is complete (end of generation is allowed).
    virtual bool is_complete() const = 0;
    // Back to the start: the next output must match from its beginning.
    virtual void reset() = 0;
};

// ---- the stages, usable on their own (llama.cpp semantics). Each keeps at least max(min_keep, 1)
// candidates, so the chain can never run dry. ----------------------------------------------------

// Keeps the candidates whose bit is set in `allowed` (ids past its end are dropped), in their order. The one
// stage that may leave no candidate (a constraint with a dead end); Sampler reports that instead of sampling.
LLM_API void sampler_mask(TokenDataArray& c, std::span<const uint64_t> allowed);
// Fills p with the softmax of the current logits (computed in double). Does not reorder. If every
// logit is -inf all p are 0.
LLM_API void sampler_softmax(TokenDataArray& c);
// Sorts into the `sorted` order (no-op when already sorted).
LLM_API void sampler_sort(TokenDataArray& c);
// logit += bias[id]; a bias of -inf bans the token (it stays with p = 0 and is never drawn).
LLM_API void sampler_logit_bias(TokenDataArray& c, const std::map<int32_t, float>& bias);
// For each distinct token t in `recent` (count n > 0): logit /= repeat if logit > 0 else logit *= repeat;
// then logit -= n * frequency + presence. Off when recent is empty or repeat == 1, frequency == presence == 0.
LLM_API void sampler_penalties(TokenDataArray& c, std::span<const int32_t> recent, float repeat,
                               float frequency, float presence);
// Keeps the k highest logits, sorted (k <= 0 or k >= size: off). Small k against a large array (top-k 40
// of 150k) is one heap scan; otherwise nth_element; then a sort of the k kept: O(n + k log k).
LLM_API void sampler_top_k(TokenDataArray& c, int32_t k, size_t min_keep = 1);
// Keeps the smallest prefix of the most probable tokens whose probability sum is >= p (p >= 1: off).
// Avoids a full sort of a large vocabulary: a heap scan finds the top 256 (enough for a peaked
// distribution; the result is then sorted); a deeper cut is found by a quickselect on probability mass
// in O(n) and the survivors keep their array order. Mass is summed in 2^-52 fixed point, so where it
// cuts does not depend on summation order.
LLM_API void sampler_top_p(TokenDataArray& c, float p, size_t min_keep = 1);
// Keeps tokens with probability >= p * max probability, i.e. logit >= max logit + log(p) (p <= 0: off).
// Keeps the order of the survivors.
LLM_API void sampler_min_p(TokenDataArray& c, float p, size_t min_keep = 1);
// Locally typical sampling (Meister et al. 2022): orders tokens by |-log p - entropy| ascending and keeps
// the shortest prefix whose probability sum exceeds p (p >= 1: off). Leaves data in that order (unsorted).
LLM_API void sampler_typical(TokenDataArray& c, float p, size_t min_keep = 1);
// logit /= temp; temp <= 0 collapses to the argmax (sampler_greedy); temp == 1 is a no-op.
LLM_API void sampler_temperature(TokenDataArray& c, float temp);
// Collapses to the single highest-logit candidate; the lowest id wins ties.
LLM_API void sampler_greedy(TokenDataArray& c);
// Draws one candidate with probability p (call sampler_softmax first) using u in [0, 1): the first
// candidate, in array order, whose running sum of p exceeds u * sum(p). If all p are 0 (everything
// banned), returns the highest-logit candidate, lowest id first.
LLM_API int32_t sampler_draw(const TokenDataArray& c, double u);

// A uniform double in [0, 1) from the top 53 bits of one 64-bit output: fixed arithmetic, unlike
// std::uniform_real_distribution, whose algorithm is implementation-defined.
inline double uniform_double(uint64_t raw) { return static_cast<double>(raw >> 11) * 0x1.0p-53; }

// ---- stage order -------------------------------------------------------------------------------

enum class SamplerStage { Penalties, TopK, TypicalP, TopP, MinP, Temperature, Greedy };

// Canonical name of a stage ("penalties", "top_k", "typical_p", "top_p", "min_p", "temperature", "greedy").
LLM_API std::string_view sampler_stage_name(SamplerStage s);
// llama.cpp's default chain without the stages we lack: penalties;top_k;typical_p;top_p;min_p;temperature.
LLM_API std::vector<SamplerStage> default_sampler_order();
// Parses a llama.cpp `--samplers` string: names separated by ';' (or ','), case-insensitive, spaces
// trimmed, empty items skipped. Aliases: top-k, typ_p, typ-p, typical, typical-p, top-p, nucleus, min-p,
// temp. llama.cpp's dry, xtc and top_n_sigma are accepted and skipped (they are off by default there).
// Any other name is an error that names it and lists the known stages.
LLM_API Expected<std::vector<SamplerStage>> parse_sampler_order(std::string_view text);
// The inverse: canonical names joined by ';'.
LLM_API std::string format_sampler_order(std::span<const SamplerStage> order);

// ---- configuration and the chain ---------------------------------------------------------------

struct SamplerConfig {
    static constexpr uint64_t kRandomSeed = ~uint64_t{0};  // seed from std::random_device (see Sampler::seed)

    float temperature = 0.8f;        // 0: greedy (argmax, lowest id wins ties); validate() refuses < 0
    int32_t top_k = 40;              // 0: off; validate() refuses < 0
    float top_p = 0.95f;             // 1: off
    float min_p = 0.05f;             // 0: off
    float typical_p = 1.0f;          // 1: off
    float repeat_penalty = 1.0f;     // 1: off
    float frequency_penalty = 0.0f;  // 0: off
    float presence_penalty = 0.0f;   // 0: off
    int32_t repeat_last_n = 64;      // penalty window: last n accepted tokens; 0: off; -1: all since reset
    int32_t min_keep = 0;            // every filter keeps at least max(min_keep, 1) candidates
    uint64_t seed = 42;              // fixed by default so runs reproduce; kRandomSeed for a fresh one
    std::map<int32_t, float> logit_bias;  // id -> added to the logit before the stages; -inf bans
    std::vector<SamplerStage> order = default_sampler_order();

    // Greedy decoding: temperature 0, everything else at its default (filters keep the argmax anyway;
    // logit bias and penalties still apply, as in llama.cpp).
    static SamplerConfig greedy() {
        SamplerConfig c;
        c.temperature = 0.0f;
        return c;
    }
};

// Checks ranges and names the offending field ("top_p must be in [0, 1], got 1.5"). With n_vocab > 0
// also checks that logit_bias ids are < n_vocab.
LLM_API Status validate(const SamplerConfig& config, int32_t n_vocab = 0);

// The chain: logit bias, then config.order, then (temperature <= 0 and no temperature stage) argmax,
// then the draw. Not thread-safe; one per generation stream.
class LLM_API Sampler {
public:
    static Expected<Sampler> create(SamplerConfig config, int32_t n_vocab = 0);

    // One token id for these logits (n_vocab of them). Consumes exactly one 64-bit RNG output per call,
    // so the stream position depends only on the number of calls. Does not record the token: call
    // accept() with the token actually used.
    int32_t sample(std::span<const float> logits);
    // Runs logit bias and the stages without drawing and returns the surviving candidates with their
    // renormalized probabilities (valid until the next call). For tests and probability displays.
    const TokenDataArray& candidates(std::span<const float> logits);
    // Records a token for the penalty window. llama.cpp also accepts the prompt tokens; do the same
    // for the same penalties.
    void accept(int32_t token);
    // Clears the penalty history and rewinds the RNG to the seed: the next samples repeat the first ones.
    void reset();
    // Constrained decoding: `c` filters the candidates before everything else (nullptr: none). The sampler
    // does not advance it: accept() also sees prompt tokens, so generate() calls c->accept(token) itself.
    void set_constraint(std::shared_ptr<TokenConstraint> c) { constraint_ = std::move(c); }
    TokenConstraint* constraint() const { return constraint_.get(); }
    // sample() returns -1 when the constraint failed or allowed none of the candidates; this says why.
    const Status& constraint_status() const { return constraint_status_; }

    const SamplerConfig& config() const { return config_; }
    // The seed in use (the drawn one when config.seed was kRandomSeed), to print for reproduction.
    uint64_t seed() const { return seed_; }
    // The penalty window, oldest first.
    std::span<const int32_t> recent_tokens() const { return recent_; }
    // One line for logs, like llama.cpp's "sampler chain": "logits -> penalties(...) -> top_k(40) -> ...
    // -> dist(seed=42)" ("-> argmax" when greedy).
    std::string describe() const;

private:
    explicit Sampler(SamplerConfig config);
    void run_chain(std::span<const float> logits);

    SamplerConfig config_;
    uint64_t seed_ = 0;
    std::mt19937_64 rng_;  // fully specified by the standard: the same stream everywhere
    TokenDataArray cand_;
    std::vector<int32_t> recent_;  // at most repeat_last_n tokens (unbounded for -1)
    size_t greedy_skip_from_ = 0;  // temperature <= 0: top_k/top_p/min_p at or after this index are skipped
    std::shared_ptr<TokenConstraint> constraint_;
    Status constraint_status_;
};

}  // namespace llm
