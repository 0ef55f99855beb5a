// Public chat-template API: parse once, render many; turns the engine's internal errors into Status.
#include "tokenizer/chat/chat_template.hpp"

#include <nlohmann/json.hpp>

#include "tokenizer/chat/jinja_eval.hpp"
#include "tokenizer/chat/jinja_parser.hpp"

namespace llm {
namespace {

std::string where(const jinja::Pos& p) {
    if (p.line <= 0) return "";
    return fmt::format("line {}:{}: ", p.line, p.col);
}

// JSON -> template value; depth is bounded by make_list/make_dict (kMaxValueDepth), which throw JinjaError.
jinja::Value from_json(const nlohmann::ordered_json& j) {
    using jinja::Value;
    switch (j.type()) {
        case nlohmann::json::value_t::null: return Value::none();
        case nlohmann::json::value_t::boolean: return Value::boolean(j.get<bool>());
        case nlohmann::json::value_t::number_integer: return Value::integer(j.get<int64_t>());
        case nlohmann::json::value_t::number_unsigned: {
            const uint64_t u = j.get<uint64_t>();
            return u <= static_cast<uint64_t>(INT64_MAX) ? Value::integer(static_cast<int64_t>(u))
                                                         : Value::floating(static_cast<double>(u));
        }
        case nlohmann::json::value_t::number_float: return Value::floating(j.get<double>());
        case nlohmann::json::value_t::string: return Value::string(j.get<std::string>());
        case nlohmann::json::value_t::array: {
            std::vector<Value> items;
            items.reserve(j.size());
            for (const auto& x : j) items.push_back(from_json(x));
            return Value::make_list(std::move(items));
        }
        case nlohmann::json::value_t::object: {
            std::vector<std::pair<std::string, Value>> items;
            items.reserve(j.size());
            for (const auto& [k, x] : j.items()) items.emplace_back(k, from_json(x));
            return Value::make_dict(std::move(items));
        }
        default: return Value::none();  // binary / discarded: never produced by the JSON parser
    }
}

// Guards the recursion of from_json before it starts (make_list/make_dict check depth only on the way up).
bool json_deeper_than(const nlohmann::ordered_json& j, int limit) {
    if (limit < 0) return true;
    if (!j.is_structured()) return false;
    for (const auto& x : j) if (json_deeper_than(x, limit - 1)) return true;
    return false;
}

}  // namespace

Expected<ChatTemplate> ChatTemplate::parse(std::string_view source) {
    ChatTemplate t;
    t.source_ = std::string(source);
    try {
        t.program_ = std::make_shared<const jinja::Program>(jinja::parse(source));
    } catch (const jinja::JinjaError& e) {
        return Status::error(fmt::format("chat template: {}{}", where(e.pos), e.what()));
    } catch (const std::bad_alloc&) {
        return Status::error("chat template: out of memory while parsing");
    }
    return t;
}

Expected<std::string> ChatTemplate::render(const std::vector<ChatMessage>& messages,
                                           const ChatTemplateOptions& options) const {
    nlohmann::ordered_json msgs = nlohmann::ordered_json::array();
    for (const auto& m : messages) msgs.push_back({{"role", m.role}, {"content", m.content}});
    return render_chat_json(*this, msgs, nullptr, options);
}

Expected<std::string> ChatTemplate::render_json(std::string_view messages_json, std::string_view tools_json,
                                                const ChatTemplateOptions& options) const {
    const auto msgs = nlohmann::ordered_json::parse(messages_json, nullptr, /*allow_exceptions=*/false);
    if (msgs.is_discarded()) return Status::error("chat template: messages are not valid JSON");
    if (tools_json.empty()) return render_chat_json(*this, msgs, nullptr, options);
    const auto tools = nlohmann::ordered_json::parse(tools_json, nullptr, /*allow_exceptions=*/false);
    if (tools.is_discarded()) return Status::error("chat template: tools are not valid JSON");
    return render_chat_json(*this, msgs, &tools, options);
}

struct ChatTemplateAccess {
    static const jinja::Program* program(const ChatTemplate& t) { return t.program_.get(); }
};

Expected<std::string> render_chat_json(const ChatTemplate& tmpl, const nlohmann::ordered_json& messages,
                                       const nlohmann::ordered_json* tools, const ChatTemplateOptions& options) {
    using jinja::Value;
    const jinja::Program* program = ChatTemplateAccess::program(tmpl);
    if (!program) return Status::error("chat template: render() on an empty template");
    if (!messages.is_array()) return Status::error("chat template: messages must be a JSON array");
    if (json_deeper_than(messages, jinja::kMaxValueDepth - 2) || (tools && json_deeper_than(*tools, jinja::kMaxValueDepth - 2)))
        return Status::error(fmt::format("chat template: messages or tools nested more than {} levels", jinja::kMaxValueDepth - 2));
    jinja::ContainerArena arena;  // declared first: empties every container after everything else is gone
    std::unordered_map<std::string, Value> globals;
    jinja::add_builtin_globals(globals);
    jinja::Limits limits;
    limits.max_output_bytes = options.max_output_bytes;
    limits.max_steps = options.max_steps;
    try {
        for (const auto& [k, v] : options.extra_vars) globals[k] = Value::string(v);
        globals["messages"] = from_json(messages);
        if (tools && !tools->is_null()) globals["tools"] = from_json(*tools);
        globals["bos_token"] = Value::string(options.bos_token);
        globals["eos_token"] = Value::string(options.eos_token);
        globals["add_generation_prompt"] = Value::boolean(options.add_generation_prompt);
        jinja::Interpreter interp(*program, limits, std::move(globals));
        return interp.render();
    } catch (const jinja::TemplateRaised& e) {
        return Status::error(fmt::format("chat template raised an exception: {} ({}from raise_exception)",
                                         e.what(), where(e.pos)));
    } catch (const jinja::JinjaError& e) {
        return Status::error(fmt::format("chat template: {}{}", where(e.pos), e.what()));
    } catch (const std::bad_alloc&) {
        return Status::error("chat template: out of memory while rendering");
    }
}

}  // namespace llm
