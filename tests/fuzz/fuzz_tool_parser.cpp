// libFuzzer target for the tool-call parser: arbitrary model output in every format, whole and streamed in
// chunks. The first byte picks the format, whether tool names are known, and the chunking; the rest is the
// text. Streaming must give what parsing the whole text gives (content, warning, calls), the deltas must
// rebuild the calls, and every call's arguments must be a JSON object. Never a crash or a hang.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "constrain/tool_calls.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size == 0 || size > 8192) return 0;
    const std::string text(reinterpret_cast<const char*>(data + 1), size - 1);
    const llm::ToolFormat fmts[] = {llm::ToolFormat::Generic, llm::ToolFormat::Llama3, llm::ToolFormat::Hermes,
                                    llm::ToolFormat::MistralV3};
    const llm::ToolFormat fmt = fmts[data[0] & 3];
    llm::ToolParserOptions opts;
    if (data[0] & 4) opts.tool_names = {"get_weather", "get_time", "f"};
    opts.id_seed = 7;
    const llm::ToolParseResult whole = llm::parse_tool_calls(fmt, text, opts);
    for (const auto& c : whole.calls) {
        if (c.name.empty() || c.id.empty()) std::abort();
        if (!nlohmann::json::accept(c.arguments) || !nlohmann::json::parse(c.arguments).is_object()) std::abort();
    }
    // Streamed: chunks of 1..8 bytes, sizes from the input's own bytes (reproducible).
    llm::ToolCallParser p(fmt, opts);
    std::string content;
    std::vector<llm::ToolCall> calls;
    const size_t step = 1 + (data[0] >> 3) % 8;
    for (size_t i = 0, k = 0; i < text.size(); ++k) {
        const size_t n = std::min(text.size() - i, (data[0] >> 3) >= 24 ? 1 + static_cast<uint8_t>(text[k % text.size()]) % 8 : step);
        const llm::ToolDelta d = p.push(std::string_view(text).substr(i, n));
        i += n;
        content += d.content;
        for (const auto& c : d.calls) {
            if (c.index == static_cast<int>(calls.size())) {
                if (c.name.empty() || c.id.empty()) std::abort();  // a call's first delta names it
                calls.push_back({c.id, c.name, ""});
            } else if (c.index > static_cast<int>(calls.size()) || !c.name.empty() || !c.id.empty()) {
                std::abort();
            }
            if (c.index < static_cast<int>(calls.size())) calls[c.index].arguments += c.arguments;
        }
    }
    const llm::ToolParseResult fin = p.finish();
    content += fin.unstreamed_content;
    // Malformed output (the whole-text parse warns) may be split differently between text and calls when it
    // arrives in pieces: the parser promises only that it never crashes or hangs on it. Well-formed output must
    // come out the same streamed as whole.
    if (whole.warning.empty()) {
        if (content != whole.content || fin.content != whole.content || !fin.warning.empty()) std::abort();
        if (fin.calls.size() != whole.calls.size()) std::abort();
        for (size_t i = 0; i < fin.calls.size(); ++i)
            if (fin.calls[i].name != whole.calls[i].name || fin.calls[i].arguments != whole.calls[i].arguments)
                std::abort();
        if (calls.size() != fin.calls.size()) std::abort();
        for (size_t i = 0; i < calls.size(); ++i)
            if (calls[i].name != fin.calls[i].name || calls[i].id != fin.calls[i].id || calls[i].arguments != fin.calls[i].arguments)
                std::abort();
    }
    return 0;
}
