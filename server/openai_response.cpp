// OpenAI response and chunk shapes: see openai_response.hpp.
#include "server/openai_response.hpp"

#include <fmt/format.h>

#include <atomic>
#include <chrono>
#include <random>

namespace llm::server {

const char* openai_finish_reason(StopReason r) {
    switch (r) {
        case StopReason::EndOfGeneration:
        case StopReason::StopString: return "stop";
        case StopReason::MaxTokens:
        case StopReason::ContextFull: return "length";
        case StopReason::Cancelled: return "stop";
    }
    return "stop";
}

const char* openai_finish_reason(const ApiResult& r) {
    return r.tool_calls.empty() ? openai_finish_reason(r.stop_reason) : "tool_calls";
}

Json tool_call_deltas(std::span<const ToolCallDelta> calls) {
    Json out = Json::array();
    for (const ToolCallDelta& d : calls) {
        Json fn = Json::object();
        if (!d.name.empty()) fn["name"] = d.name;
        fn["arguments"] = d.arguments;
        Json item = {{"index", d.index}};
        if (!d.id.empty()) item["id"] = d.id, item["type"] = "function";
        item["function"] = fn;
        out.push_back(std::move(item));
    }
    return out;
}

Json openai_usage(const ApiResult& r) {
    return Json{{"prompt_tokens", r.prompt_tokens},
                {"completion_tokens", r.completion_tokens},
                {"total_tokens", r.prompt_tokens + r.completion_tokens},
                {"prompt_tokens_details", {{"cached_tokens", r.cached_tokens}}}};
}

namespace {

Json bytes_of(const std::string& s) {
    Json b = Json::array();
    for (unsigned char c : s) b.push_back((int)c);
    return b;
}

// Logprobs are natural logs; -inf (a banned token) is not JSON: clamp to a very small finite value as OpenAI does.
double finite_logprob(float lp) { return std::isfinite(lp) ? (double)lp : -9999.0; }

}  // namespace

Json chat_logprobs(std::span<const TokenInfo> tokens) {
    Json content = Json::array();
    for (const TokenInfo& t : tokens) {
        Json top = Json::array();
        for (const auto& [piece, lp] : t.top)
            top.push_back({{"token", piece}, {"logprob", finite_logprob(lp)}, {"bytes", bytes_of(piece)}});
        content.push_back({{"token", t.piece}, {"logprob", finite_logprob(t.logprob)}, {"bytes", bytes_of(t.piece)},
                           {"top_logprobs", top}});
    }
    return Json{{"content", content}};
}

Json completion_logprobs(std::span<const TokenInfo> tokens, size_t start_offset) {
    Json toks = Json::array(), lps = Json::array(), tops = Json::array(), offs = Json::array();
    size_t off = start_offset;
    for (const TokenInfo& t : tokens) {
        toks.push_back(t.piece);
        lps.push_back(finite_logprob(t.logprob));
        Json top = Json::object();
        for (const auto& [piece, lp] : t.top) top[piece] = finite_logprob(lp);
        tops.push_back(top);
        offs.push_back(off);
        off += t.piece.size();
    }
    return Json{{"tokens", toks}, {"token_logprobs", lps}, {"top_logprobs", tops}, {"text_offset", offs}};
}

Json chat_completion_body(const ResponseMeta& m, const ApiResult& r, bool with_logprobs) {
    Json message = {{"role", "assistant"},
                    {"content", r.text.empty() && !r.tool_calls.empty() ? Json(nullptr) : Json(r.text)},
                    {"refusal", nullptr}};
    if (!r.tool_calls.empty()) {
        Json calls = Json::array();
        for (const ToolCall& c : r.tool_calls)
            calls.push_back({{"id", c.id}, {"type", "function"}, {"function", {{"name", c.name}, {"arguments", c.arguments}}}});
        message["tool_calls"] = calls;
    }
    Json choice = {{"index", 0},
                   {"message", message},
                   {"logprobs", with_logprobs ? chat_logprobs(r.logprobs) : Json(nullptr)},
                   {"finish_reason", openai_finish_reason(r)}};
    return Json{{"id", m.id},        {"object", "chat.completion"}, {"created", m.created},
                {"model", m.model},  {"choices", Json::array({choice})}, {"usage", openai_usage(r)},
                {"system_fingerprint", nullptr}};
}

Json completion_body(const ResponseMeta& m, const ApiResult& r, bool with_logprobs, const std::string& echo) {
    Json choice = {{"index", 0},
                   {"text", echo + r.text},
                   {"logprobs", with_logprobs ? completion_logprobs(r.logprobs, echo.size()) : Json(nullptr)},
                   {"finish_reason", openai_finish_reason(r.stop_reason)}};
    return Json{{"id", m.id},       {"object", "text_completion"},      {"created", m.created},
                {"model", m.model}, {"choices", Json::array({choice})}, {"usage", openai_usage(r)},
                {"system_fingerprint", nullptr}};
}

Json chat_chunk(const ResponseMeta& m, const Json& delta, const Json& logprobs, const char* finish_reason,
                bool usage_field) {
    Json choice = {{"index", 0}, {"delta", delta}, {"logprobs", logprobs},
                   {"finish_reason", finish_reason ? Json(finish_reason) : Json(nullptr)}};
    Json j = {{"id", m.id},       {"object", "chat.completion.chunk"}, {"created", m.created},
              {"model", m.model}, {"system_fingerprint", nullptr},     {"choices", Json::array({choice})}};
    if (usage_field) j["usage"] = nullptr;
    return j;
}

Json completion_chunk(const ResponseMeta& m, const std::string& text, const Json& logprobs, const char* finish_reason,
                      bool usage_field) {
    Json choice = {{"index", 0}, {"text", text}, {"logprobs", logprobs},
                   {"finish_reason", finish_reason ? Json(finish_reason) : Json(nullptr)}};
    Json j = {{"id", m.id},       {"object", "text_completion"}, {"created", m.created},
              {"model", m.model}, {"system_fingerprint", nullptr}, {"choices", Json::array({choice})}};
    if (usage_field) j["usage"] = nullptr;
    return j;
}

Json usage_chunk(const ResponseMeta& m, const ApiResult& r, bool chat) {
    return Json{{"id", m.id},
                {"object", chat ? "chat.completion.chunk" : "text_completion"},
                {"created", m.created},
                {"model", m.model},
                {"system_fingerprint", nullptr},
                {"choices", Json::array()},
                {"usage", openai_usage(r)}};
}

std::string new_response_id(const char* prefix) {
    // Seeded once from the OS, then a counter mixed in: unique per process without locking a shared engine.
    static const uint64_t base = std::random_device{}() * 0x9E3779B97F4A7C15ull ^
                                 (uint64_t)std::chrono::steady_clock::now().time_since_epoch().count();
    static std::atomic<uint64_t> counter{0};
    uint64_t x = base + 0x9E3779B97F4A7C15ull * ++counter;
    x ^= x >> 31, x *= 0xBF58476D1CE4E5B9ull, x ^= x >> 27;
    return fmt::format("{}{:016x}{:08x}", prefix, x, (uint32_t)(counter.load() & 0xffffffff));
}

}  // namespace llm::server
