// Several processes and the tools: two pulls of one file at once, a full disk (RLIMIT_FSIZE in a child),
// Ctrl-C on llm-pull, llm-models listing and removal, and llm-run -m hf:... through Model::load.
#include <sys/resource.h>

#include <regex>

#include "hub/cached_models.hpp"
#include "hub_test_util.hpp"

using namespace hub_test;

namespace {

// Runs `body` in a forked child; its error message (empty: success) comes back through a file.
struct Child {
    pid_t pid = -1;
    std::string result_file;
};

Child fork_pull(HubFixture& t, const std::string& ref, const std::string& result_file, const std::function<void()>& setup) {
    Child c;
    c.result_file = result_file;
    c.pid = ::fork();
    if (c.pid == 0) {
        std::vector<std::string> notes;
        t.opts.note = [&](const std::string& m) { notes.push_back(m); };
        if (setup) setup();
        auto r = t.pull(ref);
        std::string out = r ? "ok " + r->path : "error " + r.error_message();
        for (const auto& n : notes) out += "\nnote " + n;
        // Written after the limits of `setup` may apply: keep it small and allowed.
        const int fd = ::open(result_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd >= 0) {
            [[maybe_unused]] ssize_t n = ::write(fd, out.data(), out.size());
            ::close(fd);
        }
        ::_exit(r ? 0 : 1);
    }
    return c;
}

int wait_child(const Child& c) {
    int st = 0;
    ::waitpid(c.pid, &st, 0);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

}  // namespace

using Processes = HubFixture;

TEST_F(Processes, TwoConcurrentPullsOfOneFileDownloadItOnce) {
    const std::string gguf = fixture("llama-mha/llama-mha.Q8_0.gguf");
    const uint64_t size = fs::file_size(gguf);
    hub->faults(json::array({{{"server", "storage"}, {"action", "throttle"}, {"bps", 2'000'000}}}));  // ~1 s: the pulls overlap
    Child a = fork_pull(*this, "hf:test/llama-mha-GGUF:Q8_0", dir / "a.txt", nullptr);
    Child b = fork_pull(*this, "hf:test/llama-mha-GGUF:Q8_0", dir / "b.txt", nullptr);
    EXPECT_EQ(wait_child(a), 0) << read_all(dir / "a.txt");
    EXPECT_EQ(wait_child(b), 0) << read_all(dir / "b.txt");
    const std::string ra = read_all(dir / "a.txt"), rb = read_all(dir / "b.txt");
    ASSERT_EQ(ra.rfind("ok ", 0), 0u) << ra;
    EXPECT_EQ(ra.substr(0, ra.find('\n')), rb.substr(0, rb.find('\n')));
    const std::string path = ra.substr(3, ra.find('\n') - 3);
    EXPECT_EQ(sha256_of_file(path), sha256_of_file(gguf));
    // The lock made the second process wait for the first one's blob instead of fetching it again.
    EXPECT_EQ(hub->storage_bytes("/blobs/"), size);
    EXPECT_NE((ra + rb).find("waiting for another process downloading llama-mha.Q8_0.gguf"), std::string::npos) << ra << rb;
}

TEST_F(Processes, FullDiskGivesAClearErrorAndNoCorruptEntry) {
    const std::string gguf = fixture("llama-mha/llama-mha.Q8_0.gguf");
    Child c = fork_pull(*this, "hf:test/llama-mha-GGUF:Q8_0", dir / "r.txt", [] {
        ::signal(SIGXFSZ, SIG_IGN);  // writes past the limit fail with EFBIG instead of killing the process
        rlimit lim{600000, 600000};
        ::setrlimit(RLIMIT_FSIZE, &lim);
    });
    EXPECT_EQ(wait_child(c), 1);
    const std::string r = read_all(dir / "r.txt");
    const std::string sha = sha256_of_file(gguf);
    const std::string inc = repo_dir("test/llama-mha-GGUF") + "/blobs/" + sha + ".incomplete";
    EXPECT_NE(r.find("error " + inc + ": file too large"), std::string::npos) << r;
    EXPECT_NE(r.find("run again to resume"), std::string::npos) << r;
    EXPECT_FALSE(fs::exists(repo_dir("test/llama-mha-GGUF") + "/blobs/" + sha));
    const std::string commit = read_all(repo_dir("test/llama-mha-GGUF") + "/refs/main");
    EXPECT_FALSE(fs::exists(repo_dir("test/llama-mha-GGUF") + "/snapshots/" + commit + "/llama-mha.Q8_0.gguf"));
    EXPECT_EQ(fs::file_size(inc), 600000u);  // a valid prefix, resumed below

    auto again = pull("hf:test/llama-mha-GGUF:Q8_0");
    ASSERT_TRUE(again) << again.error_message();
    EXPECT_EQ(again->files[0].resumed_from, 600000u);
    EXPECT_EQ(sha256_of_file(again->path), sha);
}

TEST_F(Processes, CtrlCOnLlmPullKeepsAResumablePartialFile) {
    const std::string gguf = fixture("llama-mha/llama-mha.Q8_0.gguf");
    const std::string sha = sha256_of_file(gguf);
    const std::string inc = repo_dir("test/llama-mha-GGUF") + "/blobs/" + sha + ".incomplete";
    hub->faults(json::array({{{"server", "storage"}, {"action", "throttle"}, {"bps", 1'000'000}}}));
    const pid_t pid = ::fork();
    if (pid == 0) {
        ::setenv("HF_ENDPOINT", env.endpoint.c_str(), 1);
        ::setenv("HF_HUB_CACHE", env.cache_dir.c_str(), 1);
        const int devnull = ::open((dir / "pull.log").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
        ::dup2(devnull, 1), ::dup2(devnull, 2);
        ::execl(bin("llm-pull").c_str(), "llm-pull", "hf:test/llama-mha-GGUF:Q8_0", (char*)nullptr);
        ::_exit(127);
    }
    std::error_code ec;
    for (int i = 0; i < 500 && !(fs::exists(inc, ec) && fs::file_size(inc, ec) > 200000); ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    ::kill(pid, SIGINT);
    int st = 0;
    ::waitpid(pid, &st, 0);
    const std::string log = read_all(dir / "pull.log");
    ASSERT_TRUE(WIFEXITED(st)) << log;
    EXPECT_EQ(WEXITSTATUS(st), 130) << log;
    EXPECT_NE(log.find("interrupted after"), std::string::npos) << log;
    ASSERT_TRUE(fs::exists(inc)) << log;
    const uint64_t kept = fs::file_size(inc);
    EXPECT_GT(kept, 0u);

    hub->reset();
    auto r = pull("hf:test/llama-mha-GGUF:Q8_0");
    ASSERT_TRUE(r) << r.error_message();
    EXPECT_EQ(r->files[0].resumed_from, kept);
    EXPECT_EQ(r->files[0].downloaded, fs::file_size(gguf) - kept);
    // (The killed transfer's server thread may log its request late: look at the resuming one only.)
    int resumed = 0;
    for (const auto& q : hub->requests())
        if (q["server"] == "storage" && q["method"] == "GET" && q["range"] == "bytes=" + std::to_string(kept) + "-") {
            ++resumed;
            EXPECT_EQ(q["sent"].get<uint64_t>(), fs::file_size(gguf) - kept);
        }
    EXPECT_EQ(resumed, 1);
    EXPECT_EQ(sha256_of_file(r->path), sha);
}

TEST_F(Processes, LlmPullAndLlmModels) {
    const std::string envs = "HF_ENDPOINT=" + env.endpoint + " HF_HUB_CACHE=" + env.cache_dir + " ";
    auto [hc, help] = run(bin("llm-pull") + " --help");
    EXPECT_EQ(hc, 0);
    EXPECT_NE(help.find("hf:owner/repo:QUANT"), std::string::npos) << help;
    EXPECT_NE(help.find("HF_HUB_OFFLINE"), std::string::npos) << help;
    auto [mc, mhelp] = run(bin("llm-models") + " --help");
    EXPECT_EQ(mc, 0);
    EXPECT_NE(mhelp.find("llm-models rm REF"), std::string::npos) << mhelp;

    auto [pc, pout] = run(envs + bin("llm-pull") + " -q hf:test/llama-mha-GGUF:Q4_K_M hf:test/llama-mha-GGUF:q8_0 hf:test/llama-mha 2>/dev/null");
    ASSERT_EQ(pc, 0) << pout;
    EXPECT_NE(pout.find("/snapshots/"), std::string::npos) << pout;
    EXPECT_EQ(std::count(pout.begin(), pout.end(), '\n'), 3) << pout;  // one path per reference on stdout

    auto [bc, bout] = run(envs + bin("llm-pull") + " hf:test/llama-mha-GGUF:Q5_K_S");
    EXPECT_EQ(bc, 1);
    EXPECT_NE(bout.find("llm-pull: error: hf:test/llama-mha-GGUF:Q5_K_S: no Q5_K_S GGUF"), std::string::npos) << bout;

    auto [lc, list] = run(envs + bin("llm-models"));
    ASSERT_EQ(lc, 0) << list;
    EXPECT_NE(list.find("cache: " + env.cache_dir), std::string::npos) << list;
    // ref, architecture, parameters, weight type, context length from the files themselves
    std::smatch m;
    EXPECT_TRUE(std::regex_search(list, m, std::regex(R"(hf:test/llama-mha-GGUF:Q4_K_M +llama +[0-9.]+M +Q4_K_M +256 +1\.1 MiB +20)")))
        << list;
    EXPECT_TRUE(std::regex_search(list, m, std::regex(R"(hf:test/llama-mha-GGUF:Q8_0 +llama +[0-9.]+M +Q8_0 +256 )"))) << list;
    EXPECT_TRUE(std::regex_search(list, m, std::regex(R"(hf:test/llama-mha +LlamaForCausalLM +[0-9.]+M +bfloat16 +256 +3\.5 MiB)")))
        << list;

    auto [jc, jout] = run(envs + bin("llm-models") + " --json");
    ASSERT_EQ(jc, 0);
    auto j = json::parse(jout);
    ASSERT_EQ(j.size(), 3u) << jout;
    EXPECT_EQ(j[0]["parameters"], j[1]["parameters"]);  // the same model in two quantizations

    auto [rc, rout] = run(envs + bin("llm-models") + " rm hf:test/llama-mha-GGUF:Q4_K_M");
    EXPECT_EQ(rc, 0) << rout;
    auto [lc2, list2] = run(envs + bin("llm-models"));
    EXPECT_EQ(list2.find("Q4_K_M"), std::string::npos) << list2;
    EXPECT_NE(list2.find("hf:test/llama-mha-GGUF:Q8_0"), std::string::npos) << list2;
    EXPECT_EQ(llm::hub::list_cached_models(llm::hub::HubCache(env.cache_dir)).size(), 2u);
    const std::string q4 = sha256_of_file(fixture("llama-mha/llama-mha.Q4_K_M.gguf"));
    EXPECT_FALSE(fs::exists(repo_dir("test/llama-mha-GGUF") + "/blobs/" + q4));
    auto [rc2, rout2] = run(envs + bin("llm-models") + " rm hf:test/llama-mha-GGUF:Q8_0 hf:test/llama-mha");
    EXPECT_EQ(rc2, 0) << rout2;
    EXPECT_FALSE(fs::exists(repo_dir("test/llama-mha-GGUF")));  // nothing left: the repository folder goes
    EXPECT_FALSE(fs::exists(repo_dir("test/llama-mha")));
    auto [rc3, rout3] = run(envs + bin("llm-models") + " rm hf:test/llama-mha");
    EXPECT_EQ(rc3, 1);
    EXPECT_NE(rout3.find("not in the cache"), std::string::npos) << rout3;
}

// Model::load resolves hf: references, so every tool taking -m does: llm-run when built, else llm-bench.
TEST_F(Processes, ToolsLoadAnHfReferenceThroughModelLoad) {
    std::string tool_args;
    if (fs::exists(bin("llm-run"))) tool_args = bin("llm-run") + " --raw -p 'hello' -n 4 --temp 0 -m ";
    else if (fs::exists(bin("llm-bench"))) tool_args = bin("llm-bench") + " -p 8 -n 2 -r 1 --mem-bw 10 --peak-gops 100 -m ";
    else GTEST_SKIP() << "neither llm-run nor llm-bench is built in " << LLM_BINARY_DIR;
    const std::string envs = "HF_ENDPOINT=" + env.endpoint + " HF_HUB_CACHE=" + env.cache_dir + " ";
    auto [c, out] = run(envs + tool_args + "hf:test/llama-mha-GGUF:Q8_0 </dev/null");
    EXPECT_EQ(c, 0) << out;
    EXPECT_NE(out.find("downloading llama-mha.Q8_0.gguf"), std::string::npos) << out;  // plain progress lines: not a tty
    EXPECT_TRUE(fs::exists(repo_dir("test/llama-mha-GGUF") + "/refs/main")) << out;
    // Offline now: the cached file is used, and nothing is asked of the hub.
    hub->reset();
    auto [c2, out2] = run("HF_HUB_OFFLINE=1 " + envs + tool_args + "hf:test/llama-mha-GGUF:Q8_0 </dev/null");
    EXPECT_EQ(c2, 0) << out2;
    EXPECT_TRUE(hub->requests().empty());
    auto [c3, out3] = run("HF_HUB_OFFLINE=1 " + envs + tool_args + "hf:test/llama-mha-GGUF:Q2_K </dev/null");
    EXPECT_NE(c3, 0);
    EXPECT_NE(out3.find("hf:test/llama-mha-GGUF:Q2_K: not in the cache"), std::string::npos) << out3;
}
