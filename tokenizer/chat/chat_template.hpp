// The library side of chat templates (ChatTemplate is public: include/llm/chat.hpp): rendering messages and tools
// that are already parsed JSON values (the server and the tool-call prompts build them).
#pragma once
#include <nlohmann/json_fwd.hpp>

#include "core/status.hpp"
#include "llm/chat.hpp"

namespace llm {

// ChatTemplate::render_json for parsed values: `tools` may be null (no tools). Numbers: integers stay ints,
// others are floats.
Expected<std::string> render_chat_json(const ChatTemplate& tmpl, const nlohmann::ordered_json& messages,
                                       const nlohmann::ordered_json* tools, const ChatTemplateOptions& options);

}  // namespace llm
