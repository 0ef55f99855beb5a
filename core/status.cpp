#include "core/status.hpp"

#include <cstdio>
#include <cstdlib>

namespace llm::detail {

void check_failed(const char* cond, const char* file, int line) {
    std::fprintf(stderr, "internal error: %s:%d: check failed: %s\n", file, line, cond);
    std::abort();
}

}  // namespace llm::detail
