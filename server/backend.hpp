// What the HTTP layer needs from a model server: templates and tokens, submit/cancel of generation requests,
// embeddings and engine statistics. EngineBackend (engine_backend.hpp) implements it over llm::Engine; the
// HTTP tests use a small fake, so HTTP behaviour is tested without a model.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "llm/engine.hpp"
#include "server/api_types.hpp"

namespace llm::server {

struct ModelInfo {
    std::string id;       // the served model's id (its file name without extension)
    int n_ctx = 0;        // most tokens per sequence (prompt + output)
    int n_vocab = 0;
    int n_embd = 0;
    int64_t created = 0;  // unix seconds (model file time), for /v1/models
    int64_t bytes = 0;    // memory the model takes while loaded (weights + KV pool), for the registry's budget
};

class Backend {
public:
    virtual ~Backend() = default;
    virtual const ModelInfo& info() const = 0;
    // Chat messages -> prompt tokens through the model's chat template with the generation prompt added, as
    // llm-run renders them (so the same conversation gives the same tokens).
    virtual Expected<std::vector<int32_t>> chat_prompt(const std::vector<ChatMessage>& messages) const = 0;
    // Messages as sent (OpenAI-shaped JSON) with tools -> prompt tokens, through the tool prompt renderer for the
    // model's tool format (constrain/tool_calls.hpp).
    virtual Expected<std::vector<int32_t>> tool_chat_prompt(const nlohmann::ordered_json& messages,
                                                            const std::vector<ToolSpec>& tools) const = 0;
    // The constraint that makes the output a call in the model's format (nullptr for ToolChoiceMode::None).
    virtual Expected<std::shared_ptr<TokenConstraint>> tool_constraint(const std::vector<ToolSpec>& tools,
                                                                       const ToolChoice& choice) const = 0;
    virtual ToolFormat tool_format() const = 0;
    // Plain text -> tokens; add_special adds BOS as the model's flags say.
    virtual std::vector<int32_t> tokenize(std::string_view text, bool add_special) const = 0;
    // Raw bytes of one token.
    virtual std::string token_piece(int32_t token) const = 0;
    // A constraint that makes the output match a JSON schema (text); an error names what the schema lacks.
    virtual Expected<std::shared_ptr<TokenConstraint>> json_schema_constraint(const std::string& schema) const = 0;
    // As llm::Engine.
    virtual Expected<RequestId> submit(Request request, RequestCallbacks callbacks) = 0;
    virtual void cancel(RequestId id) = 0;
    virtual Expected<std::vector<float>> embed(const std::vector<int32_t>& tokens) = 0;
    virtual EngineStats stats() const = 0;
};

}  // namespace llm::server
