// libFuzzer target for the JSON Schema compiler alone (JSON text -> GBNF): the first byte picks the options
// (compact, default bounds, tight bounds or none), the rest is the schema. A schema that does not compile is a
// one-line error; one that compiles yields a grammar the GBNF parser accepts (within its size limits) whose
// random sentences are JSON the matcher accepts. Never a crash, a hang or unbounded memory.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <string>

#include "constrain/byte_program.hpp"
#include "constrain/grammar.hpp"
#include "constrain/grammar_sampler.hpp"
#include "constrain/json_schema.hpp"
#include "constrain/matcher.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size == 0 || size > 8192) return 0;
    const std::string_view text(reinterpret_cast<const char*>(data + 1), size - 1);
    llm::JsonSchemaOptions opts;
    opts.compact = data[0] & 1;
    switch ((data[0] >> 1) % 4) {
        case 0: break;  // the defaults
        case 1:         // tight bounds
            opts.max_string_length = 3, opts.max_items = 2, opts.max_properties = 2, opts.max_recursion = 1,
            opts.max_value_depth = 1, opts.max_indent = 2;
            break;
        case 2:  // unbounded (recursion, free-form nesting and repetition as the schema says)
            opts.max_string_length = opts.max_items = opts.max_properties = opts.max_recursion = opts.max_value_depth = 0;
            break;
        default: opts = llm::tool_arguments_schema_options(); break;
    }
    auto gbnf = llm::json_schema_to_gbnf(text, opts);
    if (!gbnf) {
        const std::string msg = gbnf.error_message();
        if (msg.empty()) std::abort();
        return 0;
    }
    llm::GbnfLimits lim;
    lim.max_symbols = 200000, lim.max_repetition = 300;  // above the default bounds, below sentences of megabytes
    auto g = llm::parse_gbnf(*gbnf, lim);  // may fail: left recursion when unbounded ({"$ref": "#"}), the limits
    if (!g) return 0;
    llm::MatcherLimits ml;
    ml.max_nodes = 1 << 16, ml.max_states = 1 << 12, ml.max_stacks = 256;
    auto graph = std::make_shared<llm::GrammarGraph>(llm::compile_bytes(*g), ml);
    llm::GrammarSampler sampler(*g, size);
    for (int i = 0; i < 3; ++i) {
        const std::string s = sampler.sentence(48, 12);
        llm::GrammarMatcher m(graph);
        const bool ok = m.accept_bytes(s) && m.is_accepting();
        std::lock_guard lock(graph->mutex());
        if (!ok && graph->failure().empty()) std::abort();  // a sentence the matcher rejects (limits aside)
        if (!nlohmann::json::accept(s)) std::abort();
    }
    return 0;
}
