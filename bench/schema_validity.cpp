// The validity run of issue 15: SmolLM2 generates under every schema of tests/constrain/data/validity_schemas.json,
// greedy and seeded, up to --max-tokens new tokens; writes one JSON object per run (text, stop reason, tokens,
// whether a cut output is a valid prefix by the byte matcher) for bench/schema_validity.py, which validates
// the outputs with Python's jsonschema and prints the figures.
// usage: schema_validity [--model M.gguf] [--schemas FILE] [--out FILE] [--max-tokens 512] [--limit N] [--every K]
//                        [--modes greedy,seeded] [--threads 2]
// Exit 77 when SmolLM2 is not there (the test command skips the run).
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "constrain/constraint.hpp"
#include "constrain/json_schema.hpp"
#include "llm/llm.hpp"
#include "runtime/generate.hpp"
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

}  // namespace

int main(int argc, char** argv) {
    std::string model_path = find_smollm2();
    std::string schemas_path = "tests/constrain/data/validity_schemas.json";  // run from the repository root
    std::string out_path = "schema_validity.jsonl";
    int max_tokens = 512, limit = 1 << 30, every = 1, threads = 2;
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
        else if (k == "--modes") modes = v;
        else return std::fprintf(stderr, "schema_validity: unknown option %s\n", k.c_str()), 2;
    }
    if (model_path.empty())
        return std::fprintf(stderr, "schema_validity: no model (run scripts/fetch-smollm2.sh)\n"), 77;
    if (modes != "greedy" && modes != "seeded" && modes != "greedy,seeded")
        return std::fprintf(stderr, "schema_validity: --modes must be greedy, seeded or greedy,seeded\n"), 2;
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
    std::ofstream out(out_path);
    llm::SessionOptions so;
    so.n_threads = threads, so.n_ctx = 4096;
    auto session = llm::Session::create(*model, so);
    if (!session) return std::fprintf(stderr, "%s\n", session.error_message().c_str()), 1;
    std::vector<int32_t> held;
    llm::ChatTemplateOptions topts;
    topts.bos_token = tok.bos_text(), topts.eos_token = tok.eos_text();
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
            out << json{{"name", name}, {"compile_error", proto.error_message()}}.dump() << "\n";
            std::printf("%-40s cannot compile: %s\n", name.c_str(), proto.error_message().c_str());
            continue;
        }
        std::string schema_text = s["schema"].dump();
        if (schema_text.size() > 1500) schema_text = schema_text.substr(0, 1500) + "...";
        const std::string base = name.substr(name.find('/') == std::string::npos ? 0 : name.find('/') + 1);
        const json messages = json::array(
            {{{"role", "system"}, {"content", "You reply with one JSON value and nothing else."}},
             {{"role", "user"}, {"content", "Write a realistic example of " + base + " as JSON following this JSON schema:\n" + schema_text}}});
        auto prompt = render_chat_json(*tmpl, messages, nullptr, topts);
        if (!prompt) return std::fprintf(stderr, "%s\n", prompt.error_message().c_str()), 1;
        const std::vector<int32_t> ids = tok.encode(*prompt, tok.add_bos(), true);
        for (const char* mode : {"greedy", "seeded"}) {
            if (modes.find(mode) == std::string::npos) continue;
            size_t common = 0;
            while (common < held.size() && common + 1 < ids.size() && held[common] == ids[common]) ++common;
            (*session)->truncate(static_cast<int64_t>(common));
            held.assign(ids.begin(), ids.end());
            llm::SamplerConfig sc = llm::SamplerConfig::greedy();
            if (std::strcmp(mode, "seeded") == 0) {
                sc = llm::SamplerConfig{};
                sc.temperature = 0.8f;
                sc.seed = 1000 + idx;
            }
            auto sampler = llm::Sampler::create(sc, tok.n_vocab());
            auto c = (*proto)->fork();
            sampler->set_constraint(c);
            llm::GenerateOptions g;
            g.max_tokens = max_tokens;
            const auto t1 = std::chrono::steady_clock::now();
            auto r = llm::generate(**session, tok, *sampler, std::span(ids).subspan(common), g, nullptr);
            const double gen_ms = ms_since(t1);
            json rec = {{"name", name}, {"mode", mode}, {"compile_ms", compile_ms}};
            if (!r) {
                rec["error"] = r.error_message();
                held.clear();  // the session state is unknown: start over
                (*session)->truncate(0);
            } else {
                held.insert(held.end(), r->tokens.begin(), r->tokens.end());
                llm::GrammarMatcher m(c->matcher().graph());
                const bool prefix_ok = m.accept_bytes(r->text);
                rec.update({{"stop", llm::stop_reason_name(r->stop_reason)}, {"ended", r->stop_reason == llm::StopReason::EndOfGeneration},
                            {"n_tokens", r->tokens.size()}, {"generate_ms", gen_ms}, {"prefix_ok", prefix_ok},
                            {"complete", prefix_ok && m.is_accepting()}, {"text", r->text}});
            }
            out << rec.dump(-1, ' ', false, json::error_handler_t::replace) << "\n";
            out.flush();
            std::printf("%-40s %-6s %-6s %4d tokens %7.0f ms\n", name.c_str(), mode, rec.value("stop", "error").c_str(),
                        rec.value("n_tokens", 0), gen_ms);
            std::fflush(stdout);
        }
    }
    return 0;
}
