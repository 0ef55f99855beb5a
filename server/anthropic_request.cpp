// Anthropic request parsing and the pieces of its answers: see anthropic_request.hpp. A field sent as null
// counts as not sent.
#include "server/anthropic_request.hpp"

#include <fmt/format.h>

#include <cmath>

namespace llm::server {
namespace {

using Err = std::optional<ApiError>;

const Json* field(const Json& obj, const char* name) {
    auto it = obj.find(name);
    if (it == obj.end() || it->is_null()) return nullptr;
    return &*it;
}

const char* type_name(const Json& v) {
    if (v.is_object()) return "an object";
    if (v.is_array()) return "an array";
    if (v.is_string()) return "a string";
    if (v.is_boolean()) return "a boolean";
    if (v.is_number_float()) return "a number";
    if (v.is_number()) return "an integer";
    return "null";
}

Err wrong_type(const std::string& param, const char* expected, const Json& v) {
    return invalid_param(param, fmt::format("{}: expected {}, got {}", param, expected, type_name(v)));
}

Err required(const std::string& param) { return invalid_param(param, param + ": Field required"); }

Err get_number(const Json& body, const char* name, double lo, double hi, float& out) {
    const Json* v = field(body, name);
    if (!v) return std::nullopt;
    if (!v->is_number()) return wrong_type(name, "a number", *v);
    const double x = v->get<double>();
    if (!std::isfinite(x) || x < lo || x > hi)
        return invalid_param(name, fmt::format("{}: must be in [{}, {}], got {}", name, lo, hi, x));
    out = (float)x;
    return std::nullopt;
}

Err get_int(const Json& body, const char* name, int64_t lo, int64_t hi, std::optional<int64_t>& out) {
    const Json* v = field(body, name);
    if (!v) return std::nullopt;
    const bool integral = v->is_number_integer() || v->is_number_unsigned() ||
                          (v->is_number_float() && std::nearbyint(v->get<double>()) == v->get<double>());
    if (!integral) return wrong_type(name, "an integer", *v);
    const double x = v->get<double>();
    if (x < (double)lo || x > (double)hi)
        return invalid_param(name, fmt::format("{}: must be in [{}, {}], got {}", name, lo, hi, x));
    out = (int64_t)x;
    return std::nullopt;
}

// Text of a `text` block (its other fields, cache_control and citations, do not change what the model reads).
Err block_text(const Json& block, const std::string& where, std::string& out) {
    const Json* t = field(block, "text");
    if (!t) return required(where + ".text");
    if (!t->is_string()) return wrong_type(where + ".text", "a string", *t);
    out = t->get<std::string>();
    return std::nullopt;
}

void append_text(std::string& to, const std::string& text) {
    if (!to.empty() && !text.empty()) to += "\n\n";
    to += text;
}

Err unsupported_block(const std::string& where, const std::string& type) {
    if (type == "image" || type == "document")
        return invalid_param(where, fmt::format("{}: {} blocks are not supported: the loaded model reads text only", where, type));
    return invalid_param(where + ".type", fmt::format("{}.type: unsupported content block type '{}'", where, type));
}

// `system`: a string or text blocks; the billing header dropped.
Err parse_system(const Json& v, const std::string& where, std::string& out) {
    if (v.is_string()) {
        if (!is_billing_header(v.get<std::string>())) out = v.get<std::string>();
        return std::nullopt;
    }
    if (!v.is_array()) return wrong_type(where, "a string or an array of text blocks", v);
    for (size_t j = 0; j < v.size(); ++j) {
        const std::string bw = fmt::format("{}[{}]", where, j);
        const Json& b = v[j];
        if (!b.is_object()) return wrong_type(bw, "an object", b);
        const Json* type = field(b, "type");
        if (!type || !type->is_string()) return required(bw + ".type");
        if (type->get<std::string>() != "text") return unsupported_block(bw, type->get<std::string>());
        std::string text;
        if (auto e = block_text(b, bw, text)) return e;
        if (!is_billing_header(text)) append_text(out, text);
    }
    return std::nullopt;
}

// A tool_result's content: a string or blocks (text only).
Err tool_result_text(const Json& block, const std::string& where, std::string& out) {
    const Json* c = field(block, "content");
    if (!c) return std::nullopt;
    if (c->is_string()) {
        out = c->get<std::string>();
        return std::nullopt;
    }
    if (!c->is_array()) return wrong_type(where + ".content", "a string or an array of text blocks", *c);
    for (size_t k = 0; k < c->size(); ++k) {
        const std::string cw = fmt::format("{}.content[{}]", where, k);
        const Json& b = (*c)[k];
        if (!b.is_object()) return wrong_type(cw, "an object", b);
        const Json* type = field(b, "type");
        if (!type || !type->is_string()) return required(cw + ".type");
        if (type->get<std::string>() != "text") return unsupported_block(cw, type->get<std::string>());
        std::string text;
        if (auto e = block_text(b, cw, text)) return e;
        append_text(out, text);
    }
    return std::nullopt;
}

// One message of `messages` -> one or more ChatMessages (tool results become `tool` messages in their place),
// and the same messages in OpenAI's shape for the tool prompt renderer (`jout`: tool_use blocks as
// `tool_calls` with their ids, tool_result blocks as `tool` messages with `tool_call_id`).
Err parse_message(const Json& m, const std::string& where, std::vector<ChatMessage>& out, Json& jout) {
    if (!m.is_object()) return wrong_type(where, "an object", m);
    const Json* role = field(m, "role");
    if (!role) return required(where + ".role");
    if (!role->is_string()) return wrong_type(where + ".role", "a string", *role);
    const std::string r = role->get<std::string>();
    if (r != "user" && r != "assistant" && r != "system")
        return invalid_param(where + ".role", fmt::format("{}.role: '{}' is not one of user, assistant, system", where, r));
    const Json* content = field(m, "content");
    if (!content) return required(where + ".content");
    if (r == "system") {
        std::string text;
        if (auto e = parse_system(*content, where + ".content", text)) return e;
        if (!text.empty()) jout.push_back({{"role", "system"}, {"content", text}}), out.push_back({"system", std::move(text)});
        return std::nullopt;
    }
    if (content->is_string()) {
        out.push_back({r, content->get<std::string>()});
        jout.push_back({{"role", r}, {"content", content->get<std::string>()}});
        return std::nullopt;
    }
    if (!content->is_array()) return wrong_type(where + ".content", "a string or an array of content blocks", *content);
    ChatMessage cur{r, ""};
    bool have_cur = false;
    Json calls = Json::array();   // assistant tool_use blocks, as the call text the model writes
    Json jcalls = Json::array();  // the same in OpenAI's shape
    auto flush = [&] {
        jout.push_back({{"role", r}, {"content", cur.content}});
        out.push_back(std::move(cur)), cur = {r, ""}, have_cur = false;
    };
    for (size_t j = 0; j < content->size(); ++j) {
        const std::string bw = fmt::format("{}.content[{}]", where, j);
        const Json& b = (*content)[j];
        if (!b.is_object()) return wrong_type(bw, "an object", b);
        const Json* type = field(b, "type");
        if (!type || !type->is_string()) return required(bw + ".type");
        const std::string t = type->get<std::string>();
        if (t == "text") {
            std::string text;
            if (auto e = block_text(b, bw, text)) return e;
            append_text(cur.content, text);
            have_cur = true;
        } else if (t == "thinking" || t == "redacted_thinking") {
            // History of a thinking model: not shown to this one.
        } else if (t == "tool_use" && r == "assistant") {
            const Json* name = field(b, "name");
            if (!name || !name->is_string()) return required(bw + ".name");
            const Json* input = field(b, "input");
            if (input && !input->is_object()) return wrong_type(bw + ".input", "an object", *input);
            const Json* id = field(b, "id");
            if (id && !id->is_string()) return wrong_type(bw + ".id", "a string", *id);
            calls.push_back(Json{{"name", *name}, {"arguments", input ? *input : Json::object()}});
            jcalls.push_back(Json{{"id", id ? *id : Json(fmt::format("toolu_{}", j))},
                                  {"type", "function"},
                                  {"function", {{"name", *name}, {"arguments", input ? *input : Json::object()}}}});
        } else if (t == "tool_result" && r == "user") {
            const Json* id = field(b, "tool_use_id");
            if (!id || !id->is_string()) return required(bw + ".tool_use_id");
            const Json* is_error = field(b, "is_error");
            if (is_error && !is_error->is_boolean()) return wrong_type(bw + ".is_error", "a boolean", *is_error);
            std::string text;
            if (auto e = tool_result_text(b, bw, text)) return e;
            if (have_cur) flush();
            text = (is_error && is_error->get<bool>() ? "Error: " : "") + text;
            jout.push_back({{"role", "tool"}, {"tool_call_id", *id}, {"content", text}});
            out.push_back({"tool", std::move(text)});
        } else {
            if (t == "tool_use" || t == "tool_result")
                return invalid_param(bw + ".type", fmt::format("{}.type: '{}' blocks belong in {} messages", bw, t,
                                                               t == "tool_use" ? "assistant" : "user"));
            return unsupported_block(bw, t);
        }
    }
    // Earlier calls stay in the history as the JSON the model would write for them.
    if (!calls.empty()) {
        jout.push_back({{"role", r}, {"content", cur.content.empty() ? Json(nullptr) : Json(cur.content)}, {"tool_calls", jcalls}});
        append_text(cur.content, dump_json(Json{{"tool_calls", calls}}));
        out.push_back(std::move(cur));
    } else if (have_cur || content->empty()) {
        flush();
    }
    return std::nullopt;
}

Err parse_stop_sequences(const Json& body, std::vector<std::string>& out) {
    const Json* v = field(body, "stop_sequences");
    if (!v) return std::nullopt;
    if (!v->is_array()) return wrong_type("stop_sequences", "an array of strings", *v);
    constexpr size_t kMax = 64;
    if (v->size() > kMax) return invalid_param("stop_sequences", fmt::format("stop_sequences: at most {} are allowed, got {}", kMax, v->size()));
    for (const Json& s : *v) {
        if (!s.is_string()) return wrong_type("stop_sequences", "an array of strings", s);
        if (s.get<std::string>().empty()) return invalid_param("stop_sequences", "stop_sequences: entries must not be empty");
        out.push_back(s.get<std::string>());
    }
    return std::nullopt;
}

// tools / tool_choice (auto, any, tool + name, none; disable_parallel_tool_use). Forced calls (any, tool) go
// through the same constrained tool-call path as OpenAI's required / named tool_choice.
Err parse_tool_fields(const Json& body, ApiRequest& out) {
    out.tool_choice = ToolChoice{ToolChoiceMode::None, "", true};
    const Json* tools = field(body, "tools");
    if (tools && !tools->is_array()) return wrong_type("tools", "an array", *tools);
    if (tools && !tools->empty()) {
        auto parsed = llm::parse_tools(*tools);
        if (!parsed) return invalid_param("tools", parsed.error_message());
        out.tools = std::move(*parsed);
        out.tool_choice.mode = ToolChoiceMode::Auto;
    }
    const Json* tc = field(body, "tool_choice");
    if (!tc) return std::nullopt;
    if (!tc->is_object()) return wrong_type("tool_choice", "an object", *tc);
    const Json* type = field(*tc, "type");
    if (!type || !type->is_string()) return required("tool_choice.type");
    const std::string t = type->get<std::string>();
    if (t != "auto" && t != "any" && t != "tool" && t != "none")
        return invalid_param("tool_choice.type", fmt::format("tool_choice.type: '{}' is not one of auto, any, tool, none", t));
    if (const Json* dp = field(*tc, "disable_parallel_tool_use")) {
        if (!dp->is_boolean()) return wrong_type("tool_choice.disable_parallel_tool_use", "a boolean", *dp);
        out.tool_choice.parallel = !dp->get<bool>();
    }
    if (t == "none" || (t == "auto" && out.tools.empty())) {
        out.tool_choice.mode = ToolChoiceMode::None;
        return std::nullopt;
    }
    if (out.tools.empty()) return invalid_param("tool_choice", fmt::format("tool_choice: '{}' requires tools", t));
    if (t == "any") out.tool_choice.mode = ToolChoiceMode::Required;
    if (t == "tool") {
        const Json* name = field(*tc, "name");
        if (!name || !name->is_string()) return required("tool_choice.name");
        out.tool_choice.mode = ToolChoiceMode::Named;
        out.tool_choice.name = name->get<std::string>();
        bool known = false;
        for (const ToolSpec& s : out.tools) known |= s.name == out.tool_choice.name;
        if (!known)
            return invalid_param("tool_choice.name", fmt::format("tool_choice.name: '{}' is not in tools", out.tool_choice.name));
    }
    return std::nullopt;
}

}  // namespace

bool is_billing_header(std::string_view text) {
    while (!text.empty() && (text.front() == ' ' || text.front() == '\n')) text.remove_prefix(1);
    return text.starts_with("x-anthropic-billing-header:");
}

std::optional<ApiError> parse_messages_request(const Json& body, ApiRequest& out, bool for_count) {
    out = ApiRequest{};
    out.kind = ApiKind::Chat;
    out.clamp_max_tokens = true;
    const Json* model = field(body, "model");
    if (!model) return required("model");
    if (!model->is_string()) return wrong_type("model", "a string", *model);
    out.model = model->get<std::string>();
    std::optional<int64_t> max_tokens;
    if (auto e = get_int(body, "max_tokens", 1, 1 << 30, max_tokens)) return e;
    if (!max_tokens && !for_count) return required("max_tokens");
    out.max_tokens = max_tokens ? (int)*max_tokens : -1;

    std::string system;
    if (const Json* s = field(body, "system"))
        if (auto e = parse_system(*s, "system", system)) return e;
    if (!system.empty()) out.messages.push_back({"system", system});
    const Json* msgs = field(body, "messages");
    if (!msgs) return required("messages");
    if (!msgs->is_array()) return wrong_type("messages", "an array", *msgs);
    if (msgs->empty()) return invalid_param("messages", "messages: at least one message is required");
    Json jmsgs = Json::array();
    if (!system.empty()) jmsgs.push_back({{"role", "system"}, {"content", system}});
    for (size_t i = 0; i < msgs->size(); ++i)
        if (auto e = parse_message((*msgs)[i], fmt::format("messages[{}]", i), out.messages, jmsgs)) return e;

    // Sampling: Anthropic's defaults are temperature 1 with no top-k/top-p cut; temperature 0 is greedy.
    SamplerConfig& s = out.sampling;
    s.temperature = 1.0f, s.top_k = 0, s.top_p = 1.0f, s.min_p = 0.0f, s.seed = SamplerConfig::kRandomSeed;
    if (auto e = get_number(body, "temperature", 0, 1, s.temperature)) return e;
    if (auto e = get_number(body, "top_p", 0, 1, s.top_p)) return e;
    std::optional<int64_t> top_k;
    if (auto e = get_int(body, "top_k", 0, 1 << 20, top_k)) return e;
    if (top_k) s.top_k = (int32_t)*top_k;
    if (auto e = parse_stop_sequences(body, out.stop)) return e;
    if (const Json* v = field(body, "stream")) {
        if (!v->is_boolean()) return wrong_type("stream", "a boolean", *v);
        out.stream = v->get<bool>();
    }
    for (const char* obj : {"metadata", "thinking", "context_management", "output_config"})
        if (const Json* v = field(body, obj); v && !v->is_object()) return wrong_type(obj, "an object", *v);
    if (const Json* uid = field(body, "metadata") ? field(*field(body, "metadata"), "user_id") : nullptr; uid && uid->is_string())
        out.session = uid->get<std::string>();
    if (auto e = parse_tool_fields(body, out)) return e;
    // Tools, or tool calls / results in the history: rendered by the tool prompt renderer, as OpenAI's route does.
    bool tool_history = false;
    for (const Json& m : jmsgs) tool_history |= m["role"] == "tool" || m.contains("tool_calls");
    if (!out.tools.empty() || tool_history) {
        out.tool_prompt = true;
        out.messages_json = std::move(jmsgs);
    }
    return std::nullopt;
}

const char* anthropic_stop_reason(const ApiResult& r, const ApiRequest& request) {
    if (!r.tool_calls.empty()) return "tool_use";
    switch (r.stop_reason) {
        case StopReason::StopString: return "stop_sequence";
        case StopReason::MaxTokens:
            // Cut to what the context left (clamp_max_tokens) rather than stopped at the client's limit.
            return request.max_tokens > 0 && r.completion_tokens < request.max_tokens ? "model_context_window_exceeded"
                                                                                      : "max_tokens";
        case StopReason::ContextFull: return "model_context_window_exceeded";
        case StopReason::EndOfGeneration:
        case StopReason::Cancelled: break;
    }
    return "end_turn";
}

Json anthropic_usage(const ApiResult& r) {
    return Json{{"input_tokens", r.prompt_tokens - r.cached_tokens},
                {"cache_creation_input_tokens", 0},
                {"cache_read_input_tokens", r.cached_tokens},
                {"output_tokens", r.completion_tokens}};
}

Json anthropic_error_body(const ApiError& e, const std::string& request_id) {
    const char* type = "api_error";
    switch (e.status) {
        case 400: type = "invalid_request_error"; break;
        case 401: type = "authentication_error"; break;
        case 403: type = "permission_error"; break;
        case 404: type = "not_found_error"; break;
        case 413: type = "request_too_large"; break;
        case 429: type = "rate_limit_error"; break;
        case 503:
        case 529: type = "overloaded_error"; break;
        default: type = e.status < 500 ? "invalid_request_error" : "api_error";
    }
    Json j = {{"type", "error"}, {"error", {{"type", type}, {"message", e.message}}}};
    if (!request_id.empty()) j["request_id"] = request_id;
    return j;
}

ApiError prompt_too_long(int n_prompt, int n_ctx) {
    // The maximum is what leaves room for one output token, so the sentence is true for every refused prompt.
    return ApiError{400, "invalid_request_error", fmt::format("prompt is too long: {} tokens > {} maximum", n_prompt, n_ctx - 1),
                    "messages", "context_length_exceeded"};
}

Json anthropic_message(const std::string& id, const std::string& model, const Json& content, const Json& stop_reason,
                       const Json& stop_sequence, const Json& usage) {
    return Json{{"id", id},       {"type", "message"},          {"role", "assistant"},          {"model", model},
                {"content", content}, {"stop_reason", stop_reason}, {"stop_sequence", stop_sequence}, {"usage", usage}};
}

}  // namespace llm::server
