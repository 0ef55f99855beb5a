#include "core/status.hpp"

#include <cstdio>
#include <cstdlib>

namespace llm::detail {

void check_failed(const char* cond, const char* file, int line) {
    std::fprintf(stderr, "internal error: %s:%d: check failed: %s\n", file, line, cond);
    std::abort();
}

}  // namespace llm::detail

namespace llm {

const char* status_code_name(StatusCode code) {
    switch (code) {
        case StatusCode::Ok: return "ok";
        case StatusCode::InvalidArgument: return "invalid_argument";
        case StatusCode::InvalidModel: return "invalid_model";
        case StatusCode::ContextOverflow: return "context_overflow";
        case StatusCode::NoTokenizer: return "no_tokenizer";
        case StatusCode::Internal: return "internal";
        case StatusCode::NotFound: return "not_found";
        case StatusCode::Io: return "io";
        case StatusCode::Unsupported: return "unsupported";
        case StatusCode::OutOfMemory: return "out_of_memory";
        case StatusCode::Cancelled: return "cancelled";
    }
    return "unknown";
}

}  // namespace llm
