// The real Backend: llm::Engine for generation and embeddings, the model's tokenizer and chat template for
// prompts (rendered exactly as llm-run renders them), and the constraint engine for response_format.
#pragma once
#include <memory>

#include "llm/constrain.hpp"  // JsonSchemaOptions
#include "llm/engine.hpp"
#include "server/backend.hpp"

namespace llm::server {

// Wraps a started engine. Fails when the model has no tokenizer (the server speaks text) or its chat template
// does not parse. `schema` bounds the response_format schemas (llm-serve --json-max-string).
Expected<std::shared_ptr<Backend>> make_engine_backend(std::shared_ptr<const Model> model, std::unique_ptr<Engine> engine,
                                                        std::string model_id, const JsonSchemaOptions& schema = {});

// Loads a model (a path or an hf: reference), starts its engine and wraps both: what llm-serve's model registry
// runs on its loader thread. Without a KV pool size in `eo`, kv_cap_bytes > 0 caps the engine's default pool
// (every running sequence at full context) at that many bytes, so several models share the memory.
Expected<std::shared_ptr<Backend>> load_engine_backend(const std::string& source, const std::string& model_id,
                                                        EngineOptions eo, int64_t kv_cap_bytes,
                                                        const JsonSchemaOptions& schema = {});

}  // namespace llm::server
