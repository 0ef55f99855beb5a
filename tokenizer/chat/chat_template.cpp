// Public chat-template API: parse once, render many; turns the engine's internal errors into Status.
#include "tokenizer/chat/chat_template.hpp"

#include "tokenizer/chat/jinja_eval.hpp"
#include "tokenizer/chat/jinja_parser.hpp"

namespace llm {
namespace {

std::string where(const jinja::Pos& p) {
    if (p.line <= 0) return "";
    return fmt::format("line {}:{}: ", p.line, p.col);
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
    using jinja::Value;
    if (!program_) return Status::error("chat template: render() on an empty template");
    jinja::ContainerArena arena;  // declared first: empties every container after everything else is gone
    std::unordered_map<std::string, Value> globals;
    jinja::add_builtin_globals(globals);
    std::vector<Value> msgs;
    msgs.reserve(messages.size());
    for (const auto& m : messages)
        msgs.push_back(Value::make_dict({{"role", Value::string(m.role)}, {"content", Value::string(m.content)}}));
    for (const auto& [k, v] : options.extra_vars) globals[k] = Value::string(v);
    globals["messages"] = Value::make_list(std::move(msgs));
    globals["bos_token"] = Value::string(options.bos_token);
    globals["eos_token"] = Value::string(options.eos_token);
    globals["add_generation_prompt"] = Value::boolean(options.add_generation_prompt);

    jinja::Limits limits;
    limits.max_output_bytes = options.max_output_bytes;
    limits.max_steps = options.max_steps;
    try {
        jinja::Interpreter interp(*program_, limits, std::move(globals));
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
