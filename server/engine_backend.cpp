// EngineBackend: see engine_backend.hpp.
#include "server/engine_backend.hpp"

#include <sys/stat.h>

#include <mutex>

#include "constrain/constraint.hpp"
#include "constrain/json_schema.hpp"
#include "constrain/tool_calls.hpp"
#include "runtime/chat_session.hpp"  // fallback_chat_template
#include "tokenizer/tokenizer.hpp"
#include "runtime/kv_pool.hpp"
#include "runtime/model_access.hpp"  // model_config()

namespace llm::server {
namespace {

class EngineBackend final : public Backend {
public:
    EngineBackend(std::shared_ptr<const Model> model, std::unique_ptr<Engine> engine, ChatTemplate tmpl, ModelInfo info,
                  JsonSchemaOptions schema)
        : model_(std::move(model)), engine_(std::move(engine)), tok_(*model_->tokenizer()), tmpl_(std::move(tmpl)),
          info_(std::move(info)), format_(detect_tool_format(tmpl_.source())), schema_(schema) {}

    const ModelInfo& info() const override { return info_; }

    // As ChatSession::respond: the template's text, encoded with special tokens parsed, BOS added only when the
    // template did not write it.
    Expected<std::vector<int32_t>> chat_prompt(const std::vector<ChatMessage>& messages) const override {
        ChatTemplateOptions o;
        o.add_generation_prompt = true;
        o.bos_token = tok_.bos_text();
        o.eos_token = tok_.eos_text();
        auto text = tmpl_.render(messages, o);
        if (!text)
            if (auto folded = fold_late_system_messages(messages))
                if (auto again = tmpl_.render(*folded, o)) text = std::move(again);
        if (!text) return text.status();
        return encode_prompt(*text);
    }
    std::vector<int32_t> encode_prompt(const std::string& text) const {
        const std::string bos = tok_.bos_text();
        const bool add_bos = tok_.add_bos() && !(bos.size() && text.starts_with(bos));
        std::vector<int32_t> tokens = tok_.encode(text, false, true);
        if (add_bos && tok_.bos_id() >= 0) tokens.insert(tokens.begin(), tok_.bos_id());
        return tokens;
    }
    Expected<std::vector<int32_t>> tool_chat_prompt(const nlohmann::ordered_json& messages,
                                                    const std::vector<ToolSpec>& tools) const override {
        ChatTemplateOptions o;
        o.add_generation_prompt = true;
        o.bos_token = tok_.bos_text();
        o.eos_token = tok_.eos_text();
        auto text = render_tool_prompt(tmpl_, format_, messages, tools, o);
        if (!text)
            if (auto folded = fold_late_system_messages(messages))
                if (auto again = render_tool_prompt(tmpl_, format_, *folded, tools, o)) text = std::move(again);
        if (!text) return text.status();
        return encode_prompt(*text);
    }
    Expected<std::shared_ptr<TokenConstraint>> tool_constraint(const std::vector<ToolSpec>& tools,
                                                               const ToolChoice& choice) const override {
        std::call_once(tool_vocab_once_, [&] { tool_vocab_ = tool_vocab(tok_, format_); });
        return make_tool_constraint(format_, tools, choice, tool_vocab_);
    }
    ToolFormat tool_format() const override { return format_; }
    std::vector<int32_t> tokenize(std::string_view text, bool add_special) const override {
        return tok_.encode(text, add_special, false);
    }
    std::string token_piece(int32_t token) const override { return tok_.token_to_piece(token); }

    Expected<std::shared_ptr<TokenConstraint>> json_schema_constraint(const std::string& schema) const override {
        auto grammar = grammar_from_text(ConstraintSource::JsonSchema, schema, schema_);
        if (!grammar) return grammar.status();
        std::call_once(trie_once_, [&] { trie_ = VocabTrie::from_tokenizer(tok_); });
        auto c = GrammarConstraint::create(*grammar, trie_);
        if (!c) return c.status();
        return std::shared_ptr<TokenConstraint>(std::move(*c));
    }

    Expected<RequestId> submit(Request request, RequestCallbacks callbacks) override {
        return engine_->submit(std::move(request), std::move(callbacks));
    }
    void cancel(RequestId id) override { engine_->cancel(id); }
    Expected<std::vector<float>> embed(const std::vector<int32_t>& tokens) override { return engine_->embed(tokens, true); }
    EngineStats stats() const override { return engine_->stats(); }

private:
    std::shared_ptr<const Model> model_;
    std::unique_ptr<Engine> engine_;
    const Tokenizer& tok_;
    ChatTemplate tmpl_;
    ModelInfo info_;
    ToolFormat format_;
    JsonSchemaOptions schema_;
    mutable std::once_flag trie_once_, tool_vocab_once_;
    mutable std::shared_ptr<const VocabTrie> trie_, tool_vocab_;
};

// The two message shapes (ChatMessage, OpenAI-shaped JSON) for fold_late_system_messages: a message's role, its
// text when its content is a string (else nullptr), a user message.
std::string role_of(const ChatMessage& m) { return m.role; }
std::string role_of(const nlohmann::ordered_json& m) { return m.is_object() ? m.value("role", "") : ""; }
std::string* text_of(ChatMessage& m) { return &m.content; }
std::string* text_of(nlohmann::ordered_json& m) {
    return m.is_object() && m.contains("content") && m["content"].is_string() ? m["content"].get_ptr<std::string*>() : nullptr;
}
void push_user(std::vector<ChatMessage>& out, std::string text) { out.push_back({"user", std::move(text)}); }
void push_user(nlohmann::ordered_json& out, std::string text) { out.push_back({{"role", "user"}, {"content", std::move(text)}}); }

template <class Messages>
std::optional<Messages> fold_system(const Messages& in) {
    Messages out{};
    std::string held;  // system text waiting for the next user message
    bool folded = false;
    for (size_t i = 0; i < in.size(); ++i) {
        auto m = in[i];
        const std::string role = role_of(m);
        if (i > 0 && role == "system" && text_of(m)) {
            folded = true;
            const std::string before = out.size() ? role_of(out.back()) : "";
            std::string* prev = held.empty() && (before == "user" || before == "tool") ? text_of(out.back()) : nullptr;
            if (prev) *prev += "\n\n" + *text_of(m);
            else held += (held.empty() ? "" : "\n\n") + *text_of(m);
            continue;
        }
        if (!held.empty() && role == "user" && text_of(m)) {
            *text_of(m) = held + "\n\n" + *text_of(m);
            held.clear();
        }
        out.push_back(std::move(m));
    }
    if (!held.empty()) push_user(out, std::move(held));
    if (!folded) return std::nullopt;
    return out;
}

}  // namespace

std::optional<std::vector<ChatMessage>> fold_late_system_messages(const std::vector<ChatMessage>& messages) {
    return fold_system(messages);
}
std::optional<nlohmann::ordered_json> fold_late_system_messages(const nlohmann::ordered_json& messages) {
    if (!messages.is_array()) return std::nullopt;
    return fold_system(messages);
}

Expected<std::shared_ptr<Backend>> make_engine_backend(std::shared_ptr<const Model> model, std::unique_ptr<Engine> engine,
                                                        std::string model_id, const JsonSchemaOptions& schema) {
    const Tokenizer* tok = model->tokenizer();
    if (!tok) return error("the model has no tokenizer ({}); llm-serve needs one", model->tokenizer_error());
    // No template in the file: the one llm-run uses too (Gemma's for Gemma's vocabulary, else ChatML).
    auto tmpl = ChatTemplate::parse(tok->chat_template().empty() ? fallback_chat_template(*tok) : tok->chat_template());
    if (!tmpl) return tmpl.status().with_context("chat template");
    ModelInfo info;
    info.id = std::move(model_id);
    info.n_ctx = engine->options().n_ctx;
    info.n_vocab = model_config(*model).n_vocab;
    info.n_embd = model_config(*model).d_model;
    // What the registry budgets: the weights as loaded and the whole KV pool (its pages are committed as used,
    // so this is the most it takes).
    info.bytes = (int64_t)model->info().file_tensor_bytes +
                 engine->kv_pool_tokens() * (int64_t)KvPool::bytes_per_token(model_config(*model), engine->options().kv_type);
    struct stat st {};
    info.created = stat(model->path().c_str(), &st) == 0 ? (int64_t)st.st_mtime : 0;
    return std::shared_ptr<Backend>(
        std::make_shared<EngineBackend>(std::move(model), std::move(engine), std::move(*tmpl), std::move(info), schema));
}

Expected<std::shared_ptr<Backend>> load_engine_backend(const std::string& source, const std::string& model_id,
                                                        EngineOptions eo, int64_t kv_cap_bytes,
                                                        const JsonSchemaOptions& schema) {
    LoadOptions lo;
    // The interleaved float matrices serve the CPU kernels of fast / invariant (exact decodes from the rows).
    lo.repack = eo.device == "cpu" && eo.numerics != Numerics::Exact;
    auto model = Model::load(source, lo);
    if (!model) return model.status();
    if (eo.kv_pool_tokens == 0 && eo.kv_pool_mib == 0 && kv_cap_bytes > 0) {
        const ModelConfig& c = model_config(**model);
        const int64_t n_ctx = eo.n_ctx > 0 ? eo.n_ctx : c.n_ctx_train > 0 ? c.n_ctx_train : 4096;
        const int64_t per_token = (int64_t)KvPool::bytes_per_token(c, eo.kv_type);
        eo.kv_pool_tokens = std::max<int64_t>(eo.block_tokens, std::min<int64_t>((int64_t)eo.max_running * n_ctx, kv_cap_bytes / per_token));
    }
    auto engine = Engine::create(*model, eo);
    if (!engine) return engine.status();
    (*engine)->start();
    return make_engine_backend(*model, std::move(*engine), model_id, schema);
}

}  // namespace llm::server
