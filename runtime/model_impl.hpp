// Internal: what a Model holds (include/llm/llm.hpp keeps it opaque), for the library's own files.
#pragma once
#include <memory>
#include <string>

#include "llm/llm.hpp"
#include "models/model_loader.hpp"
#include "tokenizer/tokenizer.hpp"

namespace llm {

struct Model::Impl {
    std::string path;
    LoadedModel loaded;
    std::unique_ptr<Tokenizer> tokenizer;
    std::string tokenizer_error;
    ModelInfo info;  // computed once at load
    // Bytes of weight_bytes() the forward pass reads from the mapped file (not quantized or repacked at load into
    // anonymous memory, which is resident already): what still has to fit in memory when a session starts.
    size_t mapped_weight_bytes = 0;
};

// The library's access to a Model's internals (Model::Impl is private to keep the public header opaque).
struct ModelAccess {
    using Impl = Model::Impl;
    static const Impl& impl(const Model& m) { return *m.impl_; }
};

}  // namespace llm
