// Numerics::Invariant at the level of the forward pass: a token's logits are bit-identical whether its pass
// holds that token alone or many (prompt chunks of any size, the decode step after a long prompt where the
// other modes split the keys by load, 1 or 2 threads), attention included: sliding windows (tiles of keys
// fixed by position), GQA, fused QKV, F16 / F32 / Q8_0 KV caches, float and quantized weights, float matrices on
// their rows and interleaved at load (the float GEMM's chains at every token count), Q4_K interleaved at load where the
// kernels are AVX2's (ctest runs this suite again with LLM_CPU=avx2: isa_avx2.NumericsInvariance).
#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "fixture_util.hpp"
#include "models/model_loader.hpp"
#include "runtime/forward_cpu.hpp"
#include "runtime/repack_weights.hpp"

namespace llm::test {
namespace {

struct Case {
    const char* file;
    DType kv;
    bool repack = false;  // matrices interleaved as Model::load does on x86 (runtime/repack_weights.hpp)
};

// Runs `tokens` through a fresh cache in passes of the given sizes (in order, repeating the last), keeping
// every token's logits.
std::vector<float> run_in_passes(const LoadedModel& m, const std::vector<int32_t>& tokens, DType kv_type,
                                 const std::vector<int64_t>& sizes, int n_threads) {
    const int64_t n = (int64_t)tokens.size(), nv = m.config.n_vocab;
    auto kv = KvCache::create(m.config, (int)n, kv_type);
    EXPECT_TRUE(kv.has_value()) << (kv ? "" : kv.error_message());
    if (!kv) return {};
    ForwardScratch s;
    const ForwardOptions opt{n_threads, LongRopeMode::Auto, Numerics::Invariant};
    std::vector<float> out((size_t)(n * nv), NAN);
    size_t k = 0;
    for (int64_t done = 0; done < n;) {
        const int64_t chunk = std::min(sizes[std::min(k++, sizes.size() - 1)], n - done);
        const Batch b = Batch::contiguous({tokens.data() + done, (size_t)chunk}, done, true);
        forward_cpu(m.config, m.weights, *kv, b, out.data() + done * nv, s, opt);
        done += chunk;
    }
    return out;
}

void expect_rows_equal(const std::vector<float>& a, const std::vector<float>& b, int64_t nv, int64_t from,
                       const std::string& what) {
    ASSERT_EQ(a.size(), b.size());
    for (int64_t r = from; r < (int64_t)(a.size() / nv); ++r)
        ASSERT_EQ(0, std::memcmp(a.data() + r * nv, b.data() + r * nv, nv * sizeof(float)))
            << what << ": logits of token " << r << " differ";
}

class NumericsInvariance : public testing::TestWithParam<Case> {};

TEST_P(NumericsInvariance, TokenLogitsDoNotDependOnThePass) {
    const Case& c = GetParam();
    auto m = load_model(models_dir() + "/" + c.file);
    ASSERT_TRUE(m.has_value()) << m.error_message();
    if (c.repack && repack_weights(*m, 2) == 0) GTEST_SKIP() << "no repacking of this model's matrices on this CPU";
    const int64_t nv = m->config.n_vocab;
    std::mt19937 rng(11);
    std::uniform_int_distribution<int32_t> tok(0, (int32_t)nv - 1);
    std::vector<int32_t> tokens(48);
    for (int32_t& t : tokens) t = tok(rng);

    const auto alone = run_in_passes(*m, tokens, c.kv, {1}, 1);  // every token alone
    expect_rows_equal(alone, run_in_passes(*m, tokens, c.kv, {48}, 2), nv, 0, "one pass of 48");
    expect_rows_equal(alone, run_in_passes(*m, tokens, c.kv, {48}, 1), nv, 0, "one pass of 48, 1 thread");
    expect_rows_equal(alone, run_in_passes(*m, tokens, c.kv, {5, 17, 3, 16}, 2), nv, 0, "passes of 5, 17, 3, 16");
    expect_rows_equal(alone, run_in_passes(*m, tokens, c.kv, {2, 7}, 2), nv, 0, "passes of 2, 7, 7, ...");
}

INSTANTIATE_TEST_SUITE_P(
    Fixtures, NumericsInvariance,
    testing::Values(Case{"mistral-swa/hf", DType::F16}, Case{"mistral-gqa/mistral-gqa.Q4_0.gguf", DType::F16},
                    Case{"mistral-gqa/mistral-gqa.Q4_K_M.gguf", DType::Q8_0},
                    Case{"llama-mha/llama-mha.Q4_1.gguf", DType::F32}, Case{"llama-mha/llama-mha.F16.gguf", DType::F16},
                    Case{"phi3/phi3.Q8_0.gguf", DType::F16}, Case{"llama-mha/llama-mha.F16.gguf", DType::F16, true},
                    Case{"mistral-gqa/mistral-gqa.BF16.gguf", DType::Q8_0, true},
                    Case{"llama-mha/llama-mha.F32.gguf", DType::F32, true}, Case{"phi3/phi3.BF16.gguf", DType::F16, true},
                    Case{"mistral-swa/hf", DType::F16, true}, Case{"mistral-gqa/mistral-gqa.Q4_K_M.gguf", DType::F16, true}),
    [](const testing::TestParamInfo<Case>& i) {
        std::string s = std::string(i.param.file) + "_" + std::string(dtype_name(i.param.kv)) + (i.param.repack ? "_repacked" : "");
        for (char& ch : s)
            if (!isalnum((unsigned char)ch)) ch = '_';
        return s;
    });

// A decode step after a long prompt (where fast splits the keys across threads) equals the same token inside
// the prompt's pass.
TEST(NumericsInvariance, DecodeAfterLongPromptEqualsTheTokenInsideThePrompt) {
    auto m = load_model(models_dir() + "/mistral-gqa/mistral-gqa.Q4_0.gguf");
    ASSERT_TRUE(m.has_value()) << m.error_message();
    const int64_t nv = m->config.n_vocab, n = 600;
    std::mt19937 rng(12);
    std::uniform_int_distribution<int32_t> tok(0, (int32_t)nv - 1);
    std::vector<int32_t> tokens(n);
    for (int32_t& t : tokens) t = tok(rng);
    const auto whole = run_in_passes(*m, tokens, DType::F16, {n}, 2);
    const auto split = run_in_passes(*m, tokens, DType::F16, {n - 3, 1}, 2);  // three decode steps at the end
    expect_rows_equal(whole, split, nv, 0, "600 in one pass vs 597 + 1 + 1 + 1");
}

}  // namespace
}  // namespace llm::test
