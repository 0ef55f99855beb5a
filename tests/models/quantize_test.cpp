// llm-quantize's library side: output tensors equal quantize_row of the F32 input and llama-quantize's bytes (the
// fixtures' <model>.<TYPE>.gguf were made by llama-quantize from the F32 file), logits of the result match the
// llama.cpp reference of that type, HF folders convert to the same bytes, and llama.cpp's fallback rules hold.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>

#include "fixture_util.hpp"
#include "formats/gguf.hpp"
#include "kernels/quant/quant.hpp"
#include "llm/llm.hpp"
#include "formats/gguf.hpp"
#include "runtime/model_access.hpp"  // model_config()
#include "quantize/quantize_model.hpp"

namespace llm::test {
namespace {

namespace fs = std::filesystem;

class TempDir {
public:
    TempDir() : path_(fs::temp_directory_path() / ("llm-quantize-test-" + std::to_string(getpid()))) {
        fs::create_directories(path_);
    }
    ~TempDir() { fs::remove_all(path_); }
    std::string file(const std::string& name) const { return (path_ / name).string(); }

private:
    fs::path path_;
};

const TempDir& temp_dir() {
    static TempDir dir;
    return dir;
}

std::string quantize(const std::string& in, const std::string& out_name, const char* type) {
    const std::string out = temp_dir().file(out_name);
    QuantizeOptions o;
    o.ftype = *file_type_from_name(type);
    o.n_threads = 2;
    auto r = quantize_model(in, out, o);
    EXPECT_TRUE(r) << (r ? "" : r.error_message());
    return out;
}

GgufFile open(const std::string& path) {
    auto f = GgufFile::open(path);
    EXPECT_TRUE(f) << (f ? "" : f.error_message());
    return std::move(*f);
}

// Every output tensor: bytes equal quantize_row(type) of the F32 source rows (or the source bytes when 1-D).
void expect_equals_quantize_row(const GgufFile& src, const GgufFile& out) {
    ASSERT_EQ(src.tensors().size(), out.tensors().size());
    for (size_t i = 0; i < src.tensors().size(); ++i) {
        const GgufTensorInfo& a = src.tensors()[i];
        const GgufTensorInfo& b = out.tensors()[i];
        ASSERT_EQ(a.name, b.name);  // names and order kept
        ASSERT_EQ(a.ne, b.ne) << a.name;
        TensorView in = src.tensor(a.name), q = out.tensor(b.name);
        if (a.n_dims == 1) {
            EXPECT_EQ(b.type, DType::F32) << a.name;
            EXPECT_EQ(0, std::memcmp(in.data, q.data, a.nbytes)) << a.name;
            continue;
        }
        ASSERT_EQ(a.type, DType::F32);
        std::vector<uint8_t> expect(q.nbytes);
        const size_t rb = row_bytes(b.type, a.ne[0]);
        for (int64_t r = 0; r < in.n_rows(); ++r)
            quantize_row(b.type, reinterpret_cast<const float*>(in.row(r)), expect.data() + r * rb, a.ne[0]);
        EXPECT_EQ(0, std::memcmp(expect.data(), q.data, expect.size())) << a.name << " as " << dtype_name(b.type);
    }
}

// Same types and bytes per tensor name as the fixture made by llama-quantize.
void expect_same_tensors(const GgufFile& ours, const GgufFile& ref) {
    ASSERT_EQ(ours.tensors().size(), ref.tensors().size());
    for (const GgufTensorInfo& t : ours.tensors()) {
        const GgufTensorInfo* r = ref.find_tensor(t.name);
        ASSERT_NE(r, nullptr) << t.name;
        EXPECT_EQ(dtype_name(t.type), dtype_name(r->type)) << t.name;
        if (t.type != r->type) continue;
        EXPECT_EQ(0, std::memcmp(ours.tensor(t.name).data, ref.tensor(t.name).data, t.nbytes)) << t.name;
    }
}

void expect_logits_match_reference(const std::string& path, const std::string& ref_logits, const std::string& type) {
    auto model = Model::load(path);
    ASSERT_TRUE(model) << model.error_message();
    auto s = Session::create(*model, {.n_ctx = 64});
    ASSERT_TRUE(s) << s.error_message();
    const auto tokens = manifest()["sequence"]["tokens"].get<std::vector<int32_t>>();
    ASSERT_TRUE((*s)->eval(tokens, true));
    const int nv = model_config(**model).n_vocab;
    std::vector<float> got;
    for (size_t i = 0; i < tokens.size(); ++i) {
        auto l = (*s)->logits((int64_t)i);
        got.insert(got.end(), l.begin(), l.end());
    }
    const Tolerance tol = tolerance_for(type);
    expect_within(compare_logits(got, read_f32(ref_logits), nv, (int)tokens.size(), tol.argmax_gap), tol,
                  "quantized llama-mha." + type);
}

class QuantizeFixture : public ::testing::TestWithParam<const char*> {};

TEST_P(QuantizeFixture, MatchesQuantizeRowLlamaQuantizeAndReferenceLogits) {
    const std::string type = GetParam();
    const std::string src = models_dir() + "/llama-mha/llama-mha.F32.gguf";
    const std::string out = quantize(src, "llama-mha." + type + ".gguf", type.c_str());
    const GgufFile in = open(src), q = open(out);
    expect_equals_quantize_row(in, q);
    expect_same_tensors(q, open(models_dir() + "/llama-mha/llama-mha." + type + ".gguf"));
    auto ft = q.get_int("general.file_type");
    ASSERT_TRUE(ft && ft->has_value());
    EXPECT_EQ(**ft, (int64_t)*file_type_from_name(type));
    EXPECT_EQ(in.metadata().size() + 1, q.metadata().size());  // + general.quantization_version
    expect_logits_match_reference(out, models_dir() + "/llama-mha/ref/llama-mha." + type + ".logits.bin", type);
}

INSTANTIATE_TEST_SUITE_P(LlamaMha, QuantizeFixture, ::testing::Values("Q8_0", "Q4_0", "Q4_K_M"));

TEST(Quantize, HfFolderConvertsToLlamaCppLayout) {
    // The HF twin (BF16, un-permuted Q/K) gives the same bytes as llama-quantize on the converted F32 GGUF.
    const std::string out = quantize(models_dir() + "/llama-mha/hf", "llama-mha-hf.Q8_0.gguf", "Q8_0");
    const GgufFile q = open(out);
    expect_same_tensors(q, open(models_dir() + "/llama-mha/llama-mha.Q8_0.gguf"));
    auto arch = q.get_string("general.architecture");
    ASSERT_TRUE(arch && arch->has_value());
    EXPECT_EQ(**arch, "llama");
    EXPECT_NE(q.find("tokenizer.ggml.tokens"), nullptr);
}

TEST(Quantize, TiedEmbeddingsGetTheOutputType) {
    const std::string out =
        quantize(models_dir() + "/mistral-gqa/mistral-gqa.BF16.gguf", "mistral-gqa.Q4_0.gguf", "Q4_0");
    expect_same_tensors(open(out), open(models_dir() + "/mistral-gqa/mistral-gqa.Q4_0.gguf"));
}

TEST(Quantize, RowLengthFallbacksFollowLlamaCpp) {
    const QuantModelInfo info{"llama", 1, 4, 4};
    std::vector<QuantTensorDesc> t = {
        {"blk.0.attn_q.weight", 2, {96, 8, 1, 1}, DType::F32},     // 96 % 256 != 0: Q4_K -> Q5_0
        {"blk.0.ffn_down.weight", 2, {96, 8, 1, 1}, DType::F32},   // Q6_K (use_more_bits) -> Q8_0
        {"blk.0.attn_k.weight", 2, {100, 8, 1, 1}, DType::F32},    // 100 % 32 != 0 -> F16
        {"blk.0.attn_norm.weight", 1, {100, 1, 1, 1}, DType::F32},  // 1-D: untouched
        {"output.weight", 2, {256, 8, 1, 1}, DType::F32},          // Q6_K
    };
    const auto plan = plan_tensor_types(info, t, FileType::MOSTLY_Q4_K_M, false);
    EXPECT_EQ(plan[0].type, DType::Q5_0);
    EXPECT_TRUE(plan[0].fallback);
    EXPECT_EQ(plan[1].type, DType::Q8_0);
    EXPECT_EQ(plan[2].type, DType::F16);
    EXPECT_EQ(plan[3].type, DType::F32);
    EXPECT_FALSE(plan[3].fallback);
    EXPECT_EQ(plan[4].type, DType::Q6_K);
}

TEST(Quantize, RejectsRequantizeWithoutFlagAndUnknownTypes) {
    QuantizeOptions o;
    o.ftype = FileType::MOSTLY_Q4_0;
    auto r = quantize_model(models_dir() + "/llama-mha/llama-mha.Q8_0.gguf", temp_dir().file("x.gguf"), o);
    ASSERT_FALSE(r);
    EXPECT_NE(r.error_message().find("--allow-requantize"), std::string::npos) << r.error_message();
    EXPECT_FALSE(file_type_from_name("Q7_0"));
    EXPECT_EQ(*file_type_from_name("q4_k"), FileType::MOSTLY_Q4_K_M);
}

}  // namespace
}  // namespace llm::test
