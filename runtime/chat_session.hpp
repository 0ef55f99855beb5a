// A multi-turn conversation over one Session: renders the model's chat template for the whole history,
// reuses the KV cache for the longest common token prefix, and evaluates only what is new.
#pragma once
#include <string>
#include <vector>

#include "runtime/generate.hpp"
#include "tokenizer/chat/chat_template.hpp"

namespace llm {

class Session;
class Tokenizer;
class Sampler;

// ChatML, used when a model carries no chat template (as llama.cpp does).
extern const char* const kChatMlTemplate;
// Gemma 3's template (google/gemma-3-*-it tokenizer_config.json, byte-identical to
// tests/chat/data/templates/gemma3_it.jinja): the GGUFs of the base models carry none.
extern const char* const kGemma3Template;
// The template for a model without one: Gemma's when its vocabulary has Gemma's turn tokens, else ChatML.
const char* fallback_chat_template(const Tokenizer& tok);

class ChatSession {
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
