// The library side of errors: fmt-formatted error(...) helpers, LLM_TRY and LLM_CHECK over the public
// Status / Expected (include/llm/status.hpp).
#pragma once
#include <fmt/format.h>

#include <utility>

#include "llm/status.hpp"  // Status, StatusCode, Expected

namespace llm {

template <typename... Args>
Status error(fmt::format_string<Args...> f, Args&&... args) {
    return Status::error(fmt::format(f, std::forward<Args>(args)...));
}
template <typename... Args>
Status error(StatusCode code, fmt::format_string<Args...> f, Args&&... args) {
    return Status::error(code, fmt::format(f, std::forward<Args>(args)...));
}

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
