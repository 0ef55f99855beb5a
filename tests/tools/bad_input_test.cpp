// The bad-input table: every tool fed each bad value of each option must answer with one line on stderr naming
// what is wrong and exit with 1 (could not do the work) or 2 (usage error), never a signal, a hang or an OOM kill.
// The rows are what docs/RELIABILITY.md's table lists.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace fs = std::filesystem;

namespace {

struct Outcome {
    int exit_code = -1;  // -1 when it did not exit normally
    int signal = 0;      // the signal that ended it
    bool timed_out = false;
    std::string out, err;
};

std::string read_file(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

fs::path scratch_dir() {
    static const fs::path dir = [] {
        fs::path d = fs::path(LLM_BINARY_DIR) / "bad_input_test";
        fs::create_directories(d / "hub");
        std::ofstream(d / "not-a-folder") << "x";
        return d;
    }();
    return dir;
}

// Runs build/<tool> with args (no shell), stdin from /dev/null, offline and with an empty hub cache, killed after
// `limit` seconds.
Outcome run_tool(const std::string& tool, const std::vector<std::string>& args, int limit = 120) {
    const fs::path dir = scratch_dir();
    // ctest runs each row in its own process, several at once: one pair of files per process.
    const std::string tag = std::to_string(getpid());
    const fs::path out_file = dir / ("stdout." + tag), err_file = dir / ("stderr." + tag);
    const std::string exe = std::string(LLM_BINARY_DIR) + "/" + tool;
    std::vector<char*> argv;
    argv.push_back(const_cast<char*>(exe.c_str()));
    for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    const pid_t pid = fork();
    if (pid == 0) {
        const int in = open("/dev/null", O_RDONLY);
        const int out = open(out_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
        const int err = open(err_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
        dup2(in, 0), dup2(out, 1), dup2(err, 2);
        setenv("HF_HUB_OFFLINE", "1", 1);
        setenv("HF_HUB_CACHE", (dir / "hub").c_str(), 1);
        setenv("OMP_WAIT_POLICY", "passive", 1);
        execv(exe.c_str(), argv.data());
        _exit(127);
    }
    Outcome r;
    int status = 0;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(limit);
    while (waitpid(pid, &status, WNOHANG) == 0) {
        if (std::chrono::steady_clock::now() > deadline) {
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            r.timed_out = true;
            break;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    if (WIFEXITED(status)) r.exit_code = WEXITSTATUS(status);
    if (WIFSIGNALED(status)) r.signal = WTERMSIG(status);
    r.out = read_file(out_file), r.err = read_file(err_file);
    std::error_code ec;
    fs::remove(out_file, ec), fs::remove(err_file, ec);
    return r;
}

struct Case {
    std::string tool;
    std::vector<std::string> args;
    int exit_code;       // 1: could not do the work; 2: usage error
    std::string expect;  // must appear in the error line
};

std::string fixture(const std::string& rel) { return std::string(LLM_FIXTURES_DIR) + "/models/" + rel; }

void PrintTo(const Case& c, std::ostream* os) {
    *os << c.tool;
    for (const auto& a : c.args) *os << " '" << a << "'";
}

class BadInput : public testing::TestWithParam<Case> {};

TEST_P(BadInput, OneLineErrorAndExitCode) {
    const Case& c = GetParam();
    const Outcome r = run_tool(c.tool, c.args);
    ASSERT_FALSE(r.timed_out) << "hung";
    ASSERT_EQ(r.signal, 0) << "killed by signal " << r.signal << "\n" << r.err;
    EXPECT_EQ(r.exit_code, c.exit_code) << r.err;
    // One error line, the last: "tool: error: ...". Lines before it may only be the tool's own progress notes
    // ("llm-bench: loaded ..."), never a stack trace, "terminate called ..." or a sanitizer report.
    ASSERT_FALSE(r.err.empty());
    ASSERT_EQ(r.err.back(), '\n') << r.err;
    std::vector<std::string> lines;
    for (std::stringstream ss(r.err); std::getline(ss, lines.emplace_back());) {}
    lines.pop_back();
    for (const std::string& line : lines) EXPECT_EQ(line.rfind(c.tool + ": ", 0), 0u) << r.err;
    EXPECT_EQ(lines.back().rfind(c.tool + ": error: ", 0), 0u) << r.err;
    for (size_t i = 0; i + 1 < lines.size(); ++i) EXPECT_EQ(lines[i].find("error"), std::string::npos) << r.err;
    EXPECT_NE(lines.back().find(c.expect), std::string::npos) << "expected '" << c.expect << "' in: " << r.err;
    EXPECT_EQ(r.out, "") << "nothing on stdout";
}

const std::string M = fixture("mistral-gqa/mistral-gqa.Q4_K_M.gguf");
const std::string kNoFolder = "/nonexistent-llm-test/dir";

std::vector<Case> llm_run_cases() {
    const std::string run = "llm-run";
    std::vector<Case> v = {
        {run, {"--bogus"}, 2, "--bogus"},
        {run, {"-m", M, "-p", "hi", "--temp", "-1"}, 2, "--temp: sampler: temperature must be >= 0"},
        {run, {"-m", M, "-p", "hi", "--temp", "nan"}, 2, "temperature"},
        {run, {"-m", M, "-p", "hi", "--temp", "banana"}, 2, "--temp"},
        {run, {"-m", M, "-p", "hi", "--top-k", "-1"}, 2, "--top-k"},
        {run, {"-m", M, "-p", "hi", "--top-p", "1.5"}, 2, "--top-p"},
        {run, {"-m", M, "-p", "hi", "--top-p", "-0.1"}, 2, "--top-p"},
        {run, {"-m", M, "-p", "hi", "--min-p", "2"}, 2, "--min-p"},
        {run, {"-m", M, "-p", "hi", "--typical", "-1"}, 2, "--typical"},
        {run, {"-m", M, "-p", "hi", "--repeat-penalty", "0"}, 2, "--repeat-penalty"},
        {run, {"-m", M, "-p", "hi", "--repeat-penalty", "-1"}, 2, "--repeat-penalty"},
        {run, {"-m", M, "-p", "hi", "--repeat-last-n", "-2"}, 2, "--repeat-last-n"},
        {run, {"-m", M, "-p", "hi", "--frequency-penalty", "inf"}, 2, "--frequency-penalty"},
        {run, {"-m", M, "-p", "hi", "--presence-penalty", "nan"}, 2, "--presence-penalty"},
        {run, {"-m", M, "-p", "hi", "--samplers", "top_k;bogus"}, 2, "bogus"},
        {run, {"-m", M, "-p", "hi", "--seed", "-2"}, 2, "--seed"},
        {run, {"-m", M, "-p", "hi", "--seed", "1x"}, 2, "--seed"},
        {run, {"-m", M, "-p", "hi", "--stop", ""}, 2, "--stop"},
        {run, {"-m", M, "-p", "hi", "-n", "-2"}, 2, "--max-tokens"},
        {run, {"-m", M, "-p", "hi", "-n", "99999999999"}, 2, "--max-tokens"},
        {run, {"-m", M, "-p", "hi", "-c", "-1"}, 2, "--ctx"},
        {run, {"-m", M, "-p", "hi", "-c", "99999999999"}, 2, "--ctx"},
        // The reported cases: a context whose KV cache cannot fit says what fits (exit 1, not 134 or 137).
        {run, {"-m", M, "-p", "hi", "-c", "100000000"}, 1, "fits"},
        {run, {"-m", M, "-p", "hi", "-c", "2000000000"}, 1, "fits"},
        {run, {"-m", M, "-p", "hi", "-t", "0"}, 2, "--threads"},
        {run, {"-m", M, "-p", "hi", "-t", "100000"}, 2, "--threads"},
        {run, {"-m", M, "-p", "hi", "-t", "two"}, 2, "--threads"},
        {run, {"-m", M, "-p", "hi", "-b", "0"}, 2, "--batch"},
        {run, {"-m", M, "-p", "hi", "-b", "-5"}, 2, "--batch"},
        {run, {"-m", M, "-p", "hi", "--kv-type", "q9"}, 2, "--kv-type"},
        {run, {"-m", M, "-p", "hi", "--kv-type", "q4_0"}, 2, "--kv-type"},
        {run, {"-m", M, "-p", "hi", "--device", "gpu"}, 2, "--device"},
        {run, {"-m", M, "-p", "hi", "--device", "vulkan:x"}, 2, "--device"},
        {run, {"-m", M, "-p", "hi", "--quantize", "q9"}, 2, "--quantize"},
        {run, {"-m", M, "-p", "hi", "--numerics", "exactish"}, 2, "--numerics"},
        {run, {"-m", M, "-p", "hi", "--numerics", "invariant", "--flash-attn"}, 2, "--flash-attn"},
        {run, {"-m", M, "-p", "hi", "--schema", "{\"type\": 5}"}, 1, "--schema"},
        {run, {"-m", M, "-p", "hi", "--schema", kNoFolder + "/schema.json"}, 1, "--schema"},
        {run, {"-m", M, "-p", "hi", "--grammar", kNoFolder + "/g.gbnf"}, 1, "--grammar"},
        {run, {"-m", M, "-p", "hi", "--schema", "{}", "--grammar", "g.gbnf"}, 1, "exclude each other"},
        {run, {"-m", M, "--print-grammar"}, 1, "--print-grammar"},
        {run, {"-m", M, "-p", "hi", "--schema", "{}", "--json-max-string", "-1"}, 2, "--json-max-string"},
        {run, {"-m", M, "--tokens", "1", "--schema", "{}"}, 1, "--tokens"},
        {run, {"-m", M, "-p", "hi", "--dump-logits", "x.bin"}, 2, "--tokens"},
        {run, {"-m", M, "-p", "hi", "--one-by-one"}, 2, "--tokens"},
        {run, {"-m", M, "--chat", "-p", "hi"}, 2, "--chat"},
        {run, {"-m", M, "--chat", "--tokens", "1"}, 2, "--chat"},
        {run, {"-m", M, "--chat", "--json"}, 2, "--chat"},
        {run, {"-m", M, "-p", "hi", "-f", "x.txt"}, 2, "excludes"},
        {run, {"-m", "/nonexistent.gguf", "-p", "hi"}, 1, "/nonexistent.gguf"},
        {run, {"-m", "/", "-p", "hi"}, 1, "config.json"},
        {run, {"-m", "hf:", "-p", "hi"}, 1, "hf:"},
        {run, {"-m", "hf:owner/repo:Q4_K_M", "-p", "hi"}, 1, "owner/repo"},
        {run, {"-m", M, "-f", kNoFolder + "/prompt.txt"}, 1, "prompt.txt"},
        {run, {"-m", M, "--tokens", "1,abc"}, 1, "--tokens"},
        {run, {"-m", M, "--tokens", ","}, 1, "--tokens"},
        {run, {"-m", M, "--tokens", "1,99999"}, 1, "out of range"},
        {run, {"-m", M, "--tokens", "1,2", "--dump-logits", kNoFolder + "/x.bin"}, 1, "cannot write"},
        {run, {"-m", M, "--raw", "-p", "hello world, this is long", "-c", "4"}, 1, "context"},
        {run, {"-m", M, "-p", ""}, 1, "prompt"},
    };
    return v;
}

std::vector<Case> other_tool_cases() {
    const std::string tok = "llm-tokenize", bench = "llm-bench", quant = "llm-quantize", pull = "llm-pull",
                      models = "llm-models";
    const std::string out = (scratch_dir() / "out.gguf").string(), not_folder = (scratch_dir() / "not-a-folder");
    // llm-bench: --mem-bw skips the 1 GiB bandwidth measurement where the model must load.
    const std::vector<std::string> b = {"-m", M, "--mem-bw", "10", "-r", "1"};
    auto with = [](std::vector<std::string> base, std::initializer_list<std::string> more) {
        base.insert(base.end(), more);
        return base;
    };
    return {
        {tok, {"--bogus"}, 2, "--bogus"},
        {tok, {"-m", "/nonexistent.gguf", "-p", "hi"}, 1, "/nonexistent.gguf"},
        {tok, {"-m", "/", "-p", "hi"}, 1, "/"},
        {tok, {"-m", "hf:", "-p", "hi"}, 1, "hf:"},
        {tok, {"-m", M, "-p", "hi", "-f", "x.txt"}, 2, "excludes"},
        {tok, {"-m", M, "-f", kNoFolder + "/in.txt"}, 1, "in.txt"},
        {tok, {"-m", M, "--decode", "-p", "abc"}, 1, "bad token id"},
        {tok, {"-m", M, "--decode", "-p", "5000"}, 1, "bad token id"},
        {tok, {"-m", M, "--decode", "-p", "-1"}, 1, "bad token id"},
        {tok, {"-m", M, "--decode", "-p", "99999999999999999999999"}, 1, "bad token id"},
        {tok, {"-m", M, "--decode", "--pieces", "-p", "1"}, 2, "excludes"},

        {bench, {}, 2, "--model"},
        {bench, with(b, {"--bogus"}), 2, "--bogus"},
        {bench, with(b, {"-p", "abc"}), 2, "-p"},
        {bench, with(b, {"-p", "12abc"}), 2, "-p"},
        {bench, with(b, {"-p", "-5"}), 2, "-p"},
        {bench, with(b, {"-p", "99999999999"}), 2, "-p"},
        {bench, with(b, {"-n", "1,x"}), 2, "-n"},
        {bench, with(b, {"-d", "-1"}), 2, "-d"},
        {bench, with(b, {"-t", "0"}), 2, "-t"},
        {bench, with(b, {"-t", "100000"}), 2, "-t"},
        {bench, with(b, {"-pg", "1"}), 2, "-pg"},
        {bench, with(b, {"-p", "0", "-n", "0"}), 2, "no tests"},
        {bench, with(b, {"-r", "0"}), 2, "-r"},
        {bench, with(b, {"-b", "0"}), 2, "n_batch"},
        {bench, with(b, {"-b", "x"}), 2, "--batch-size"},
        {bench, with(b, {"-c", "-1"}), 2, "n_ctx"},
        {bench, with(b, {"-c", "8", "-p", "512"}), 2, "-c 8"},
        {bench, with(b, {"--ctk", "q9"}), 2, "q9"},
        {bench, with(b, {"-o", "xml"}), 2, "xml"},
        {bench, with(b, {"--mem-bw", "-1"}), 2, "--mem-bw"},
        {bench, with(b, {"--peak-gops", "0"}), 2, "--peak-gops"},
        {bench, with(b, {"--device", "gpu"}), 2, "gpu"},
        {bench, with(b, {"--numerics", "exactish"}), 2, "--numerics"},
        {bench, with(b, {"--numerics", "fast", "--flash-attn"}), 2, "--flash-attn"},
        {bench, {"-m", "/nonexistent.gguf", "--mem-bw", "10", "-p", "1", "-n", "0", "-r", "1"}, 1, "/nonexistent.gguf"},
        {bench, with(b, {"-c", "2000000000", "-p", "1", "-n", "0"}), 1, "fits"},
        {bench, with(b, {"-npp", "0"}), 2, "-npp"},
        {bench, with(b, {"-npl", "2000"}), 2, "-npl"},
        {bench, with(b, {"-npp", "100000000", "-npl", "1"}), 1, "memory is available"},
        {bench, with(b, {"--prefix-reuse", "256"}), 2, "'P,S'"},
        {bench, with(b, {"--prefix-reuse", "0,32"}), 2, "--prefix-reuse"},
        {bench, with(b, {"--prefix-reuse", "a,b"}), 2, "--prefix-reuse"},
        {bench, with(b, {"--prefix-reuse", "536870911,1"}), 1, "memory is available"},

        {quant, {}, 2, "IN"},
        {quant, {M, out}, 2, "TYPE"},
        {quant, {"--bogus", M, out, "Q8_0"}, 2, "--bogus"},
        {quant, {M, out, "Q9"}, 2, "Q9"},
        {quant, {M, M, "Q8_0"}, 2, "input file"},
        {quant, {M, scratch_dir().string(), "Q8_0"}, 2, "folder"},
        {quant, {M, out, "Q8_0", "-t", "-1"}, 2, "--threads"},
        {quant, {M, out, "Q8_0", "-t", "abc"}, 2, "--threads"},
        {quant, {"/nonexistent.gguf", out, "Q8_0"}, 1, "/nonexistent.gguf"},
        {quant, {M, kNoFolder + "/out.gguf", "Q8_0", "--allow-requantize"}, 2, "no folder"},
        {quant, {M, out, "Q8_0"}, 1, "--allow-requantize"},

        {pull, {}, 2, "REF"},
        {pull, {"--bogus", "hf:a/b"}, 2, "--bogus"},
        {pull, {"not-a-ref"}, 1, "not-a-ref"},
        {pull, {"hf:"}, 1, "hf:"},
        {pull, {"hf:owner/repo:Q4_K_M"}, 1, "owner/repo"},
        {pull, {"--cache-dir", not_folder, "hf:a/b"}, 2, "not a folder"},

        {models, {"--bogus"}, 2, "--bogus"},
        {models, {"rm"}, 2, "REF"},
        {models, {"rm", "not-a-ref"}, 1, "not-a-ref"},
        {models, {"--cache-dir", not_folder}, 2, "not a folder"},
    };
}

// llm-serve: every bad value is refused before the server binds or loads anything (the few that need the model or
// the socket say so with exit 1). --port 0 so that a row that did start could not collide with another.
std::vector<Case> llm_serve_cases() {
    const std::string serve = "llm-serve";
    auto s = [&](std::initializer_list<std::string> more) {
        std::vector<std::string> args = {"-m", M, "--port", "0"};
        args.insert(args.end(), more);
        return args;
    };
    return {
        {serve, s({"--bogus"}), 2, "--bogus"},
        {serve, s({"-t", "0"}), 2, "--threads"},
        {serve, s({"-t", "100000"}), 2, "--threads"},
        {serve, s({"-t", "two"}), 2, "--threads"},
        {serve, s({"-c", "-1"}), 2, "--ctx"},
        {serve, s({"-c", "99999999999"}), 2, "--ctx"},
        {serve, {"-m", M, "--port", "99999"}, 2, "--port"},
        {serve, {"-m", M, "--port", "-1"}, 2, "--port"},
        // 100000 running sequences asked for 100000 HTTP threads: the process died on std::system_error.
        {serve, s({"--parallel", "0"}), 2, "--parallel"},
        {serve, s({"--parallel", "100000"}), 2, "--parallel"},
        {serve, s({"--max-queue", "-1"}), 2, "--max-queue"},
        {serve, s({"--max-queue", "1000000"}), 2, "--max-queue"},
        {serve, s({"--keepalive", "0"}), 2, "--keepalive"},
        {serve, s({"--keepalive", "nan"}), 2, "--keepalive"},
        {serve, s({"--max-body", "0"}), 2, "--max-body"},
        {serve, s({"--max-body", "-1"}), 2, "--max-body"},
        {serve, s({"--json-max-string", "-1"}), 2, "--json-max-string"},
        {serve, s({"--shutdown-timeout", "-1"}), 2, "--shutdown-timeout"},
        {serve, s({"--log-format", "xml"}), 2, "--log-format"},
        {serve, s({"--numerics", "exactish"}), 2, "--numerics"},
        {serve, s({"--kv-pool", "lots"}), 2, "--kv-pool"},
        {serve, s({"--mem-budget", "8XB"}), 2, "--mem-budget"},
        {serve, s({"--max-loaded", "-1"}), 2, "--max-loaded"},
        {serve, s({"--alias", "nosuch=x"}), 2, "no model has the id"},
        {serve, s({"--api-key-file", kNoFolder + "/keys"}), 1, "--api-key-file"},
        {serve, {"--models-dir", kNoFolder, "--port", "0"}, 1, "not a folder"},
        {serve, {"-m", "/nonexistent.gguf", "--port", "0"}, 1, "/nonexistent.gguf"},
        {serve, s({"--host", "nosuchhost.invalid"}), 1, "cannot listen"},
    };
}

std::string case_name(const testing::TestParamInfo<Case>& info) {
    std::string name = info.param.tool.substr(4) + "_" + std::to_string(info.index);
    for (char& ch : name)
        if (!isalnum((unsigned char)ch)) ch = '_';
    return name;
}

INSTANTIATE_TEST_SUITE_P(LlmRun, BadInput, testing::ValuesIn(llm_run_cases()), case_name);
INSTANTIATE_TEST_SUITE_P(OtherTools, BadInput, testing::ValuesIn(other_tool_cases()), case_name);
INSTANTIATE_TEST_SUITE_P(LlmServe, BadInput, testing::ValuesIn(llm_serve_cases()), case_name);

// The reported case: llm-tokenize takes the default model as llm-run does.
TEST(ToolDefaults, TokenizeUsesTheDefaultModel) {
    const Outcome with_default = run_tool("llm-tokenize", {"-p", "hi"});
    if (with_default.exit_code != 0 && with_default.err.find("no default model") != std::string::npos)
        GTEST_SKIP() << "no cached default model: run scripts/fetch-smollm2.sh";
    EXPECT_EQ(with_default.exit_code, 0) << with_default.err;
    EXPECT_FALSE(with_default.out.empty());
}

// --help still prints the options and exits 0 through the shared parse helper.
TEST(ToolDefaults, HelpExitsZero) {
    for (const char* tool : {"llm-run", "llm-tokenize", "llm-bench", "llm-quantize", "llm-pull", "llm-models"}) {
        const Outcome r = run_tool(tool, {"--help"});
        EXPECT_EQ(r.exit_code, 0) << tool << ": " << r.err;
        EXPECT_NE(r.out.find("--help"), std::string::npos) << tool;
    }
}

}  // namespace
