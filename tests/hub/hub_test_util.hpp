// Test helpers: the fake hub (tests/hub/fake_hub.py) as a child process on loopback ports, a temporary cache,
// the fixture repositories, and small process/file utilities.
#pragma once
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <thread>

#include "hub/http.hpp"
#include "hub/hub.hpp"
#include "hub/sha.hpp"

namespace hub_test {

namespace fs = std::filesystem;
using nlohmann::json;

inline std::string fixture(const std::string& rel) { return std::string(LLM_FIXTURES_DIR) + "/models/" + rel; }

inline std::string read_all(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
}

inline void write_all(const std::string& path, const std::string& data) {
    fs::create_directories(fs::path(path).parent_path());
    std::ofstream f(path, std::ios::binary | std::ios::trunc);
    f << data;
}

inline std::string sha256_of_file(const std::string& path) {
    const std::string d = read_all(path);
    return llm::hub::sha256_hex(d.data(), d.size());
}

// A fresh folder under the temp dir, removed afterwards.
class TempDir {
public:
    explicit TempDir(const std::string& tag) {
        static int counter = 0;
        path_ = (fs::temp_directory_path() /
                 ("llm_hub_" + tag + "_" + std::to_string(::getpid()) + "_" + std::to_string(counter++))).string();
        fs::remove_all(path_);
        fs::create_directories(path_);
    }
    ~TempDir() {
        std::error_code ec;
        fs::remove_all(path_, ec);
    }
    const std::string& path() const { return path_; }
    std::string operator/(const std::string& rel) const { return path_ + "/" + rel; }

private:
    std::string path_;
};

// The interpreter behind `python3`, resolved once (a pyenv shim costs ~0.3 s per start).
inline const std::string& python_exe() {
    static const std::string exe = [] {
        std::string out;
        if (FILE* p = ::popen("python3 -c 'import http.server, sys; print(sys.executable)' 2>/dev/null", "r")) {
            char buf[512];
            while (std::fgets(buf, sizeof buf, p)) out += buf;
            ::pclose(p);
        }
        while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) out.pop_back();
        return out;
    }();
    return exe;
}
inline bool have_python() { return !python_exe().empty(); }

// The hub the tests talk to. Repositories (content from ../shared/fixtures/models):
//   test/llama-mha-GGUF    llama-mha.{Q2_K,Q4_K_M,Q8_0}.gguf, mmproj-llama-mha-F16.gguf, README.md; revision v1: Q4_0, Q2_K
//   test/llama-mha         the safetensors twin + files a folder pull must skip (pytorch_model.bin, original/)
//   test/sharded           model.safetensors.index.json naming two shards, plus an unlisted consolidated.safetensors
//   test/split-GGUF        model-Q4_K_M-0000{1,2}-of-00002.gguf
//   test/private-GGUF      private (token "hf_test_token_0123456789")
class FakeHub {
public:
    static constexpr const char* kToken = "hf_test_token_0123456789";

    explicit FakeHub(const TempDir& dir) {
        const std::string gguf = fixture("llama-mha/llama-mha.");
        const std::string hf = fixture("llama-mha/hf/");
        write_all(dir / "srv/shard1", std::string(300000, 'a'));
        write_all(dir / "srv/shard2", std::string(200000, 'b'));
        write_all(dir / "srv/part1", std::string(150000, 'x'));
        write_all(dir / "srv/part2", std::string(150001, 'y'));
        json index = {{"metadata", {{"total_size", 500000}}},
                      {"weight_map", {{"a.weight", "model-00001-of-00002.safetensors"},
                                      {"b.weight", "model-00002-of-00002.safetensors"}}}};
        auto f = [](const std::string& p) { return json{{"file", p}}; };
        auto t = [](const std::string& s) { return json{{"text", s}}; };
        json cfg = {
            {"token", kToken},
            {"repos",
             {{"test/llama-mha-GGUF",
               {{"revisions",
                 {{"main", {{"files", {{"llama-mha.Q2_K.gguf", f(gguf + "Q2_K.gguf")},
                                       {"llama-mha.Q4_K_M.gguf", f(gguf + "Q4_K_M.gguf")},
                                       {"llama-mha.Q8_0.gguf", f(gguf + "Q8_0.gguf")},
                                       {"mmproj-llama-mha-F16.gguf", t("not a model")},
                                       {"README.md", t("# llama-mha GGUF\n")}}}}},
                  {"v1", {{"files", {{"llama-mha.Q4_0.gguf", f(gguf + "Q4_0.gguf")},
                                     {"llama-mha.Q2_K.gguf", f(gguf + "Q2_K.gguf")}}}}}}}}},
              {"test/llama-mha",
               {{"revisions",
                 {{"main", {{"files", {{"config.json", f(hf + "config.json")},
                                       {"generation_config.json", f(hf + "generation_config.json")},
                                       {"model.safetensors", f(hf + "model.safetensors")},
                                       {"tokenizer_vocab.json", f(hf + "tokenizer_vocab.json")},
                                       {"pytorch_model.bin", t("pickle, not wanted")},
                                       {"original/consolidated.safetensors", t("not wanted")},
                                       {".gitattributes", t("*.safetensors filter=lfs\n")}}}}}}}}},
              {"test/sharded",
               {{"revisions",
                 {{"main", {{"files", {{"config.json", t("{\"architectures\": [\"LlamaForCausalLM\"]}")},
                                       {"model.safetensors.index.json", t(index.dump())},
                                       {"model-00001-of-00002.safetensors", f(dir / "srv/shard1")},
                                       {"model-00002-of-00002.safetensors", f(dir / "srv/shard2")},
                                       {"consolidated.safetensors", f(dir / "srv/shard1")}}}}}}}}},
              {"test/split-GGUF",
               {{"revisions",
                 {{"main", {{"files", {{"model-Q4_K_M-00001-of-00002.gguf", f(dir / "srv/part1")},
                                       {"model-Q4_K_M-00002-of-00002.gguf", f(dir / "srv/part2")}}}}}}}}},
              {"test/private-GGUF",
               {{"private", true},
                {"revisions", {{"main", {{"files", {{"llama-mha.Q2_K.gguf", f(gguf + "Q2_K.gguf")}}}}}}}}}}}};
        write_all(dir / "srv/config.json", cfg.dump());
        start(dir / "srv/config.json");
    }

    ~FakeHub() {
        if (pid_ > 0) {
            ::kill(pid_, SIGTERM);
            int st = 0;
            ::waitpid(pid_, &st, 0);
        }
        if (out_) std::fclose(out_);
    }

    bool ok() const { return hub_port_ > 0; }
    std::string endpoint() const { return "http://127.0.0.1:" + std::to_string(hub_port_); }

    void faults(const json& rules) { ctl("/_ctl/faults?set=" + llm::hub::url_encode(rules.dump(), false)); }
    void reset() { ctl("/_ctl/reset"); }
    json requests() { return json::parse(ctl("/_ctl/stats"))["requests"]; }

    // Body bytes the storage server sent for GETs whose path contains `match`.
    uint64_t storage_bytes(const std::string& match) {
        uint64_t n = 0;
        for (const auto& r : requests())
            if (r["server"] == "storage" && r["method"] == "GET" && r["path"].get<std::string>().find(match) != std::string::npos)
                n += r["sent"].get<uint64_t>();
        return n;
    }
    int count(const std::string& server, const std::string& method, const std::string& match) {
        int n = 0;
        for (const auto& r : requests())
            if (r["server"] == server && r["method"] == method && r["path"].get<std::string>().find(match) != std::string::npos) ++n;
        return n;
    }

private:
    void start(const std::string& config) {
        int fds[2];
        if (::pipe(fds) != 0) return;
        pid_ = ::fork();
        if (pid_ == 0) {
            ::dup2(fds[1], 1);
            ::close(fds[0]);
            ::close(fds[1]);
            const std::string script = std::string(LLM_SOURCE_DIR) + "/tests/hub/fake_hub.py";
            ::execl(python_exe().c_str(), "python3", script.c_str(), config.c_str(), (char*)nullptr);
            ::_exit(127);
        }
        ::close(fds[1]);
        out_ = ::fdopen(fds[0], "r");
        pollfd p{fds[0], POLLIN, 0};
        if (::poll(&p, 1, 10000) <= 0) return;  // the server prints READY within a second
        char line[128] = {};
        if (!std::fgets(line, sizeof line, out_)) return;
        int hub = 0, storage = 0;
        if (std::sscanf(line, "READY %d %d", &hub, &storage) == 2) hub_port_ = hub;
    }

    std::string ctl(const std::string& path) {
        llm::hub::HttpClient http;
        auto r = http.request("GET", endpoint() + path, {}, false);
        EXPECT_EQ(r.status, 200) << path << ": " << r.describe();
        return r.body;
    }

    pid_t pid_ = -1;
    FILE* out_ = nullptr;
    int hub_port_ = 0;
};

// A temp cache + fake hub + environment and options fit for tests (fast retries, notes collected).
struct HubFixture : ::testing::Test {
    TempDir dir{"t"};
    std::unique_ptr<FakeHub> hub;
    llm::hub::HubEnv env;
    llm::hub::PullOptions opts;
    std::vector<std::string> notes;

    void SetUp() override {
        if (!have_python()) GTEST_SKIP() << "python3 not found: the fake hub needs it";
        hub = std::make_unique<FakeHub>(dir);
        ASSERT_TRUE(hub->ok()) << "tests/hub/fake_hub.py did not start";
        env.endpoint = hub->endpoint();
        env.cache_dir = dir / "cache";
        env.token_file = dir / "no-token";
        opts.max_retries = 3;
        opts.backoff_ms = 1;
        opts.max_backoff_ms = 20;
        opts.low_speed_time_s = 5;
        opts.note = [this](const std::string& m) { notes.push_back(m); };
        llm::hub::clear_cancel();
    }

    llm::Expected<llm::hub::PullResult> pull(const std::string& ref) {
        auto r = llm::hub::parse_model_ref(ref);
        if (!r) return r.status();
        return llm::hub::pull(*r, env, opts);
    }
    std::string repo_dir(const std::string& repo) const { return llm::hub::HubCache(env.cache_dir).repo_dir(repo); }
    std::string all_notes() const {
        std::string s;
        for (const auto& n : notes) s += n + "\n";
        return s;
    }
};

// Runs a shell command, returning (exit code, stdout+stderr).
inline std::pair<int, std::string> run(const std::string& cmd) {
    std::string out;
    FILE* p = ::popen((cmd + " 2>&1").c_str(), "r");
    std::array<char, 4096> buf;
    size_t n;
    while ((n = std::fread(buf.data(), 1, buf.size(), p)) > 0) out.append(buf.data(), n);
    const int st = ::pclose(p);
    return {WIFEXITED(st) ? WEXITSTATUS(st) : -1, out};
}

inline std::string bin(const std::string& tool) { return std::string(LLM_BINARY_DIR) + "/" + tool; }

}  // namespace hub_test
