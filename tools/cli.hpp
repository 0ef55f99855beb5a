// Shared by the tools: one convention for bad command lines. A usage error (unknown option, bad number, value out
// of range, conflicting options) is one line "TOOL: error: ..." on stderr and exit code 2; an error while working
// (a file that does not load, a context that does not fit) is one line and exit code 1; --help exits 0.
#pragma once
#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <vector>

#include "llm/status.hpp"

namespace llm::cli {

constexpr int kUsageError = 2;

// An error Status with a fmt-formatted message (the library's own helper is internal).
template <typename... Args>
Status error(fmt::format_string<Args...> f, Args&&... args) {
    return Status::error(fmt::format(f, std::forward<Args>(args)...));
}

// Prints "tool: error: message" as one line (newlines in the message become "; ") and returns `code`.
inline int fail(const char* tool, std::string message, int code = 1) {
    for (char& ch : message)
        if (ch == '\n' || ch == '\r') ch = ';';
    std::fprintf(stderr, "%s: error: %s\n", tool, message.c_str());
    return code;
}

inline int usage_error(const char* tool, const std::string& message) { return fail(tool, message, kUsageError); }

// app.parse with the convention above instead of CLI11's exit codes (105, 106, 109, ...) and two-line messages.
// Returns the exit code when the program should stop (help printed, or a usage error), else nullopt.
inline std::optional<int> parse(CLI::App& app, const char* tool, int argc, char** argv) {
    try {
        app.parse(argc, argv);
        return std::nullopt;
    } catch (const CLI::ParseError& e) {
        if (e.get_exit_code() == 0) return app.exit(e);  // --help
        return usage_error(tool, std::string(e.what()) + " (see --help)");
    }
}

// A whole decimal integer in [lo, hi] ("12abc", "", "1e3" and overflow are refused).
inline std::optional<long long> parse_int(const std::string& text, long long lo, long long hi) {
    if (text.empty()) return std::nullopt;
    errno = 0;
    char* end = nullptr;
    const long long v = std::strtoll(text.c_str(), &end, 10);
    if (errno != 0 || *end != '\0' || v < lo || v > hi) return std::nullopt;
    return v;
}

// Range checks for numeric options, phrased alike in every tool: "--temp must be >= 0, got -1".
inline std::optional<std::string> check_range(const char* name, double v, double lo, double hi) {
    if (!std::isfinite(v) || v < lo || v > hi) {
        if (hi == HUGE_VAL) return fmt::format("{} must be >= {}, got {}", name, lo, v);
        return fmt::format("{} must be in [{}, {}], got {}", name, lo, hi, v);
    }
    return std::nullopt;
}

}  // namespace llm::cli
