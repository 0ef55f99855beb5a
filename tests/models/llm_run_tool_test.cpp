// llm-run driven as a user would: piped stdin for chat, the timing summary, errors and exit codes.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <regex>
#include <string>

#include "fixture_util.hpp"
#include "models/default_model.hpp"

namespace {

struct RunResult {
    int exit_code = -1;
    std::string output;  // stdout and stderr together
};

// Runs a shell command line; its stdout (and whatever the line redirects there) and exit code.
RunResult run_command(const std::string& cmd) {
    RunResult r;
    FILE* p = popen(cmd.c_str(), "r");
    std::array<char, 4096> buf;
    size_t n;
    while ((n = std::fread(buf.data(), 1, buf.size(), p)) > 0) r.output.append(buf.data(), n);
    const int status = pclose(p);
    r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    return r;
}

RunResult run(const std::string& args, const std::string& stdin_text = "") {
    // One file per process: ctest runs the tool tests in parallel processes.
    const std::string input = std::string(LLM_BINARY_DIR) + "/llm_run_test_input." + std::to_string(getpid()) + ".txt";
    FILE* in = std::fopen(input.c_str(), "wb");
    std::fwrite(stdin_text.data(), 1, stdin_text.size(), in);
    std::fclose(in);
    const RunResult r = run_command(std::string(LLM_BINARY_DIR) + "/llm-run " + args + " < " + input + " 2>&1");
    std::remove(input.c_str());
    return r;
}

std::vector<int> prompt_token_counts(const std::string& out) {
    std::vector<int> counts;
    std::regex re(R"(prompt\s+[0-9.]+ ms /\s+([0-9]+) tokens)");
    for (auto it = std::sregex_iterator(out.begin(), out.end(), re); it != std::sregex_iterator(); ++it)
        counts.push_back(std::stoi((*it)[1]));
    return counts;
}

TEST(LlmRunTool, ChatFromPipedStdinReusesTheCacheOnTheSecondTurn) {
    auto model = llm::find_default_model();
    if (!model) GTEST_SKIP() << "SmolLM2-135M-Instruct not in the cache: run scripts/fetch-smollm2.sh";
    RunResult r = run("-m " + *model + " --chat --temp 0 -n 32 -c 1024",
                      "Name three primary colors.\nWhat is 2+2?\n");
    ASSERT_EQ(r.exit_code, 0) << r.output;
    std::printf("%s\n", r.output.c_str());
    const auto counts = prompt_token_counts(r.output);
    ASSERT_EQ(counts.size(), 2u) << r.output;
    // Turn 1 evaluates the templated system + user message; turn 2 only what follows the cached history
    // (the second question and its template markers: far fewer tokens than the whole conversation).
    EXPECT_GT(counts[0], 20);
    EXPECT_LT(counts[1], counts[0]);
    // Each turn prints an answer before its timing summary, and the answers make sense: the first names
    // primary colors, the second (which only sees the first turn through the reused cache) says 4.
    const size_t first_summary = r.output.find("llm-run: prompt");
    ASSERT_NE(first_summary, std::string::npos) << r.output;
    const std::string answer1 = r.output.substr(0, first_summary);
    const size_t second_start = r.output.find("stop:", first_summary);
    ASSERT_NE(second_start, std::string::npos) << r.output;
    const std::string answer2 =
        r.output.substr(second_start, r.output.find("llm-run: prompt", second_start) - second_start);
    int colors = 0;
    for (const char* c : {"Red", "Blue", "Yellow"}) colors += answer1.find(c) != std::string::npos;
    EXPECT_GE(colors, 2) << answer1;
    EXPECT_NE(answer2.find('4'), std::string::npos) << answer2;
}

TEST(LlmRunTool, SameSeedSameTextAcrossRunsAndThreadCounts) {
    const std::string m = llm::test::models_dir() + "/mistral-gqa/mistral-gqa.Q4_K_M.gguf";
    const std::string args = "-m " + m + " --raw -p 'the quick brown fox' -n 24 --temp 0.9 --seed 1234 --json";
    RunResult a = run(args + " -t 1"), b = run(args + " -t 2"), c = run(args + " -t 2");
    ASSERT_EQ(a.exit_code, 0) << a.output;
    auto text = [](const std::string& out) {
        auto j = nlohmann::json::parse(out.substr(out.find('{')));
        return j["tokens"].dump();
    };
    EXPECT_EQ(text(a.output), text(b.output));
    EXPECT_EQ(text(b.output), text(c.output));
    RunResult d = run("-m " + m + " --raw -p 'the quick brown fox' -n 24 --temp 0.9 --seed 99 --json -t 1");
    EXPECT_NE(text(a.output), text(d.output));
}

// Issue 4: a safetensors folder quantized at load time by llm-run gives the Q4_0 GGUF's greedy tokens (the
// fixtures' HF twins carry no tokenizer, so the prompt is token ids and the continuation is printed as ids).
TEST(LlmRunTool, SafetensorsQuantizedAtLoadMatchesTheQ4_0Gguf) {
    const std::string dir = llm::test::models_dir() + "/llama-mha";
    const std::string args = " --tokens 1,17,81,115 --temp 0 -n 24";
    RunResult hf = run("-m " + dir + "/hf --quantize q4_0" + args);
    RunResult gguf = run("-m " + dir + "/llama-mha.Q4_0.gguf" + args);
    ASSERT_EQ(hf.exit_code, 0) << hf.output;
    ASSERT_EQ(gguf.exit_code, 0) << gguf.output;
    auto ids = [](const std::string& out) {  // the last line: comma-separated ids
        std::string s = out.substr(0, out.find_last_not_of('\n') + 1);
        return s.substr(s.find_last_of('\n') + 1);
    };
    const std::string want = ids(gguf.output);
    EXPECT_EQ(std::count(want.begin(), want.end(), ','), 23) << gguf.output;
    EXPECT_EQ(ids(hf.output), want);
}

TEST(LlmRunTool, ErrorsAreOneLineAndNonZero) {
    RunResult missing = run("-m /nonexistent.gguf -p hi");
    EXPECT_EQ(missing.exit_code, 1);
    EXPECT_NE(missing.output.find("llm-run: error: /nonexistent.gguf"), std::string::npos) << missing.output;
    const std::string m = llm::test::models_dir() + "/llama-mha/llama-mha.Q8_0.gguf";
    RunResult bad_type = run("-m " + m + " -p hi --kv-type q9");
    EXPECT_EQ(bad_type.exit_code, 2);  // a usage error
    EXPECT_NE(bad_type.output.find("--kv-type"), std::string::npos);
    RunResult overflow = run("-m " + m + " --raw -p 'hello world, this is long' -c 4");
    EXPECT_EQ(overflow.exit_code, 1);
    EXPECT_NE(overflow.output.find("context"), std::string::npos) << overflow.output;
    RunResult bad_option = run("-m " + m + " --temp banana");
    EXPECT_NE(bad_option.exit_code, 0);
}

TEST(LlmRunTool, DumpLogitsWritesEveryPosition) {
    const std::string m = llm::test::models_dir() + "/phi3/phi3.Q8_0.gguf";
    const std::string out = std::string(LLM_BINARY_DIR) + "/llm_run_test_logits.bin";
    for (const char* mode : {"", " --one-by-one"}) {
        RunResult r = run("-m " + m + " --tokens 1,583,930,935 --dump-logits " + out + mode);
        ASSERT_EQ(r.exit_code, 0) << r.output;
        EXPECT_EQ(llm::test::read_f32(out).size(), 4u * 1024);
    }
}

}  // namespace

namespace {

// The Vulkan backend through the tool (lavapipe in CI): F16 (phi3: BF16, the only float file shipped), Q8_0,
// Q4_0 and Q4_K_M of every fixture architecture, batch and one by one, within the manifest's tolerance.
TEST(LlmRunTool, VulkanDeviceMatchesReferenceLogits) {
    RunResult devices = run("--list-devices");
    ASSERT_EQ(devices.exit_code, 0);
    if (devices.output.find("vulkan:0") == std::string::npos)
        GTEST_SKIP() << "no Vulkan device (install mesa-vulkan-drivers for lavapipe): " << devices.output;
    const std::string out = std::string(LLM_BINARY_DIR) + "/llm_run_test_vk_logits.bin";
    const auto tokens = llm::test::manifest()["sequence"]["tokens"].get<std::vector<int32_t>>();
    std::string ids;
    for (int32_t t : tokens) {
        if (!ids.empty()) ids += ",";
        ids += std::to_string(t);
    }
    for (const char* m : {"llama-mha/llama-mha.F16", "llama-mha/llama-mha.Q8_0", "llama-mha/llama-mha.Q4_0",
                          "llama-mha/llama-mha.Q4_K_M", "mistral-gqa/mistral-gqa.F16", "mistral-gqa/mistral-gqa.Q8_0",
                          "mistral-gqa/mistral-gqa.Q4_0", "mistral-gqa/mistral-gqa.Q4_K_M", "phi3/phi3.BF16",
                          "phi3/phi3.Q8_0", "phi3/phi3.Q4_0", "phi3/phi3.Q4_K_M"}) {
        const std::string type = std::string(m).substr(std::string(m).rfind('.') + 1);
        const std::string name = std::string(m).substr(std::string(m).find('/') + 1);
        const auto ref = llm::test::read_f32(llm::test::models_dir() + "/" +
                                             std::string(m).substr(0, std::string(m).find('/')) + "/ref/" + name +
                                             ".logits.bin");
        const llm::test::Tolerance tol = llm::test::tolerance_for(type);
        for (const char* mode : {"", " --one-by-one"}) {
            RunResult r = run("-m " + llm::test::models_dir() + "/" + m + ".gguf --device vulkan --tokens " + ids +
                              " --dump-logits " + out + mode);
            ASSERT_EQ(r.exit_code, 0) << r.output;
            ASSERT_NE(r.output.find("vulkan: running on"), std::string::npos) << r.output;
            llm::test::expect_within(
                llm::test::compare_logits(llm::test::read_f32(out), ref, 1024, (int)tokens.size(), tol.argmax_gap),
                tol, std::string("vulkan ") + name + mode);
        }
    }
}

}  // namespace

namespace {

// llm-bench names, per model and numerics mode, the CPU kernel each weight type runs at one token and at the prompt.
TEST(LlmBenchTool, NamesTheCpuKernelsPerWeightType) {
    const std::string cmd = std::string(LLM_BINARY_DIR) + "/llm-bench -m " + llm::test::models_dir() +
                            "/mistral-gqa/mistral-gqa.Q4_K_M.gguf -p 16 -n 0 -r 1 --no-warmup --numerics exact,invariant "
                            "-o json 2>&1 >/dev/null";
    const RunResult r = run_command(cmd);
    ASSERT_EQ(r.exit_code, 0) << r.output;
    const std::string& err = r.output;
    for (const char* mode : {"exact", "invariant"}) {
        const size_t at = err.find(std::string("llm-bench: cpu kernels, ") + mode + " (1 / 16 tokens): ");
        ASSERT_NE(at, std::string::npos) << err;
        const std::string line = err.substr(at, err.find('\n', at) - at);
        // Q4_K_M's matrices: Q4_K and Q6_K, each named with both kernels.
        EXPECT_NE(line.find("Q4_K "), std::string::npos) << line;
        EXPECT_NE(line.find("Q6_K "), std::string::npos) << line;
        EXPECT_EQ(line.find("none"), std::string::npos) << line;
    }
}

TEST(LlmBenchTool, RunsOnTheVulkanDeviceWithLlamaBenchFields) {
    RunResult devices = run("--list-devices");
    if (devices.output.find("vulkan:0") == std::string::npos) GTEST_SKIP() << "no Vulkan device";
    const std::string cmd = std::string(LLM_BINARY_DIR) + "/llm-bench -m " + llm::test::models_dir() +
                            "/llama-mha/llama-mha.Q4_0.gguf -p 16 -n 4 -r 1 --device vulkan -o json 2>/dev/null";
    const RunResult r = run_command(cmd);
    ASSERT_EQ(r.exit_code, 0) << r.output;
    const auto j = nlohmann::json::parse(r.output);
    ASSERT_EQ(j.size(), 2u);  // pp16 and tg4
    for (const auto& r : j) {
        EXPECT_EQ(r["backends"], "Vulkan");
        EXPECT_GT(r["avg_ts"].get<double>(), 0.0);
        EXPECT_TRUE(r.contains("stddev_ts") && r.contains("n_prompt") && r.contains("n_gen"));
    }
}

}  // namespace
