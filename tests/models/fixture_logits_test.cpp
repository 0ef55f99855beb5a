// Every fixture model (GGUF in every shipped weight type, and the safetensors twins) against llama.cpp's
// (or numpy's) reference logits, as one batch and one token at a time, plus greedy continuations.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>

#include "fixture_util.hpp"
#include "llm/llm.hpp"
#include "models/layer_tensors.hpp"
#include "runtime/model_access.hpp"  // model_config(), model_weights()

namespace llm::test {
namespace {

struct GgufCase {
    std::string model, weight_type, file, ref_logits, greedy;
    int robust_prefix = 0;  // greedy ids that must match exactly (manifest)
    friend std::ostream& operator<<(std::ostream& os, const GgufCase& c) { return os << c.file; }
};

std::vector<GgufCase> gguf_cases() {
    std::vector<GgufCase> out;
    for (const auto& [name, m] : manifest()["models"].items())
        for (const auto& g : m["gguf"]) {
            if (g["file"].is_null()) continue;
            out.push_back({name, g["weight_type"], g["file"], g["refs"]["logits"], g["refs"]["greedy"],
                           g["greedy"].value("robust_prefix", 0)});
        }
    return out;
}

std::vector<int32_t> sequence_tokens() { return manifest()["sequence"]["tokens"].get<std::vector<int32_t>>(); }

int argmax(std::span<const float> l) {
    int best = 0;
    for (int i = 1; i < (int)l.size(); ++i)
        if (l[i] > l[best]) best = i;  // lowest id wins ties, as the reference
    return best;
}

class GgufFixture : public ::testing::TestWithParam<GgufCase> {};

TEST_P(GgufFixture, BatchAndIncrementalLogitsMatchReference) {
    const GgufCase& c = GetParam();
    auto session = make_session(models_dir() + "/" + c.file);
    ASSERT_TRUE(session);
    const auto tokens = sequence_tokens();
    const auto ref = read_f32(models_dir() + "/" + c.ref_logits);
    const int nv = model_config(session->model()).n_vocab;
    ASSERT_EQ(ref.size(), tokens.size() * nv);
    const Tolerance tol = tolerance_for(c.weight_type);
    expect_within(compare_logits(run_batch(*session, tokens), ref, nv, (int)tokens.size(), tol.argmax_gap), tol,
                  c.model + "." + c.weight_type + " batch");
    session->truncate(0);
    expect_within(compare_logits(run_one_by_one(*session, tokens), ref, nv, (int)tokens.size(), tol.argmax_gap),
                  tol, c.model + "." + c.weight_type + " one-by-one");
}

TEST_P(GgufFixture, GreedyContinuationMatchesReference) {
    const GgufCase& c = GetParam();
    auto session = make_session(models_dir() + "/" + c.file);
    ASSERT_TRUE(session);
    const auto g = read_json_file(models_dir() + "/" + c.greedy);
    const auto prompt = g["prompt"].get<std::vector<int32_t>>();
    const auto expected = g["generated"].get<std::vector<int32_t>>();
    const auto gaps = g["top1_top2_gap"].get<std::vector<double>>();
    const int robust = c.robust_prefix;
    const Tolerance tol = tolerance_for(c.weight_type);
    ASSERT_TRUE(session->eval(prompt, false));
    int matched = 0;
    for (size_t i = 0; i < expected.size(); ++i) {
        const int32_t next = argmax(session->logits());
        if (next != expected[i]) {
            EXPECT_GE((int)i, robust) << c.file << ": greedy token " << i << " differs inside the robust prefix";
            EXPECT_LT(gaps[i], tol.argmax_gap) << c.file << ": greedy token " << i << " differs at a clear margin";
            break;
        }
        ++matched;
        ASSERT_TRUE(session->eval({&next, 1}, false));
    }
    std::printf("[fixture] %-44s greedy %d/%zu match (robust prefix %d)\n", (c.model + "." + c.weight_type).c_str(),
                matched, expected.size(), robust);
}

INSTANTIATE_TEST_SUITE_P(AllFiles, GgufFixture, ::testing::ValuesIn(gguf_cases()),
                         [](const auto& info) {
                             std::string n = info.param.model + "_" + info.param.weight_type;
                             for (char& ch : n)
                                 if (!isalnum((unsigned char)ch)) ch = '_';
                             return n;
                         });

// The safetensors twins hold the same (bf16-exact) weights in the HF layout: compare with the float64 numpy
// forward of the HF model, at the tolerance of the file's weight type (BF16 matmuls round activations to
// bfloat16 as llama.cpp's do; the F32 twin must meet the F32 tolerance).
struct HfCase {
    std::string model, path, ref;
    std::string weight_type;  // the tolerance row: the twins' model.safetensors are BF16
    LongRopeMode longrope = LongRopeMode::Auto;
    friend std::ostream& operator<<(std::ostream& os, const HfCase& c) { return os << c.path; }
};

std::vector<HfCase> hf_cases() {
    return {
        {"llama-mha", "llama-mha/hf", "llama-mha/ref/llama-mha.numpy.logits.bin", "BF16"},
        {"llama-mha-f32", "llama-mha/hf/model.f32.safetensors", "llama-mha/ref/llama-mha.numpy.logits.bin", "F32"},
        {"mistral-gqa", "mistral-gqa/hf", "mistral-gqa/ref/mistral-gqa.numpy.logits.bin", "BF16"},
        {"mistral-swa", "mistral-swa/hf", "mistral-swa/ref/mistral-swa.numpy.logits.bin", "BF16"},
        {"phi3", "phi3/hf", "phi3/ref/phi3.numpy.logits.bin", "BF16"},
        {"phi3-long", "phi3/hf", "phi3/ref/phi3.numpy.long.logits.bin", "BF16", LongRopeMode::Long},
    };
}

class HfFixture : public ::testing::TestWithParam<HfCase> {};

TEST_P(HfFixture, LogitsMatchNumpyReference) {
    const HfCase& c = GetParam();
    SessionOptions opts;
    opts.longrope = c.longrope;
    auto session = make_session(models_dir() + "/" + c.path, opts);
    ASSERT_TRUE(session);
    const int nv = model_config(session->model()).n_vocab;
    const auto ref = read_f32(models_dir() + "/" + c.ref);
    auto tokens = sequence_tokens();
    if (c.model == "mistral-swa")
        tokens = manifest()["models"]["mistral-swa"]["refs"]["numpy_logits"]["tokens"].get<std::vector<int32_t>>();
    ASSERT_EQ(ref.size(), tokens.size() * nv);
    const Tolerance tol = tolerance_for(c.weight_type);
    expect_within(compare_logits(run_batch(*session, tokens), ref, nv, (int)tokens.size(), tol.argmax_gap), tol,
                  "hf " + c.model + " batch");
    session->truncate(0);
    expect_within(compare_logits(run_one_by_one(*session, tokens), ref, nv, (int)tokens.size(), tol.argmax_gap),
                  tol, "hf " + c.model + " one-by-one");
}

INSTANTIATE_TEST_SUITE_P(Twins, HfFixture, ::testing::ValuesIn(hf_cases()), [](const auto& info) {
    std::string n = info.param.model;
    for (char& ch : n)
        if (!isalnum((unsigned char)ch)) ch = '_';
    return n;
});

// With an F32 KV cache an all-F32 engine should agree with llama.cpp's F32-KV run to 1e-4.
TEST(FixtureStrict, F32WeightsWithF32KvCacheMatchTightly) {
    SessionOptions opts;
    opts.kv_type = DType::F32;
    auto session = make_session(models_dir() + "/llama-mha/llama-mha.F32.gguf", opts);
    ASSERT_TRUE(session);
    const auto tokens = sequence_tokens();
    const auto ref = read_f32(models_dir() + "/llama-mha/ref/llama-mha.F32.f32kv.logits.bin");
    const int nv = model_config(session->model()).n_vocab;
    expect_within(compare_logits(run_batch(*session, tokens), ref, nv, (int)tokens.size(), 0.015),
                  {1e-4, 1e-4, 0.9999999, 0.015}, "llama-mha.F32 f32-kv batch");
}

// llama.cpp with n_ctx 8192 uses the long LongRoPE factors for every position.
TEST(FixtureStrict, Phi3LongFactorsMatchLlamaCpp) {
    SessionOptions opts;
    opts.longrope = LongRopeMode::Long;
    auto session = make_session(models_dir() + "/phi3/hf", opts);
    ASSERT_TRUE(session);
    const auto tokens = sequence_tokens();
    const auto ref = read_f32(models_dir() + "/phi3/ref/phi3.F32.long.logits.bin");
    const Tolerance tol = tolerance_for("BF16");  // the phi3 twin is BF16
    expect_within(compare_logits(run_batch(*session, tokens), ref, 1024, (int)tokens.size(), tol.argmax_gap), tol,
                  "phi3 long factors vs llama.cpp");
}

}  // namespace
}  // namespace llm::test

namespace llm::test {
namespace {

// A safetensors twin quantized at load time (llm-run --quantize) holds the same weights as llama-quantize's
// GGUF of that type: byte for byte, except that llama.cpp's converter permuted the rows of a llama model's
// Q and K matrices for its interleaved RoPE where the safetensors loader keeps Hugging Face's order and
// rotates halves. Its logits meet that type's tolerance against llama.cpp, and it picks the GGUF's greedy
// tokens. The permutation reorders the head dimensions in the Q.K sums, so the two runs round differently:
// a step may pick another token only where the two best are closer than the type's argmax-gap tolerance.
struct QuantizeCase {
    std::string model, weight_type, quantize;
    friend std::ostream& operator<<(std::ostream& os, const QuantizeCase& c) { return os << c.model << " " << c.quantize; }
};

class HfQuantizedFixture : public ::testing::TestWithParam<QuantizeCase> {};

// Row r of a GGUF llama Q/K matrix is Hugging Face's row hf_row_of_gguf_row(r): within each head of
// head_dim rows, the converter took row s * head_dim/2 + j to 2j + s (llama.cpp's LlamaModel.permute).
int64_t hf_row_of_gguf_row(int64_t r, int64_t head_dim) {
    const int64_t head = r / head_dim, i = r % head_dim;
    return head * head_dim + (i % 2) * (head_dim / 2) + i / 2;
}

void expect_same_rows(const TensorView& hf, const TensorView& gguf, const std::string& name, int64_t permuted_head_dim) {
    ASSERT_EQ(hf.type, gguf.type) << name;
    ASSERT_EQ(hf.ne, gguf.ne) << name;
    int64_t differing = 0;
    for (int64_t r = 0; r < gguf.n_rows(); ++r) {
        const int64_t hr = permuted_head_dim > 0 ? hf_row_of_gguf_row(r, permuted_head_dim) : r;
        differing += std::memcmp(hf.row(hr), gguf.row(r), gguf.row_size()) != 0;
    }
    EXPECT_EQ(differing, 0) << name << ": rows that differ from the GGUF's";
}

void expect_same_weights(const Model& hf, const Model& gguf) {
    const ModelConfig& c = model_config(gguf);
    const ModelWeights& a = model_weights(hf);
    const ModelWeights& b = model_weights(gguf);
    const int64_t head_dim = c.rope_style == RopeStyle::Interleaved ? c.head_dim : 0;  // 0: not permuted
    expect_same_rows(a.token_embd, b.token_embd, "token_embd", 0);
    expect_same_rows(a.output, b.output, "output", 0);
    ASSERT_EQ(a.layers.size(), b.layers.size());
    for (size_t il = 0; il < b.layers.size(); ++il)
        for (const LayerTensor& t : kLayerTensors) {
            if (t.role != TensorRole::Matrix || !(b.layers[il].*t.matrix).valid()) continue;
            const std::string name = layer_tensor_name(t, WeightFormat::Gguf, (int)il, c);
            const bool permuted = name.find(".attn_q.") != std::string::npos || name.find(".attn_k.") != std::string::npos;
            expect_same_rows(a.layers[il].*t.matrix, b.layers[il].*t.matrix, name, permuted ? head_dim : 0);
        }
}

TEST_P(HfQuantizedFixture, MatchesTheGgufOfTheSameType) {
    const QuantizeCase& c = GetParam();
    LoadOptions lo;
    lo.quantize = c.quantize;
    auto hf = Model::load(models_dir() + "/" + c.model + "/hf", lo);
    ASSERT_TRUE(hf) << hf.error_message();
    auto gguf = Model::load(models_dir() + "/" + c.model + "/" + c.model + "." + c.weight_type + ".gguf");
    ASSERT_TRUE(gguf) << gguf.error_message();
    expect_same_weights(**hf, **gguf);
    SessionOptions so;
    so.n_ctx = 128;
    auto s_hf = Session::create(*hf, so);
    auto s_gguf = Session::create(*gguf, so);
    ASSERT_TRUE(s_hf && s_gguf);
    const auto tokens = sequence_tokens();
    const auto ref = read_f32(models_dir() + "/" + c.model + "/ref/" + c.model + "." + c.weight_type + ".logits.bin");
    const Tolerance tol = tolerance_for(c.weight_type);
    expect_within(compare_logits(run_batch(**s_hf, tokens), ref, 1024, (int)tokens.size(), tol.argmax_gap), tol,
                  "hf " + c.model + " --quantize " + c.quantize);
    (*s_hf)->truncate(0);
    // 32 greedy steps of the GGUF, both models fed the GGUF's choice (one near tie does not derail the rest).
    const std::vector<int32_t> prompt(tokens.begin(), tokens.begin() + 8);
    ASSERT_TRUE((*s_hf)->eval(prompt, false) && (*s_gguf)->eval(prompt, false));
    int near_ties = 0;
    for (int step = 0; step < 32; ++step) {
        const auto lg = (*s_gguf)->logits();
        const auto lh = (*s_hf)->logits();
        const int32_t want = (int32_t)(std::max_element(lg.begin(), lg.end()) - lg.begin());
        const int32_t got = (int32_t)(std::max_element(lh.begin(), lh.end()) - lh.begin());
        if (got != want) {
            ++near_ties;
            EXPECT_LT(lh[got] - lh[want], tol.argmax_gap)
                << "step " << step << ": the safetensors model picks " << got << " over the GGUF's " << want;
        }
        ASSERT_TRUE((*s_hf)->eval({&want, 1}, false) && (*s_gguf)->eval({&want, 1}, false));
    }
    EXPECT_LE(near_ties, 2) << "greedy steps where the two loads pick different tokens";
}

INSTANTIATE_TEST_SUITE_P(LoadTime, HfQuantizedFixture,
                         ::testing::Values(QuantizeCase{"llama-mha", "Q4_0", "q4_0"},
                                           QuantizeCase{"llama-mha", "Q8_0", "q8_0"},
                                           QuantizeCase{"llama-mha", "Q4_K_M", "q4_k"},
                                           QuantizeCase{"mistral-gqa", "Q4_0", "q4_0"},
                                           QuantizeCase{"phi3", "Q4_0", "q4_0"},
                                           QuantizeCase{"phi3", "Q4_K_M", "q4_k_m"}),
                         [](const auto& info) {
                             std::string n = info.param.model + "_" + info.param.quantize;
                             for (char& ch : n)
                                 if (!isalnum((unsigned char)ch)) ch = '_';
                             return n;
                         });

}  // namespace
}  // namespace llm::test

namespace llm::test {
namespace {

// The KV cache types: F32 and BF16 meet the F32/BF16 rows; Q8_0 (8-bit keys and values) the Q8_0 row.
TEST(FixtureKvTypes, EveryCacheTypeStaysWithinTolerance) {
    const auto tokens = sequence_tokens();
    const auto ref = read_f32(models_dir() + "/mistral-gqa/ref/mistral-gqa.F16.logits.bin");
    for (auto [kv, row] : {std::pair{DType::F32, "F16"}, {DType::BF16, "BF16"}, {DType::Q8_0, "Q8_0"}}) {
        SessionOptions o;
        o.kv_type = kv;
        auto s = make_session(models_dir() + "/mistral-gqa/mistral-gqa.F16.gguf", o);
        ASSERT_TRUE(s);
        const Tolerance tol = tolerance_for(row);
        expect_within(compare_logits(run_one_by_one(*s, tokens), ref, 1024, (int)tokens.size(), tol.argmax_gap), tol,
                      std::string("mistral-gqa.F16 kv ") + std::string(dtype_name(kv)));
    }
}

}  // namespace
}  // namespace llm::test
