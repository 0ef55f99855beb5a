// Our constraint against llama.cpp's grammar sampler, measured the same way (bench/grammar_vs_llama_cpp.py
// does llama.cpp's side from the file this writes): for each schema, valid instances (random sentences of our
// grammar, whitespace outside strings removed, so llama.cpp's grammar of the same schema accepts them too) are
// tokenized and replayed token by token; the time of computing the allowed tokens over the whole vocabulary is
// thread CPU time per token. Compile time = schema -> grammar -> matcher ready. "first" = the first instance
// of each schema on fresh caches, "all" = every instance (caches warm up as they go, as in a server).
// usage: grammar_compare VOCAB_OR_MODEL.gguf OUT.json [instances per schema = 8]
#include <algorithm>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "constrain/constraint.hpp"
#include "constrain/grammar_sampler.hpp"
#include "constrain/json_schema.hpp"
#include "formats/gguf.hpp"
#include "tokenizer/tokenizer.hpp"

using json = nlohmann::ordered_json;

namespace {

double now_us() {
    timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return ts.tv_sec * 1e6 + ts.tv_nsec * 1e-3;
}

// Schemas of the validity corpus whose required properties come first, so both converters generate the same
// property order (llama.cpp puts required properties before optional ones).
const char* const kNames[] = {"claude_code/Grep", "claude_code/TodoWrite", "claude_code/Bash", "order", "recipe",
                              "weather_response", "tree", "comment_thread", "app_config", "chat_completion_request"};

std::string compact(const std::string& s) {
    std::string out;
    bool in_str = false;
    for (size_t i = 0; i < s.size(); ++i) {
        const char c = s[i];
        if (in_str) {
            out += c;
            if (c == '\\' && i + 1 < s.size()) out += s[++i];
            else if (c == '"') in_str = false;
        } else if (c == '"') {
            in_str = true, out += c;
        } else if (c != ' ' && c != '\n' && c != '\t' && c != '\r') {
            out += c;
        }
    }
    return out;
}

void print_stats(const char* label, std::vector<double> us) {
    if (us.empty()) return;
    std::sort(us.begin(), us.end());
    double sum = 0;
    for (double x : us) sum += x;
    std::printf("  %-8s tokens %5zu  median %8.1f us  p99 %9.1f us  mean %8.1f us\n", label, us.size(), us[us.size() / 2],
                us[std::min(us.size() - 1, us.size() * 99 / 100)], sum / us.size());
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 3) return std::fprintf(stderr, "usage: grammar_compare VOCAB.gguf OUT.json [instances]\n"), 2;
    const int n_inst = argc > 3 ? std::stoi(argv[3]) : 8;
    auto f = llm::GgufFile::open(argv[1]);
    if (!f) return std::fprintf(stderr, "%s\n", f.error_message().c_str()), 1;
    auto tok = llm::Tokenizer::from_gguf(*f);
    if (!tok) return std::fprintf(stderr, "%s\n", tok.error_message().c_str()), 1;
    auto vocab = llm::VocabTrie::from_tokenizer(**tok);
    std::ifstream cf("tests/constrain/data/validity_schemas.json");
    if (!cf) return std::fprintf(stderr, "run from the repository root\n"), 1;
    const json corpus = json::parse(cf)["schemas"];
    json out = {{"vocab", argv[1]}, {"n_vocab", (*tok)->n_vocab()}, {"schemas", json::array()}};
    std::vector<double> all_first, all_all, compiles;
    for (const char* name : kNames) {
        const json* schema = nullptr;
        for (const auto& s : corpus)
            if (s["name"] == name) schema = &s["schema"];
        if (!schema) return std::fprintf(stderr, "no schema %s\n", name), 1;
        double t0 = now_us();
        auto gbnf = llm::json_schema_value_to_gbnf(*schema);
        if (!gbnf) return std::fprintf(stderr, "%s: %s\n", name, gbnf.error_message().c_str()), 1;
        auto g = llm::parse_gbnf(*gbnf);
        auto proto = llm::GrammarConstraint::create(*g, vocab);
        if (!proto) return std::fprintf(stderr, "%s: %s\n", name, proto.error_message().c_str()), 1;
        const double compile_us = now_us() - t0;
        compiles.push_back(compile_us);
        llm::GrammarSampler gs(*g, 1234);
        json texts = json::array();
        std::vector<double> first, all;
        for (int k = 0; k < n_inst; ++k) {
            const std::string text = compact(gs.sentence(300, 12));
            texts.push_back(text);
            auto c = (*proto)->fork();
            for (int32_t id : (*tok)->encode(text, false, false)) {
                const double t = now_us();
                auto mask = c->allowed_tokens();
                const double dt = now_us() - t;
                if (!mask || !(((*mask)[id / 64] >> (id % 64)) & 1) || !c->accept(id))
                    return std::fprintf(stderr, "%s: replay rejected token %d of %s\n", name, id, text.c_str()), 1;
                (k == 0 ? first : all).push_back(dt);
                if (k == 0) all.push_back(dt);
            }
        }
        std::printf("%s: compile %.2f ms\n", name, compile_us / 1000);
        print_stats("first", first);
        print_stats("all", all);
        all_first.insert(all_first.end(), first.begin(), first.end());
        all_all.insert(all_all.end(), all.begin(), all.end());
        out["schemas"].push_back({{"name", name}, {"schema", *schema}, {"texts", texts}, {"compile_us", compile_us}});
    }
    std::sort(compiles.begin(), compiles.end());
    std::printf("ALL %s (n_vocab %d): compile median %.2f ms max %.2f ms\n", argv[1], (*tok)->n_vocab(),
                compiles[compiles.size() / 2] / 1000, compiles.back() / 1000);
    print_stats("first", all_first);
    print_stats("all", all_all);
    std::ofstream(argv[2]) << out.dump(1) << "\n";
    return 0;
}
