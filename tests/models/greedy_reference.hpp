// Greedy generation of a real model against a llama.cpp reference made for the ISA our kernels run (the
// smollm2 and gemma3 tests): prompt ids must be identical, and all generated ids too; the top1-top2 margins of
// llama.cpp are printed next to the result to help diagnose a failure.
#pragma once
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <fstream>

#include "fixture_util.hpp"
#include "kernels/cpu/matmul.hpp"
#include "llm/llm.hpp"
#include "tokenizer/chat/chat_template.hpp"
#include "tokenizer/tokenizer.hpp"

namespace llm::test {

// The reference file of the ISA the kernels run (LLM_CPU caps it), or "" (the test skips) when there is none.
inline std::string greedy_reference_path(const std::string& stem) {
    const std::string path = std::string(LLM_SOURCE_DIR) + "/tests/models/data/" + stem + "." + isa_name(best_isa()) + ".json";
    return std::ifstream(path) ? path : "";
}

// tmpl_text: the chat template the chat cases were rendered with (the model's own when "").
inline void check_greedy_reference(const char* tag, const std::string& model_path, const std::string& ref_path,
                                   const std::string& tmpl_text = "") {
    std::printf("[%s] kernels: %s, reference: %s\n", tag, isa_name(best_isa()), ref_path.c_str());
    const auto ref = read_json_file(ref_path);
    auto model = Model::load(model_path);
    ASSERT_TRUE(model) << model.error_message();
    const Tokenizer* tok = (*model)->tokenizer();
    ASSERT_TRUE(tok) << (*model)->tokenizer_error();
    auto tmpl = ChatTemplate::parse(tmpl_text.empty() ? tok->chat_template() : tmpl_text);
    ASSERT_TRUE(tmpl) << tmpl.error_message();
    SessionOptions so;
    so.n_ctx = 512;
    so.numerics = Numerics::Exact;  // llama.cpp's arithmetic
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
        const double min_gap = gaps.empty() ? 0 : *std::min_element(gaps.begin(), gaps.end());
        std::printf("[%s] %-5s %-40s %zu/%zu greedy tokens equal to llama.cpp (smallest llama.cpp margin %.4f)\n", tag,
                    c["kind"].get<std::string>().c_str(), prompt.c_str(), same, expected.size(), min_gap);
        EXPECT_EQ(same, expected.size()) << c["kind"] << " prompt '" << prompt << "': token " << same
                                         << " differs from llama.cpp (its top1-top2 margin there: "
                                         << (same < gaps.size() ? gaps[same] : -1.0) << ")";
    }
}

}  // namespace llm::test
