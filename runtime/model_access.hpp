// Internal: the library's read access to what a Model keeps out of the public API (its ModelConfig and weights).
#pragma once
#include "llm/llm.hpp"
#include "models/model_config.hpp"
#include "models/model_weights.hpp"

namespace llm {

// The decoder's knobs of a loaded model (library-internal; programs read Model::info()).
const ModelConfig& model_config(const Model& m);
// Its weight views (tests compare the bytes two loaders produce).
const ModelWeights& model_weights(const Model& m);

}  // namespace llm
