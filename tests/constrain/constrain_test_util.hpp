// Helpers for the constraint tests: an independent reference recognizer over the grammar IR (code points,
// memoized end positions), the random sentence generator, and the Python jsonschema bridge.
#pragma once
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "constrain/grammar.hpp"
#include "constrain/grammar_sampler.hpp"
#include "constrain/matcher.hpp"
#include "tokenizer/unicode.hpp"

namespace constrain_test {

inline llm::Grammar must_parse(const std::string& text) {
    auto g = llm::parse_gbnf(text);
    if (!g) ADD_FAILURE() << "parse failed: " << g.error_message() << "\n" << text;
    return g ? std::move(*g) : llm::Grammar{};
}

inline std::shared_ptr<llm::GrammarGraph> graph_of(const llm::Grammar& g, llm::MatcherLimits lim = {}) {
    return std::make_shared<llm::GrammarGraph>(llm::compile_bytes(g), lim);
}

// Full match by the byte matcher.
inline bool matcher_matches(const std::shared_ptr<llm::GrammarGraph>& graph, std::string_view s) {
    llm::GrammarMatcher m(graph);
    return m.accept_bytes(s) && m.is_accepting();
}

// Reference: the set of end positions of each rule from each start, over code points. Exponential-free for
// the small inputs used here; relies only on the IR (not the byte program or the matcher).
class ReferenceRecognizer {
public:
    explicit ReferenceRecognizer(const llm::Grammar& g) : g_(g) {}

    bool matches(std::string_view text) {
        if (!llm::utf8::is_valid(text)) return false;
        cps_.clear();
        for (size_t i = 0; i < text.size();) cps_.push_back(llm::utf8::decode(text, i));
        memo_.clear();
        return ends(g_.root, 0).count(cps_.size()) > 0;
    }

private:
    const std::set<size_t>& ends(uint32_t rule, size_t start) {
        const uint64_t key = (uint64_t{rule} << 32) | start;
        auto it = memo_.find(key);
        if (it != memo_.end()) return it->second;
        std::set<size_t> out;
        for (const auto& alt : g_.rules[rule].alternatives) {
            std::set<size_t> pos{start};
            for (const auto& sym : alt) {
                std::set<size_t> next;
                for (size_t p : pos) {
                    if (sym.kind == llm::GrammarSymbol::Kind::Chars) {
                        if (p < cps_.size())
                            for (const auto& r : sym.chars)
                                if (cps_[p] >= r.lo && cps_[p] <= r.hi) next.insert(p + 1);
                    } else {
                        const auto& e = ends(sym.rule, p);
                        next.insert(e.begin(), e.end());
                    }
                }
                pos = std::move(next);
                if (pos.empty()) break;
            }
            out.insert(pos.begin(), pos.end());
        }
        return memo_[key] = std::move(out);
    }

    const llm::Grammar& g_;
    std::vector<uint32_t> cps_;
    std::map<uint64_t, std::set<size_t>> memo_;
};

// Random sentences of the grammar (see constrain/grammar_sampler.hpp).
class SentenceGenerator : public llm::GrammarSampler {
public:
    using llm::GrammarSampler::GrammarSampler;
};

// llama.cpp's example grammars: where scripts/fetch-vocabs.sh (run by the setup command) puts them, or an
// unpacked llama-cpp-python sdist.
inline std::string llama_cpp_grammars_dir() {
    const char* cache_env = std::getenv("LLM_CACHE");
    const char* home = std::getenv("HOME");
    const std::filesystem::path cache = cache_env ? std::filesystem::path(cache_env)
                                                  : std::filesystem::path(home ? home : "/root") / ".cache/llm";
    for (const auto& p : {cache / "grammars", cache / "src/llama_cpp_python-0.3.36/vendor/llama.cpp/grammars"}) {
        std::error_code ec;
        if (std::filesystem::is_directory(p, ec) && !std::filesystem::is_empty(p, ec)) return p.string();
    }
    return {};
}

inline std::string read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
}

inline bool python_has_jsonschema() {
    static const int ok = std::system("python3 -c 'import jsonschema' >/dev/null 2>&1") == 0;
    return ok;
}

// Validates every instance against its schema with Python's jsonschema (format checks on). `cases` is a
// JSON array of {"name", "schema", "instances": [text...]}. Returns the failures, one per line ("" = all valid).
inline std::string python_validate(const std::string& cases_json) {
    const std::string dir = std::string(LLM_BINARY_DIR) + "/constrain_test_tmp";
    std::filesystem::create_directories(dir);
    const std::string in = dir + "/cases.json", script = dir + "/validate.py", out = dir + "/result.txt";
    std::ofstream(in) << cases_json;
    std::ofstream(script) << R"PY(
import json, sys, jsonschema
def openapi_nullable(s):  # OpenAPI's nullable: true -> a type list with "null" (jsonschema ignores nullable)
    if isinstance(s, dict):
        s = {k: openapi_nullable(v) for k, v in s.items()}
        if s.pop("nullable", False):
            if "type" in s:
                t = s["type"] if isinstance(s["type"], list) else [s["type"]]
                s["type"] = t + ["null"]
            if "enum" in s and None not in s["enum"]:
                s["enum"] = s["enum"] + [None]
        return s
    if isinstance(s, list):
        return [openapi_nullable(x) for x in s]
    return s
cases = json.load(open(sys.argv[1]))
for c in cases:
    c["schema"] = openapi_nullable(c["schema"])
bad = []
for c in cases:
    cls = jsonschema.validators.validator_for(c["schema"], default=jsonschema.Draft202012Validator)
    v = cls(c["schema"], format_checker=cls.FORMAT_CHECKER)
    for text in c["instances"]:
        try:
            inst = json.loads(text)
        except Exception as e:
            bad.append(f"{c['name']}: not JSON ({e}): {text!r}")
            continue
        errs = list(v.iter_errors(inst))
        if errs:
            bad.append(f"{c['name']}: {errs[0].message}: {text!r}")
open(sys.argv[2], "w").write("\n".join(bad))
)PY";
    const std::string cmd = "python3 " + script + " " + in + " " + out;
    if (std::system(cmd.c_str()) != 0) return "python3 " + script + " failed";
    return read_file(out);
}

inline std::string find_smollm2() {
    const char* cache = std::getenv("LLM_CACHE");
    const char* home = std::getenv("HOME");
    const std::filesystem::path root = cache ? std::filesystem::path(cache) : std::filesystem::path(home ? home : "/root") / ".cache" / "llm";
    std::error_code ec;
    const auto dir = root / "smollm2";
    if (!std::filesystem::exists(dir, ec)) return {};
    for (auto it = std::filesystem::recursive_directory_iterator(dir, ec); it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
        if (ec) break;
        if (it->path().extension() == ".gguf") return it->path().string();
    }
    return {};
}

}  // namespace constrain_test
