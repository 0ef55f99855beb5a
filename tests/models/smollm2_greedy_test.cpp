// Greedy generation on the real SmolLM2-135M-Instruct (Q4_1) against llama.cpp (references made once per x86
// ISA by make_smollm2_greedy_reference.py with PyPI's llama-cpp-python 0.3.36 over a llama.cpp built for that
// ISA), raw and through the chat template: prompt ids must be identical, and all generated ids too. The
// reference is the one of the ISA the kernels run (LLM_CPU caps it: ctest also runs this test as avx2 and
// scalar); an ISA without a reference skips. This needs the engine's numerics to be llama.cpp's bit for bit: even where llama.cpp's top1-top2 margin is large, a 1-ulp difference early on
// flips an 8-bit activation rounding and grows to 0.1-0.5 logits within a few layers, and some
// continuations pass steps with margins of 0.02. The margins are printed to help diagnose a failure.
#include <gtest/gtest.h>

#include <fstream>

#include "fixture_util.hpp"
#include "kernels/cpu/matmul.hpp"
#include "llm/llm.hpp"
#include "models/default_model.hpp"
#include "tokenizer/chat/chat_template.hpp"
#include "tokenizer/tokenizer.hpp"

namespace llm {
namespace {

TEST(SmolLM2, GreedyContinuationsMatchLlamaCpp) {
    auto path = find_default_model();
    if (!path) GTEST_SKIP() << "SmolLM2-135M-Instruct not in the cache: run scripts/fetch-smollm2.sh";
    const std::string isa = isa_name(best_isa());
    const std::string ref_path = std::string(LLM_SOURCE_DIR) + "/tests/models/data/smollm2_greedy_reference." + isa + ".json";
    if (!std::ifstream(ref_path)) GTEST_SKIP() << "no llama.cpp reference for the " << isa << " kernels (" << ref_path << ")";
    std::printf("[smollm2] kernels: %s, reference: %s\n", isa.c_str(), ref_path.c_str());
    const auto ref = test::read_json_file(ref_path);
    auto model = Model::load(*path);
    ASSERT_TRUE(model) << model.error_message();
    const Tokenizer* tok = (*model)->tokenizer();
    ASSERT_TRUE(tok) << (*model)->tokenizer_error();
    auto tmpl = ChatTemplate::parse(tok->chat_template());
    ASSERT_TRUE(tmpl) << tmpl.error_message();
    SessionOptions so;
    so.n_ctx = 512;
    auto session = Session::create(*model, so);
    ASSERT_TRUE(session);
    for (const auto& c : ref["cases"]) {
        const std::string prompt = c["prompt"];
        std::vector<int32_t> ids;
        if (c["kind"] == "raw") {
            ids = tok->encode(prompt, true, false);
        } else {
            ChatTemplateOptions o;
            o.bos_token = tok->bos_text();
            o.eos_token = tok->eos_text();
            auto text = tmpl->render({{"user", prompt}}, o);
            ASSERT_TRUE(text) << text.error_message();
            EXPECT_EQ(*text, c["rendered"].get<std::string>());
            ids = tok->encode(*text, false, true);
        }
        ASSERT_EQ(ids, c["prompt_ids"].get<std::vector<int32_t>>()) << prompt;
        const auto expected = c["generated"].get<std::vector<int32_t>>();
        (*session)->truncate(0);
        ASSERT_TRUE((*session)->eval(ids, false));
        std::vector<int32_t> got;
        for (size_t i = 0; i < expected.size(); ++i) {
            auto l = (*session)->logits();
            const int32_t next = (int32_t)(std::max_element(l.begin(), l.end()) - l.begin());
            got.push_back(next);
            ASSERT_TRUE((*session)->eval({&next, 1}, false));
        }
        const auto gaps = c["top1_top2_gap"].get<std::vector<double>>();
        size_t same = 0;
        while (same < got.size() && got[same] == expected[same]) ++same;
        std::printf("[smollm2] %-5s %-40s %zu/%zu greedy tokens equal to llama.cpp\n", c["kind"].get<std::string>().c_str(),
                    prompt.c_str(), same, expected.size());
        EXPECT_EQ(same, expected.size()) << c["kind"] << " prompt '" << prompt << "': token " << same
                                         << " differs from llama.cpp (its top1-top2 margin there: "
                                         << (same < gaps.size() ? gaps[same] : -1.0) << ")";
    }
}

}  // namespace
}  // namespace llm
