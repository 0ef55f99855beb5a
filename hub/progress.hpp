// Download progress on a console: a redrawn bar with speed and time left on a terminal, plain lines otherwise
// (logs and pipes get a start line, one line per 10% and a summary).
#pragma once
#include "llm/hub.hpp"  // the public part
#include <cstdint>
#include <cstdio>
#include <functional>
#include <string>

#include "hub/hub.hpp"

namespace llm::hub {

std::string format_duration(double s);    // "42 s", "3:05", "1:02:03"
// One bar line: "model.gguf  45% [#########-----------] 512.0 MiB / 1.1 GiB  23.4 MiB/s  0:27 left".
std::string progress_line(const FileProgress& p, int width);

// A progress callback writing to `out`; `tty` chooses the redrawn bar (default: isatty(fileno(out))).
std::function<void(const FileProgress&)> console_progress(FILE* out = stderr, int tty = -1);

}  // namespace llm::hub
