// Tool calls for every model family: tools rendered into the prompt through the model's own chat template,
// the family's call syntax as a token constraint (forced from the first token, or lazy: off until the model
// starts a call), and a streaming parser that turns the model's text into content and tool-call deltas.
//
//   ToolFormat fmt = detect_tool_format(tok.chat_template());             // once per model
//   auto vocab = tool_vocab(tok, fmt);                                     // once per model (shareable)
//   auto tools = parse_tools(body["tools"]).value();                       // per request
//   std::string prompt = render_tool_prompt(tmpl, fmt, body["messages"], tools, topts).value();
//   request.constraint = make_tool_constraint(fmt, tools, choice, vocab).value();  // nullptr for None
//   ToolCallParser parser(fmt, {.tool_names = names_of(tools)});
//   on each token:  ToolDelta d = parser.push(text_of_token);   // special tokens as their text (see below)
//                   send d.content, then each d.calls[i] (index; id + name on a call's first delta; arguments)
//   at the end:     ToolParseResult r = parser.finish();        // send r.unstreamed_content; r.calls, r.warning
//
// The formats (what the model is asked to write and what the constraint enforces):
//   Generic    {"tool_calls": [{"name": "f", "arguments": {...}}, ...]}       templates without tool support
//                                                                            (SmolLM2, Phi-3, Llama 3.0, ...)
//   Llama3     {"name": "f", "parameters": {...}}, optionally after <|python_tag|>; one call per turn
//   Hermes     <tool_call>\n{"name": "f", "arguments": {...}}\n</tool_call>, repeated for parallel calls
//              (Hermes 2 Pro / 3, Qwen 2.5, Qwen 3)
//   MistralV3  [TOOL_CALLS] [{"name": "f", "arguments": {...}}, ...]          (Mistral 7B v0.3, Nemo, ...)
// The parser is lenient where the constraint is strict: any whitespace between JSON tokens, keys in any
// order, "arguments" or "parameters", arguments given as a JSON string holding JSON.
//
// Text fed to the parser must show the format's special tokens as their text ("<tool_call>", "[TOOL_CALLS]",
// "<|python_tag|>"): decode with StreamDecoder(tok, /*unparse_special=*/true) or Tokenizer::token_to_piece.
// Output that does not parse (a malformed or cut-off call, an unknown tool name) comes back as content with a
// warning, never as an error. A call whose name was already streamed when its text turned out malformed
// stays streamed (its text is also in the content; a client that cannot take that back waits for
// ToolDelta::calls_parsed, as llm-serve does); a constrained run only ends that way when cut by the token limit.
#pragma once
#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.hpp"
#include "runtime/sampler.hpp"  // TokenConstraint (header only)

namespace llm {

class ChatTemplate;
struct ChatTemplateOptions;
class Tokenizer;
struct VocabTrie;

enum class ToolFormat { Generic, Llama3, Hermes, MistralV3 };
const char* tool_format_name(ToolFormat f);  // "generic", "llama3", "hermes", "mistral"
// From the chat template's source: [TOOL_CALLS]/[AVAILABLE_TOOLS] -> MistralV3, <tool_call> -> Hermes,
// <|python_tag|> or a Llama 3 header template that reads `tools` -> Llama3, anything else -> Generic.
ToolFormat detect_tool_format(std::string_view chat_template);

struct ToolSpec {
    std::string name;
    std::string description;
    nlohmann::ordered_json parameters;  // JSON schema of the arguments object
    nlohmann::ordered_json raw;         // the tool as the client sent it (what native templates see)
};

// OpenAI `tools` ([{"type": "function", "function": {"name", "description", "parameters"}}]) or Anthropic
// `tools` ([{"name", "description", "input_schema"}]), in either shape per item. Errors name the item and
// field ("tools[2].function.name: expected a non-empty string"). Missing parameters = an object without
// properties.
Expected<std::vector<ToolSpec>> parse_tools(const nlohmann::ordered_json& tools);

enum class ToolChoiceMode { None, Auto, Required, Named };
struct ToolChoice {
    ToolChoiceMode mode = ToolChoiceMode::Auto;
    std::string name;       // Named: the tool that must be called (exactly one call)
    bool parallel = true;   // Auto / Required: several calls in one turn where the format allows it
};

// The prompt for `messages` (OpenAI-shaped JSON: role, content as a string, null or text parts, tool_calls
// with function.arguments as a JSON string or object, tool_call_id, name) with `tools`.
// Native formats: the template renders the tools itself (it gets `tools` = each tool's `raw` JSON in OpenAI
// shape) and the arguments of earlier calls as objects. Generic: the template gets no `tools`; instead the
// tool list and the call syntax are appended to the system message (one is added first when there is none),
// earlier calls become assistant text in the call syntax and tool results become user messages
// {"tool_response": {"name": ..., "content": ...}}. No tools: the messages as they are.
Expected<std::string> render_tool_prompt(const ChatTemplate& tmpl, ToolFormat fmt, const nlohmann::ordered_json& messages,
                                         const std::vector<ToolSpec>& tools, const ChatTemplateOptions& options);
// The text Generic appends to the system message (exposed for tests and for llm-run --print-prompt).
std::string generic_tool_instructions(const std::vector<ToolSpec>& tools);

// GBNF of the call syntax for `choice` (Auto and Required: any of the tools; Named: that one, once), from
// the output's first byte. An unknown tool name or no tools is an error. An argument schema the compiler
// cannot enforce whole is relaxed, not refused: each keyword (or allOf part) it refuses is left out of the
// grammar, reported once on stderr ("tools[get_weather].parameters: /properties/x/uniqueItems: ...: not
// enforced while decoding its calls"), so clients whose tools use such keywords (Claude Code's do) still get
// their calls, and the rest of the schema still constrains them.
Expected<std::string> tool_call_grammar(ToolFormat fmt, const std::vector<ToolSpec>& tools, const ToolChoice& choice);

// The model's vocabulary for tool constraints: VocabTrie::from_tokenizer plus the format's special tokens
// (<tool_call>, </tool_call>, [TOOL_CALLS], <|python_tag|>) as their text, so the grammar can emit them.
std::shared_ptr<const VocabTrie> tool_vocab(const Tokenizer& tok, ToolFormat fmt);

// None: nullptr (no constraint). Required / Named: the call syntax from the first token. Auto: free text
// until the model writes the format's call prefix (see find_tool_trigger), then the call syntax from that
// prefix to the end of generation (more calls where parallel, then only end of generation). A lazy
// constraint whose trigger text does not continue the grammar lets the rest go free (the parser then
// returns it as text with a warning). Compiled grammars are kept (the 16 most recent, by grammar and
// vocabulary): requests with the same tools and choice share the grammar and its mask caches.
Expected<std::shared_ptr<TokenConstraint>> make_tool_constraint(ToolFormat fmt, const std::vector<ToolSpec>& tools,
                                                                const ToolChoice& choice,
                                                                std::shared_ptr<const VocabTrie> vocab);

// Where a call starts in text[from..]: the first match of the format's prefix ({ "tool_calls" for Generic,
// { "name" or <|python_tag|> for Llama3, <tool_call>, [TOOL_CALLS]; whitespace allowed between JSON
// tokens). `partial` is set to where a match could still begin once more text arrives (npos if nowhere).
struct TriggerMatch {
    size_t start = std::string::npos;  // npos: no complete trigger
    size_t partial = std::string::npos;
};
TriggerMatch find_tool_trigger(ToolFormat fmt, std::string_view text, size_t from = 0);

// ---- the parser ---------------------------------------------------------------------------------

struct ToolCallDelta {
    int index = 0;          // 0, 1, ... in the order the calls start
    std::string id;         // set on a call's first delta only
    std::string name;       // set on a call's first delta only
    std::string arguments;  // the next fragment of the arguments JSON text (may be empty)
};

struct ToolDelta {
    std::string content;               // text for the user, streamed before the calls of this delta
    std::vector<ToolCallDelta> calls;
    // Calls parsed so far, counting earlier deltas: calls 0..calls_parsed-1 are final (all their fragments are
    // out). A call announced beyond them may still turn out malformed (then it and the rest come back as text).
    size_t calls_parsed = 0;
};

struct ToolCall {
    std::string id, name;
    std::string arguments;  // JSON text of the arguments object: the concatenation of its deltas
};

struct ToolParseResult {
    std::string content;             // all text outside the calls that parsed
    std::vector<ToolCall> calls;     // the calls that parsed, in order
    std::string warning;             // non-empty when some text looked like a call but did not parse
    std::string unstreamed_content;  // the end of `content` that push() held back (a possible call prefix)
};

struct ToolParserOptions {
    std::vector<std::string> tool_names;  // when not empty, a call to another name is not a call (warning)
    uint64_t id_seed = 0;                 // call ids are drawn from this seed: runs reproduce
};

class ToolCallParser {
public:
    explicit ToolCallParser(ToolFormat fmt, ToolParserOptions opts = {});
    // Feeds the next piece of generated text; returns what is now certain.
    ToolDelta push(std::string_view text);
    // Ends the text: whatever is still open is resolved (an open call is cut off: text with a warning).
    ToolParseResult finish();

private:
    struct OpenCall {
        bool announced = false;
        int index = 0;
        std::string id, name;
        size_t streamed = 0;  // bytes of the arguments text sent so far
    };
    void advance(bool final, ToolDelta& out);
    std::string next_id();

    ToolFormat fmt_;
    ToolParserOptions opts_;
    std::string buf_;
    size_t pos_ = 0;               // everything before pos_ is resolved
    bool in_call_ = false;         // a call region starts at pos_
    bool failed_ = false;          // after a parse failure the rest is text
    bool after_call_ = false;      // whitespace right after a call is dropped
    std::vector<OpenCall> open_;   // calls of the current region
    ToolParseResult result_;
    uint64_t rng_;
    int n_announced_ = 0;
};

// The whole text at once (non-streaming answers): finish() of a parser fed `text`.
ToolParseResult parse_tool_calls(ToolFormat fmt, std::string_view text, const ToolParserOptions& opts = {});

}  // namespace llm
