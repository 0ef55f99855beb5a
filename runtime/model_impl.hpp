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
    bool weights_resident = false;  // quantized at load into anonymous memory (not pages of the mapped file)
};

// The library's access to a Model's internals (Model::Impl is private to keep the public header opaque).
struct ModelAccess {
    using Impl = Model::Impl;
    static const Impl& impl(const Model& m) { return *m.impl_; }
};

}  // namespace llm
