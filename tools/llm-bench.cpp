// llm-bench: prompt (pp) and generation (tg) throughput with llama-bench's conventions and field names, plus the
// accounting llama-bench lacks: achieved weight bandwidth (GB/s) and fractions of measured memory bandwidth and of
// the int8 compute peak, time to first token, load time and peak RSS. Output: md (default), csv, json, jsonl.
#include <sys/wait.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "cli.hpp"
#include "llm/bench.hpp"
#include "llm/llm.hpp"
#include "llm/quantize.hpp"

namespace {

using Clock = std::chrono::steady_clock;
using json = nlohmann::json;

struct Test {
    int n_prompt = 0, n_gen = 0, n_depth = 0;
    std::string name() const {
        std::string s = n_prompt && n_gen ? fmt::format("pp{}+tg{}", n_prompt, n_gen)
                        : n_prompt        ? fmt::format("pp{}", n_prompt)
                                          : fmt::format("tg{}", n_gen);
        return n_depth ? s + fmt::format(" @ d{}", n_depth) : s;
    }
};

struct ModelInfo {
    std::string path, type_name;  // type_name: llama-bench's "llama 1B Q4_0"
    size_t size = 0;              // tensor bytes in the file (llama-bench's model_size)
    size_t weight_bytes = 0;      // matrix bytes streamed per generated token (Model::weight_bytes)
    uint64_t n_params = 0;        // matrix parameters (for the compute peak: 2 flops = 1 MAC each per token)
    double load_ms = 0;
};

struct Stats {
    double mean = 0, stddev = 0, median = 0;
};

Stats stats(std::vector<double> v) {
    Stats s;
    if (v.empty()) return s;
    for (double x : v) s.mean += x;
    s.mean /= (double)v.size();
    for (double x : v) s.stddev += (x - s.mean) * (x - s.mean);
    s.stddev = v.size() > 1 ? std::sqrt(s.stddev / (double)(v.size() - 1)) : 0;
    std::sort(v.begin(), v.end());
    const size_t n = v.size();
    s.median = n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
    return s;
}

// Comma-separated (or repeated) whole numbers in [lo, hi]; the error names the option and the bad item.
llm::Expected<std::vector<int>> parse_int_list(const char* option, const std::vector<std::string>& items, int lo,
                                               int hi) {
    std::vector<int> out;
    for (const std::string& item : items) {
        size_t pos = 0;
        while (pos <= item.size()) {
            size_t comma = item.find(',', pos);
            if (comma == std::string::npos) comma = item.size();
            if (comma > pos) {
                const std::string text = item.substr(pos, comma - pos);
                auto v = llm::cli::parse_int(text, lo, hi);
                if (!v) return llm::cli::error("{} takes comma-separated integers in [{}, {}], got '{}'", option, lo, hi, text);
                out.push_back((int)*v);
            }
            pos = comma + 1;
        }
    }
    return out;
}

std::vector<std::string> split_commas(const std::vector<std::string>& items) {
    std::vector<std::string> out;
    for (const std::string& item : items) {
        size_t pos = 0;
        while (pos <= item.size()) {
            size_t comma = item.find(',', pos);
            if (comma == std::string::npos) comma = item.size();
            if (comma > pos) out.push_back(item.substr(pos, comma - pos));
            pos = comma + 1;
        }
    }
    return out;
}

// Best of three multi-threaded passes over a 1 GiB buffer (GB/s): what one decode step could stream at most.
// Each thread scans its slice with glibc's memchr for a byte that is not there: memchr is vectorized for the
// running CPU (AVX2/EVEX), so the loads, not the arithmetic, set the pace.
double measure_memory_bandwidth(int n_threads) {
    constexpr size_t n = (size_t)1 << 30;
    std::vector<unsigned char> buf(n);
    // Each of n_threads threads runs fn(its slice's begin, end).
    auto on_threads = [&](auto fn) {
        std::vector<std::thread> threads;
        for (size_t it = 0, nt = (size_t)std::max(1, n_threads); it < nt; ++it)
            threads.emplace_back([&fn, it, nt] { fn(n * it / nt, n * (it + 1) / nt); });
        for (std::thread& t : threads) t.join();
    };
    on_threads([&](size_t begin, size_t end) { std::memset(buf.data() + begin, 1, end - begin); });  // first touch
    // Median of five passes: robust both to a slow first pass and to an occasional implausibly fast one.
    std::vector<double> rates;
    for (int pass = 0; pass < 5; ++pass) {
        std::atomic<size_t> found{0};
        const auto t0 = Clock::now();
        on_threads([&](size_t begin, size_t end) { found += std::memchr(buf.data() + begin, 2, end - begin) != nullptr; });
        const double s = std::chrono::duration<double>(Clock::now() - t0).count();
        if (found == 0) rates.push_back((double)n / s / 1e9);
    }
    if (rates.empty()) return 0;
    std::sort(rates.begin(), rates.end());
    return rates[rates.size() / 2];
}

// The same in a child process, so the 1 GiB buffer never counts toward this process's peak RSS. Called before
// this process starts any OpenMP threads (forking a process with a live GNU OpenMP pool is not safe).
double measure_memory_bandwidth_isolated(int n_threads) {
    int fds[2];
    if (pipe(fds) != 0) return measure_memory_bandwidth(n_threads);
    const pid_t pid = fork();
    if (pid == 0) {
        close(fds[0]);
        const double bw = measure_memory_bandwidth(n_threads);
        const ssize_t w = write(fds[1], &bw, sizeof bw);
        _exit(w == (ssize_t)sizeof bw ? 0 : 1);
    }
    close(fds[1]);
    double bw = 0;
    if (pid < 0 || read(fds[0], &bw, sizeof bw) != (ssize_t)sizeof bw) bw = 0;
    close(fds[0]);
    if (pid > 0) waitpid(pid, nullptr, 0);
    return bw > 0 ? bw : measure_memory_bandwidth(n_threads);
}

std::string iso_time_now() {
    std::time_t t = std::time(nullptr);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&t));
    return buf;
}

std::string run_command(const char* cmd) {
    std::string out;
    if (FILE* p = popen(cmd, "r")) {
        char buf[256];
        while (std::fgets(buf, sizeof buf, p)) out += buf;
        pclose(p);
    }
    while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) out.pop_back();
    return out;
}

std::string cpu_model_name() {
    std::ifstream in("/proc/cpuinfo");
    std::string line;
    while (std::getline(in, line))
        if (line.rfind("model name", 0) == 0) return line.substr(line.find(':') + 2);
    return "unknown";
}

std::string size_label(uint64_t n_params) {
    const double b = (double)n_params / 1e9;
    if (b >= 1) return fmt::format("{:.0f}B", b);
    return fmt::format("{:.0f}M", (double)n_params / 1e6);
}

// Weight parameters (as llama-bench's model_n_params; the compute fraction counts 2 flops = 1 MAC per parameter and
// token, as the accounting does) and llama-bench's model type string.
void describe_model(const llm::Model& m, ModelInfo& info) {
    const llm::ModelInfo c = m.info();
    const uint64_t d = c.d_model, q = (uint64_t)c.n_heads * c.head_dim, kv = (uint64_t)c.n_kv_heads * c.head_dim,
                   ff = c.d_ff, nv = c.n_vocab;
    const uint64_t per_layer = d * (q + 2 * kv) + q * d + 3 * d * ff;
    info.n_params = c.n_layers * per_layer + nv * d + (c.tied_embeddings ? 0 : nv * d) + c.n_layers * 2 * d + d;
    info.weight_bytes = c.weight_bytes;
    info.size = c.file_tensor_bytes;
    info.type_name = fmt::format("{} {} {}", c.arch, size_label(info.n_params), c.file_type);
}

struct Result {
    ModelInfo model;
    Test test;
    int n_threads = 0, n_batch = 0, n_ctx = 0;
    std::string kv_type;
    llm::Numerics numerics = llm::Numerics::Exact;
    std::vector<double> samples_ns, samples_ts;
    std::string test_time;
};

// The serving-engine tests' settings (-npp/-ntg/-npl and --prefix-reuse).
struct EngineBench {
    std::vector<std::string> models;
    std::string numerics;
    int n_threads = 0;
    std::string output;
};

// An engine for one test: contexts of n_ctx tokens, a pool for `tokens` plus 16 spare blocks, warmed up.
llm::Expected<std::unique_ptr<llm::Engine>> bench_engine(std::shared_ptr<const llm::Model> model, const EngineBench& b,
                                                         llm::Numerics mode, int n_ctx, int64_t tokens, int max_running) {
    llm::EngineOptions o;
    o.n_threads = b.n_threads, o.numerics = mode, o.max_running = std::max(16, max_running);
    o.n_ctx = n_ctx;
    o.kv_pool_tokens = tokens + 16 * o.block_tokens;
    auto engine = llm::Engine::create(std::move(model), o);
    if (!engine) return engine.status();
    if (auto w = llm::run_batched_bench(**engine, std::min(n_ctx - 1, 16), 2, 1, 0, 1); !w) return w.status();
    return engine;
}

// Runs `test` on every model in the mode with the model's title line (md; for the test to print with its first
// result, so that a failure leaves nothing on stdout); false after a message.
using EngineTest = std::function<bool(std::shared_ptr<const llm::Model>, llm::Numerics, std::string title)>;
bool for_each_model(const EngineBench& b, const EngineTest& test) {
    auto mode = llm::parse_numerics(b.numerics);
    if (!mode) {
        llm::cli::fail("llm-bench", "unknown numerics mode '" + b.numerics + "' (exact, fast, invariant)");
        return false;
    }
    for (const std::string& path : b.models) {
        auto model = llm::Model::load(path);
        if (!model) {
            llm::cli::fail("llm-bench", model.error_message());
            return false;
        }
        std::string title;
        if (b.output == "md") title = fmt::format("\nmodel {}, numerics {}, {} threads\n", path, b.numerics, b.n_threads);
        if (!test(*model, *mode, title)) return false;
    }
    return true;
}

// llama-batched-bench's test through the serving engine: one engine per (model, npp, npl) so the prefix cache
// starts empty. After each model's table (md): the process's peak RSS against weights + the largest KV pool.
bool run_batched(const EngineBench& b, const std::vector<int>& npp, const std::vector<int>& ntg,
                 const std::vector<int>& npl, int shared_prefix) {
    const bool md = b.output == "md";
    return for_each_model(b, [&](std::shared_ptr<const llm::Model> model, llm::Numerics mode, std::string title) {
        if (md) title += fmt::format("shared prefix {}\n\n{}", shared_prefix, llm::batched_bench_md_header());
        int64_t pool_bytes = 0;
        for (int pp : npp)
            for (int tg : ntg)
                for (int pl : npl) {
                    auto engine = bench_engine(model, b, mode, pp + tg + 1, (int64_t)pl * (pp + tg + 1), pl);
                    auto row = engine ? llm::run_batched_bench(**engine, pp, tg, pl, shared_prefix, 42)
                                      : llm::Expected<llm::BatchedBenchRow>(engine.status());
                    if (!row) {
                        llm::cli::fail("llm-bench", row.error_message());
                        return false;
                    }
                    pool_bytes = std::max(pool_bytes, (*engine)->kv_pool_bytes());
                    std::fputs(std::exchange(title, "").c_str(), stdout);
                    std::fputs(md ? llm::batched_bench_md_row(*row).c_str()
                                  : llm::batched_bench_json(*row, b.numerics, b.n_threads).c_str(), stdout);
                    std::fflush(stdout);
                }
        if (md) {
            const double mib = 1048576.0, weights = (double)model->info().file_tensor_bytes / mib;
            const double budget = (weights + pool_bytes / mib) * 1.15, rss = llm::peak_rss_bytes() / mib;
            std::printf("\npeak RSS %.0f MiB: weights %.0f MiB + largest KV pool %.0f MiB, +15%% = %.0f MiB (%s)\n", rss,
                        weights, pool_bytes / mib, budget, rss <= budget ? "within" : "OVER");
        }
        return true;
    });
}

// Prefix reuse (--prefix-reuse P,S): two requests sharing a P-token prefix, one after the other, on a fresh engine.
bool run_prefix_reuse(const EngineBench& b, int prefix, int suffix) {
    return for_each_model(b, [&](std::shared_ptr<const llm::Model> model, llm::Numerics mode, const std::string& title) {
        const int n_ctx = prefix + suffix + 1;
        auto engine = bench_engine(model, b, mode, n_ctx, 2 * (int64_t)n_ctx, 2);
        auto row = engine ? llm::run_prefix_reuse_bench(**engine, prefix, suffix, 42)
                          : llm::Expected<llm::PrefixReuseRow>(engine.status());
        if (!row) {
            llm::cli::fail("llm-bench", row.error_message());
            return false;
        }
        std::fputs(b.output == "md" ? (title + "\n" + llm::prefix_reuse_md(*row)).c_str()
                                    : llm::prefix_reuse_json(*row, b.numerics, b.n_threads).c_str(), stdout);
        return true;
    });
}

// The command line as given (checked by make_plan / main_engine_tests).
struct Options {
    std::vector<std::string> models, prompts{"512"}, gens{"128"}, pgs, depths{"0"}, threads, kv_types{"f16"};
    int reps = 5, n_batch = 512, n_ctx = 0;
    std::string device = "cpu", output = "md";
    double mem_bw = 0, peak_gops = 465;
    bool progress = false, flash_attn = false, no_warmup = false;
    std::vector<std::string> numerics_list{"invariant"};
    std::vector<std::string> npp, ntg, npl;  // llama-batched-bench's test (any of them selects it)
    int shared_prefix = 0;
    std::vector<std::string> prefix_reuse;  // "P,S"
    bool numerics_given = false, mem_bw_given = false;  // set after parsing
};

void add_options(CLI::App& app, Options& o) {
    app.add_option("-m,--model", o.models, "model file(s) or HF folder(s); comma-separated or repeated")->required();
    app.add_option("-p,--n-prompt", o.prompts, "prompt lengths (one batch of random tokens from an empty cache)");
    app.add_option("-n,--n-gen", o.gens, "generation lengths (single-token decodes from an empty cache)");
    app.add_option("--pg,-g", o.pgs, "mixed tests 'p,n': a prompt of p tokens then n generated tokens");
    app.add_option("-d,--n-depth", o.depths, "context depth(s) filled (untimed) before each test");
    app.add_option("-r,--repetitions", o.reps, "timed repetitions after one warm-up");
    app.add_option("-t,--threads", o.threads, "thread counts (default: physical cores)");
    app.add_option("-b,--batch-size", o.n_batch, "tokens per forward pass");
    app.add_option("-c,--ctx-size", o.n_ctx, "context size (default: the largest test's depth + tokens)");
    app.add_option("--cache-type-k,--ctk", o.kv_types, "KV cache type(s): f16, q8_0, f32, bf16");
    app.add_option("--device", o.device, "compute device: cpu, vulkan or vulkan:N (see llm-run --list-devices)");
    app.add_option("-o,--output", o.output, "output format: md, csv, json, jsonl")
        ->check(CLI::IsMember({"md", "csv", "json", "jsonl"}));
    app.add_option("--mem-bw", o.mem_bw, "memory bandwidth in GB/s (default: measured at start)");
    app.add_option("--peak-gops", o.peak_gops, "int8 compute peak per core, G multiply-accumulates/s (Zen 4: 465)");
    app.add_flag("--progress", o.progress, "print each repetition to stderr");
    app.add_flag("--no-warmup", o.no_warmup, "skip the warm-up run (llama-bench --no-warmup; for long prompts)");
    app.add_option("--numerics", o.numerics_list,
                   "CPU kernel arithmetic(s), comma-separated: invariant (batch-invariant, the default), exact "
                   "(llama.cpp's), fast");
    app.add_flag("--flash-attn", o.flash_attn, "the same as --numerics fast");
    // llama-batched-bench's test through the serving engine (any of -npp/-ntg/-npl selects it; its numerics
    // default to invariant, the engine's).
    app.add_option("--npp", o.npp, "batched: prompt tokens per sequence (llama-batched-bench -npp)");
    app.add_option("--ntg", o.ntg, "batched: generated tokens per sequence (-ntg)");
    app.add_option("--npl", o.npl, "batched: parallel sequences (-npl)");
    app.add_option("--shared-prefix", o.shared_prefix, "batched: the first N prompt tokens are the same for all");
    app.add_option("--prefix-reuse", o.prefix_reuse,
                   "'P,S': two requests one after the other sharing a P-token prefix with different S-token suffixes; "
                   "prints each one's time to first token and the tokens it computed (the prefix cache's gain)")
        ->delimiter(',');
}

// llama-bench spells these with one dash; CLI11 wants two for multi-letter names.
void respell_llama_bench_flags(int argc, char** argv) {
    for (int i = 1; i < argc; ++i) {
        if (!std::strcmp(argv[i], "-npp")) argv[i] = const_cast<char*>("--npp");
        if (!std::strcmp(argv[i], "-ntg")) argv[i] = const_cast<char*>("--ntg");
        if (!std::strcmp(argv[i], "-npl")) argv[i] = const_cast<char*>("--npl");
        if (!std::strcmp(argv[i], "-pg")) argv[i] = const_cast<char*>("--pg");
        if (!std::strcmp(argv[i], "-ctk")) argv[i] = const_cast<char*>("--cache-type-k");
        if (!std::strcmp(argv[i], "-fa")) argv[i] = const_cast<char*>("--flash-attn");
    }
}

int usage_error(const std::string& m) { return llm::cli::usage_error("llm-bench", m); }

// The serving-engine tests (-npp/-ntg/-npl, --prefix-reuse): check their lists, then one run per numerics mode.
int main_engine_tests(const Options& o) {
    const int kMaxTokens = INT32_MAX / 4;
    auto pp = parse_int_list("-npp", o.npp.empty() ? std::vector<std::string>{"128"} : o.npp, 1, kMaxTokens);
    auto tg = parse_int_list("-ntg", o.ntg.empty() ? std::vector<std::string>{"128"} : o.ntg, 0, kMaxTokens);
    auto pl = parse_int_list("-npl", o.npl.empty() ? std::vector<std::string>{"1"} : o.npl, 1, 1024);
    auto reuse = parse_int_list("--prefix-reuse", o.prefix_reuse, 1, kMaxTokens);
    auto th = parse_int_list("-t", o.threads, 1, llm::kMaxThreads);
    for (const auto* list : {&pp, &tg, &pl, &reuse, &th})
        if (!*list) return usage_error(list->error_message());
    if (!o.prefix_reuse.empty() && reuse->size() != 2)
        return usage_error("--prefix-reuse takes 'P,S': the shared prefix's and each suffix's token counts");
    const std::vector<std::string> modes = o.numerics_given ? split_commas(o.numerics_list)
                                                            : std::vector<std::string>{o.flash_attn ? "fast" : "invariant"};
    for (const std::string& mode : modes) {
        const EngineBench b{split_commas(o.models), mode, th->empty() ? llm::physical_core_count() : th->front(), o.output};
        const bool ok = o.prefix_reuse.empty() ? run_batched(b, *pp, *tg, *pl, o.shared_prefix)
                                               : run_prefix_reuse(b, (*reuse)[0], (*reuse)[1]);
        if (!ok) return 1;
    }
    return 0;
}

// What the single-stream benchmark runs: every (threads, KV type, numerics) for every test.
struct Plan {
    std::vector<Test> tests;
    std::vector<int> threads;
    std::vector<llm::DType> kv_types;
    std::vector<llm::Numerics> modes;
    int n_ctx = 0;
};

// The tests from -p, -n, -pg and -d, or a usage message.
llm::Expected<std::vector<Test>> make_tests(const Options& o, std::vector<int>& threads) {
    const int kMaxTokens = INT32_MAX / 4;  // test sizes add up to a context that must stay an int
    auto p = parse_int_list("-p", o.prompts, 0, kMaxTokens), n = parse_int_list("-n", o.gens, 0, kMaxTokens);
    auto d = parse_int_list("-d", o.depths, 0, kMaxTokens), pg = parse_int_list("-pg", o.pgs, 0, kMaxTokens);
    auto t = parse_int_list("-t", o.threads, 1, llm::kMaxThreads);
    for (const auto* list : {&p, &n, &d, &pg, &t})
        if (!*list) return list->status();
    const std::vector<int> &p_list = *p, &n_list = *n, &pg_list = *pg;
    threads = *t;
    if (pg_list.size() % 2) return llm::cli::error("-pg takes pairs 'prompt,gen'");
    if (threads.empty()) threads.push_back(llm::physical_core_count());
    std::vector<Test> tests;
    for (int depth : *d) {
        for (int np : p_list)
            if (np > 0) tests.push_back({np, 0, depth});
        for (int ng : n_list)
            if (ng > 0) tests.push_back({0, ng, depth});
        for (size_t i = 0; i + 1 < pg_list.size(); i += 2) tests.push_back({pg_list[i], pg_list[i + 1], depth});
    }
    if (tests.empty()) return llm::cli::error("no tests (all of -p, -n and -pg are 0 or empty)");
    return tests;
}

// Checks the single-stream options in the order the tool always has; a usage message on the first bad one.
llm::Expected<Plan> make_plan(const Options& o) {
    {
        llm::SessionOptions so;
        so.device = o.device, so.n_batch = o.n_batch, so.n_ctx = o.n_ctx;
        if (llm::Status st = llm::validate(so); !st) return st;
    }
    if (o.reps < 1) return llm::cli::error("-r must be >= 1, got {}", o.reps);
    if (o.mem_bw_given)
        if (auto e = llm::cli::check_range("--mem-bw", o.mem_bw, 0.001, 1e6)) return llm::Status::error(*e);
    if (auto e = llm::cli::check_range("--peak-gops", o.peak_gops, 0.001, 1e9)) return llm::Status::error(*e);
    Plan plan;
    auto tests = make_tests(o, plan.threads);
    if (!tests) return tests.status();
    plan.tests = std::move(*tests);
    for (const std::string& k : split_commas(o.kv_types)) {
        auto t = llm::dtype_from_name(k);
        if (!t || (*t != llm::DType::F16 && *t != llm::DType::F32 && *t != llm::DType::Q8_0 && *t != llm::DType::BF16)) {
            return llm::cli::error("unsupported KV cache type '{}' (f16, q8_0, f32, bf16)", k);
        }
        plan.kv_types.push_back(*t);
    }
    for (const std::string& m : split_commas(o.flash_attn ? std::vector<std::string>{"fast"} : o.numerics_list)) {
        auto n = llm::parse_numerics(m);
        if (!n) return llm::Status::error("--numerics: expected exact, fast or invariant, got '" + m + "'");
        plan.modes.push_back(*n);
    }
    if (o.flash_attn && o.numerics_given)
        return llm::Status::error("--flash-attn means --numerics fast; give one of them");
    int needed_ctx = 0;
    for (const Test& t : plan.tests) needed_ctx = std::max(needed_ctx, t.n_depth + t.n_prompt + t.n_gen);
    plan.n_ctx = o.n_ctx == 0 ? needed_ctx : o.n_ctx;
    if (plan.n_ctx < needed_ctx)
        return llm::cli::error("-c {} is smaller than the largest test ({} tokens)", plan.n_ctx, needed_ctx);
    return plan;
}

struct ModelSummary {
    ModelInfo info;
    size_t peak_rss = 0;
};

// What the output needs besides the results: the machine, the build and what the sessions ran on.
struct Report {
    double mem_bw = 0, peak_gops = 0;
    bool mem_bw_given = false;
    int reps = 0, n_ctx = 0;
    bool warmup = true;  // one untimed run before the repetitions (off with --no-warmup)
    std::string build_commit, cpu_info;
    std::string backend = "CPU";  // what the sessions actually run on (a Vulkan failure falls back to the CPU)
    std::vector<ModelSummary> summaries;
};

// One test's warm-up run and timed repetitions on a session; false (after the message) on an error.
bool run_test(llm::Session& s, const Test& t, const Options& o, const std::function<std::vector<int32_t>(int)>& random_tokens,
              Result& r) {
    // One untimed run of the whole test first (llama-bench warms up with the prompt and one token).
    for (int rep = o.no_warmup ? 0 : -1; rep < o.reps; ++rep) {
        s.truncate(0);
        if (t.n_depth > 0) {
            auto fill = random_tokens(t.n_depth);
            if (llm::Status st = s.eval(fill); !st) {
                llm::cli::fail("llm-bench", st.message());
                return false;
            }
        }
        auto prompt = random_tokens(t.n_prompt);
        auto gen = random_tokens(rep < 0 ? std::min(t.n_gen, 1) : t.n_gen);
        const auto start = Clock::now();
        llm::Status st;
        if (t.n_prompt > 0) st = s.eval(prompt);
        for (size_t i = 0; st && i < gen.size(); ++i) st = s.eval({&gen[i], 1});
        const double ns = std::chrono::duration<double, std::nano>(Clock::now() - start).count();
        if (!st) {
            llm::cli::fail("llm-bench", st.message());
            return false;
        }
        if (rep < 0) continue;
        r.samples_ns.push_back(ns);
        r.samples_ts.push_back((t.n_prompt + t.n_gen) / (ns * 1e-9));
        if (o.progress)
            std::fprintf(stderr, "llm-bench: %s %s t=%d rep %d: %.2f t/s\n", r.model.path.c_str(), t.name().c_str(),
                         r.n_threads, rep, r.samples_ts.back());
    }
    return true;
}

// Loads one model and runs every (threads, KV type, numerics, test) on it; false (after the message) on an error.
bool bench_model(const std::string& path, const Options& o, const Plan& plan, std::mt19937& rng,
                 std::vector<Result>& results, Report& report) {
    ModelInfo info;
    info.path = path;
    const auto t0 = Clock::now();
    llm::LoadOptions lo;
    // The interleaved float matrices serve the CPU kernels of fast / invariant (exact decodes from the rows).
    lo.repack = o.device == "cpu" && std::any_of(plan.modes.begin(), plan.modes.end(),
                                                 [](llm::Numerics m) { return m != llm::Numerics::Exact; });
    auto model = llm::Model::load(path, lo);
    info.load_ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
    if (!model) {
        llm::cli::fail("llm-bench", model.error_message());
        return false;
    }
    describe_model(**model, info);
    std::fprintf(stderr, "llm-bench: loaded %s (%s, %.2f GiB of matrices per token) in %.0f ms\n", path.c_str(),
                 info.type_name.c_str(), info.weight_bytes / 1073741824.0, info.load_ms);
    if (o.device == "cpu") {
        int64_t n = 0;  // the kernels are named at one token and at the largest prompt (none: llama-bench's pp512)
        for (const Test& t : plan.tests) n = std::max<int64_t>(n, t.n_prompt);
        if (n < 2) n = 512;
        for (llm::Numerics m : plan.modes)
            std::fprintf(stderr, "llm-bench: cpu kernels, %s (1 / %lld tokens): %s\n",
                         std::string(llm::numerics_name(m)).c_str(), (long long)n, (*model)->cpu_kernels(m, n).c_str());
    }
    std::uniform_int_distribution<int32_t> tok(0, (*model)->info().n_vocab - 1);
    auto random_tokens = [&](int n) {
        std::vector<int32_t> v((size_t)n);
        for (int32_t& x : v) x = tok(rng);
        return v;
    };
    for (int nt : plan.threads)
        for (llm::DType kv : plan.kv_types)
            for (llm::Numerics mode : plan.modes) {
                llm::SessionOptions so;
                so.n_ctx = plan.n_ctx, so.kv_type = kv, so.n_threads = nt, so.n_batch = o.n_batch;
                so.numerics = mode;
                so.device = o.device;
                auto session = llm::Session::create(*model, so);
                if (!session) {
                    llm::cli::fail("llm-bench", session.error_message());
                    return false;
                }
                report.backend = (*session)->device() == "cpu" ? "CPU" : "Vulkan";
                for (const Test& t : plan.tests) {
                    Result r{info, t, nt, o.n_batch, plan.n_ctx, std::string(llm::dtype_name(kv)), mode, {}, {},
                             iso_time_now()};
                    if (!run_test(**session, t, o, random_tokens, r)) return false;
                    results.push_back(std::move(r));
                    const Stats ts = stats(results.back().samples_ts);
                    std::fprintf(stderr, "llm-bench: %-28s %-14s t=%d %-9s: %8.2f ± %.2f t/s\n",
                                 info.type_name.c_str(), t.name().c_str(), nt,
                                 std::string(llm::numerics_name(mode)).c_str(), ts.mean, ts.stddev);
                }
            }
    report.summaries.push_back({info, llm::peak_rss_bytes()});
    return true;
}

// Derived metrics. tg: weight bytes streamed per token; pp: MACs per token = matrix parameters.
json derived(const Result& r, const Report& rep) {
    json d;
    const Stats ts = stats(r.samples_ts);
    const double ts_val = ts.mean;
    if (r.test.n_prompt == 0) {
        const double gbps = (double)r.model.weight_bytes * ts_val / 1e9;
        d["weight_gbps"] = gbps;
        d["mem_bw_frac"] = gbps / rep.mem_bw;
    }
    if (r.test.n_gen == 0) {
        d["compute_frac"] = ts_val * (double)r.model.n_params / (rep.peak_gops * 1e9 * r.n_threads);
        d["ttft_ms"] = stats(r.samples_ns).mean / 1e6;
    }
    return d;
}

// One result with llama-bench's field names (and ours after them).
json to_json(const Result& r, const Report& rep) {
    const Stats ns = stats(r.samples_ns), ts = stats(r.samples_ts);
    json j = {{"build_commit", rep.build_commit},
              {"build_number", 0},
              {"cpu_info", rep.cpu_info},
              {"gpu_info", ""},
              {"backends", rep.backend},
              {"isa", llm::cpu_isa_name()},
              {"model_filename", r.model.path},
              {"model_type", r.model.type_name},
              {"model_size", r.model.size},
              {"model_n_params", r.model.n_params},
              {"weight_bytes", r.model.weight_bytes},
              {"n_batch", r.n_batch},
              {"n_ubatch", r.n_batch},
              {"n_threads", r.n_threads},
              {"type_k", r.kv_type},
              {"type_v", r.kv_type},
              {"n_gpu_layers", 0},
              {"flash_attn", r.numerics != llm::Numerics::Exact},
              {"numerics", std::string(llm::numerics_name(r.numerics))},
              {"n_ctx", r.n_ctx},
              {"n_prompt", r.test.n_prompt},
              {"n_gen", r.test.n_gen},
              {"n_depth", r.test.n_depth},
              {"test_time", r.test_time},
              {"avg_ns", (uint64_t)ns.mean},
              {"stddev_ns", (uint64_t)ns.stddev},
              {"avg_ts", ts.mean},
              {"stddev_ts", ts.stddev},
              {"median_ts", ts.median},
              {"samples_ns", std::vector<uint64_t>(r.samples_ns.begin(), r.samples_ns.end())},
              {"samples_ts", r.samples_ts},
              {"mem_bw_gbps", rep.mem_bw},
              {"peak_gops_per_core", rep.peak_gops},
              {"load_ms", r.model.load_ms}};
    for (const ModelSummary& m : rep.summaries)
        if (m.info.path == r.model.path) j["peak_rss_bytes"] = m.peak_rss;
    j.update(derived(r, rep));
    return j;
}

void print_csv(const std::vector<Result>& results, const Report& rep) {
    const char* cols[] = {"build_commit", "cpu_info", "isa", "model_filename", "model_type", "model_size",
                          "model_n_params", "weight_bytes", "n_batch", "n_threads", "type_k", "numerics", "n_ctx", "n_prompt", "n_gen",
                          "n_depth", "test_time", "avg_ns", "stddev_ns", "avg_ts", "stddev_ts", "median_ts",
                          "weight_gbps", "mem_bw_gbps", "mem_bw_frac", "compute_frac", "ttft_ms", "load_ms",
                          "peak_rss_bytes"};
    std::string head;
    for (const char* c : cols) head += std::string(head.empty() ? "" : ",") + c;
    std::printf("%s\n", head.c_str());
    for (const Result& r : results) {
        const json j = to_json(r, rep);
        std::string line;
        for (const char* c : cols) {
            std::string v;
            if (j.contains(c)) v = j[c].is_string() ? "\"" + j[c].get<std::string>() + "\"" : j[c].dump();
            line += (line.empty() && c == cols[0] ? "" : ",") + v;
        }
        std::printf("%s\n", line.c_str());
    }
}

// One markdown table row per result.
void print_md_rows(const std::vector<Result>& results, const Report& rep) {
    std::printf("| model | size | params | backend | threads | type_k | numerics | test | t/s | median t/s | "
                "weights GB/s | %% of mem bw | %% of int8 peak |\n");
    std::printf("| --- | ---: | ---: | --- | ---: | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |\n");
    for (const Result& r : results) {
        const Stats ts = stats(r.samples_ts);
        const json d = derived(r, rep);
        auto pct = [&](const char* k) {
            return d.contains(k) ? fmt::format("{:.1f}", 100 * d[k].get<double>()) : std::string("-");
        };
        const std::string size = r.model.size >= (1u << 30)
                                     ? fmt::format("{:.2f} GiB", r.model.size / 1073741824.0)
                                     : fmt::format("{:.2f} MiB", r.model.size / 1048576.0);
        const std::string params = r.model.n_params >= 1000000000
                                       ? fmt::format("{:.2f} B", r.model.n_params / 1e9)
                                       : fmt::format("{:.2f} M", r.model.n_params / 1e6);
        const std::string backend_label =
            rep.backend == "CPU" ? fmt::format("CPU ({})", llm::cpu_isa_name()) : rep.backend;
        std::printf("| %s | %s | %s | %s | %d | %s | %s | %s | %.2f ± %.2f | %.2f | %s | %s | %s |\n",
                    r.model.type_name.c_str(), size.c_str(), params.c_str(), backend_label.c_str(), r.n_threads,
                    r.kv_type.c_str(), std::string(llm::numerics_name(r.numerics)).c_str(), r.test.name().c_str(), ts.mean,
                    ts.stddev, ts.median,
                    d.contains("weight_gbps") ? fmt::format("{:.1f}", d["weight_gbps"].get<double>()).c_str()
                                              : "-",
                    pct("mem_bw_frac").c_str(), pct("compute_frac").c_str());
    }
}

// The markdown table, then the machine line and one line per model (load, peak RSS, time to first token).
void print_md(const std::vector<Result>& results, const Report& rep) {
    print_md_rows(results, rep);
    std::printf("\nmemory bandwidth %.1f GB/s%s; int8 peak %.0f G MAC/s per core; %d repetitions %s; "
                "build %s; %s\n",
                rep.mem_bw, rep.mem_bw_given ? " (given)" : " (measured)", rep.peak_gops, rep.reps,
                rep.warmup ? "after a warm-up" : "without a warm-up",
                rep.build_commit.empty() ? "unknown" : rep.build_commit.c_str(), rep.cpu_info.c_str());
    for (const ModelSummary& m : rep.summaries) {
        std::string ttft;
        for (const Result& r : results)
            if (r.model.path == m.info.path && r.test.n_gen == 0 && r.test.n_depth == 0)
                ttft += fmt::format(", time to first token ({} tokens, {} threads, KV {}) {:.0f} ms",
                                    r.test.n_prompt, r.n_threads, r.kv_type, stats(r.samples_ns).mean / 1e6);
        std::printf("%s: load %.0f ms, peak RSS %.0f MiB (process, cumulative; n_ctx %d)%s\n",
                    m.info.path.c_str(), m.info.load_ms, m.peak_rss / 1048576.0, rep.n_ctx, ttft.c_str());
    }
}

void print_results(const std::string& output, const std::vector<Result>& results, const Report& rep) {
    if (output == "json") {
        json arr = json::array();
        for (const Result& r : results) arr.push_back(to_json(r, rep));
        std::printf("%s\n", arr.dump(2).c_str());
    } else if (output == "jsonl") {
        for (const Result& r : results) std::printf("%s\n", to_json(r, rep).dump().c_str());
    } else if (output == "csv") {
        print_csv(results, rep);
    } else {
        print_md(results, rep);
    }
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"llm-bench: prompt processing (pp) and generation (tg) speed, llama-bench style."};
    Options o;
    add_options(app, o);
    respell_llama_bench_flags(argc, argv);
    if (auto code = llm::cli::parse(app, "llm-bench", argc, argv)) return *code;
    o.numerics_given = app.count("--numerics") > 0, o.mem_bw_given = app.count("--mem-bw") > 0;
    if (!o.npp.empty() || !o.ntg.empty() || !o.npl.empty() || !o.prefix_reuse.empty()) return main_engine_tests(o);

    auto plan = make_plan(o);
    if (!plan) return usage_error(plan.error_message());
    Report rep;
    rep.mem_bw = o.mem_bw, rep.peak_gops = o.peak_gops, rep.mem_bw_given = o.mem_bw_given;
    rep.reps = o.reps, rep.n_ctx = plan->n_ctx, rep.warmup = !o.no_warmup;
    if (rep.mem_bw <= 0) {
        std::fprintf(stderr, "llm-bench: measuring memory bandwidth (1 GiB read, %d threads)...\n", plan->threads.front());
        rep.mem_bw = measure_memory_bandwidth_isolated(plan->threads.front());
        std::fprintf(stderr, "llm-bench: memory bandwidth %.1f GB/s\n", rep.mem_bw);
    }
    rep.build_commit = run_command("git rev-parse --short HEAD 2>/dev/null");
    rep.cpu_info = cpu_model_name();

    std::vector<Result> results;
    std::mt19937 rng(42);
    for (const std::string& path : split_commas(o.models))
        if (!bench_model(path, o, *plan, rng, results, rep)) return 1;
    print_results(o.output, results, rep);
    return 0;
}
