#include "runtime/chat_session.hpp"

#include <algorithm>

#include "llm/llm.hpp"
#include "tokenizer/tokenizer.hpp"

namespace llm {

const char* const kChatMlTemplate =
    "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + "
    "'<|im_end|>' + '\n' }}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}";

const char* const kGemma3Template =
    "{{ bos_token }}\n"
    "{%- if messages[0]['role'] == 'system' -%}\n"
    "    {%- if messages[0]['content'] is string -%}\n"
    "        {%- set first_user_prefix = messages[0]['content'] + '\\n\\n' -%}\n"
    "    {%- else -%}\n"
    "        {%- set first_user_prefix = messages[0]['content'][0]['text'] + '\\n\\n' -%}\n"
    "    {%- endif -%}\n"
    "    {%- set loop_messages = messages[1:] -%}\n"
    "{%- else -%}\n"
    "    {%- set first_user_prefix = \"\" -%}\n"
    "    {%- set loop_messages = messages -%}\n"
    "{%- endif -%}\n"
    "{%- for message in loop_messages -%}\n"
    "    {%- if (message['role'] == 'user') != (loop.index0 % 2 == 0) -%}\n"
    "        {{ raise_exception(\"Conversation roles must alternate user/assistant/user/assistant/...\") }}\n"
    "    {%- endif -%}\n"
    "    {%- if (message['role'] == 'assistant') -%}\n"
    "        {%- set role = \"model\" -%}\n"
    "    {%- else -%}\n"
    "        {%- set role = message['role'] -%}\n"
    "    {%- endif -%}\n"
    "    {{ '<start_of_turn>' + role + '\\n' + (first_user_prefix if loop.first else \"\") }}\n"
    "    {%- if message['content'] is string -%}\n"
    "        {{ message['content'] | trim }}\n"
    "    {%- elif message['content'] is iterable -%}\n"
    "        {%- for item in message['content'] -%}\n"
    "            {%- if item['type'] == 'image' -%}\n"
    "                {{ '<start_of_image>' }}\n"
    "            {%- elif item['type'] == 'text' -%}\n"
    "                {{ item['text'] | trim }}\n"
    "            {%- endif -%}\n"
    "        {%- endfor -%}\n"
    "    {%- else -%}\n"
    "        {{ raise_exception(\"Invalid content type\") }}\n"
    "    {%- endif -%}\n"
    "    {{ '<end_of_turn>\\n' }}\n"
    "{%- endfor -%}\n"
    "{%- if add_generation_prompt -%}\n"
    "    {{'<start_of_turn>model\\n'}}\n"
    "{%- endif -%}\n";

const char* fallback_chat_template(const Tokenizer& tok) {
    const bool gemma = tok.find_token("<start_of_turn>") >= 0 && tok.find_token("<end_of_turn>") >= 0;
    return gemma ? kGemma3Template : kChatMlTemplate;
}

Expected<ChatSession> ChatSession::create(Session& session, const Tokenizer& tok, const std::string& tmpl,
                                          const std::string& system_prompt) {
    auto parsed = ChatTemplate::parse(tmpl.empty() ? fallback_chat_template(tok) : tmpl);
    if (!parsed) return parsed.status();
    ChatSession chat(session, tok, std::move(*parsed));
    if (!system_prompt.empty()) chat.messages_.push_back({"system", system_prompt});
    session.truncate(0);
    return chat;
}

Expected<std::string> ChatSession::render(bool add_generation_prompt) const {
    ChatTemplateOptions o;
    o.add_generation_prompt = add_generation_prompt;
    o.bos_token = tok_->bos_text();
    o.eos_token = tok_->eos_text();
    return tmpl_.render(messages_, o);
}

Expected<GenerateResult> ChatSession::respond(const std::string& user_message, Sampler& sampler,
                                              const GenerateOptions& opts, const TextCallback& on_text,
                                              const std::atomic<bool>* cancel) {
    messages_.push_back({"user", user_message});
    auto text = render(true);
    if (!text) {
        messages_.pop_back();
        return text.status();
    }
    // BOS is added by the tokenizer only when the template did not already write it.
    const std::string bos = tok_->bos_text();
    const bool add_bos = tok_->add_bos() && !(bos.size() && text->starts_with(bos));
    std::vector<int32_t> tokens = tok_->encode(*text, false, true);
    if (add_bos && tok_->bos_id() >= 0) tokens.insert(tokens.begin(), tok_->bos_id());
    if ((int64_t)tokens.size() >= session_->n_ctx()) {
        messages_.pop_back();
        return error("conversation of {} tokens does not fit the context of {} tokens", tokens.size(),
                     session_->n_ctx());
    }
    // Reuse the cached prefix; at least one token must be evaluated to get fresh logits.
    size_t common = 0;
    const size_t limit = std::min(history_.size(), tokens.size() - 1);
    while (common < limit && history_[common] == tokens[common]) ++common;
    session_->truncate((int64_t)common);
    history_.resize(common);
    const std::span<const int32_t> fresh(tokens.data() + common, tokens.size() - common);
    auto result = generate(*session_, *tok_, sampler, fresh, opts, on_text, cancel);
    if (!result) {
        session_->truncate(0);
        history_.clear();
        messages_.pop_back();
        return result.status();
    }
    history_.insert(history_.end(), fresh.begin(), fresh.end());
    history_.insert(history_.end(), result->tokens.begin(), result->tokens.end());
    history_.resize((size_t)session_->n_past());
    messages_.push_back({"assistant", result->text});
    return result;
}

}  // namespace llm
