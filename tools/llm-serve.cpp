// llm-serve: the OpenAI-compatible HTTP server (docs/SERVER.md). Thin: parses options, lists the models (-m,
// --models-dir), loads the default one and hands the model registry to the server library (server/); /health
// answers 503 until the default model is loaded, the others load on first use.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <chrono>
#include <filesystem>
#include <regex>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <fstream>
#include <functional>
#include <mutex>
#include <optional>
#include <thread>

#include "cli.hpp"
#include "llm/engine.hpp"
#include "llm/llm.hpp"
#include "llm/system.hpp"
#include "server/engine_backend.hpp"
#include "server/http_server.hpp"
#include "server/model_registry.hpp"

namespace {

// tools/cli.hpp's convention: one line "llm-serve: error: ...", exit 1 for what cannot be used or served, 2 for
// a bad command line.
int fail(const std::string& message) { return llm::cli::fail("llm-serve", message); }
int usage(const std::string& message) { return llm::cli::usage_error("llm-serve", message); }

// "4096" tokens, or a size in memory: "512MiB", "2GiB" (also MB/GB, read as MiB/GiB).
bool parse_kv_pool(const std::string& s, int64_t& tokens, int64_t& mib) {
    size_t pos = 0;
    long long v = 0;
    try {
        v = std::stoll(s, &pos);
    } catch (...) {
        return false;
    }
    std::string unit = s.substr(pos);
    for (char& c : unit) c = (char)std::tolower((unsigned char)c);
    if (v <= 0) return false;
    if (unit.empty() || unit == "t" || unit == "tokens") return tokens = v, true;
    if (unit == "mib" || unit == "mb" || unit == "m") return mib = v, true;
    if (unit == "gib" || unit == "gb" || unit == "g") return mib = v * 1024, true;
    return false;
}

// "8GiB", "512MiB", "1.5G" (K/M/G and KiB/MiB/GiB alike: powers of 1024) or plain bytes.
bool parse_bytes(const std::string& s, int64_t& bytes) {
    size_t pos = 0;
    double v = 0;
    try {
        v = std::stod(s, &pos);
    } catch (...) {
        return false;
    }
    std::string unit = s.substr(pos);
    for (char& c : unit) c = (char)std::tolower((unsigned char)c);
    if (unit.size() > 1 && unit.back() == 'b') unit.pop_back();  // "GiB", "GB" -> "gi", "g"
    if (unit.size() > 1 && unit.back() == 'i') unit.pop_back();
    const double scale = unit.empty() ? 1 : unit == "k" ? 1024.0 : unit == "m" ? 1024.0 * 1024 : unit == "g" ? 1024.0 * 1024 * 1024 : 0;
    if (scale == 0 || v <= 0) return false;
    bytes = (int64_t)(v * scale);
    return true;
}

// The id the model answers to: its file name without .gguf (or the reference as given for hf: and folders).
std::string model_id_of(const std::string& path) {
    std::string id = path;
    while (id.size() > 1 && id.back() == '/') id.pop_back();
    if (id.rfind("hf:", 0) == 0) return id.substr(3);
    if (auto slash = id.rfind('/'); slash != std::string::npos) id = id.substr(slash + 1);
    if (id.size() > 5 && id.compare(id.size() - 5, 5, ".gguf") == 0) id.resize(id.size() - 5);
    return id;
}

// The environment block for Claude Code (docs/SERVER.md, "Claude Code"): every model tier on the served model
// (the first alias starting with "claude" when there is one: Claude Code shows it), auto-compaction at the
// context size where Claude Code accepts one (100k and more), an output limit a small model reaches in
// reasonable time, and no traffic to Anthropic's servers.
void print_claude_env(const llm::server::ServerOptions& so, const std::string& model_id, int n_ctx,
                      const std::vector<std::string>& keys) {
    std::string id = model_id;
    for (const std::string& a : so.aliases)
        if (a.rfind("claude", 0) == 0) {
            id = a;
            break;
        }
    const std::string host = so.host == "0.0.0.0" || so.host == "::" ? "127.0.0.1" : so.host;
    std::printf("export ANTHROPIC_BASE_URL=http://%s:%d\n", host.c_str(), so.port);
    std::printf("export ANTHROPIC_AUTH_TOKEN=%s\n", keys.empty() ? "local" : keys.front().c_str());
    for (const char* var : {"ANTHROPIC_MODEL", "ANTHROPIC_DEFAULT_OPUS_MODEL", "ANTHROPIC_DEFAULT_SONNET_MODEL",
                            "ANTHROPIC_DEFAULT_HAIKU_MODEL", "ANTHROPIC_SMALL_FAST_MODEL", "CLAUDE_CODE_SUBAGENT_MODEL"})
        std::printf("export %s=%s\n", var, id.c_str());
    // Claude Code 2.1.332 reads a window under 100k as 100k (and says so on every run): below that it compacts
    // on the server's "prompt is too long" answer instead.
    if (n_ctx >= 100000) std::printf("export CLAUDE_CODE_AUTO_COMPACT_WINDOW=%d\n", n_ctx);
    else std::printf("# context %d < 100k: Claude Code compacts when llm-serve answers 'prompt is too long'\n", n_ctx);
    std::printf("export CLAUDE_CODE_MAX_OUTPUT_TOKENS=%d\n", std::max(256, std::min(4096, n_ctx / 8)));
    std::printf("export CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1\n");
}

// The command line as given.
struct Options {
    llm::server::ServerOptions so;
    std::vector<std::string> model_args, models_dirs, alias_args;
    std::string model;  // the default model (the first -m, else the first model in the first --models-dir)
    std::vector<llm::server::ModelSpec> models;
    std::string mem_budget;
    llm::server::RegistryLimits limits;
    std::string api_key_file, kv_pool, log_format = "text", numerics = "invariant", device = "cpu";
    std::vector<std::string> api_keys;
    int n_ctx = 0, n_threads = llm::physical_core_count();
    int shutdown_timeout_s = 60;
    size_t max_body_mib = 32;
    int json_max_string = llm::JsonSchemaOptions{}.max_string_length;
    bool claude_env = false;
};

void add_options(CLI::App& app, Options& o) {
    app.add_option("-m,--model", o.model_args,
                   "GGUF file, Hugging Face folder or hf:owner/repo[:QUANT]; repeatable, the first is the default model "
                   "(default: $LLM_MODEL, else SmolLM2 from the cache)");
    app.add_option("--models-dir", o.models_dirs, "serve every *.gguf file and Hugging Face folder (with config.json) in "
                                                "DIR under its name; repeatable");
    app.add_option("--mem-budget", o.mem_budget, "memory for loaded models (weights + KV pools): bytes or 8GiB, 512MiB; "
                                               "the least recently used idle model is unloaded beyond it (default: 3/4 of "
                                               "the machine's memory)");
    app.add_option("--max-loaded", o.limits.max_loaded, "models loaded at once at most (0: no limit)")->capture_default_str();
    app.add_option("--host", o.so.host, "address to listen on (0.0.0.0 for every interface)")->capture_default_str();
    app.add_option("--port", o.so.port, "TCP port (0 = any free port, printed at start)")->capture_default_str();
    app.add_option("--api-key", o.api_keys, "require this key (Authorization: Bearer KEY or x-api-key: KEY) on every "
                                          "route but /health; repeatable");
    app.add_option("--api-key-file", o.api_key_file, "read keys from a file, one per line (keeps them off the command line)");
    app.add_option("--alias", o.alias_args, "another id to list and answer to: NAME for the default model, MODEL=NAME for "
                                          "the model with id MODEL (repeatable), e.g. gpt-4o-mini");
    app.add_flag("--strict-models", o.so.strict_models,
                 "answer 404 for a model id that is neither a served model's nor an alias (default: the default model "
                 "serves it)");
    app.add_option("-c,--ctx", o.n_ctx, "most tokens per request, prompt + output (default: the model's training context)");
    app.add_option("-t,--threads", o.n_threads, "compute threads (default: physical cores)")->capture_default_str();
    app.add_option("--parallel", o.so.parallel, "sequences decoded together per step (the running batch)")->capture_default_str();
    app.add_option("--kv-pool", o.kv_pool, "KV cache pool of each model, shared by its requests: tokens (\"65536\") or "
                                         "memory (\"512MiB\", \"2GiB\"); default: sized from free memory, with several "
                                         "models at most 1/4 of --mem-budget each");
    app.add_option("--max-queue", o.so.max_queue, "requests waiting beyond --parallel; more are answered 429 + retry-after")
        ->capture_default_str();
    app.add_option("--max-body", o.max_body_mib, "largest request body in MiB (413 beyond)")->capture_default_str();
    app.add_option("--cors-origin", o.so.cors_origin, "send CORS headers allowing this origin (default: no CORS)");
    app.add_option("--log-format", o.log_format, "access log on stderr: text, json or off")->capture_default_str();
    app.add_option("--numerics", o.numerics, "CPU arithmetic: invariant (output independent of load), fast, exact "
                                           "(llama.cpp's)")->capture_default_str();
    app.add_option("--keepalive", o.so.keepalive_s, "seconds between SSE keep-alive comments while a stream waits")
        ->capture_default_str();
    app.add_option("--json-max-string", o.json_max_string, "response_format: most characters of a string the schema "
                   "leaves unbounded (no maxLength, pattern or format); 0 = unbounded")->capture_default_str();
    app.add_option("--device", o.device, "cpu, vulkan or vulkan:N")->capture_default_str();
    app.add_option("--shutdown-timeout", o.shutdown_timeout_s,
                   "seconds a stop (SIGINT / SIGTERM) may take: requests in flight finish, then the engines stop; "
                   "beyond it the server exits with status 1 naming what it waited for (0: no limit). A second "
                   "signal exits at once")->capture_default_str();
    app.add_flag("--print-claude-env", o.claude_env,
                 "print the environment block that points Claude Code at this server (with the same flags) and exit");
}

// Bytes a model's files take on disk (a GGUF file, or a folder's safetensors): what it is expected to take
// loaded until a load says (0 for hf: references not resolved yet), and its time for /v1/models.
void file_facts(const std::string& source, llm::server::ModelSpec& spec) {
    namespace fs = std::filesystem;
    std::error_code ec;
    struct stat st {};
    if (stat(source.c_str(), &st) == 0) spec.created = (int64_t)st.st_mtime;
    if (fs::is_regular_file(source, ec)) spec.est_bytes = (int64_t)fs::file_size(source, ec);
    else if (fs::is_directory(source, ec))
        for (const auto& f : fs::directory_iterator(source, ec))
            if (f.path().extension() == ".safetensors") spec.est_bytes += (int64_t)f.file_size(ec);
}

// The models of one --models-dir, sorted by name: *.gguf files (the first shard of split ones) and folders
// with a config.json.
std::optional<std::string> scan_models_dir(const std::string& dir, std::vector<std::pair<std::string, std::string>>& out) {
    namespace fs = std::filesystem;
    std::error_code ec;
    if (!fs::is_directory(dir, ec)) return "--models-dir " + dir + " is not a folder";
    static const std::regex later_shard(R"(-0*([2-9]|[1-9][0-9]+)-of-[0-9]+\.gguf$)");
    std::vector<std::pair<std::string, std::string>> found;
    for (const auto& f : fs::directory_iterator(dir, ec)) {
        const std::string name = f.path().filename().string();
        if (f.is_directory(ec) && fs::exists(f.path() / "config.json", ec)) found.emplace_back(name, f.path().string());
        else if (f.is_regular_file(ec) && f.path().extension() == ".gguf" && !std::regex_search(name, later_shard))
            found.emplace_back(model_id_of(name), f.path().string());
    }
    if (ec) return "cannot list --models-dir " + dir + ": " + ec.message();
    std::sort(found.begin(), found.end());
    out.insert(out.end(), found.begin(), found.end());
    return std::nullopt;
}

// -m and --models-dir -> o.models (the default first), with --alias applied; an exit code on a bad list.
std::optional<int> list_models(Options& o) {
    std::vector<std::pair<std::string, std::string>> found;  // (id, source)
    for (const std::string& m : o.model_args) found.emplace_back(model_id_of(m), m);
    for (const std::string& d : o.models_dirs)
        if (auto e = scan_models_dir(d, found)) return fail(*e);
    if (found.empty()) {
        if (!o.models_dirs.empty()) return fail("--models-dir holds no *.gguf file and no folder with a config.json");
        auto def = llm::find_default_model();
        if (!def) return fail("no model: use -m MODEL or set LLM_MODEL (scripts/fetch-smollm2.sh fetches SmolLM2)");
        found.emplace_back(model_id_of(*def), *def);
    }
    for (const auto& [id, source] : found) {
        for (const auto& m : o.models)
            if (m.id == id) return fail("two models answer to '" + id + "': " + m.source + " and " + source);
        llm::server::ModelSpec spec{id, source, {}, 0, 0};
        file_facts(source, spec);
        o.models.push_back(std::move(spec));
    }
    for (const std::string& a : o.alias_args) {
        const size_t eq = a.find('=');
        const std::string target = eq == std::string::npos ? o.models[0].id : a.substr(0, eq);
        const std::string name = eq == std::string::npos ? a : a.substr(eq + 1);
        auto it = std::find_if(o.models.begin(), o.models.end(), [&](const auto& m) { return m.id == target; });
        if (it == o.models.end()) return usage("--alias " + a + ": no model has the id '" + target + "'");
        if (name.empty()) return usage("--alias " + a + ": the alias is empty");
        it->aliases.push_back(name);
    }
    o.model = o.models[0].source;
    o.so.aliases = o.models[0].aliases;  // --print-claude-env reads them
    return std::nullopt;
}

// Everything that can be checked before the model loads: an exit code when the program stops here, else the
// engine options (and o.so / o.model completed).
std::optional<int> check_options(Options& o, llm::EngineOptions& eo) {
    if (o.log_format == "text") o.so.log_format = llm::server::LogFormat::Text;
    else if (o.log_format == "json") o.so.log_format = llm::server::LogFormat::Json;
    else if (o.log_format == "off") o.so.log_format = llm::server::LogFormat::Off;
    else return usage("--log-format must be text, json or off, got '" + o.log_format + "'");
    auto mode = llm::parse_numerics(o.numerics);
    if (!mode) return usage("--numerics must be invariant, fast or exact, got '" + o.numerics + "'");
    // Each running or queued request holds an HTTP thread (--parallel + --max-queue + 8 of them): bounded so that
    // the pool can be created.
    if (o.so.parallel < 1 || o.so.parallel > 1024) return usage(fmt::format("--parallel must be in [1, 1024], got {}", o.so.parallel));
    if (o.so.max_queue < 0 || o.so.max_queue > 4096) return usage(fmt::format("--max-queue must be in [0, 4096], got {}", o.so.max_queue));
    if (o.so.port < 0 || o.so.port > 65535) return usage(fmt::format("--port must be in [0, 65535], got {}", o.so.port));
    if (o.n_threads < 1 || o.n_threads > llm::kMaxThreads)
        return usage(fmt::format("--threads must be in [1, {}], got {}", llm::kMaxThreads, o.n_threads));
    if (o.n_ctx < 0) return usage(fmt::format("--ctx must be 0 (the model's) or more, got {}", o.n_ctx));
    if (!(o.so.keepalive_s > 0 && o.so.keepalive_s <= 10)) return usage("--keepalive must be in (0, 10] seconds");
    if (o.max_body_mib < 1 || o.max_body_mib > 4096) return usage("--max-body must be in [1, 4096] MiB");
    if (o.json_max_string < 0) return usage("--json-max-string must be 0 (unbounded) or more");
    if (o.shutdown_timeout_s < 0 || o.shutdown_timeout_s > 86400)
        return usage("--shutdown-timeout must be 0 (no limit) to 86400 seconds");
    o.so.max_body = o.max_body_mib << 20;
    if (!o.api_key_file.empty()) {
        std::ifstream in(o.api_key_file);
        if (!in) return fail("cannot read --api-key-file " + o.api_key_file);
        for (std::string line; std::getline(in, line);) {
            while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
            if (!line.empty() && line[0] != '#') o.api_keys.push_back(line);
        }
        if (o.api_keys.empty()) return fail("--api-key-file " + o.api_key_file + " holds no key");
    }
    o.so.api_keys = o.api_keys;
    eo.n_ctx = o.n_ctx;
    eo.n_threads = o.n_threads;
    eo.max_running = o.so.parallel;
    eo.numerics = *mode;
    eo.device = o.device;
    if (!o.kv_pool.empty() && !parse_kv_pool(o.kv_pool, eo.kv_pool_tokens, eo.kv_pool_mib))
        return usage("--kv-pool must be a token count (65536) or a size (512MiB, 2GiB), got '" + o.kv_pool + "'");
    if (!o.mem_budget.empty() && !parse_bytes(o.mem_budget, o.limits.mem_budget))
        return usage("--mem-budget must be a size such as 8GiB, 512MiB or a byte count, got '" + o.mem_budget + "'");
    if (o.mem_budget.empty()) o.limits.mem_budget = (int64_t)sysconf(_SC_PHYS_PAGES) * sysconf(_SC_PAGESIZE) / 4 * 3;
    if (o.limits.max_loaded < 0) return usage("--max-loaded must be 0 (no limit) or more");
    return list_models(o);
}

// --print-claude-env: prints the block and exits (0), or fails on a model that does not load.
int print_claude_env_for(const Options& o) {
    // The context the engine will use: --ctx, else the model's (read from its header; nothing is computed).
    int ctx = o.n_ctx;
    if (ctx <= 0) {
        llm::LoadOptions lo;
        lo.repack = false;  // only the header is read
        auto m = llm::Model::load(o.model, lo);
        if (!m) return fail(m.error_message());
        const int n_ctx_train = (*m)->info().n_ctx_train;
        ctx = std::min(n_ctx_train > 0 ? n_ctx_train : 4096, 4096);
    }
    print_claude_env(o.so, o.models[0].id, ctx, o.api_keys);
    return 0;
}

// The registry of every model; loads the default one now (the others on first use) and hands the registry
// to the bound server. An exit code (0 when it serves).
int start_backend(llm::server::HttpServer& server, const Options& o, const llm::EngineOptions& eo) {
    // Several models share the memory: without --kv-pool, one model's KV pool takes at most a quarter of it.
    const int64_t kv_cap = o.models.size() > 1 ? o.limits.mem_budget / 4 : 0;
    const llm::JsonSchemaOptions schema{.max_string_length = o.json_max_string};
    auto loader = [eo, kv_cap, schema](const llm::server::ModelSpec& spec) {
        std::fprintf(stderr, "llm-serve: loading model %s (%s)\n", spec.id.c_str(), spec.source.c_str());
        auto b = llm::server::load_engine_backend(spec.source, spec.id, eo, kv_cap, schema);
        if (b) std::fprintf(stderr, "llm-serve: loaded model %s: %lld MiB, context %d tokens\n", spec.id.c_str(),
                            (long long)((*b)->info().bytes >> 20), (*b)->info().n_ctx);
        else std::fprintf(stderr, "llm-serve: loading model %s failed: %s\n", spec.id.c_str(), b.error_message().c_str());
        return b;
    };
    auto registry = std::make_shared<llm::server::ModelRegistry>(o.limits, loader);
    for (const llm::server::ModelSpec& m : o.models) registry->add(m);
    auto def = registry->acquire(0);
    if (!def) return fail(def.error_message());
    std::fprintf(stderr, "llm-serve: ready: default model %s, %zu models available, memory budget %lld MiB, %d running "
                 "at most per model, numerics %s\n", o.models[0].id.c_str(), o.models.size(),
                 (long long)(o.limits.mem_budget >> 20), o.so.parallel, std::string(llm::numerics_name(eo.numerics)).c_str());
    def->lease.reset();
    server.set_registry(std::move(registry));
    return 0;
}

// What a stopping server waits for: the shutdown watchdog names it when the stop takes too long.
std::atomic<const char*> g_stop_phase{"requests in flight (connections still open)"};

// SIGINT / SIGTERM reach the watcher through a pipe. A handler, not sigwait() alone: OpenBLAS starts its threads
// when the library loads, before main() can block the signals, and the kernel may hand a process signal to any
// thread that does not block it: under sigwait() with the default action it killed the server there (status -15,
// no stop at all). The handler runs on whichever thread gets the signal and only writes the signal's number.
int g_signal_pipe[2] = {-1, -1};

extern "C" void on_stop_signal(int sig) {
    const int saved = errno;
    const unsigned char b = (unsigned char)sig;
    [[maybe_unused]] const ssize_t n = write(g_signal_pipe[1], &b, 1);
    errno = saved;
}

// The next stop signal's number, or 0 when none came within timeout_ms (-1: wait for good).
int next_stop_signal(int timeout_ms) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    for (;;) {
        int wait_ms = -1;
        if (timeout_ms >= 0)
            wait_ms = (int)std::max<int64_t>(0, std::chrono::ceil<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now()).count());
        pollfd p{.fd = g_signal_pipe[0], .events = POLLIN, .revents = 0};
        const int r = poll(&p, 1, wait_ms);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) return 0;
        unsigned char b = 0;
        if (read(g_signal_pipe[0], &b, 1) == 1) return b;
    }
}

// The stop signals' watcher: the first SIGINT / SIGTERM stops the server; then a second one exits at once, and
// a stop still unfinished after timeout_s (0: no limit) exits with status 1 naming its phase: a client trickling a
// request body, a model load that cannot be interrupted or a stuck thread pool never leaves the process hanging.
// Runs detached until the process ends.
void watch_stop_signals(sigset_t signals, std::function<void()> stop, int timeout_s) {
    pthread_sigmask(SIG_UNBLOCK, &signals, nullptr);
    const int sig = next_stop_signal(-1);
    std::fprintf(stderr, "llm-serve: signal %d, stopping (a second signal exits at once)\n", sig);
    stop();
    const int again = next_stop_signal(timeout_s > 0 ? timeout_s * 1000 : -1);
    if (again > 0)
        std::fprintf(stderr, "llm-serve: signal %d again, exiting at once (was waiting for %s)\n", again, g_stop_phase.load());
    else
        std::fprintf(stderr, "llm-serve: still stopping after %d s (waiting for %s); exiting\n", timeout_s, g_stop_phase.load());
    std::fflush(stderr);
    _exit(1);
}

// Binds, answers /health at once, loads the model behind it and serves until SIGINT / SIGTERM or a failed load.
int serve(const Options& o, const llm::EngineOptions& eo) {
    // SIGPIPE from a vanished client must not kill the server; SIGINT / SIGTERM go to the watcher thread.
    signal(SIGPIPE, SIG_IGN);
    if (pipe2(g_signal_pipe, O_CLOEXEC) != 0) return fail(std::string("cannot create a pipe: ") + std::strerror(errno));
    struct sigaction sa {};
    sa.sa_handler = on_stop_signal;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, nullptr);
    sigaction(SIGTERM, &sa, nullptr);
    // Blocked in the threads started from here on (they inherit the mask) but the watcher, so the handler interrupts
    // no server or engine call; OpenBLAS's threads may still run it, which is harmless.
    sigset_t stop_signals;
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGINT);
    sigaddset(&stop_signals, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

    llm::server::HttpServer server(o.so);
    auto port = server.bind();
    if (!port) return fail(port.error_message());
    std::fprintf(stderr, "llm-serve: listening on http://%s:%d (loading %s)\n", o.so.host.c_str(), *port, o.model.c_str());
    std::thread http([&] { server.serve(); });
    // The watcher outlives serve(): it reaches the server only through this pointer, cleared before it goes.
    static std::mutex server_mu;
    static llm::server::HttpServer* live_server = &server;
    auto stop = [] {
        std::lock_guard lock(server_mu);
        if (live_server) live_server->stop();
    };
    std::thread(watch_stop_signals, stop_signals, stop, o.shutdown_timeout_s).detach();

    const int rc = start_backend(server, o, eo);
    if (rc != 0) server.stop();
    http.join();
    g_stop_phase = "the model engines to stop";
    server.set_registry(nullptr);  // the engines stop here; pending requests end as cancelled
    g_stop_phase = "the process to exit (thread pools, freeing memory)";
    std::lock_guard lock(server_mu);
    live_server = nullptr;
    return rc;
}

}  // namespace

int main(int argc, char** argv) {
    Options o;
    CLI::App app{"llm-serve: an OpenAI-compatible HTTP server on the serving engine.\n"
                 "  POST /v1/chat/completions, /v1/completions, /v1/embeddings; GET /v1/models, /health, /metrics.\n"
                 "  Binds 127.0.0.1 unless --host says otherwise. See docs/SERVER.md."};
    add_options(app, o);
    if (auto code = llm::cli::parse(app, "llm-serve", argc, argv)) return *code;
    try {
        llm::EngineOptions eo;
        if (auto code = check_options(o, eo)) return *code;
        if (o.claude_env) return print_claude_env_for(o);
        return serve(o, eo);
    } catch (const std::exception& e) {  // e.g. a thread the system cannot create
        return fail(e.what());
    }
}
