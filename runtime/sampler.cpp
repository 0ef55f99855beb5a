// Sampler configuration (validation, the llama.cpp-style order string) and the Sampler chain itself;
// the stages live in sampler_stages.cpp.
#include "runtime/sampler.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdint>
#include <limits>

namespace llm {
namespace {

struct StageName {
    std::string_view name;
    SamplerStage stage;
};

// Canonical names first (sampler_stage_name uses the first match), then llama.cpp's alternatives.
constexpr StageName kStageNames[] = {
    {"penalties", SamplerStage::Penalties},  {"top_k", SamplerStage::TopK},
    {"typical_p", SamplerStage::TypicalP},   {"top_p", SamplerStage::TopP},
    {"min_p", SamplerStage::MinP},           {"temperature", SamplerStage::Temperature},
    {"greedy", SamplerStage::Greedy},        {"top-k", SamplerStage::TopK},
    {"typ_p", SamplerStage::TypicalP},       {"typ-p", SamplerStage::TypicalP},
    {"typical", SamplerStage::TypicalP},     {"typical-p", SamplerStage::TypicalP},
    {"top-p", SamplerStage::TopP},           {"nucleus", SamplerStage::TopP},
    {"min-p", SamplerStage::MinP},           {"temp", SamplerStage::Temperature},
};

// llama.cpp stages we do not implement; all are off at llama.cpp's defaults, so skipping them keeps
// llama.cpp's default --samplers string working with the same meaning.
constexpr std::string_view kSkippedStages[] = {"dry", "xtc", "top_n_sigma", "top-n-sigma"};

std::string_view trim(std::string_view s) {
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
    return s;
}

Status check_unit(std::string_view field, float v) {
    if (!(v >= 0.0f && v <= 1.0f)) return error("sampler: {} must be in [0, 1], got {}", field, v);
    return {};
}

Status check_finite(std::string_view field, float v) {
    if (!std::isfinite(v)) return error("sampler: {} must be a finite number, got {}", field, v);
    return {};
}

uint64_t resolve_seed(uint64_t seed) {
    if (seed != SamplerConfig::kRandomSeed) return seed;
    std::random_device rd;
    uint64_t s = (static_cast<uint64_t>(rd()) << 32) ^ rd();
    return s == SamplerConfig::kRandomSeed ? 0 : s;  // the drawn seed must itself reproduce the run
}

}  // namespace

std::string_view sampler_stage_name(SamplerStage s) {
    for (const auto& n : kStageNames)
        if (n.stage == s) return n.name;
    return "?";
}

std::vector<SamplerStage> default_sampler_order() {
    return {SamplerStage::Penalties, SamplerStage::TopK, SamplerStage::TypicalP,
            SamplerStage::TopP,      SamplerStage::MinP, SamplerStage::Temperature};
}

Expected<std::vector<SamplerStage>> parse_sampler_order(std::string_view text) {
    std::vector<SamplerStage> order;
    size_t start = 0;
    while (start <= text.size()) {
        size_t end = text.find_first_of(";,", start);
        if (end == std::string_view::npos) end = text.size();
        std::string name(trim(text.substr(start, end - start)));
        start = end + 1;
        if (name.empty()) continue;
        std::transform(name.begin(), name.end(), name.begin(),
                       [](unsigned char ch) { return static_cast<char>(std::tolower(ch)); });
        if (std::find(std::begin(kSkippedStages), std::end(kSkippedStages), name) != std::end(kSkippedStages))
            continue;
        auto it = std::find_if(std::begin(kStageNames), std::end(kStageNames),
                               [&](const StageName& n) { return n.name == name; });
        if (it == std::end(kStageNames))
            return error(
                "sampler order \"{}\": unknown stage '{}'; known stages: penalties, top_k, typical_p, top_p, "
                "min_p, temperature, greedy (llama.cpp's dry, xtc and top_n_sigma are accepted and skipped)",
                text, name);
        order.push_back(it->stage);
    }
    return order;
}

std::string format_sampler_order(std::span<const SamplerStage> order) {
    std::string out;
    for (SamplerStage s : order) {
        if (!out.empty()) out += ';';
        out += sampler_stage_name(s);
    }
    return out;
}

Status validate(const SamplerConfig& c, int32_t n_vocab) {
    // 0 means greedy; a negative temperature is a mistake (llama.cpp takes it as greedy, silently).
    LLM_TRY(check_finite("temperature", c.temperature));
    if (c.temperature < 0.0f)
        return error("sampler: temperature must be >= 0 (0 = greedy), got {}", c.temperature);
    if (c.top_k < 0) return error("sampler: top_k must be >= 0 (0 = off), got {}", c.top_k);
    LLM_TRY(check_unit("top_p", c.top_p));
    LLM_TRY(check_unit("min_p", c.min_p));
    LLM_TRY(check_unit("typical_p", c.typical_p));
    if (!(c.repeat_penalty > 0.0f) || !std::isfinite(c.repeat_penalty))
        return error("sampler: repeat_penalty must be a finite number > 0 (1 = off), got {}", c.repeat_penalty);
    LLM_TRY(check_finite("frequency_penalty", c.frequency_penalty));
    LLM_TRY(check_finite("presence_penalty", c.presence_penalty));
    if (c.repeat_last_n < -1)
        return error("sampler: repeat_last_n must be >= -1 (-1 = all, 0 = off), got {}", c.repeat_last_n);
    if (c.min_keep < 0) return error("sampler: min_keep must be >= 0, got {}", c.min_keep);
    for (const auto& [id, bias] : c.logit_bias) {
        if (id < 0 || (n_vocab > 0 && id >= n_vocab))
            return error("sampler: logit_bias token id {} is out of range [0, {})", id,
                         n_vocab > 0 ? fmt::format("{}", n_vocab) : std::string("n_vocab"));
        // +inf would make every other probability 0/inf = NaN; -inf is the documented ban.
        if (std::isnan(bias) || bias == std::numeric_limits<float>::infinity())
            return error("sampler: logit_bias for token {} must be finite or -inf (ban), got {}", id, bias);
    }
    return {};
}

// ---- Sampler -----------------------------------------------------------------------------------

Sampler::Sampler(SamplerConfig config)
    : config_(std::move(config)), seed_(resolve_seed(config_.seed)), rng_(seed_) {
    // Greedy shortcut: with temperature <= 0 the answer is the argmax of what survives, and top_k, top_p
    // and min_p always keep the argmax (with its lowest-id tie rule). After the last stage that changes
    // logits or may drop the argmax (penalties, an active typical_p) they cannot change the answer, so
    // they are skipped: greedy decoding costs one scan of the vocabulary, not a top-k selection.
    greedy_skip_from_ = SIZE_MAX;
    if (config_.temperature <= 0.0f) {
        greedy_skip_from_ = 0;
        for (size_t i = 0; i < config_.order.size(); ++i) {
            const SamplerStage s = config_.order[i];
            if (s == SamplerStage::Penalties || (s == SamplerStage::TypicalP && config_.typical_p < 1.0f))
                greedy_skip_from_ = i + 1;
        }
    }
}

std::string Sampler::describe() const {
    std::string out = "logits";
    if (constraint_) out += " -> constraint";
    if (!config_.logit_bias.empty()) out += fmt::format(" -> logit_bias({} tokens)", config_.logit_bias.size());
    for (SamplerStage s : config_.order) {
        switch (s) {
            case SamplerStage::Penalties:
                out += fmt::format(" -> penalties(repeat={}, frequency={}, presence={}, last_n={})",
                                   config_.repeat_penalty, config_.frequency_penalty, config_.presence_penalty,
                                   config_.repeat_last_n);
                break;
            case SamplerStage::TopK: out += fmt::format(" -> top_k({})", config_.top_k); break;
            case SamplerStage::TypicalP: out += fmt::format(" -> typical_p({})", config_.typical_p); break;
            case SamplerStage::TopP: out += fmt::format(" -> top_p({})", config_.top_p); break;
            case SamplerStage::MinP: out += fmt::format(" -> min_p({})", config_.min_p); break;
            case SamplerStage::Temperature: out += fmt::format(" -> temperature({})", config_.temperature); break;
            case SamplerStage::Greedy: out += " -> greedy"; break;
        }
    }
    if (config_.temperature <= 0.0f) out += " -> argmax";
    else out += fmt::format(" -> dist(seed={})", seed_);
    return out;
}

Expected<Sampler> Sampler::create(SamplerConfig config, int32_t n_vocab) {
    LLM_TRY(validate(config, n_vocab));
    return Sampler(std::move(config));
}

void Sampler::run_chain(std::span<const float> logits) {
    LLM_CHECK(!logits.empty());
    const size_t min_keep = static_cast<size_t>(config_.min_keep);
    if (!constraint_) {
        cand_.assign(logits);
    } else {
        // First, so a token the grammar forbids cannot come back through logit bias or any setting.
        auto allowed = constraint_->allowed_tokens();
        constraint_status_ = allowed ? Status{} : allowed.status();
        if (allowed) cand_.assign(logits, *allowed);
        else cand_.data.clear();
        if (cand_.data.empty()) {  // sample() returns -1
            if (constraint_status_) constraint_status_ = error("constraint: none of the {} candidates may come next", logits.size());
            return;
        }
    }
    sampler_logit_bias(cand_, config_.logit_bias);
    bool collapsed = false;  // a temperature(<= 0) or greedy stage already took the argmax
    for (size_t i = 0; i < config_.order.size(); ++i) {
        const SamplerStage stage = config_.order[i];
        if (i >= greedy_skip_from_ &&
            (stage == SamplerStage::TopK || stage == SamplerStage::TopP || stage == SamplerStage::MinP))
            continue;
        switch (stage) {
            case SamplerStage::Penalties:
                if (config_.repeat_last_n != 0)
                    sampler_penalties(cand_, recent_, config_.repeat_penalty, config_.frequency_penalty,
                                      config_.presence_penalty);
                break;
            case SamplerStage::TopK: sampler_top_k(cand_, config_.top_k, min_keep); break;
            case SamplerStage::TypicalP: sampler_typical(cand_, config_.typical_p, min_keep); break;
            case SamplerStage::TopP: sampler_top_p(cand_, config_.top_p, min_keep); break;
            case SamplerStage::MinP: sampler_min_p(cand_, config_.min_p, min_keep); break;
            case SamplerStage::Temperature:
                sampler_temperature(cand_, config_.temperature);
                collapsed |= config_.temperature <= 0.0f;
                break;
            case SamplerStage::Greedy:
                sampler_greedy(cand_);
                collapsed = true;
                break;
        }
    }
    // temperature <= 0 means greedy even when the order has no temperature stage.
    if (config_.temperature <= 0.0f && !collapsed) sampler_greedy(cand_);
    sampler_softmax(cand_);
}

const TokenDataArray& Sampler::candidates(std::span<const float> logits) {
    run_chain(logits);
    return cand_;
}

int32_t Sampler::sample(std::span<const float> logits) {
    run_chain(logits);
    const double u = uniform_double(rng_());  // always one draw per call, even when one candidate is left
    if (cand_.data.empty()) return -1;        // the constraint allowed nothing: constraint_status() says why
    if (cand_.data.size() == 1) return cand_.data[0].id;
    return sampler_draw(cand_, u);
}

void Sampler::accept(int32_t token) {
    if (config_.repeat_last_n == 0) return;
    recent_.push_back(token);
    // The window is tiny (64 by default), so dropping from the front is cheaper than a ring's bookkeeping.
    if (config_.repeat_last_n > 0 && recent_.size() > static_cast<size_t>(config_.repeat_last_n))
        recent_.erase(recent_.begin(), recent_.end() - config_.repeat_last_n);
}

void Sampler::reset() {
    recent_.clear();
    rng_.seed(seed_);
}

}  // namespace llm
