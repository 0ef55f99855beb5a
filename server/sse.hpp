// Server-sent events framing (text/event-stream): one `data:` line per event, blank line after; comments
// (lines starting with ':') as keep-alives, which every SSE parser skips.
#pragma once
#include <string>
#include <string_view>

namespace llm::server {

// "data: <json>\n\n". The JSON text never holds a raw newline (dump escapes them), so one line suffices.
inline std::string sse_data(std::string_view json) { return "data: " + std::string(json) + "\n\n"; }
// "event: <name>\ndata: <json>\n\n" (Anthropic's streams name every event).
inline std::string sse_event(std::string_view name, std::string_view json) {
    return "event: " + std::string(name) + "\ndata: " + std::string(json) + "\n\n";
}
inline std::string sse_done() { return "data: [DONE]\n\n"; }
inline std::string sse_comment(std::string_view text = "keep-alive") { return ": " + std::string(text) + "\n\n"; }

}  // namespace llm::server
