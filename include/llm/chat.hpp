// Chat templates and multi-turn chat. ChatTemplate renders a model's own Jinja chat template (GGUF
// `tokenizer.chat_template`, or `chat_template` in HF tokenizer_config.json) byte-identical to transformers'
// apply_chat_template (jinja2 with trim_blocks, lstrip_blocks, raise_exception), sandboxed: no file or system
// access, bounded steps, output size and recursion. ChatSession keeps a conversation over one Session.
#pragma once
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "llm/export.hpp"
#include "llm/generate.hpp"
#include "llm/status.hpp"

namespace llm {

namespace jinja {
struct Program;  // the parsed template (library-internal)
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

class LLM_API ChatTemplate {
public:
    // Parses once; a syntax error or unsupported tag comes back as "chat template: line:col: ...".
    static Expected<ChatTemplate> parse(std::string_view source);

    // Renders; errors (including the template's own raise_exception) come back as a Status.
    Expected<std::string> render(const std::vector<ChatMessage>& messages, const ChatTemplateOptions& options) const;

    // The same for messages given as JSON text, passed to the template as they are (an array of objects with
    // any fields: OpenAI-shaped `tool_calls`, `tool_call_id`, `name`, content as a string, null or a list of
    // parts), plus `tools_json` (a JSON array, typically [{"type": "function", "function": {name, description,
    // parameters}}]) unless it is empty. Objects keep their key order (tojson prints them in it).
    Expected<std::string> render_json(std::string_view messages_json, std::string_view tools_json,
                                      const ChatTemplateOptions& options) const;

    const std::string& source() const { return source_; }

private:
    friend struct ChatTemplateAccess;  // tokenizer/chat/chat_template.hpp: rendering parsed JSON values
    std::string source_;
    std::shared_ptr<const jinja::Program> program_;  // shared: ChatTemplate is cheap to copy and immutable
};

class Session;
class Tokenizer;
class Sampler;

// ChatML, used when a model carries no chat template (as llama.cpp does).
LLM_API extern const char* const kChatMlTemplate;
// Gemma 3's template (google/gemma-3-*-it tokenizer_config.json, byte-identical to
// tests/chat/data/templates/gemma3_it.jinja): the GGUFs of the base models carry none.
LLM_API extern const char* const kGemma3Template;
// The template for a model without one: Gemma's when its vocabulary has Gemma's turn tokens, else ChatML.
LLM_API const char* fallback_chat_template(const Tokenizer& tok);

// A multi-turn conversation over one Session: renders the chat template for the whole history, reuses the KV
// cache for the longest common token prefix, and evaluates only what is new.
class LLM_API ChatSession {
public:
    // tmpl: the model's template (tokenizer.chat_template()); empty: fallback_chat_template(tok).
    static Expected<ChatSession> create(Session& session, const Tokenizer& tok, const std::string& tmpl,
                                        const std::string& system_prompt = "");

    // Adds the user's message, generates the assistant's answer (streamed through on_text) and records it.
    Expected<GenerateResult> respond(const std::string& user_message, Sampler& sampler, const GenerateOptions& opts,
                                     const TextCallback& on_text, const std::atomic<bool>* cancel = nullptr);

    const std::vector<ChatMessage>& messages() const { return messages_; }
    // Tokens currently held by the session's KV cache (a prefix of the rendered conversation).
    const std::vector<int32_t>& cached_tokens() const { return history_; }
    // Renders the conversation with the template (add_generation_prompt as given).
    Expected<std::string> render(bool add_generation_prompt) const;

private:
    ChatSession(Session& s, const Tokenizer& t, ChatTemplate tmpl) : session_(&s), tok_(&t), tmpl_(std::move(tmpl)) {}
    Session* session_;
    const Tokenizer* tok_;
    ChatTemplate tmpl_;
    std::vector<ChatMessage> messages_;
    std::vector<int32_t> history_;
};

}  // namespace llm
