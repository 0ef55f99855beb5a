// What the two halves of the C API (c_api.cpp: models and sessions, c_api_engine.cpp: the engine) share: the
// model handle, error reporting into the caller's buffer, and the enum conversions.
#pragma once
#include <algorithm>
#include <cstring>
#include <memory>
#include <optional>
#include <string>

#include "core/numerics.hpp"
#include "llm/llm.h"
#include "llm/llm.hpp"

struct llm_model {
    std::shared_ptr<const llm::Model> model;
};

namespace llm::c_api {

// Writes message (truncated, NUL-terminated) into err and returns code.
inline llm_status report(llm_status code, const std::string& message, char* err, size_t err_size) {
    if (err && err_size > 0) {
        const size_t n = std::min(message.size(), err_size - 1);
        std::memcpy(err, message.data(), n);
        err[n] = '\0';
    }
    return code;
}

// The library's code, passed on: llm_status and llm::StatusCode have equal values (checked below).
inline llm_status status_code(const Status& s) { return static_cast<llm_status>(static_cast<int>(s.code())); }
inline llm_status report(const Status& s, char* err, size_t err_size) {
    return report(status_code(s), s.message(), err, err_size);
}
static_assert((int)LLM_ERR_INVALID_ARGUMENT == (int)StatusCode::InvalidArgument);
static_assert((int)LLM_ERR_INVALID_MODEL == (int)StatusCode::InvalidModel);
static_assert((int)LLM_ERR_CONTEXT_FULL == (int)StatusCode::ContextOverflow);
static_assert((int)LLM_ERR_NO_TOKENIZER == (int)StatusCode::NoTokenizer);
static_assert((int)LLM_ERR_INTERNAL == (int)StatusCode::Internal);
static_assert((int)LLM_ERR_NOT_FOUND == (int)StatusCode::NotFound);
static_assert((int)LLM_ERR_IO == (int)StatusCode::Io);
static_assert((int)LLM_ERR_UNSUPPORTED == (int)StatusCode::Unsupported);
static_assert((int)LLM_ERR_OUT_OF_MEMORY == (int)StatusCode::OutOfMemory);
static_assert((int)LLM_ERR_CANCELLED == (int)StatusCode::Cancelled);

inline std::optional<DType> kv_type(llm_kv_type t) {
    switch (t) {
        case LLM_KV_F16: return DType::F16;
        case LLM_KV_F32: return DType::F32;
        case LLM_KV_Q8_0: return DType::Q8_0;
        case LLM_KV_BF16: return DType::BF16;
    }
    return std::nullopt;
}

inline std::optional<Numerics> numerics(llm_numerics n) {
    switch (n) {
        case LLM_NUMERICS_EXACT: return Numerics::Exact;
        case LLM_NUMERICS_FAST: return Numerics::Fast;
        case LLM_NUMERICS_INVARIANT: return Numerics::Invariant;
    }
    return std::nullopt;
}

}  // namespace llm::c_api
