// Constrained-decoding benchmark: grammar compile time and the time to compute one allowed-token mask, over
// the states a real generation passes through, on SmolLM2's 49k vocabulary. For each schema (and llama.cpp's
// generic JSON grammar) random valid instances are generated from the grammar, tokenized with the model's
// tokenizer, and replayed token by token: mask, then accept. "cold" is the first replay with empty caches
// (classifications are computed as states are first met), "warm" replays new instances with the caches the
// cold run built, "no-mask-cache" does the same with the whole-mask cache off (only per-stack caches).
// Times are thread CPU time. usage: constrain_bench [model.gguf]  (default: scripts/fetch-smollm2.sh's cache)
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "constrain/constraint.hpp"
#include "constrain/grammar_sampler.hpp"
#include "constrain/json_schema.hpp"
#include "formats/gguf.hpp"
#include "runtime/sampler.hpp"
#include "tokenizer/tokenizer.hpp"

namespace {

double now_us() {
    timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return ts.tv_sec * 1e6 + ts.tv_nsec * 1e-3;
}

std::string find_smollm2() {
    const char* cache = std::getenv("LLM_CACHE");
    const char* home = std::getenv("HOME");
    const std::filesystem::path root = cache ? std::filesystem::path(cache) : std::filesystem::path(home ? home : "/root") / ".cache/llm";
    std::error_code ec;
    for (auto it = std::filesystem::recursive_directory_iterator(root / "smollm2", ec); !ec && it != std::filesystem::recursive_directory_iterator();
         it.increment(ec))
        if (it->path().extension() == ".gguf") return it->path().string();
    return {};
}

struct Case {
    const char* name;
    bool is_schema;
    const char* text;
};

const Case kCases[] = {
    {"json.gbnf (any JSON)", false, R"GBNF(root   ::= object
value  ::= object | array | string | number | ("true" | "false" | "null") ws
object ::= "{" ws ( string ":" ws value ("," ws string ":" ws value)* )? "}" ws
array  ::= "[" ws ( value ("," ws value)* )? "]" ws
string ::= "\"" ( [^"\\\x7F\x00-\x1F] | "\\" (["\\bfnrt] | "u" [0-9a-fA-F]{4}) )* "\"" ws
number ::= ("-"? ([0-9] | [1-9] [0-9]{0,15})) ("." [0-9]+)? ([eE] [-+]? [0-9] [1-9]{0,15})? ws
ws ::= | " " | "\n" [ \t]{0,20}
)GBNF"},
    {"user payload", true, R"({"type":"object","properties":{"id":{"type":"string","format":"uuid"},"email":{"type":"string","format":"email"},
      "created_at":{"type":"string","format":"date-time"},"roles":{"type":"array","items":{"enum":["admin","editor","viewer"]},"maxItems":3},
      "profile":{"type":"object","properties":{"display_name":{"type":"string","maxLength":40},"bio":{"type":["string","null"]},
      "age":{"type":"integer","minimum":0,"maximum":150}},"required":["display_name"]}},"required":["id","email","roles","profile"]})"},
    {"tool call", true, R"({"type":"object","properties":{"name":{"enum":["get_weather","search","send_email"]},"arguments":{"type":"object",
      "properties":{"query":{"type":"string"},"location":{"type":"string"},"unit":{"enum":["celsius","fahrenheit"]},"limit":{"type":"integer"}},
      "additionalProperties":false}},"required":["name","arguments"],"additionalProperties":false})"},
    {"order (nested)", true, R"({"type":"object","properties":{"order_id":{"type":"string","pattern":"^ORD-[0-9]{6}$"},
      "items":{"type":"array","minItems":1,"items":{"type":"object","properties":{"sku":{"type":"string"},"qty":{"type":"integer","minimum":1},
      "price":{"type":"number","minimum":0}},"required":["sku","qty","price"]}},"status":{"enum":["pending","paid","shipped"]},
      "notes":{"type":"string"}},"required":["order_id","items","status"]})"},
    {"recursive tree", true, R"({"$defs":{"node":{"type":"object","properties":{"name":{"type":"string"},"children":{"type":"array",
      "items":{"$ref":"#/$defs/node"}}},"required":["name"]}},"$ref":"#/$defs/node"})"},
};

struct Stats {
    std::vector<double> us;
    void print(const char* label) {
        if (us.empty()) return;
        std::sort(us.begin(), us.end());
        const double median = us[us.size() / 2], p99 = us[std::min(us.size() - 1, us.size() * 99 / 100)];
        double sum = 0;
        for (double x : us) sum += x;
        std::printf("    %-14s masks %5zu  median %8.1f us  p99 %9.1f us  max %9.1f us  mean %8.1f us\n", label, us.size(), median,
                    p99, us.back(), sum / us.size());
    }
};

// Replays the token sequences through a fresh constraint sharing `proto`'s caches; times each mask.
bool replay(const llm::GrammarConstraint& proto, const std::vector<std::vector<int32_t>>& seqs, Stats& st) {
    for (const auto& ids : seqs) {
        auto c = proto.fork();
        c->reset();
        for (int32_t id : ids) {
            const double t0 = now_us();
            auto allowed = c->allowed_tokens();
            st.us.push_back(now_us() - t0);
            if (!allowed || !(((*allowed)[id / 64] >> (id % 64)) & 1)) {
                std::printf("    ERROR: token %d not allowed (%s)\n", id, allowed ? "masked" : allowed.error_message().c_str());
                return false;
            }
            if (auto s = c->accept(id); !s) {
                std::printf("    ERROR: %s\n", s.message().c_str());
                return false;
            }
        }
    }
    return true;
}

}  // namespace

int main(int argc, char** argv) {
    const std::string path = argc > 1 ? argv[1] : find_smollm2();
    if (path.empty()) {
        std::fprintf(stderr, "constrain_bench: no model: pass a .gguf or run scripts/fetch-smollm2.sh\n");
        return 1;
    }
    auto f = llm::GgufFile::open(path);
    if (!f) return std::fprintf(stderr, "%s\n", f.error_message().c_str()), 1;
    auto tok = llm::Tokenizer::from_gguf(*f);
    if (!tok) return std::fprintf(stderr, "%s\n", tok.error_message().c_str()), 1;
    double t0 = now_us();
    auto vocab = llm::VocabTrie::from_tokenizer(**tok);
    std::printf("%s: n_vocab %d, %zu text tokens, trie %zu nodes (max depth %zu), built in %.1f ms (once per model)\n",
                std::filesystem::path(path).filename().c_str(), (*tok)->n_vocab(), vocab->n_text_tokens, vocab->n_nodes(),
                vocab->max_depth, (now_us() - t0) / 1000);
    Stats all_cold, all_warm;
    for (const Case& c : kCases) {
        t0 = now_us();
        auto g = llm::grammar_from_text(c.is_schema ? llm::ConstraintSource::JsonSchema : llm::ConstraintSource::Gbnf, c.text);
        if (!g) return std::printf("%s: %s\n", c.name, g.error_message().c_str()), 1;
        const double t_parse = now_us() - t0;
        auto proto = llm::GrammarConstraint::create(*g, vocab);
        if (!proto) return std::printf("%s: %s\n", c.name, proto.error_message().c_str()), 1;
        const double t_compile = now_us() - t0;
        std::printf("%s: %zu rules, %zu symbols; schema/GBNF -> grammar %.2f ms, + byte program and matcher %.2f ms\n", c.name,
                    g->rules.size(), g->symbol_count(), t_parse / 1000, t_compile / 1000);
        llm::GrammarSampler sampler(*g, 42);
        auto make = [&](int n) {
            std::vector<std::vector<int32_t>> seqs;
            for (int i = 0; i < n; ++i) seqs.push_back((*tok)->encode(sampler.sentence(400, 12), false, false));
            return seqs;
        };
        const auto cold_seqs = make(8), warm_seqs = make(8);
        Stats cold, warm, nocache;
        if (!replay(**proto, cold_seqs, cold) || !replay(**proto, warm_seqs, warm)) return 1;
        // The same grammar with the whole-mask cache off (classifications still shared), warmed first.
        llm::ConstraintOptions o;
        o.mask.mask_cache_entries = 0;
        auto nc = llm::GrammarConstraint::create(*g, vocab, o);
        Stats ignore;
        if (!replay(**nc, cold_seqs, ignore) || !replay(**nc, warm_seqs, nocache)) return 1;
        cold.print("cold");
        warm.print("warm");
        nocache.print("no-mask-cache");
        const auto ms = (*proto)->masker().stats();
        std::printf("    caches: %zu classifications, %zu of %zu masks from the mask cache, %zu uncertain tokens checked; "
                    "%zu stack nodes, %zu states\n",
                    ms.classifications, ms.mask_cache_hits, ms.masks, ms.uncertain_checked, (*proto)->masker().graph()->n_nodes(),
                    (*proto)->masker().graph()->n_states());
        all_cold.us.insert(all_cold.us.end(), cold.us.begin(), cold.us.end());
        all_warm.us.insert(all_warm.us.end(), warm.us.begin(), warm.us.end());
    }
    std::printf("all cases:\n");
    all_cold.print("cold");
    all_warm.print("warm");

    // The whole sampler step (mask + chain) against the plain chain, default settings, random logits, along a
    // replay of the user-payload schema with warm caches.
    auto g = llm::grammar_from_text(llm::ConstraintSource::JsonSchema, kCases[1].text);
    auto proto = llm::GrammarConstraint::create(*g, vocab);
    llm::GrammarSampler gs(*g, 7);
    std::vector<std::vector<int32_t>> seqs;
    for (int i = 0; i < 4; ++i) seqs.push_back((*tok)->encode(gs.sentence(400, 12), false, false));
    Stats warmup;
    replay(**proto, seqs, warmup);
    std::mt19937 rng(1);
    std::vector<float> logits((*tok)->n_vocab());
    for (auto& l : logits) l = std::normal_distribution<float>(0, 3)(rng);
    Stats plain, constrained;
    auto plain_sampler = llm::Sampler::create(llm::SamplerConfig{}, (*tok)->n_vocab());
    auto con_sampler = llm::Sampler::create(llm::SamplerConfig{}, (*tok)->n_vocab());
    for (const auto& ids : seqs) {
        auto c = (*proto)->fork();
        c->reset();
        con_sampler->set_constraint(c);
        for (int32_t id : ids) {
            double t = now_us();
            (void)plain_sampler->sample(logits);
            plain.us.push_back(now_us() - t);
            t = now_us();
            (void)con_sampler->sample(logits);
            constrained.us.push_back(now_us() - t);
            if (!c->accept(id)) return 1;
        }
    }
    std::printf("sampler step, default settings (top_k 40 ...), 49k logits:\n");
    plain.print("unconstrained");
    constrained.print("constrained");
    return 0;
}
