// Tool calls, the prompt side: family detection from the template, the tools list, and the messages a
// template sees (native formats get `tools` and arguments as objects; Generic gets instructions and text).
#include <map>

#include "constrain/tool_calls.hpp"
#include "tokenizer/chat/chat_template.hpp"

namespace llm {
namespace {

using json = nlohmann::ordered_json;

// Python's json.dumps(x, ensure_ascii=False) layout (", " and ": " separators), which is what the generic
// instructions and call examples use; strings and numbers as nlohmann writes them (the same text for the
// values tools carry).
void dump_spaced(const json& j, std::string& out) {
    if (j.is_object()) {
        out += '{';
        bool first = true;
        for (const auto& [k, v] : j.items()) {
            if (!first) out += ", ";
            first = false;
            out += json(k).dump(-1, ' ', false, json::error_handler_t::replace);
            out += ": ";
            dump_spaced(v, out);
        }
        out += '}';
    } else if (j.is_array()) {
        out += '[';
        for (size_t i = 0; i < j.size(); ++i) {
            if (i) out += ", ";
            dump_spaced(j[i], out);
        }
        out += ']';
    } else {
        out += j.dump(-1, ' ', false, json::error_handler_t::replace);
    }
}

std::string spaced(const json& j) {
    std::string s;
    dump_spaced(j, s);
    return s;
}

// Text parts joined (OpenAI content arrays); strings as they are; null -> null.
json flatten_content(const json& c) {
    if (!c.is_array()) return c;
    std::string s;
    for (const auto& part : c)
        if (part.is_object() && part.value("type", "") == "text" && part.contains("text") && part["text"].is_string())
            s += part["text"].get<std::string>();
    return s;
}

// function.arguments as an object when it is a JSON string holding an object (what HF templates expect).
json arguments_object(const json& args) {
    if (!args.is_string()) return args;
    try {
        return json::parse(args.get<std::string>());
    } catch (...) {
        return args;
    }
}

std::string content_text(const json& c) {
    const json f = flatten_content(c);
    if (f.is_string()) return f.get<std::string>();
    if (f.is_null()) return "";
    return spaced(f);
}

}  // namespace

const char* tool_format_name(ToolFormat f) {
    switch (f) {
        case ToolFormat::Generic: return "generic";
        case ToolFormat::Llama3: return "llama3";
        case ToolFormat::Hermes: return "hermes";
        case ToolFormat::MistralV3: return "mistral";
    }
    return "?";
}

ToolFormat detect_tool_format(std::string_view t) {
    auto has = [&](std::string_view s) { return t.find(s) != std::string_view::npos; };
    if (has("[TOOL_CALLS]") || has("[AVAILABLE_TOOLS]")) return ToolFormat::MistralV3;
    if (has("<tool_call>")) return ToolFormat::Hermes;
    if (has("<|python_tag|>") || (has("<|start_header_id|>") && has("tools"))) return ToolFormat::Llama3;
    return ToolFormat::Generic;
}

Expected<std::vector<ToolSpec>> parse_tools(const json& tools) {
    std::vector<ToolSpec> out;
    if (tools.is_null()) return out;
    if (!tools.is_array()) return error("tools: expected an array");
    for (size_t i = 0; i < tools.size(); ++i) {
        const json& t = tools[i];
        const std::string at = fmt::format("tools[{}]", i);
        if (!t.is_object()) return error("{}: expected an object", at);
        ToolSpec spec;
        const json* fn = &t;
        std::string where = at;
        if (t.contains("function")) {
            if (t.contains("type") && t["type"] != "function")
                return error("{}.type: only \"function\" tools are supported", at);
            fn = &t["function"];
            where = at + ".function";
            if (!fn->is_object()) return error("{}: expected an object", where);
        }
        if (!fn->contains("name") || !(*fn)["name"].is_string() || (*fn)["name"].get<std::string>().empty())
            return error("{}.name: expected a non-empty string", where);
        spec.name = (*fn)["name"].get<std::string>();
        if (fn->contains("description")) {
            if (!(*fn)["description"].is_string()) return error("{}.description: expected a string", where);
            spec.description = (*fn)["description"].get<std::string>();
        }
        const char* key = fn->contains("input_schema") ? "input_schema" : "parameters";
        if (fn->contains(key) && !(*fn)[key].is_null()) {
            if (!(*fn)[key].is_object()) return error("{}.{}: expected a JSON schema object", where, key);
            spec.parameters = (*fn)[key];
        } else {
            spec.parameters = {{"type", "object"}, {"properties", json::object()}};
        }
        for (const auto& prev : out)
            if (prev.name == spec.name) return error("{}.name: '{}' is defined twice", where, spec.name);
        // Native templates read the OpenAI shape.
        if (t.contains("function")) {
            spec.raw = t;
        } else {
            json f = {{"name", spec.name}};
            if (fn->contains("description")) f["description"] = spec.description;
            f["parameters"] = spec.parameters;
            spec.raw = {{"type", "function"}, {"function", f}};
        }
        out.push_back(std::move(spec));
    }
    return out;
}

std::string generic_tool_instructions(const std::vector<ToolSpec>& tools) {
    json list = json::array();
    for (const auto& t : tools) {
        json j = {{"name", t.name}};
        if (!t.description.empty()) j["description"] = t.description;
        j["parameters"] = t.parameters;
        list.push_back(j);
    }
    return "You can call the following tools:\n" + list.dump(2, ' ', false, json::error_handler_t::replace) +
           "\n\nTo call tools, reply with one JSON object and nothing else, in this form:\n"
           "{\"tool_calls\": [{\"name\": \"<tool name>\", \"arguments\": {<the arguments>}}]}\n"
           "Otherwise, answer the user in plain text.";
}

Expected<std::string> render_tool_prompt(const ChatTemplate& tmpl, ToolFormat fmt, const json& messages,
                                         const std::vector<ToolSpec>& tools, const ChatTemplateOptions& options) {
    if (!messages.is_array()) return error("messages: expected an array");
    json msgs = json::array();
    const bool generic = fmt == ToolFormat::Generic && !tools.empty();
    // Names of earlier calls by id, for tool results that do not repeat the name.
    std::map<std::string, std::string> call_names;
    for (size_t i = 0; i < messages.size(); ++i) {
        const json& m = messages[i];
        if (!m.is_object() || !m.contains("role") || !m["role"].is_string())
            return error("messages[{}]: expected an object with a string 'role'", i);
        json out = m;
        if (m.contains("content")) out["content"] = flatten_content(m["content"]);
        if (m.contains("tool_calls") && m["tool_calls"].is_array()) {
            json calls = json::array();
            for (const auto& c : m["tool_calls"]) {
                json cc = c;
                if (cc.is_object() && cc.contains("function") && cc["function"].is_object()) {
                    json& f = cc["function"];
                    if (f.contains("arguments")) f["arguments"] = arguments_object(f["arguments"]);
                    if (cc.contains("id") && cc["id"].is_string() && f.contains("name") && f["name"].is_string())
                        call_names[cc["id"].get<std::string>()] = f["name"].get<std::string>();
                }
                calls.push_back(std::move(cc));
            }
            out["tool_calls"] = std::move(calls);
        }
        if (!generic) {
            msgs.push_back(std::move(out));
            continue;
        }
        const std::string role = m["role"].get<std::string>();
        if (role == "assistant" && out.contains("tool_calls") && out["tool_calls"].is_array() && !out["tool_calls"].empty()) {
            json calls = json::array();
            for (const auto& c : out["tool_calls"]) {
                const json f = c.is_object() && c.contains("function") ? c["function"] : c;
                if (!f.is_object()) continue;  // not a call (the API layers refuse these before)
                const json name = f.contains("name") && f["name"].is_string() ? f["name"] : json("");
                calls.push_back({{"name", name}, {"arguments", f.contains("arguments") ? f["arguments"] : json::object()}});
            }
            std::string text = content_text(out.value("content", json()));
            if (!text.empty()) text += "\n";
            text += spaced(json{{"tool_calls", calls}});
            msgs.push_back({{"role", "assistant"}, {"content", text}});
        } else if (role == "tool") {
            std::string name = m.contains("name") && m["name"].is_string() ? m["name"].get<std::string>() : "";
            if (name.empty() && m.contains("tool_call_id") && m["tool_call_id"].is_string()) {
                auto it = call_names.find(m["tool_call_id"].get<std::string>());
                if (it != call_names.end()) name = it->second;
            }
            json resp = json::object();
            if (!name.empty()) resp["name"] = name;
            resp["content"] = content_text(out.value("content", json()));
            msgs.push_back({{"role", "user"}, {"content", spaced(json{{"tool_response", resp}})}});
        } else {
            json plain = {{"role", role}, {"content", content_text(out.value("content", json()))}};
            msgs.push_back(std::move(plain));
        }
    }
    if (generic) {
        const std::string text = generic_tool_instructions(tools);
        if (!msgs.empty() && msgs[0]["role"] == "system") {
            std::string sys = msgs[0]["content"].get<std::string>();
            msgs[0]["content"] = sys.empty() ? text : sys + "\n\n" + text;
        } else {
            msgs.insert(msgs.begin(), json{{"role", "system"}, {"content", text}});
        }
        return render_chat_json(tmpl, msgs, nullptr, options);
    }
    if (tools.empty()) return render_chat_json(tmpl, msgs, nullptr, options);
    json tl = json::array();
    for (const auto& t : tools) tl.push_back(t.raw);
    return render_chat_json(tmpl, msgs, &tl, options);
}

}  // namespace llm
