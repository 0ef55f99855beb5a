// EngineBackend over SmolLM2: response_format schemas get the string bound of llm-serve --json-max-string
// (256 by default, N, or none with 0). Skips without SmolLM2 in the cache (scripts/fetch-smollm2.sh). And,
// model-free: late system messages folded into user turns for templates that insist on alternation.
#include <gtest/gtest.h>

#include "llm/chat.hpp"
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

// Claude Code's turns ([system, user, system], then the answer, a user turn and another system message) through
// Gemma's template, which refuses the second turn as sent: folded, both render, and the first turn's prompt is
// the start of the second's (the prefix cache serves it).
TEST(EngineBackend, LateSystemMessagesFoldIntoUserTurnsForAlternatingTemplates) {
    auto tmpl = llm::ChatTemplate::parse(llm::kGemma3Template);
    ASSERT_TRUE(tmpl.has_value()) << tmpl.error_message();
    const std::vector<llm::ChatMessage> turn1 = {{"system", "S"}, {"user", "U1"}, {"system", "R1"}};
    std::vector<llm::ChatMessage> turn2 = turn1;
    turn2.insert(turn2.end(), {{"assistant", "A1"}, {"user", "U2"}, {"system", "R2"}});
    llm::ChatTemplateOptions o;
    EXPECT_FALSE(tmpl->render(turn2, o).has_value());  // the template's own rule
    auto f1 = llm::server::fold_late_system_messages(turn1), f2 = llm::server::fold_late_system_messages(turn2);
    ASSERT_TRUE(f1 && f2);
    auto t1 = tmpl->render(*f1, o), t2 = tmpl->render(*f2, o);
    ASSERT_TRUE(t1.has_value()) << t1.error_message();
    ASSERT_TRUE(t2.has_value()) << t2.error_message();
    EXPECT_EQ(*t1, "<start_of_turn>user\nS\n\nU1\n\nR1<end_of_turn>\n<start_of_turn>model\n");
    EXPECT_EQ(t2->rfind(*t1, 0), 0u) << *t2;
    EXPECT_NE(t2->find("U2\n\nR2<end_of_turn>"), std::string::npos) << *t2;
    EXPECT_FALSE(llm::server::fold_late_system_messages(std::vector<llm::ChatMessage>{{"system", "S"}, {"user", "U"}}));

    // The JSON shape (the tool prompt's input): a system message after a tool result joins it; one after an
    // assistant turn goes before the next user text; one at the very end becomes a user message.
    const auto j = nlohmann::ordered_json::parse(R"([{"role": "system", "content": "S"}, {"role": "tool", "content": "T"},
        {"role": "system", "content": "R1"}, {"role": "assistant", "content": "A"}, {"role": "system", "content": "R2"},
        {"role": "user", "content": "U"}, {"role": "assistant", "content": "B"}, {"role": "system", "content": "R3"}])");
    auto fj = llm::server::fold_late_system_messages(j);
    ASSERT_TRUE(fj);
    EXPECT_EQ(*fj, nlohmann::ordered_json::parse(R"([{"role": "system", "content": "S"}, {"role": "tool", "content": "T\n\nR1"},
        {"role": "assistant", "content": "A"}, {"role": "user", "content": "R2\n\nU"}, {"role": "assistant", "content": "B"},
        {"role": "user", "content": "R3"}])"));
}
