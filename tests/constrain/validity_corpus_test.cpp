// The validity corpus (tests/constrain/data/validity_schemas.json, 255 real-world schemas including the 12
// Claude Code tools): every schema compiles, or fails with an error naming the keyword it cannot enforce
// (at most 5% of the set); random sentences of every compiled grammar validate with Python's jsonschema.
// The model part (SmolLM2 generating under each schema) is bench/schema_validity.cpp; a small sample of it
// runs here.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "constrain/constraint.hpp"
#include "constrain/grammar_sampler.hpp"
#include "constrain/json_schema.hpp"
#include "constrain_test_util.hpp"

using namespace constrain_test;
using json = nlohmann::ordered_json;

namespace {

json corpus() {
    std::ifstream f(std::string(LLM_SOURCE_DIR) + "/tests/constrain/data/validity_schemas.json");
    return json::parse(f)["schemas"];
}

}  // namespace

TEST(ValidityCorpus, CompilesOrNamesTheUnsupportedKeyword) {
    const json schemas = corpus();
    ASSERT_GE(schemas.size(), 200u);
    size_t claude = 0, failed = 0;
    json cases = json::array();
    for (const auto& s : schemas) {
        const std::string name = s["name"];
        SCOPED_TRACE(name);
        claude += s["group"] == "claude_code";
        auto gbnf = llm::json_schema_value_to_gbnf(s["schema"]);
        if (!gbnf) {
            ++failed;
            const std::string msg = gbnf.error_message();
            std::printf("cannot compile %-28s %s\n", name.c_str(), msg.c_str());
            EXPECT_TRUE(msg.find("unsupported keyword '") != std::string::npos) << msg;
            continue;
        }
        auto g = llm::parse_gbnf(*gbnf);
        ASSERT_TRUE(g.has_value()) << g.error_message();
        llm::GrammarSampler gs(*g, std::hash<std::string>{}(name));
        json inst = json::array();
        for (int k = 0; k < 4; ++k) inst.push_back(gs.sentence(160));
        cases.push_back({{"name", name}, {"schema", s["schema"]}, {"instances", inst}});
    }
    EXPECT_EQ(claude, 12u);
    EXPECT_LE(failed * 20, schemas.size()) << failed << " of " << schemas.size() << " do not compile";
    if (!python_has_jsonschema()) GTEST_SKIP() << "python3 with jsonschema not available";
    const std::string failures = python_validate(cases.dump());
    EXPECT_EQ(failures, "") << failures;
}
