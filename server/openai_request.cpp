// OpenAI request parsing and validation: see openai_request.hpp. A field sent as null counts as not sent.
#include "server/openai_request.hpp"

#include <fmt/format.h>

#include <cmath>
#include <limits>

namespace llm::server {
namespace {

using Err = std::optional<ApiError>;

const Json* field(const Json& body, const char* name) {
    auto it = body.find(name);
    if (it == body.end() || it->is_null()) return nullptr;
    return &*it;
}

const char* type_name(const Json& v) {
    switch (v.type()) {
        case Json::value_t::object: return "an object";
        case Json::value_t::array: return "an array";
        case Json::value_t::string: return "a string";
        case Json::value_t::boolean: return "a boolean";
        case Json::value_t::number_integer:
        case Json::value_t::number_unsigned: return "an integer";
        case Json::value_t::number_float: return "a number";
        default: return "null";
    }
}

Err wrong_type(const std::string& param, const char* expected, const Json& v) {
    return invalid_param(param, fmt::format("'{}' must be {}, got {}", param, expected, type_name(v)));
}

Err get_number(const Json& body, const char* name, double lo, double hi, std::optional<double>& out) {
    const Json* v = field(body, name);
    if (!v) return std::nullopt;
    if (!v->is_number()) return wrong_type(name, "a number", *v);
    const double x = v->get<double>();
    if (!std::isfinite(x) || x < lo || x > hi)
        return invalid_param(name, fmt::format("'{}' must be in [{}, {}], got {}", name, lo, hi, x));
    out = x;
    return std::nullopt;
}

Err get_int(const Json& body, const char* name, int64_t lo, int64_t hi, std::optional<int64_t>& out) {
    const Json* v = field(body, name);
    if (!v) return std::nullopt;
    // 3.0 is accepted as 3 (some clients serialize every number as a float); 3.5 is not.
    int64_t x = 0;
    if (v->is_number_integer() || v->is_number_unsigned()) {
        if (v->is_number_unsigned() && v->get<uint64_t>() > (uint64_t)INT64_MAX)
            return invalid_param(name, fmt::format("'{}' is out of range", name));
        x = v->get<int64_t>();
    } else if (v->is_number_float() && std::nearbyint(v->get<double>()) == v->get<double>() &&
               std::fabs(v->get<double>()) < 9e18) {
        x = (int64_t)v->get<double>();
    } else {
        return wrong_type(name, "an integer", *v);
    }
    if (x < lo || x > hi) return invalid_param(name, fmt::format("'{}' must be in [{}, {}], got {}", name, lo, hi, x));
    out = x;
    return std::nullopt;
}

Err get_bool(const Json& body, const char* name, bool& out) {
    const Json* v = field(body, name);
    if (!v) return std::nullopt;
    if (!v->is_boolean()) return wrong_type(name, "a boolean", *v);
    out = v->get<bool>();
    return std::nullopt;
}

Err get_string(const Json& body, const char* name, std::string& out) {
    const Json* v = field(body, name);
    if (!v) return std::nullopt;
    if (!v->is_string()) return wrong_type(name, "a string", *v);
    out = v->get<std::string>();
    return std::nullopt;
}

constexpr int kMaxStops = 16;

Err parse_stop(const Json& body, std::vector<std::string>& out) {
    const Json* v = field(body, "stop");
    if (!v) return std::nullopt;
    if (v->is_string()) {
        if (!v->get<std::string>().empty()) out.push_back(v->get<std::string>());
        return std::nullopt;
    }
    if (!v->is_array()) return wrong_type("stop", "a string or an array of strings", *v);
    if (v->size() > kMaxStops) return invalid_param("stop", fmt::format("'stop' has {} entries, at most {} are allowed", v->size(), kMaxStops));
    for (const auto& s : *v) {
        if (!s.is_string()) return wrong_type("stop", "a string or an array of strings", s);
        if (s.get<std::string>().empty()) return invalid_param("stop", "'stop' entries must not be empty");
        out.push_back(s.get<std::string>());
    }
    return std::nullopt;
}

// The sampling parameters both endpoints share. OpenAI's defaults: temperature 1, top_p 1, no top-k or
// min-p (our extensions top_k, min_p, typical_p, repeat_penalty are accepted as llama-server does).
Err parse_sampling(const Json& body, ApiRequest& out) {
    SamplerConfig s;
    s.temperature = 1.0f, s.top_k = 0, s.top_p = 1.0f, s.min_p = 0.0f;
    std::optional<double> d;
    std::optional<int64_t> i;
    if (auto e = get_number(body, "temperature", 0, 2, d)) return e;
    if (d) s.temperature = (float)*d, d.reset();
    if (auto e = get_number(body, "top_p", 0, 1, d)) return e;
    if (d) s.top_p = (float)*d, d.reset();
    if (auto e = get_number(body, "min_p", 0, 1, d)) return e;
    if (d) s.min_p = (float)*d, d.reset();
    if (auto e = get_number(body, "typical_p", 0, 1, d)) return e;
    if (d) s.typical_p = (float)*d, d.reset();
    if (auto e = get_number(body, "presence_penalty", -2, 2, d)) return e;
    if (d) s.presence_penalty = (float)*d, d.reset();
    if (auto e = get_number(body, "frequency_penalty", -2, 2, d)) return e;
    if (d) s.frequency_penalty = (float)*d, d.reset();
    if (auto e = get_number(body, "repeat_penalty", 0, 10, d)) return e;
    if (d) s.repeat_penalty = (float)*d, d.reset();
    if (auto e = get_int(body, "top_k", 0, 1 << 20, i)) return e;
    if (i) s.top_k = (int32_t)*i, i.reset();
    if (const Json* v = field(body, "seed")) {
        if (!v->is_number_integer() && !v->is_number_unsigned()) return wrong_type("seed", "an integer", *v);
        // Any 64-bit value is a seed; the one reserved for "random" is nudged so a given seed always repeats.
        s.seed = v->is_number_unsigned() ? v->get<uint64_t>() : (uint64_t)v->get<int64_t>();
        if (s.seed == SamplerConfig::kRandomSeed) s.seed -= 1;
    } else {
        s.seed = SamplerConfig::kRandomSeed;
    }
    if (const Json* v = field(body, "logit_bias")) {
        if (!v->is_object()) return wrong_type("logit_bias", "an object mapping token ids to numbers", *v);
        for (auto it = v->begin(); it != v->end(); ++it) {
            const std::string& key = it.key();
            char* end = nullptr;
            const long id = std::strtol(key.c_str(), &end, 10);
            if (key.empty() || *end != '\0' || id < 0 || id > INT32_MAX)
                return invalid_param("logit_bias", fmt::format("'logit_bias' key '{}' is not a token id", key));
            if (!it.value().is_number()) return wrong_type("logit_bias", "an object mapping token ids to numbers", it.value());
            const double b = it.value().get<double>();
            if (!(b >= -100 && b <= 100))
                return invalid_param("logit_bias", fmt::format("'logit_bias' values must be in [-100, 100], got {}", b));
            // -100 bans the token outright (OpenAI: "should result in a ban").
            s.logit_bias[(int32_t)id] = b <= -100 ? -std::numeric_limits<float>::infinity() : (float)b;
        }
    }
    out.sampling = s;
    return std::nullopt;
}

// Fields shared by chat and completions.
Err parse_common(const Json& body, ApiRequest& out) {
    if (auto e = get_string(body, "model", out.model)) return e;
    if (auto e = get_bool(body, "stream", out.stream)) return e;
    // The conversation this request belongs to (for the prefix cache: a session's main thread stays cached):
    // OpenAI's prompt_cache_key, else the older end-user id `user`.
    if (auto e = get_string(body, "prompt_cache_key", out.session)) return e;
    if (out.session.empty())
        if (auto e = get_string(body, "user", out.session)) return e;
    if (const Json* so = field(body, "stream_options")) {
        if (!so->is_object()) return wrong_type("stream_options", "an object", *so);
        const Json* iu = field(*so, "include_usage");
        if (iu && !iu->is_boolean()) return wrong_type("stream_options.include_usage", "a boolean", *iu);
        out.include_usage = iu && iu->get<bool>();
        if (!out.stream) return invalid_param("stream_options", "'stream_options' is only allowed when 'stream' is true");
    }
    std::optional<int64_t> n;
    if (auto e = get_int(body, "n", 1, 128, n)) return e;
    if (n && *n != 1) return invalid_param("n", fmt::format("'n' must be 1 (one choice per request), got {}", *n));
    if (auto e = parse_sampling(body, out)) return e;
    if (auto e = get_bool(body, "ignore_eos", out.ignore_eos)) return e;
    return parse_stop(body, out.stop);
}

Err parse_max_tokens(const Json& body, const char* name, ApiRequest& out) {
    std::optional<int64_t> m;
    if (auto e = get_int(body, name, 1, 1 << 30, m)) return e;
    if (m) out.max_tokens = (int)*m;
    return std::nullopt;
}

// A message's content: a string, or an array of parts of which only text parts are supported.
Err parse_content(const Json& v, const std::string& where, std::string& out) {
    if (v.is_string()) {
        out = v.get<std::string>();
        return std::nullopt;
    }
    if (!v.is_array()) return wrong_type(where, "a string or an array of content parts", v);
    for (size_t j = 0; j < v.size(); ++j) {
        const Json& part = v[j];
        const std::string pw = fmt::format("{}[{}]", where, j);
        if (!part.is_object()) return wrong_type(pw, "an object", part);
        const Json* type = field(part, "type");
        if (!type || !type->is_string()) return invalid_param(pw + ".type", fmt::format("'{}.type' is required (a string)", pw));
        const std::string t = type->get<std::string>();
        if (t == "text" || t == "refusal") {
            const Json* text = field(part, t == "text" ? "text" : "refusal");
            if (!text || !text->is_string())
                return invalid_param(pw + "." + t, fmt::format("'{}.{}' is required (a string)", pw, t));
            out += text->get<std::string>();
        } else if (t == "image_url" || t == "input_audio" || t == "file") {
            return invalid_param(pw, fmt::format("content part type '{}' is not supported: the loaded model reads text only", t));
        } else {
            return invalid_param(pw + ".type", fmt::format("unknown content part type '{}'", t));
        }
    }
    return std::nullopt;
}

Err parse_messages(const Json& body, std::vector<ChatMessage>& out) {
    const Json* msgs = field(body, "messages");
    if (!msgs) return invalid_param("messages", "'messages' is required");
    if (!msgs->is_array()) return wrong_type("messages", "an array", *msgs);
    if (msgs->empty()) return invalid_param("messages", "'messages' must contain at least one message");
    for (size_t i = 0; i < msgs->size(); ++i) {
        const Json& m = (*msgs)[i];
        const std::string where = fmt::format("messages[{}]", i);
        if (!m.is_object()) return wrong_type(where, "an object", m);
        const Json* role = field(m, "role");
        if (!role) return invalid_param(where + ".role", fmt::format("'{}.role' is required", where));
        if (!role->is_string()) return wrong_type(where + ".role", "a string", *role);
        std::string r = role->get<std::string>();
        if (r != "system" && r != "developer" && r != "user" && r != "assistant" && r != "tool")
            return invalid_param(where + ".role", fmt::format("'{}.role' is '{}'; expected one of system, developer, "
                                                             "user, assistant, tool", where, r));
        if (r == "developer") r = "system";  // OpenAI's newer name for the system role; templates know "system"
        ChatMessage cm{r, ""};
        const Json* content = field(m, "content");
        const Json* tool_calls = field(m, "tool_calls");
        if (content) {
            if (auto e = parse_content(*content, where + ".content", cm.content)) return e;
        } else if (!(r == "assistant" && tool_calls)) {
            return invalid_param(where + ".content", fmt::format("'{}.content' is required", where));
        }
        if (tool_calls) {
            if (r != "assistant") return invalid_param(where + ".tool_calls", "only assistant messages carry 'tool_calls'");
            if (!tool_calls->is_array()) return wrong_type(where + ".tool_calls", "an array", *tool_calls);
            for (size_t j = 0; j < tool_calls->size(); ++j) {  // each {"function": {"name": ..., ...}, ...}
                const Json& c = (*tool_calls)[j];
                const std::string at = fmt::format("{}.tool_calls[{}]", where, j);
                if (!c.is_object()) return wrong_type(at, "an object", c);
                const Json* fn = field(c, "function");
                if (!fn || !fn->is_object()) return invalid_param(at + ".function", fmt::format("'{}.function' is required (an object)", at));
                const Json* name = field(*fn, "name");
                if (!name || !name->is_string())
                    return invalid_param(at + ".function.name", fmt::format("'{}.function.name' is required (a string)", at));
            }
            // Until tool-call formats are wired per model family, earlier calls are kept in the history as their
            // JSON so the model still sees what was called.
            if (!tool_calls->empty()) cm.content += (cm.content.empty() ? "" : "\n") + dump_json(*tool_calls);
        }
        out.push_back(std::move(cm));
    }
    return std::nullopt;
}

Err parse_response_format(const Json& body, ApiRequest& out) {
    const Json* rf = field(body, "response_format");
    if (!rf) return std::nullopt;
    if (!rf->is_object()) return wrong_type("response_format", "an object", *rf);
    const Json* type = field(*rf, "type");
    if (!type || !type->is_string()) return invalid_param("response_format.type", "'response_format.type' is required (a string)");
    const std::string t = type->get<std::string>();
    if (t == "text") return std::nullopt;
    if (t == "json_object") {
        out.json_schema = R"({"type": "object"})";
        return std::nullopt;
    }
    if (t != "json_schema")
        return invalid_param("response_format.type", fmt::format("'response_format.type' is '{}'; expected text, "
                                                                 "json_object or json_schema", t));
    const Json* js = field(*rf, "json_schema");
    if (!js || !js->is_object()) return invalid_param("response_format.json_schema", "'response_format.json_schema' is required (an object)");
    const Json* schema = field(*js, "schema");
    if (!schema) {
        out.json_schema = "{}";  // OpenAI allows a missing schema: any JSON
        return std::nullopt;
    }
    if (!schema->is_object() && !schema->is_boolean())
        return wrong_type("response_format.json_schema.schema", "an object", *schema);
    out.json_schema = dump_json(*schema);
    return std::nullopt;
}

// tools / tool_choice / parallel_tool_calls. The tools' JSON schemas are compiled later, with the model's format.
Err parse_tools(const Json& body, ApiRequest& out) {
    out.tool_choice.mode = ToolChoiceMode::None;
    const Json* tools = field(body, "tools");
    if (tools && !tools->is_array()) return wrong_type("tools", "an array", *tools);
    if (tools && !tools->empty()) {
        auto parsed = llm::parse_tools(*tools);
        if (!parsed) return invalid_param("tools", parsed.error_message());
        out.tools = std::move(*parsed);
        out.tool_choice.mode = ToolChoiceMode::Auto;
    }
    if (const Json* tc = field(body, "tool_choice")) {
        if (tc->is_string()) {
            const std::string m = tc->get<std::string>();
            if (m == "none") out.tool_choice.mode = ToolChoiceMode::None;
            else if (m == "auto") out.tool_choice.mode = out.tools.empty() ? ToolChoiceMode::None : ToolChoiceMode::Auto;
            else if (m == "required") out.tool_choice.mode = ToolChoiceMode::Required;
            else return invalid_param("tool_choice", fmt::format("'tool_choice' is '{}'; expected none, auto, required or "
                                                                 "{{\"type\": \"function\", \"function\": {{\"name\": ...}}}}", m));
        } else if (tc->is_object()) {
            const Json* fn = field(*tc, "function");
            const Json* name = fn && fn->is_object() ? field(*fn, "name") : nullptr;
            if (!name || !name->is_string()) return invalid_param("tool_choice.function.name", "'tool_choice.function.name' is required (a string)");
            out.tool_choice.mode = ToolChoiceMode::Named;
            out.tool_choice.name = name->get<std::string>();
            bool known = false;
            for (const ToolSpec& t : out.tools) known |= t.name == out.tool_choice.name;
            if (!known) return invalid_param("tool_choice", fmt::format("'tool_choice' names '{}', which is not in 'tools'", out.tool_choice.name));
        } else {
            return wrong_type("tool_choice", "a string or an object", *tc);
        }
        if (out.tool_choice.mode != ToolChoiceMode::None && out.tools.empty())
            return invalid_param("tool_choice", "'tool_choice' requires 'tools'");
    }
    bool parallel = true;
    if (auto e = get_bool(body, "parallel_tool_calls", parallel)) return e;
    out.tool_choice.parallel = parallel;
    return std::nullopt;
}

}  // namespace

std::optional<ApiError> parse_chat_request(const Json& body, ApiRequest& out) {
    out = ApiRequest{};
    out.kind = ApiKind::Chat;
    if (auto e = parse_messages(body, out.messages)) return e;
    if (auto e = parse_common(body, out)) return e;
    if (auto e = parse_max_tokens(body, "max_tokens", out)) return e;
    if (auto e = parse_max_tokens(body, "max_completion_tokens", out)) return e;
    bool logprobs = false;
    if (auto e = get_bool(body, "logprobs", logprobs)) return e;
    std::optional<int64_t> top;
    if (auto e = get_int(body, "top_logprobs", 0, 20, top)) return e;
    if (top && !logprobs) return invalid_param("top_logprobs", "'top_logprobs' requires 'logprobs' to be true");
    if (logprobs) out.top_logprobs = top ? (int)*top : 0;
    if (auto e = parse_response_format(body, out)) return e;
    if (auto e = parse_tools(body, out)) return e;
    if (!out.tools.empty() && out.tool_choice.mode != ToolChoiceMode::None && !out.json_schema.empty())
        return invalid_param("response_format", "'response_format' cannot be combined with 'tools' (the output is either a tool call or JSON)");
    // Tools, or tool calls / results in the history: the tool prompt renderer sees every field of the messages.
    bool tool_history = false;
    for (const auto& m : out.messages) tool_history |= m.role == "tool";
    for (const auto& m : *field(body, "messages")) tool_history |= m.contains("tool_calls") && !m["tool_calls"].is_null();
    if (!out.tools.empty() || tool_history) {
        out.tool_prompt = true;
        out.messages_json = *field(body, "messages");
    }
    return std::nullopt;
}

std::optional<ApiError> parse_completion_request(const Json& body, ApiRequest& out) {
    out = ApiRequest{};
    out.kind = ApiKind::Completion;
    out.max_tokens = 16;  // the legacy endpoint's documented default
    const Json* p = field(body, "prompt");
    if (!p) return invalid_param("prompt", "'prompt' is required");
    const Json* one = p;
    if (p->is_array() && !p->empty() && (p->front().is_string() || p->front().is_array())) {
        if (p->size() != 1) return invalid_param("prompt", "'prompt' as a list must hold exactly one prompt (batches are not served)");
        one = &p->front();
    }
    if (one->is_string()) {
        out.prompt = one->get<std::string>();
    } else if (one->is_array()) {
        for (const auto& t : *one) {
            if (!t.is_number_integer() && !t.is_number_unsigned()) return wrong_type("prompt", "a string or an array of token ids", t);
            const int64_t id = t.get<int64_t>();
            if (id < 0 || id > INT32_MAX) return invalid_param("prompt", fmt::format("token id {} is out of range", id));
            out.prompt_tokens.push_back((int32_t)id);
        }
        out.prompt_is_tokens = true;
    } else {
        return wrong_type("prompt", "a string or an array of token ids", *one);
    }
    if (out.prompt_is_tokens ? out.prompt_tokens.empty() : out.prompt.empty())
        return invalid_param("prompt", "'prompt' must not be empty");
    if (auto e = parse_common(body, out)) return e;
    if (auto e = parse_max_tokens(body, "max_tokens", out)) return e;
    if (auto e = get_bool(body, "echo", out.echo)) return e;
    std::optional<int64_t> lp;
    if (auto e = get_int(body, "logprobs", 0, 5, lp)) return e;
    if (lp) out.top_logprobs = (int)*lp;
    std::optional<int64_t> best_of;
    if (auto e = get_int(body, "best_of", 1, 128, best_of)) return e;
    if (best_of && *best_of != 1) return invalid_param("best_of", "'best_of' must be 1");
    std::string suffix;
    if (auto e = get_string(body, "suffix", suffix)) return e;
    if (!suffix.empty()) return invalid_param("suffix", "'suffix' (insertion) is not supported");
    return std::nullopt;
}

std::optional<ApiError> parse_embedding_request(const Json& body, EmbeddingRequest& out) {
    out = EmbeddingRequest{};
    if (auto e = get_string(body, "model", out.model)) return e;
    const Json* in = field(body, "input");
    if (!in) return invalid_param("input", "'input' is required");
    auto tokens_of = [](const Json& arr, std::vector<int32_t>& ids) -> Err {
        for (const auto& t : arr) {
            if (!t.is_number_integer() && !t.is_number_unsigned()) return wrong_type("input", "a string, strings or token ids", t);
            const int64_t id = t.get<int64_t>();
            if (id < 0 || id > INT32_MAX) return invalid_param("input", fmt::format("token id {} is out of range", id));
            ids.push_back((int32_t)id);
        }
        if (ids.empty()) return invalid_param("input", "'input' must not contain an empty token list");
        return std::nullopt;
    };
    if (in->is_string()) {
        out.texts.push_back(in->get<std::string>());
    } else if (in->is_array() && !in->empty()) {
        if (in->front().is_string()) {
            for (const auto& s : *in) {
                if (!s.is_string()) return wrong_type("input", "an array of strings", s);
                out.texts.push_back(s.get<std::string>());
            }
        } else if (in->front().is_array()) {
            for (const auto& a : *in) {
                if (!a.is_array()) return wrong_type("input", "an array of token-id arrays", a);
                out.token_lists.emplace_back();
                if (auto e = tokens_of(a, out.token_lists.back())) return e;
            }
        } else {
            out.token_lists.emplace_back();
            if (auto e = tokens_of(*in, out.token_lists.back())) return e;
        }
    } else {
        return in->is_array() ? invalid_param("input", "'input' must not be empty")
                              : wrong_type("input", "a string, strings or token ids", *in);
    }
    for (const auto& t : out.texts)
        if (t.empty()) return invalid_param("input", "'input' strings must not be empty");
    if (out.texts.size() + out.token_lists.size() > 2048) return invalid_param("input", "'input' holds more than 2048 items");
    std::string fmt_name = "float";
    if (auto e = get_string(body, "encoding_format", fmt_name)) return e;
    if (fmt_name != "float" && fmt_name != "base64")
        return invalid_param("encoding_format", fmt::format("'encoding_format' is '{}'; expected float or base64", fmt_name));
    out.base64 = fmt_name == "base64";
    if (field(body, "dimensions")) return invalid_param("dimensions", "'dimensions' is not supported (the model's size is returned)");
    return std::nullopt;
}

Json openai_error_body(const ApiError& e) {
    Json err = {{"message", e.message}, {"type", e.type}, {"param", nullptr}, {"code", nullptr}};
    if (!e.param.empty()) err["param"] = e.param;
    if (!e.code.empty()) err["code"] = e.code;
    return Json{{"error", err}};
}

}  // namespace llm::server
