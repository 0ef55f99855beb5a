// Console progress rendering (the library reports FileProgress; this turns it into text).
#include "hub/progress.hpp"

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <memory>

namespace llm::hub {

std::string format_bytes(uint64_t n) {
    if (n < 1024) return fmt::format("{} B", n);
    const char* units[] = {"KiB", "MiB", "GiB", "TiB"};
    double v = (double)n / 1024;
    int u = 0;
    while (v >= 1024 && u < 3) v /= 1024, ++u;
    return fmt::format("{:.1f} {}", v, units[u]);
}

std::string format_duration(double s) {
    if (s < 0 || s > 1e7) return "?";
    const long t = (long)(s + 0.5);
    if (t < 60) return fmt::format("{} s", t);
    if (t < 3600) return fmt::format("{}:{:02}", t / 60, t % 60);
    return fmt::format("{}:{:02}:{:02}", t / 3600, (t / 60) % 60, t % 60);
}

std::string progress_line(const FileProgress& p, int width) {
    std::string name = p.file.substr(p.file.rfind('/') + 1);
    if (name.size() > 40) name = name.substr(0, 37) + "...";
    std::string speed = p.bytes_per_s > 0 ? fmt::format("  {}/s", format_bytes((uint64_t)p.bytes_per_s)) : "";
    if (!p.total) return fmt::format("{}  {}{}", name, format_bytes(p.done), speed);
    const double frac = std::min(1.0, (double)p.done / (double)p.total);
    std::string left;
    if (p.phase == FileProgress::Phase::Done) {
        left = fmt::format("  {}", format_duration(p.elapsed_s));
    } else if (p.bytes_per_s > 0) {
        left = fmt::format("  {} left", format_duration((double)(p.total - std::min(p.done, p.total)) / p.bytes_per_s));
    }
    const std::string sizes = fmt::format("{} / {}", format_bytes(p.done), format_bytes(p.total));
    const int fixed = (int)(name.size() + sizes.size() + speed.size() + left.size()) + 10;
    const int bar = std::clamp(width - fixed, 10, 40);
    const int filled = (int)(frac * bar);
    return fmt::format("{} {:3}% [{}{}] {}{}{}", name, (int)(frac * 100), std::string(filled, '#'),
                       std::string(bar - filled, '-'), sizes, speed, left);
}

std::function<void(const FileProgress&)> console_progress(FILE* out, int tty) {
    const bool term = tty < 0 ? ::isatty(::fileno(out)) : tty != 0;
    auto next_decile = std::make_shared<int>(0);
    return [out, term, next_decile](const FileProgress& p) {
        if (term) {
            // \r + erase-to-end redraws the one line; the final state stays with a newline.
            std::fprintf(out, "\r%s\033[K%s", progress_line(p, 100).c_str(),
                         p.phase == FileProgress::Phase::Done ? "\n" : "");
            std::fflush(out);
            return;
        }
        using Phase = FileProgress::Phase;
        if (p.phase == Phase::Start) {
            *next_decile = p.total ? (int)(p.done * 10 / p.total) + 1 : 11;
            std::fprintf(out, "downloading %s (%s)%s\n", p.file.c_str(), p.total ? format_bytes(p.total).c_str() : "size unknown",
                         p.resumed_from ? fmt::format(", resuming at {}", format_bytes(p.resumed_from)).c_str() : "");
        } else if (p.phase == Phase::Progress && p.total) {
            const int decile = (int)(p.done * 10 / p.total);
            if (decile >= *next_decile && decile < 10) {
                *next_decile = decile + 1;
                std::fprintf(out, "  %s\n", progress_line(p, 80).c_str());
            }
        } else if (p.phase == Phase::Done) {
            const double rate = p.elapsed_s > 0 ? (double)(p.done - p.resumed_from) / p.elapsed_s : 0;
            std::fprintf(out, "done %s: %s in %s (%s/s)\n", p.file.c_str(), format_bytes(p.done).c_str(),
                         format_duration(p.elapsed_s).c_str(), format_bytes((uint64_t)rate).c_str());
        }
        std::fflush(out);
    };
}

}  // namespace llm::hub
