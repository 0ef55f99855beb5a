// The real Backend: llm::Engine for generation and embeddings, the model's tokenizer and chat template for
// prompts (rendered exactly as llm-run renders them), and the constraint engine for response_format.
#pragma once
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <vector>

#include "llm/constrain.hpp"  // JsonSchemaOptions
#include "llm/engine.hpp"
#include "server/backend.hpp"

namespace llm::server {

// Wraps a started engine. Fails when the model has no tokenizer (the server speaks text) or its chat template
// does not parse. `schema` bounds the response_format schemas (llm-serve --json-max-string).
Expected<std::shared_ptr<Backend>> make_engine_backend(std::shared_ptr<const Model> model, std::unique_ptr<Engine> engine,
                                                        std::string model_id, const JsonSchemaOptions& schema = {});

// Templates that insist on alternating user/assistant turns (Gemma's, Mistral's) refuse a system message after
// the first one, which is where Claude Code puts them. When a template fails on such messages, the backend
// renders them again with each later system message folded into a user message: appended to the user (or tool
// result) message right before it, else put before the next user message's text, else (none follows) sent as a
// user message. Appending keeps a growing conversation's earlier text unchanged, so the prefix cache still
// serves it. nullopt: nothing to fold.
std::optional<std::vector<ChatMessage>> fold_late_system_messages(const std::vector<ChatMessage>& messages);
std::optional<nlohmann::ordered_json> fold_late_system_messages(const nlohmann::ordered_json& messages);

// Loads a model (a path or an hf: reference), starts its engine and wraps both: what llm-serve's model registry
// runs on its loader thread. Without a KV pool size in `eo`, kv_cap_bytes > 0 caps the engine's default pool
// (every running sequence at full context) at that many bytes, so several models share the memory.
Expected<std::shared_ptr<Backend>> load_engine_backend(const std::string& source, const std::string& model_id,
                                                        EngineOptions eo, int64_t kv_cap_bytes,
                                                        const JsonSchemaOptions& schema = {});

}  // namespace llm::server
