// EngineBackend: see engine_backend.hpp.
#include "server/engine_backend.hpp"

#include <sys/stat.h>

#include <mutex>

#include "constrain/constraint.hpp"
#include "constrain/json_schema.hpp"
#include "constrain/tool_calls.hpp"
#include "runtime/chat_session.hpp"  // kChatMlTemplate
#include "tokenizer/tokenizer.hpp"
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

}  // namespace

Expected<std::shared_ptr<Backend>> make_engine_backend(std::shared_ptr<const Model> model, std::unique_ptr<Engine> engine,
                                                        std::string model_id, const JsonSchemaOptions& schema) {
    const Tokenizer* tok = model->tokenizer();
    if (!tok) return error("the model has no tokenizer ({}); llm-serve needs one", model->tokenizer_error());
    auto tmpl = ChatTemplate::parse(tok->chat_template().empty() ? kChatMlTemplate : tok->chat_template());
    if (!tmpl) return tmpl.status().with_context("chat template");
    ModelInfo info;
    info.id = std::move(model_id);
    info.n_ctx = engine->options().n_ctx;
    info.n_vocab = model_config(*model).n_vocab;
    info.n_embd = model_config(*model).d_model;
    struct stat st {};
    info.created = stat(model->path().c_str(), &st) == 0 ? (int64_t)st.st_mtime : 0;
    return std::shared_ptr<Backend>(
        std::make_shared<EngineBackend>(std::move(model), std::move(engine), std::move(*tmpl), std::move(info), schema));
}

}  // namespace llm::server
