// libFuzzer target for llm-serve's request handling before any model runs: a body as a client sends it, through
// the body checks (UTF-8, depth, string sizes, JSON), then every API's converter (OpenAI chat, completions and
// embeddings; Anthropic messages and count_tokens), then, for a chat that carries tools or tool history, the tool
// prompt renderer in every tool format over a chat template that reads tools and tool calls. The first byte picks
// the body limits. Errors must be 4xx with a message and render in both APIs' error shapes; an accepted request
// must be one the server can run (a completion has a prompt, a named tool choice names one of the tools). Never a crash, a hang, an
// exception or a sanitizer report.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>

#include "constrain/tool_calls.hpp"
#include "server/anthropic_request.hpp"
#include "server/json_body.hpp"
#include "server/openai_request.hpp"
#include "tokenizer/chat/chat_template.hpp"

namespace {

using llm::server::ApiError;
using llm::server::ApiRequest;
using llm::server::Json;

// A Hermes-style template (as Qwen 2.5's): tools in the system turn, calls and results in the history.
constexpr std::string_view kTemplate = R"({%- if tools %}<|im_start|>system
{% for t in tools %}{{ t | tojson }}
{% endfor %}<|im_end|>
{% endif %}{%- for m in messages %}<|im_start|>{{ m.role }}
{% if m.content is string %}{{ m.content }}{% elif m.content %}{% for p in m.content %}{{ p.text }}{% endfor %}{% endif %}
{%- if m.tool_calls %}{% for c in m.tool_calls %}<tool_call>
{"name": "{{ c.function.name }}", "arguments": {{ c.function.arguments | tojson }}}
</tool_call>{% endfor %}{% endif %}<|im_end|>
{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant
{% endif %})";

void check_error(const ApiError& e) {
    if (e.status < 400 || e.status > 499 || e.message.empty()) std::abort();
    (void)llm::server::dump_json(llm::server::openai_error_body(e));
    (void)llm::server::dump_json(llm::server::anthropic_error_body(e, "req-fuzz"));
}

void check_accepted(const ApiRequest& r) {
    if (r.tool_prompt && !r.messages_json.is_array()) std::abort();
    if (r.kind == llm::server::ApiKind::Completion && (r.prompt_is_tokens ? r.prompt_tokens.empty() : r.prompt.empty()))
        std::abort();
    if (r.max_tokens < -1 || r.top_logprobs < -1) std::abort();
    if (r.tool_choice.mode == llm::ToolChoiceMode::Named) {  // a named tool is one of the tools
        bool known = false;
        for (const llm::ToolSpec& t : r.tools) known |= t.name == r.tool_choice.name;
        if (!known) std::abort();
    }
}

void render_tools(const ApiRequest& r) {
    static const auto tmpl = llm::ChatTemplate::parse(kTemplate);
    if (!tmpl) std::abort();  // the template above must parse
    llm::ChatTemplateOptions o;
    o.max_output_bytes = 1 << 18;
    o.max_steps = 200000;
    for (llm::ToolFormat f : {llm::ToolFormat::Generic, llm::ToolFormat::Hermes, llm::ToolFormat::Llama3,
                              llm::ToolFormat::MistralV3}) {
        (void)llm::render_tool_prompt(*tmpl, f, r.messages_json, r.tools, o);  // an error is fine, a crash is not
    }
}

template <class Parse>
void convert(const Json& body, Parse parse) {
    ApiRequest r;
    if (std::optional<ApiError> e = parse(body, r)) {
        check_error(*e);
        return;
    }
    check_accepted(r);
    if (r.tool_prompt) render_tools(r);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size == 0 || size > (256u << 10)) return 0;
    llm::server::JsonLimits limits;
    if (data[0] & 1) limits.max_depth = 8;
    if (data[0] & 2) limits.max_string_bytes = 64;
    const std::string_view text(reinterpret_cast<const char*>(data + 1), size - 1);
    Json body;
    if (std::optional<ApiError> e = llm::server::parse_json_body(text, limits, body)) {
        check_error(*e);
        return 0;
    }
    if (!body.is_object()) std::abort();  // a body that is not an object is a 400
    convert(body, [](const Json& b, ApiRequest& r) { return llm::server::parse_chat_request(b, r); });
    convert(body, [](const Json& b, ApiRequest& r) { return llm::server::parse_completion_request(b, r); });
    convert(body, [](const Json& b, ApiRequest& r) { return llm::server::parse_messages_request(b, r, false); });
    convert(body, [](const Json& b, ApiRequest& r) { return llm::server::parse_messages_request(b, r, true); });
    llm::server::EmbeddingRequest emb;
    if (std::optional<ApiError> e = llm::server::parse_embedding_request(body, emb)) check_error(*e);
    else if (emb.texts.empty() && emb.token_lists.empty()) std::abort();
    return 0;
}
