// The validity run of issue 15: SmolLM2 generates under every schema of tests/constrain/data/validity_schemas.json,
// greedy and seeded, up to --max-tokens new tokens, --parallel runs at once through the serving engine (numerics
// invariant: a run's tokens do not depend on what shares its steps); writes one JSON object per run, in schema
// order (text, stop reason, tokens, whether a cut output is a valid prefix by the byte matcher) for
// bench/schema_validity.py, which validates the outputs with Python's jsonschema and prints the figures.
// usage: schema_validity [--model M.gguf] [--schemas FILE] [--out FILE] [--max-tokens 512] [--limit N] [--every K]
//                        [--modes greedy,seeded] [--threads 2] [--parallel 16]
// Exit 77 when SmolLM2 is not there (the test command skips the run).
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "constrain/constraint.hpp"
#include "constrain/json_schema.hpp"
#include "llm/engine.hpp"
#include "llm/llm.hpp"
#include "runtime/sampler.hpp"
#include "tokenizer/chat/chat_template.hpp"
#include "tokenizer/tokenizer.hpp"

using json = nlohmann::ordered_json;

namespace {

std::string find_smollm2() {
    const char* home = std::getenv("HOME");
    const std::filesystem::path root = std::filesystem::path(home ? home : "/root") / ".cache/llm/smollm2";
    std::error_code ec;
    for (auto it = std::filesystem::recursive_directory_iterator(root, ec); !ec && it != std::filesystem::recursive_directory_iterator();
         it.increment(ec))
        if (it->path().extension() == ".gguf") return it->path().string();
    return {};
}

double ms_since(std::chrono::steady_clock::time_point t) {
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t).count();
}

// One generation: a schema in one mode. rec is filled when it is done (or at once for a schema that does not compile).
struct Run {
    std::string name, mode = {};
    size_t schema_index = 0;
    double compile_ms = 0;
    std::shared_ptr<const std::vector<int32_t>> prompt = {};
    std::shared_ptr<llm::GrammarConstraint> constraint = {};
    std::optional<json> rec;
};

std::string prompt_text(const json& s, const std::string& name) {
    std::string schema_text = s["schema"].dump();
    if (schema_text.size() > 1500) schema_text = schema_text.substr(0, 1500) + "...";
    const std::string base = name.substr(name.find('/') == std::string::npos ? 0 : name.find('/') + 1);
    return "Write a realistic example of " + base + " as JSON following this JSON schema:\n" + schema_text;
}

json done_record(const Run& run, const llm::RequestResult& r) {
    json rec = {{"name", run.name}, {"mode", run.mode}, {"compile_ms", run.compile_ms}};
    if (!r.status.ok()) {
        rec["error"] = r.status.message();
        return rec;
    }
    llm::GrammarMatcher m(run.constraint->matcher().graph());  // a fresh matcher: is the text a prefix, or whole?
    const bool prefix_ok = m.accept_bytes(r.text);
    rec.update({{"stop", llm::stop_reason_name(r.stop_reason)}, {"ended", r.stop_reason == llm::StopReason::EndOfGeneration},
                {"n_tokens", r.tokens.size()}, {"generate_ms", r.generate_ms}, {"prefix_ok", prefix_ok},
                {"complete", prefix_ok && m.is_accepting()}, {"text", r.text}});
    return rec;
}

}  // namespace

int main(int argc, char** argv) {
    std::string model_path = find_smollm2();
    std::string schemas_path = "tests/constrain/data/validity_schemas.json";  // run from the repository root
    std::string out_path = "schema_validity.jsonl";
    int max_tokens = 512, limit = 1 << 30, every = 1, threads = 2, parallel = 16;
    std::string modes = "greedy,seeded";
    for (int a = 1; a + 1 < argc; a += 2) {
        const std::string k = argv[a], v = argv[a + 1];
        if (k == "--model") model_path = v;
        else if (k == "--schemas") schemas_path = v;
        else if (k == "--out") out_path = v;
        else if (k == "--max-tokens") max_tokens = std::stoi(v);
        else if (k == "--limit") limit = std::stoi(v);
        else if (k == "--every") every = std::max(1, std::stoi(v));
        else if (k == "--threads") threads = std::stoi(v);
        else if (k == "--parallel") parallel = std::stoi(v);
        else if (k == "--modes") modes = v;
        else return std::fprintf(stderr, "schema_validity: unknown option %s\n", k.c_str()), 2;
    }
    if (model_path.empty())
        return std::fprintf(stderr, "schema_validity: no model (run scripts/fetch-smollm2.sh)\n"), 77;
    if (modes != "greedy" && modes != "seeded" && modes != "greedy,seeded")
        return std::fprintf(stderr, "schema_validity: --modes must be greedy, seeded or greedy,seeded\n"), 2;
    if (parallel < 1 || parallel > 256) return std::fprintf(stderr, "schema_validity: --parallel must be 1..256\n"), 2;
    llm::LoadOptions lo;
    lo.n_threads = threads;
    auto model = llm::Model::load(model_path, lo);
    if (!model) return std::fprintf(stderr, "%s\n", model.error_message().c_str()), 1;
    const llm::Tokenizer& tok = *(*model)->tokenizer();
    auto tmpl = llm::ChatTemplate::parse(tok.chat_template());
    if (!tmpl) return std::fprintf(stderr, "%s\n", tmpl.error_message().c_str()), 1;
    auto vocab = llm::VocabTrie::from_tokenizer(tok);
    std::ifstream f(schemas_path);
    const json schemas = json::parse(f)["schemas"];
    llm::ChatTemplateOptions topts;
    topts.bos_token = tok.bos_text(), topts.eos_token = tok.eos_text();

    // Compile every schema and render its prompt first; the runs then go through the engine in schema order.
    std::vector<Run> runs;
    int done = 0;
    for (size_t idx = 0; idx < schemas.size() && done < limit; idx += every, ++done) {
        const json& s = schemas[idx];
        const std::string name = s["name"];
        const auto t0 = std::chrono::steady_clock::now();
        auto gbnf = llm::json_schema_value_to_gbnf(s["schema"]);
        llm::Expected<llm::Grammar> grammar = gbnf ? llm::parse_gbnf(*gbnf) : llm::Expected<llm::Grammar>(gbnf.status());
        auto proto = grammar ? llm::GrammarConstraint::create(*grammar, vocab)
                             : llm::Expected<std::shared_ptr<llm::GrammarConstraint>>(grammar.status());
        const double compile_ms = ms_since(t0);
        if (!proto) {
            runs.push_back({.name = name, .rec = json{{"name", name}, {"compile_error", proto.error_message()}}});
            std::printf("%-40s cannot compile: %s\n", name.c_str(), proto.error_message().c_str());
            continue;
        }
        const json messages = json::array({{{"role", "system"}, {"content", "You reply with one JSON value and nothing else."}},
                                           {{"role", "user"}, {"content", prompt_text(s, name)}}});
        auto prompt = render_chat_json(*tmpl, messages, nullptr, topts);
        if (!prompt) return std::fprintf(stderr, "%s\n", prompt.error_message().c_str()), 1;
        auto ids = std::make_shared<const std::vector<int32_t>>(tok.encode(*prompt, tok.add_bos(), true));
        for (const char* mode : {"greedy", "seeded"})
            if (modes.find(mode) != std::string::npos)
                runs.push_back({name, mode, idx, compile_ms, ids, (*proto)->fork(), std::nullopt});
    }

    llm::EngineOptions eo;
    eo.n_threads = threads, eo.max_running = parallel, eo.n_ctx = 4096;
    eo.numerics = llm::Numerics::Invariant;
    eo.kv_pool_tokens = int64_t(parallel) * 2048 + 4096;  // room for every run's prompt and 512 tokens; more preempts
    auto engine = llm::Engine::create(*model, eo);
    if (!engine) return std::fprintf(stderr, "%s\n", engine.error_message().c_str()), 1;

    // Steps run on this thread, so the callbacks need no locking. Records are written in run order as soon as
    // every earlier run is done, so --parallel 1 and 16 give files that compare line by line.
    std::ofstream out(out_path);
    size_t next_submit = 0, next_write = 0;
    int in_flight = 0;
    while (next_write < runs.size()) {
        for (; next_submit < runs.size() && in_flight < parallel; ++next_submit) {
            Run& run = runs[next_submit];
            if (run.rec) continue;  // did not compile
            llm::Request req;
            req.prompt = *run.prompt;
            req.max_tokens = max_tokens;
            req.constraint = run.constraint;
            if (run.mode == "seeded") {
                req.sampling = llm::SamplerConfig{};
                req.sampling.temperature = 0.8f;
                req.sampling.seed = 1000 + run.schema_index;
            }
            llm::RequestCallbacks cb;
            cb.on_done = [&run, &in_flight](const llm::RequestResult& r) {
                run.rec = done_record(run, r);
                --in_flight;
            };
            auto id = (*engine)->submit(std::move(req), std::move(cb));
            if (!id) run.rec = json{{"name", run.name}, {"mode", run.mode}, {"error", id.error_message()}};
            else ++in_flight;
        }
        if (in_flight > 0) (*engine)->step();
        for (; next_write < runs.size() && runs[next_write].rec; ++next_write) {
            const json& rec = *runs[next_write].rec;
            out << rec.dump(-1, ' ', false, json::error_handler_t::replace) << "\n";
            if (rec.contains("compile_error")) continue;
            std::printf("%-40s %-6s %-6s %4d tokens %7.0f ms\n", rec["name"].get<std::string>().c_str(),
                        rec["mode"].get<std::string>().c_str(), rec.value("stop", "error").c_str(), rec.value("n_tokens", 0),
                        rec.value("generate_ms", 0.0));
        }
        out.flush();
        std::fflush(stdout);
    }
    return 0;
}
