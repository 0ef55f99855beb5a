// EngineBackend over SmolLM2: response_format schemas get the string bound of llm-serve --json-max-string
// (256 by default, N, or none with 0). Skips without SmolLM2 in the cache (scripts/fetch-smollm2.sh).
#include <gtest/gtest.h>

#include "llm/engine.hpp"
#include "llm/llm.hpp"
#include "llm/system.hpp"
#include "llm/tokenizer.hpp"
#include "server/engine_backend.hpp"

namespace {

bool allowed(llm::TokenConstraint& c, int32_t t) {
    auto mask = c.allowed_tokens();
    EXPECT_TRUE(mask.has_value()) << mask.error_message();
    return mask.has_value() && ((*mask)[t / 64] >> (t % 64) & 1);
}

// How many single-character 'a' tokens a {"type": "string"} response takes before only the closing quote is
// left (at most `probe`).
int string_room(const std::shared_ptr<const llm::Model>& model, const llm::JsonSchemaOptions& opts, int probe) {
    auto engine = llm::Engine::create(model, {.n_ctx = 256, .kv_pool_tokens = 512, .n_threads = 1});
    EXPECT_TRUE(engine.has_value()) << engine.error_message();
    if (!engine) return -1;
    auto backend = llm::server::make_engine_backend(model, std::move(*engine), "smollm2", opts);
    EXPECT_TRUE(backend.has_value()) << backend.error_message();
    if (!backend) return -1;
    auto c = (*backend)->json_schema_constraint(R"({"type": "string"})");
    EXPECT_TRUE(c.has_value()) << c.error_message();
    if (!c) return -1;
    const llm::Tokenizer& tok = *model->tokenizer();
    const std::vector<int32_t> quote = tok.encode("\"", false, false), a = tok.encode("a", false, false);
    EXPECT_TRUE((*c)->accept(quote[0]).is_ok());
    int n = 0;
    while (n < probe && allowed(**c, a[0])) {
        EXPECT_TRUE((*c)->accept(a[0]).is_ok());
        ++n;
    }
    EXPECT_TRUE(allowed(**c, quote[0]));
    return n;
}

TEST(EngineBackend, JsonMaxStringBoundsResponseFormatStrings) {
    const auto path = llm::find_default_model();
    if (!path) GTEST_SKIP() << "SmolLM2 not in the cache: run scripts/fetch-smollm2.sh";
    auto model = llm::Model::load(*path);
    ASSERT_TRUE(model.has_value()) << model.error_message();
    const llm::Tokenizer* tok = (*model)->tokenizer();
    ASSERT_NE(tok, nullptr);
    if (tok->encode("\"", false, false).size() != 1 || tok->encode("a", false, false).size() != 1)
        GTEST_SKIP() << "the default model does not spell '\"' and 'a' as one token each";
    EXPECT_EQ(string_room(*model, {}, 400), 256);                        // the default
    EXPECT_EQ(string_room(*model, {.max_string_length = 3}, 400), 3);    // --json-max-string 3
    EXPECT_EQ(string_room(*model, {.max_string_length = 0}, 400), 400);  // 0 = unbounded
}

}  // namespace
