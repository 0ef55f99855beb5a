// SmolLM2-135M-Instruct (byte-level BPE, pre-tokenizer "smollm") against reference ids from HF `tokenizers`
// (tests/tokenizer/make_smollm2_reference.py). The model comes from scripts/fetch-smollm2.sh's cache.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "formats/gguf.hpp"
#include "tokenizer/tokenizer.hpp"

namespace {

std::string find_smollm2() {
    const char* cache = std::getenv("LLM_CACHE");
    const char* home = std::getenv("HOME");
    const std::filesystem::path root =
        cache ? std::filesystem::path(cache) : std::filesystem::path(home ? home : "/root") / ".cache" / "llm";
    std::error_code ec;
    const auto dir = root / "smollm2";
    if (!std::filesystem::exists(dir, ec)) return {};
    for (auto it = std::filesystem::recursive_directory_iterator(dir, ec);
         it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
        if (ec) break;
        if (it->path().extension() == ".gguf") return it->path().string();
    }
    return {};
}

TEST(SmolLM2, MatchesHfReference) {
    const std::string path = find_smollm2();
    if (path.empty()) GTEST_SKIP() << "SmolLM2 GGUF not in the cache: run scripts/fetch-smollm2.sh to enable this test";
    auto f = llm::GgufFile::open(path);
    ASSERT_TRUE(f.has_value()) << f.error_message();
    auto t = llm::Tokenizer::from_gguf(*f);
    ASSERT_TRUE(t.has_value()) << t.error_message();
    const llm::Tokenizer& tok = **t;
    EXPECT_EQ(tok.pre_tokenizer(), "smollm");
    EXPECT_EQ(tok.kind(), llm::VocabKind::ByteBpe);
    EXPECT_FALSE(tok.chat_template().empty());
    EXPECT_TRUE(tok.is_end_of_generation(tok.find_token("<|im_end|>")));
    EXPECT_TRUE(tok.is_end_of_generation(tok.eos_id()));

    std::ifstream in(std::string(LLM_SOURCE_DIR) + "/tests/tokenizer/data/smollm2_reference.json");
    ASSERT_TRUE(in.good());
    const auto doc = nlohmann::json::parse(in);
    int n = 0;
    for (const auto& c : doc.at("cases")) {
        const std::string text = c.at("text");
        const auto want = c.at("ids").get<std::vector<int32_t>>();
        const auto got = tok.encode(text, false, c.at("parse_special").get<bool>());
        EXPECT_EQ(got, want) << "text: '" << text << "'";
        // SmolLM2 does not clean up spaces, so every case decodes back to its text.
        EXPECT_EQ(tok.decode(got, false, /*unparse_special=*/true), text);
        ++n;
    }
    EXPECT_GE(n, 30);
}

// The same vocabulary as an HF folder (tokenizer.json with SmolLM2's Sequence[Digits, ByteLevel] pipeline and
// its control tokens as special added tokens, tokenizer_config.json with the template) must agree too.
TEST(SmolLM2, HfFolderMatchesReference) {
    const std::string path = find_smollm2();
    if (path.empty()) GTEST_SKIP() << "SmolLM2 GGUF not in the cache: run scripts/fetch-smollm2.sh to enable this test";
    auto f = llm::GgufFile::open(path);
    ASSERT_TRUE(f.has_value());
    auto g = llm::Tokenizer::from_gguf(*f);
    ASSERT_TRUE(g.has_value());
    const llm::Tokenizer& gt = **g;
    using nlohmann::json;
    json vocab = json::object(), added = json::array();
    for (int32_t i = 0; i < gt.n_vocab(); ++i) {
        vocab[gt.token_text(i)] = i;
        if (gt.token_attr(i) & llm::kAttrControl)
            added.push_back({{"id", i}, {"content", gt.token_text(i)}, {"special", true}, {"normalized", false}});
    }
    auto merges = f->get_string_array("tokenizer.ggml.merges");
    ASSERT_TRUE(merges && *merges);
    const json tj = {
        {"added_tokens", added},
        {"normalizer", nullptr},
        {"pre_tokenizer", {{"type", "Sequence"}, {"pretokenizers", json::array({
            {{"type", "Digits"}, {"individual_digits", true}},
            {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"trim_offsets", true}, {"use_regex", true}}})}}},
        {"decoder", {{"type", "ByteLevel"}}},
        {"model", {{"type", "BPE"}, {"vocab", vocab}, {"merges", **merges}}},
    };
    const auto dir = std::filesystem::path(LLM_BINARY_DIR) / "tokenizer_test_tmp" / "smollm2";
    std::filesystem::create_directories(dir);
    std::ofstream(dir / "tokenizer.json") << tj.dump();
    std::ofstream(dir / "tokenizer_config.json")
        << json({{"bos_token", "<|im_start|>"}, {"eos_token", "<|im_end|>"}, {"clean_up_tokenization_spaces", false},
                 {"chat_template", gt.chat_template()}}).dump();
    auto h = llm::Tokenizer::from_hf_folder(dir.string());
    ASSERT_TRUE(h.has_value()) << h.error_message();
    const llm::Tokenizer& ht = **h;
    EXPECT_EQ(ht.chat_template(), gt.chat_template());
    EXPECT_EQ(ht.eos_text(), "<|im_end|>");
    EXPECT_TRUE(ht.is_end_of_generation(ht.eos_id()));

    std::ifstream in(std::string(LLM_SOURCE_DIR) + "/tests/tokenizer/data/smollm2_reference.json");
    const auto doc = json::parse(in);
    for (const auto& c : doc.at("cases")) {
        const std::string text = c.at("text");
        EXPECT_EQ(ht.encode(text, false, c.at("parse_special").get<bool>()), c.at("ids").get<std::vector<int32_t>>())
            << "text: '" << text << "'";
    }
}

}  // namespace
