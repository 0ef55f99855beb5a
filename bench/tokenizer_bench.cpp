// Tokenizer throughput: MB/s encoding a few MB of mixed text (prose, code, CJK, emoji, numbers, whitespace)
// for each tokenizer kind, plus the time for 1 MiB pathological inputs (one repeated character, spaces,
// digits, newlines). Times are thread CPU seconds. usage: tokenizer_bench [extra.gguf ...]  (defaults: the fixture vocabs and, if cached,
// SmolLM2 from scripts/fetch-smollm2.sh)
#include <ctime>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "formats/gguf.hpp"
#include "tokenizer/tokenizer.hpp"

namespace {

// Thread CPU time: the figures stay meaningful on a machine shared with other work.
double now() {
    timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

std::string mixed_text(size_t bytes) {
    static const char* const kParts[] = {
        "The quick brown fox jumps over the lazy dog. It's 3:45pm and we've got 1,234,567 reasons to care.\n",
        "def fib(n):\n    if n < 2:\n        return n\n    return fib(n - 1) + fib(n - 2)\n\n",
        "for (int i = 0; i < 1024; ++i) { acc += x[i] * w[i]; }  // dot product\n",
        "我想在apple工作1314151天～ 日本語のテキストとカタカナ。한국어 텍스트.\n",
        "Emoji: 🚀 😶‍🌫️ ✅ 👍🏽 🇫🇷 🦙 and accents: café naïve résumé Straße Tiếng Việt.\n",
        "    indented   with    runs\t\tof   whitespace   \n\n\n",
        "Привет, как дела? Ελληνικά! العربية עברית 2024-01-15T10:30:00Z v1.2.3\n",
    };
    std::string s;
    size_t i = 0;
    while (s.size() < bytes) s += kParts[i++ % (sizeof(kParts) / sizeof(kParts[0]))];
    return s;
}

void bench(const std::string& label, const llm::Tokenizer& tok) {
    const std::string text = mixed_text(4 << 20);
    tok.encode(text.substr(0, 1 << 16), false, false);  // warm-up
    double best = 1e30;
    size_t n_tokens = 0;
    for (int rep = 0; rep < 3; ++rep) {
        const double t0 = now();
        n_tokens = tok.encode(text, false, false).size();
        best = std::min(best, now() - t0);
    }
    const auto ids = tok.encode(text, false, false);
    const double t1 = now();
    const std::string back = tok.decode(ids);
    const double dec = now() - t1;
    std::printf("%-28s encode %7.2f MB/s (%zu tokens, %.2f bytes/token)   decode %8.1f MB/s\n", label.c_str(),
                text.size() / best / 1e6, n_tokens, double(text.size()) / n_tokens, back.size() / dec / 1e6);
    const size_t n = 1 << 20;
    struct Case { const char* name; std::string s; };
    const Case cases[] = {{"'a' x 1Mi", std::string(n, 'a')},    {"spaces x 1Mi", std::string(n, ' ')},
                          {"digits x 1Mi", std::string(n, '7')}, {"newlines x 1Mi", std::string(n, '\n')},
                          {"'é' x 512Ki", [] { std::string s; for (int i = 0; i < (1 << 19); ++i) s += "\xC3\xA9"; return s; }()}};
    std::printf("%-28s", "");
    for (const auto& c : cases) {
        const double t0 = now();
        const size_t k = tok.encode(c.s, false, false).size();
        const double full = now() - t0;
        // Linearity check: a quarter of the input should take about a quarter of the time.
        const double t1 = now();
        tok.encode(std::string_view(c.s).substr(0, c.s.size() / 4), false, false);
        const double quarter = now() - t1;
        std::printf(" %s: %.3fs (%zu tok, x%.1f vs 1/4) |", c.name, full, k, full / std::max(quarter, 1e-9));
    }
    std::printf("\n");
}

}  // namespace

int main(int argc, char** argv) {
    std::vector<std::pair<std::string, std::string>> models;
    // Fixtures live next to the repository (../shared/fixtures); LLM_FIXTURES overrides.
    const char* fx_env = std::getenv("LLM_FIXTURES");
    const std::string fx = fx_env ? std::string(fx_env)
                                  : (std::filesystem::path(__FILE__).parent_path().parent_path().parent_path() /
                                     "shared" / "fixtures").string();
    for (int i = 1; i < argc; ++i) models.emplace_back(std::filesystem::path(argv[i]).filename().string(), argv[i]);
    if (models.empty()) {
        models = {{"llama-spm (SPM)", fx + "/tokenizer/ggml-vocab-llama-spm.gguf"},
                  {"phi-3 (SPM)", fx + "/tokenizer/ggml-vocab-phi-3.gguf"},
                  {"gpt-2 (byte BPE)", fx + "/tokenizer/ggml-vocab-gpt-2.gguf"}};
        const char* cache = std::getenv("LLM_CACHE");
        const char* home = std::getenv("HOME");
        const std::filesystem::path root = cache ? std::filesystem::path(cache)
                                                 : std::filesystem::path(home ? home : "/root") / ".cache" / "llm";
        std::error_code ec;
        if (std::filesystem::exists(root / "smollm2", ec))
            for (const auto& e : std::filesystem::recursive_directory_iterator(root / "smollm2", ec))
                if (e.path().extension() == ".gguf") {
                    models.emplace_back("smollm2 (byte BPE)", e.path().string());
                    break;
                }
    }
    for (const auto& [label, path] : models) {
        auto f = llm::GgufFile::open(path);
        if (!f) {
            std::fprintf(stderr, "%s\n", f.error_message().c_str());
            continue;
        }
        auto t = llm::Tokenizer::from_gguf(*f);
        if (!t) {
            std::fprintf(stderr, "%s\n", t.error_message().c_str());
            continue;
        }
        bench(label, **t);
    }
    return 0;
}
