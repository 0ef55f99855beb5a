// Errors as values: Status (ok or a message) and Expected<T> (a value or a Status).
// Messages name the file, field or tensor at fault, e.g. "model.gguf: tensor 'blk.0.attn_q.weight': offset out of range".
#pragma once
#include <fmt/format.h>

#include <string>
#include <utility>
#include <variant>

namespace llm {

class [[nodiscard]] Status {
public:
    Status() = default;  // ok
    static Status ok() { return {}; }
    static Status error(std::string message) {
        Status s;
        s.failed_ = true;
        s.message_ = std::move(message);
        return s;
    }
    bool is_ok() const { return !failed_; }
    explicit operator bool() const { return !failed_; }
    const std::string& message() const { return message_; }
    // Prefixes context ("file.gguf: ") to the message of an error; ok stays ok.
    Status with_context(std::string_view ctx) const {
        if (!failed_) return *this;
        return error(fmt::format("{}: {}", ctx, message_));
    }

private:
    bool failed_ = false;
    std::string message_;
};

template <typename... Args>
Status error(fmt::format_string<Args...> f, Args&&... args) {
    return Status::error(fmt::format(f, std::forward<Args>(args)...));
}

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

// Early return on error: LLM_TRY(status_expr);
#define LLM_TRY(expr)                                   \
    do {                                                \
        ::llm::Status llm_try_status_ = (expr);         \
        if (!llm_try_status_) return llm_try_status_;   \
    } while (0)

// Abort on a broken internal invariant (never for bad input).
#define LLM_CHECK(cond)                                                                \
    do {                                                                               \
        if (!(cond)) ::llm::detail::check_failed(#cond, __FILE__, __LINE__);           \
    } while (0)

namespace llm::detail {
[[noreturn]] void check_failed(const char* cond, const char* file, int line);
}
