// Errors as values: Status (ok, or a code and a one-line message) and Expected<T> (a value or a Status).
// Messages name the file, field or tensor at fault ("model.gguf: tensor 'blk.0.attn_q.weight': offset out of
// range"); the code says what kind of failure it is, so callers (the C API, HTTP status mapping) never parse text.
#pragma once
#include <string>
#include <string_view>
#include <utility>
#include <variant>

#include "llm/export.hpp"

namespace llm {

// The values equal the C API's llm_status (include/llm/llm.h); new codes are appended, never renumbered.
enum class StatusCode : int {
    Ok = 0,
    InvalidArgument = 1,  // a bad option, request field or token id: the caller's input
    InvalidModel = 2,     // a model file or folder that is malformed or inconsistent
    ContextOverflow = 3,  // the tokens do not fit in the context (or the KV pool)
    NoTokenizer = 4,      // text was given but the model carries no usable tokenizer
    Internal = 5,         // a bug: an invariant that should have held
    NotFound = 6,         // a file, model, repository or name that does not exist
    Io = 7,               // reading, writing or downloading failed
    Unsupported = 8,      // valid but not supported by this build (an architecture, a weight type, a feature)
    OutOfMemory = 9,      // the allocation (weights, KV cache) does not fit in the memory available
    Cancelled = 10,       // stopped on request
};

// "ok", "invalid_argument", "invalid_model", "context_overflow", "no_tokenizer", "internal", "not_found", "io",
// "unsupported", "out_of_memory", "cancelled".
LLM_API const char* status_code_name(StatusCode code);

class [[nodiscard]] Status {
public:
    Status() = default;  // ok
    static Status ok() { return {}; }
    // An error. Without a code it is InvalidArgument: most errors report bad input.
    static Status error(std::string message) { return error(StatusCode::InvalidArgument, std::move(message)); }
    static Status error(StatusCode code, std::string message) {
        Status s;
        s.code_ = code == StatusCode::Ok ? StatusCode::Internal : code;
        s.message_ = std::move(message);
        return s;
    }
    bool is_ok() const { return code_ == StatusCode::Ok; }
    explicit operator bool() const { return is_ok(); }
    StatusCode code() const { return code_; }
    const std::string& message() const { return message_; }
    // Prefixes context ("file.gguf: ") to the message of an error, keeping its code; ok stays ok.
    Status with_context(std::string_view ctx) const {
        if (is_ok()) return *this;
        return error(code_, std::string(ctx) + ": " + message_);
    }
    // The same error with another code (e.g. a loader's InvalidArgument becomes InvalidModel); ok stays ok.
    Status with_code(StatusCode code) const { return is_ok() ? *this : error(code, message_); }

private:
    StatusCode code_ = StatusCode::Ok;
    std::string message_;
};

template <typename T>
class [[nodiscard]] Expected {
public:
    Expected(T value) : v_(std::move(value)) {}
    Expected(Status status) : v_(std::move(status)) {}
    bool has_value() const { return v_.index() == 0; }
    explicit operator bool() const { return has_value(); }
    T& value() & { return std::get<0>(v_); }
    const T& value() const& { return std::get<0>(v_); }
    T&& value() && { return std::get<0>(std::move(v_)); }
    T& operator*() & { return value(); }
    const T& operator*() const& { return value(); }
    T* operator->() { return &value(); }
    const T* operator->() const { return &value(); }
    // The error; only valid when !has_value().
    const Status& status() const { return std::get<1>(v_); }
    const std::string& error_message() const { return std::get<1>(v_).message(); }

private:
    std::variant<T, Status> v_;
};

}  // namespace llm
