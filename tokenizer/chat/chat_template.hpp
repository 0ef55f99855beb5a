// Renders a model's own Jinja chat template (GGUF `tokenizer.chat_template`, or `chat_template` in HF
// tokenizer_config.json) for a list of messages, byte-identical to transformers' apply_chat_template
// (jinja2 with trim_blocks, lstrip_blocks, raise_exception). Sandboxed: no file or system access, bounded
// steps, output size and recursion; unsupported constructs are errors naming them and their line:col.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "core/status.hpp"

namespace llm {

namespace jinja {
struct Program;
}

struct ChatMessage {
    std::string role;     // "system", "user", "assistant", "tool", ...
    std::string content;
};

struct ChatTemplateOptions {
    bool add_generation_prompt = true;
    std::string bos_token;
    std::string eos_token;
    size_t max_output_bytes = 1 << 20;  // also caps any string value built while rendering
    uint64_t max_steps = 10'000'000;    // statements + expression nodes evaluated
    // Extra string variables some templates read (e.g. "date_string"); empty by default.
    std::vector<std::pair<std::string, std::string>> extra_vars;
};

class ChatTemplate {
public:
    // Parses once; a syntax error or unsupported tag comes back as "chat template: line:col: ...".
    static Expected<ChatTemplate> parse(std::string_view source);

    // Renders; errors (including the template's own raise_exception) come back as a Status.
    Expected<std::string> render(const std::vector<ChatMessage>& messages, const ChatTemplateOptions& options) const;

    // The same for messages given as JSON, passed to the template as they are (an array of objects with any
    // fields: OpenAI-shaped `tool_calls`, `tool_call_id`, `name`, content as a string, null or a list of parts),
    // plus `tools` (a JSON array, typically [{"type": "function", "function": {name, description,
    // parameters}}]) when `tools` is not null. Objects keep their key order (tojson prints them in it).
    // Numbers: integers stay ints, others are floats.
    Expected<std::string> render_json(const nlohmann::ordered_json& messages, const nlohmann::ordered_json* tools,
                                      const ChatTemplateOptions& options) const;

    const std::string& source() const { return source_; }

private:
    std::string source_;
    std::shared_ptr<const jinja::Program> program_;  // shared: ChatTemplate is cheap to copy and immutable
};

}  // namespace llm
