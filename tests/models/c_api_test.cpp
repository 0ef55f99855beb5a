// The C API against the fixtures: same logits as the C++ API, errors as codes with messages.
#include "llm/llm.h"

#include <gtest/gtest.h>

#include <fstream>
#include <vector>

#include "fixture_util.hpp"

namespace {

TEST(CApi, LoadEvalAndLogitsMatchReference) {
    const std::string path = llm::test::models_dir() + "/llama-mha/llama-mha.F32.gguf";
    char err[256] = {0};
    llm_model* model = nullptr;
    ASSERT_EQ(llm_model_load(path.c_str(), &model, err, sizeof err), LLM_OK) << err;
    EXPECT_EQ(llm_model_n_vocab(model), 1024);
    llm_session_params p = llm_session_default_params();
    p.n_ctx = 64;
    llm_session* s = nullptr;
    ASSERT_EQ(llm_session_create(model, &p, &s, err, sizeof err), LLM_OK) << err;
    const auto tokens = llm::test::manifest()["sequence"]["tokens"].get<std::vector<int32_t>>();
    ASSERT_EQ(llm_session_eval(s, tokens.data(), tokens.size(), true, err, sizeof err), LLM_OK) << err;
    const auto ref = llm::test::read_f32(llm::test::models_dir() + "/llama-mha/ref/llama-mha.F32.logits.bin");
    double max_abs = 0;
    for (size_t i = 0; i < tokens.size(); ++i) {
        const float* l = llm_session_logits(s, (int64_t)i);
        ASSERT_NE(l, nullptr);
        for (int v = 0; v < 1024; ++v) max_abs = std::max(max_abs, (double)std::abs(l[v] - ref[i * 1024 + v]));
    }
    EXPECT_LT(max_abs, 0.04);
    EXPECT_EQ(llm_session_logits(s, 32), nullptr);
    EXPECT_EQ(llm_session_n_past(s), 32);

    // Out-of-range token and context overflow are codes with messages, and change nothing.
    const int32_t bad = 5000;
    EXPECT_EQ(llm_session_eval(s, &bad, 1, false, err, sizeof err), LLM_ERR_INVALID_ARGUMENT);
    EXPECT_NE(std::string(err).find("out of range"), std::string::npos) << err;
    std::vector<int32_t> many(40, 1);
    EXPECT_EQ(llm_session_eval(s, many.data(), many.size(), false, err, sizeof err), LLM_ERR_CONTEXT_FULL);
    EXPECT_EQ(llm_session_n_past(s), 32);
    EXPECT_EQ(llm_session_truncate(s, 0), LLM_OK);
    llm_session_free(s);
    llm_model_free(model);
}

TEST(CApi, LoadErrorsAreMessages) {
    char err[256] = {0};
    llm_model* model = reinterpret_cast<llm_model*>(1);
    EXPECT_EQ(llm_model_load("/nonexistent/model.gguf", &model, err, sizeof err), LLM_ERR_NOT_FOUND);
    EXPECT_EQ(model, nullptr);
    EXPECT_NE(std::string(err).find("/nonexistent/model.gguf"), std::string::npos) << err;
    EXPECT_EQ(llm_model_load(nullptr, &model, err, sizeof err), LLM_ERR_INVALID_ARGUMENT);
    char tiny[8];
    EXPECT_EQ(llm_model_load("/nonexistent/model.gguf", &model, tiny, sizeof tiny), LLM_ERR_NOT_FOUND);
    EXPECT_EQ(std::strlen(tiny), 7u);  // truncated, still terminated
}

// The codes are the library's StatusCode passed on (llm_status_name spells them), never guessed from messages.
TEST(CApi, StatusCodesComeFromTheLibrary) {
    char err[256] = {0};
    llm_model* model = nullptr;
    const std::string junk = ::testing::TempDir() + "/c_api_junk.gguf";
    { std::ofstream(junk) << "this is not a GGUF file, just text long enough to read a header from"; }
    EXPECT_EQ(llm_model_load(junk.c_str(), &model, err, sizeof err), LLM_ERR_INVALID_MODEL) << err;
    EXPECT_STREQ(llm_status_name(LLM_ERR_INVALID_MODEL), "invalid_model");
    EXPECT_STREQ(llm_status_name(LLM_ERR_NOT_FOUND), "not_found");
    EXPECT_STREQ(llm_status_name(LLM_ERR_CONTEXT_FULL), "context_overflow");
    EXPECT_STREQ(llm_status_name((llm_status)99), "unknown");

    // C++: the same codes on Status.
    auto missing = llm::Model::load("/nonexistent/model.gguf");
    ASSERT_FALSE(missing);
    EXPECT_EQ(missing.status().code(), llm::StatusCode::NotFound);
    auto m = llm::Model::load(llm::test::models_dir() + "/llama-mha/llama-mha.F32.gguf");
    ASSERT_TRUE(m) << m.error_message();
    auto s = llm::Session::create(*m, {.n_ctx = 8});
    ASSERT_TRUE(s) << s.error_message();
    std::vector<int32_t> nine(9, 1);
    EXPECT_EQ((*s)->eval(nine).code(), llm::StatusCode::ContextOverflow);
    const int32_t bad = 5000;
    EXPECT_EQ((*s)->eval({&bad, 1}).code(), llm::StatusCode::InvalidArgument);
    // A KV cache far beyond any machine's memory is out_of_memory, said before allocating.
    auto huge = llm::Session::create(*m, {.n_ctx = 1 << 30});
    ASSERT_FALSE(huge);
    EXPECT_EQ(huge.status().code(), llm::StatusCode::OutOfMemory) << huge.error_message();
    // ModelInfo: the public description of the model.
    const llm::ModelInfo info = (*m)->info();
    EXPECT_EQ(info.arch, "llama");
    EXPECT_EQ(info.n_vocab, 1024);
    EXPECT_EQ(info.n_layers, 2);
    EXPECT_EQ(info.file_type, "F32");
    ASSERT_FALSE(info.weight_types.empty());
    EXPECT_EQ(info.weight_types[0].first, llm::DType::F32);
}

}  // namespace
