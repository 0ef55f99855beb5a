// Tool calls, the decoding side: each family's call syntax as one JSON schema (the tools' argument schemas
// under $defs, their local $refs rewritten to point there) compiled to GBNF and wrapped in the family's
// literal prefix; forced choices constrain from the first token, Auto through a lazy constraint.
#include <algorithm>
#include <cstdio>
#include <list>
#include <mutex>
#include <optional>
#include <set>

#include "constrain/constraint.hpp"
#include "constrain/json_schema.hpp"
#include "constrain/tool_calls.hpp"
#include "tokenizer/tokenizer.hpp"

namespace llm {
namespace {

using json = nlohmann::ordered_json;

// Local references of a schema moved under #/$defs/<def> (so "#/$defs/x" -> "#/$defs/<def>/$defs/x").
void rebase_refs(json& s, const std::string& def) {
    if (s.is_object()) {
        for (auto& [k, v] : s.items()) {
            if (k == "$ref" && v.is_string()) {
                const std::string ref = v.get<std::string>();
                if (!ref.empty() && ref[0] == '#') v = "#/$defs/" + def + ref.substr(1);
            } else {
                rebase_refs(v, def);
            }
        }
    } else if (s.is_array()) {
        for (auto& v : s) rebase_refs(v, def);
    }
}

const char* arguments_key(ToolFormat fmt) { return fmt == ToolFormat::Llama3 ? "parameters" : "arguments"; }

// The JSON pointer a schema compiler error names: at the start ("/properties/x/pattern: ...") or after " at "
// ("unsupported keyword 'uniqueItems' at /properties/tags/uniqueItems"); "/" alone is the root.
std::optional<std::string> error_pointer(const std::string& message) {
    size_t at = message.rfind('/', 0) == 0 ? 0 : message.find(" at /");
    if (at == std::string::npos) return std::nullopt;
    if (at != 0) at += 4;
    const size_t end = std::min(message.find(": ", at), message.find(" (", at));  // property names may hold spaces
    std::string ptr = message.substr(at, end == std::string::npos ? std::string::npos : end - at);
    return ptr == "/" ? std::string() : ptr;
}

// Removes the constraint a compiler error points at: a keyword is erased; a schema inside a list (allOf/1) or
// a map of schemas (properties/x, $defs/x) becomes the schema that accepts everything. False when the pointer
// names nothing that can be removed.
bool remove_constraint(json& schema, const std::string& ptr) {
    if (ptr.empty()) return false;
    try {
        const json::json_pointer p(ptr);
        const json::json_pointer up = p.parent_pointer();
        json& parent = schema.at(up);
        const bool schema_map = !up.empty() && (up.back() == "properties" || up.back() == "$defs" ||
                                                up.back() == "definitions" || up.back() == "dependentSchemas");
        json& node = schema.at(p);
        if (parent.is_array() || schema_map) {
            if (node == json::object()) return false;
            node = json::object();
            return true;
        }
        if (parent.is_object()) {
            parent.erase(p.back());
            return true;
        }
    } catch (const std::exception&) {
    }
    return false;
}

// Once per distinct message: llm-serve sends the same tools with every request of a conversation.
void warn_once(const std::string& message) {
    static std::mutex mu;
    static std::set<std::string> said;
    std::lock_guard lock(mu);
    if (said.size() < 1024 && said.insert(message).second) std::fprintf(stderr, "llm: %s\n", message.c_str());
}

// A tool's argument schema as the call grammar enforces it. Clients send their tools' schemas whatever the
// server can enforce (Claude Code's carry allOf with two patterns, uniqueItems, ...), and one tool the grammar
// cannot enforce must not make every call impossible: each constraint the compiler refuses is removed (the
// keyword, or the allOf part, its error points at) until the schema compiles, so the grammar accepts a superset
// of the schema's arguments (the rest still constrained: names, types, required properties); when no pointer
// helps, the arguments are any JSON object. Each relaxation is reported once on stderr. response_format
// schemas stay strict (an error naming the keyword).
json enforceable_parameters(const ToolSpec& tool) {
    json params = tool.parameters;
    for (int round = 0; round < 64; ++round) {
        auto one = json_schema_value_to_gbnf(params, tool_arguments_schema_options());
        if (one) return params;
        const std::string message = one.error_message();
        const auto ptr = error_pointer(message);
        if (!ptr || !remove_constraint(params, *ptr)) break;
        warn_once(fmt::format("tools[{}].parameters: {}: not enforced while decoding its calls", tool.name, message));
    }
    warn_once(fmt::format("tools[{}].parameters: not enforceable; its calls' arguments are constrained to a JSON object",
                          tool.name));
    return json{{"type", "object"}};
}

// The schema of the format's JSON part (without literal prefixes) for the allowed tools.
Expected<json> call_schema(ToolFormat fmt, const std::vector<ToolSpec>& tools, const ToolChoice& choice, bool& multi) {
    std::vector<const ToolSpec*> allowed;
    if (choice.mode == ToolChoiceMode::Named) {
        for (const auto& t : tools)
            if (t.name == choice.name) allowed.push_back(&t);
        if (allowed.empty()) return error("tool_choice: no tool named '{}'", choice.name);
    } else {
        for (const auto& t : tools) allowed.push_back(&t);
    }
    if (allowed.empty()) return error("tool_choice: no tools to call");
    json defs = json::object();
    json calls = json::array();
    for (size_t i = 0; i < allowed.size(); ++i) {
        const std::string def = fmt::format("tool-{}", i);
        json params = enforceable_parameters(*allowed[i]);
        rebase_refs(params, def);
        defs[def] = std::move(params);
        calls.push_back({{"type", "object"},
                         {"properties", {{"name", {{"const", allowed[i]->name}}}, {arguments_key(fmt), {{"$ref", "#/$defs/" + def}}}}},
                         {"required", {"name", arguments_key(fmt)}},
                         {"additionalProperties", false}});
    }
    json item = calls.size() == 1 ? calls[0] : json{{"anyOf", calls}};
    multi = choice.mode != ToolChoiceMode::Named && choice.parallel && fmt != ToolFormat::Llama3;
    json list = {{"type", "array"}, {"items", item}, {"minItems", 1}};
    if (!multi) list["maxItems"] = 1;
    json root;
    switch (fmt) {
        case ToolFormat::Generic:
            root = {{"type", "object"}, {"properties", {{"tool_calls", list}}}, {"required", {"tool_calls"}}, {"additionalProperties", false}};
            break;
        case ToolFormat::MistralV3: root = list; break;
        default: root = item; break;
    }
    root["$defs"] = std::move(defs);
    return root;
}

// A lazy constraint: every token allowed until the text so far holds the format's call prefix, then the
// call grammar, fed from the start of that prefix.
class LazyToolConstraint final : public TokenConstraint {
public:
    LazyToolConstraint(ToolFormat fmt, std::shared_ptr<GrammarConstraint> inner, std::shared_ptr<const VocabTrie> vocab)
        : fmt_(fmt), inner_(std::move(inner)), vocab_(std::move(vocab)) {
        all_.assign((static_cast<size_t>(vocab_->n_vocab) + 63) / 64, ~uint64_t{0});
        if (vocab_->n_vocab % 64) all_.back() = (uint64_t{1} << (vocab_->n_vocab % 64)) - 1;
    }

    Expected<std::span<const uint64_t>> allowed_tokens() override {
        if (phase_ == Phase::Active) return inner_->allowed_tokens();
        return std::span<const uint64_t>(all_);
    }

    Status accept(int32_t token) override {
        if (phase_ == Phase::Active) return inner_->accept(token);
        if (phase_ == Phase::Off || token < 0 || token >= vocab_->n_vocab) return {};
        const uint32_t node = vocab_->node_of_token[token];
        if (node == VocabTrie::kNoNode) return {};  // special tokens are not text
        text_ += vocab_->bytes_of(node);
        const TriggerMatch m = find_tool_trigger(fmt_, text_, scan_from_);
        if (m.start == std::string::npos) {
            scan_from_ = m.partial == std::string::npos ? text_.size() : m.partial;
            return {};
        }
        // The grammar starts at the prefix; text it cannot continue leaves the output free (parsed as text).
        phase_ = inner_->accept_text(std::string_view(text_).substr(m.start)) ? Phase::Active : Phase::Off;
        return {};
    }

    bool is_complete() const override { return phase_ != Phase::Active || inner_->is_complete(); }

    void reset() override {
        phase_ = Phase::Free;
        text_.clear();
        scan_from_ = 0;
        inner_->reset();
    }

private:
    enum class Phase { Free, Active, Off };
    ToolFormat fmt_;
    std::shared_ptr<GrammarConstraint> inner_;
    std::shared_ptr<const VocabTrie> vocab_;
    std::vector<uint64_t> all_;
    Phase phase_ = Phase::Free;
    std::string text_;
    size_t scan_from_ = 0;
};

// Compiled call grammars by (GBNF text, vocabulary), most recent first: requests with the same tools and
// choice share one grammar graph and its mask caches (a fork each), so only the first request pays for
// compiling and for the first classifications. The entry holds the vocabulary, so its address stays unique.
struct PrototypeCache {
    struct Entry {
        std::string gbnf;
        std::shared_ptr<const VocabTrie> vocab;
        std::shared_ptr<GrammarConstraint> proto;
    };
    static constexpr size_t kEntries = 16;
    std::mutex mu;
    std::list<Entry> entries;

    Expected<std::shared_ptr<GrammarConstraint>> get(const std::string& gbnf, const std::shared_ptr<const VocabTrie>& vocab) {
        {
            std::lock_guard lock(mu);
            for (auto it = entries.begin(); it != entries.end(); ++it) {
                if (it->vocab != vocab || it->gbnf != gbnf) continue;
                entries.splice(entries.begin(), entries, it);
                return it->proto->fork();
            }
        }
        auto grammar = parse_gbnf(gbnf);
        if (!grammar) return error("tool calls (generated grammar): {}", grammar.error_message());
        auto c = GrammarConstraint::create(*grammar, vocab);
        if (!c) return c.status();
        std::lock_guard lock(mu);
        entries.push_front({gbnf, vocab, *c});
        if (entries.size() > kEntries) entries.pop_back();
        return (*c)->fork();
    }
};

PrototypeCache& prototypes() {
    static PrototypeCache cache;
    return cache;
}

}  // namespace

Expected<std::string> tool_call_grammar(ToolFormat fmt, const std::vector<ToolSpec>& tools, const ToolChoice& choice) {
    bool multi = false;
    auto schema = call_schema(fmt, tools, choice, multi);
    if (!schema) return schema.status();
    auto body = json_schema_value_to_gbnf(*schema, tool_arguments_schema_options());
    if (!body) return error("tool calls: {}", body.error_message());
    if (fmt == ToolFormat::Generic) return *body;
    // Rename the schema's start rule (rules start lines) and put the family's literals around it.
    std::string g = *body;
    size_t at = g.rfind("root ::=", 0) == 0 ? 0 : g.find("\nroot ::=");
    if (at != std::string::npos && at != 0) ++at;
    if (at == std::string::npos) return error("tool calls: internal: no root rule in the compiled schema");
    g.replace(at, 4, "tc-body");
    switch (fmt) {
        case ToolFormat::MistralV3: g += "\nroot ::= \"[TOOL_CALLS]\" \" \"? tc-body\n"; break;
        case ToolFormat::Llama3: g += "\nroot ::= \"<|python_tag|>\"? tc-body\n"; break;
        case ToolFormat::Hermes:
            g += "\ntc-one ::= \"<tool_call>\\n\" tc-body \"\\n</tool_call>\"\n";
            g += multi ? "root ::= tc-one (\"\\n\" tc-one)*\n" : "root ::= tc-one\n";
            break;
        default: break;
    }
    return g;
}

std::shared_ptr<const VocabTrie> tool_vocab(const Tokenizer& tok, ToolFormat fmt) {
    std::vector<std::string_view> texts;
    switch (fmt) {
        case ToolFormat::Hermes: texts = {"<tool_call>", "</tool_call>"}; break;
        case ToolFormat::MistralV3: texts = {"[TOOL_CALLS]"}; break;
        case ToolFormat::Llama3: texts = {"<|python_tag|>"}; break;
        default: break;
    }
    std::vector<int32_t> ids;
    for (auto t : texts)
        if (int32_t id = tok.find_token(t); id >= 0 && !tok.is_end_of_generation(id)) ids.push_back(id);
    return VocabTrie::from_tokenizer(tok, ids);
}

Expected<std::shared_ptr<TokenConstraint>> make_tool_constraint(ToolFormat fmt, const std::vector<ToolSpec>& tools,
                                                                const ToolChoice& choice,
                                                                std::shared_ptr<const VocabTrie> vocab) {
    if (choice.mode == ToolChoiceMode::None) return std::shared_ptr<TokenConstraint>();
    if (!vocab) return error("tool calls: no vocabulary");
    auto gbnf = tool_call_grammar(fmt, tools, choice);
    if (!gbnf) return gbnf.status();
    auto c = prototypes().get(*gbnf, vocab);
    if (!c) return c.status();
    if (choice.mode != ToolChoiceMode::Auto) return std::shared_ptr<TokenConstraint>(*c);
    return std::shared_ptr<TokenConstraint>(std::make_shared<LazyToolConstraint>(fmt, *c, vocab));
}

}  // namespace llm
