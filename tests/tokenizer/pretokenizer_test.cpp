// The PCRE2 pre-tokenizer presets against HF `tokenizers`' own splitting (expected pieces produced once with
// tokenizers 0.23: pre_tokenizers.Split(Regex(pattern), behavior="isolated"), Digits + Split for smollm),
// and GGUF loading errors that must name the unsupported field.
#include <gtest/gtest.h>

#include "formats/gguf.hpp"
#include "formats/gguf_writer.hpp"
#include "tokenizer/pretokenizer.hpp"
#include "tokenizer/tokenizer.hpp"

namespace {

struct Case {
    const char* pre;
    std::string text;
    std::vector<std::string> pieces;
};

// clang-format off
const Case kCases[] = {
    {"llama-bpe", "Hello  world123456 'S I'VE don't\x0a" "\x0a" "  x\x09" "\x09" "y", {"Hello", " ", " world", "123", "456", " '", "S", " I", "'VE", " don", "'t", "\x0a" "\x0a" "", " ", " x", "\x09" "", "\x09" "y"}},
    {"llama-bpe", "  \xc2" "\xa0" " \xc3" "\xb1" "and\xc3" "\xba" " 3.14159 \xc2" "\xa3" "\xc2" "\xa3" " $$$\x0d" "\x0a" "\x0d" "\x0a" "end ", {"  \xc2" "\xa0" "", " \xc3" "\xb1" "and\xc3" "\xba" "", " ", "3", ".", "141", "59", " \xc2" "\xa3" "\xc2" "\xa3" "", " $$$\x0d" "\x0a" "\x0d" "\x0a" "", "end", " "}},
    {"llama-bpe", "\xe6" "\x88" "\x91" "\xe6" "\x83" "\xb3" "\xe5" "\x9c" "\xa8" "apple\xe5" "\xb7" "\xa5" "\xe4" "\xbd" "\x9c" "1314151\xe5" "\xa4" "\xa9" "\xef" "\xbd" "\x9e" " \xf0" "\x9f" "\x98" "\x81" " \x3f" "!", {"\xe6" "\x88" "\x91" "\xe6" "\x83" "\xb3" "\xe5" "\x9c" "\xa8" "apple\xe5" "\xb7" "\xa5" "\xe4" "\xbd" "\x9c" "", "131", "415", "1", "\xe5" "\xa4" "\xa9" "", "\xef" "\xbd" "\x9e" "", " \xf0" "\x9f" "\x98" "\x81" "", " \x3f" "!"}},
    {"llama-bpe", "\xc5" "\xbf" "'S K'LL \xe2" "\x80" "\xa8" "x\xe3" "\x80" "\x80" "y\xc2" "\x85" "z", {"\xc5" "\xbf" "", "'S", " K", "'LL", " ", "\xe2" "\x80" "\xa8" "x", "\xe3" "\x80" "\x80" "y", "\xc2" "\x85" "z"}},
    {"qwen2", "Hello  world123456 'S I'VE don't\x0a" "\x0a" "  x\x09" "\x09" "y", {"Hello", " ", " world", "1", "2", "3", "4", "5", "6", " '", "S", " I", "'VE", " don", "'t", "\x0a" "\x0a" "", " ", " x", "\x09" "", "\x09" "y"}},
    {"qwen2", "  \xc2" "\xa0" " \xc3" "\xb1" "and\xc3" "\xba" " 3.14159 \xc2" "\xa3" "\xc2" "\xa3" " $$$\x0d" "\x0a" "\x0d" "\x0a" "end ", {"  \xc2" "\xa0" "", " \xc3" "\xb1" "and\xc3" "\xba" "", " ", "3", ".", "1", "4", "1", "5", "9", " \xc2" "\xa3" "\xc2" "\xa3" "", " $$$\x0d" "\x0a" "\x0d" "\x0a" "", "end", " "}},
    {"qwen2", "\xe6" "\x88" "\x91" "\xe6" "\x83" "\xb3" "\xe5" "\x9c" "\xa8" "apple\xe5" "\xb7" "\xa5" "\xe4" "\xbd" "\x9c" "1314151\xe5" "\xa4" "\xa9" "\xef" "\xbd" "\x9e" " \xf0" "\x9f" "\x98" "\x81" " \x3f" "!", {"\xe6" "\x88" "\x91" "\xe6" "\x83" "\xb3" "\xe5" "\x9c" "\xa8" "apple\xe5" "\xb7" "\xa5" "\xe4" "\xbd" "\x9c" "", "1", "3", "1", "4", "1", "5", "1", "\xe5" "\xa4" "\xa9" "", "\xef" "\xbd" "\x9e" "", " \xf0" "\x9f" "\x98" "\x81" "", " \x3f" "!"}},
    {"qwen2", "\xc5" "\xbf" "'S K'LL \xe2" "\x80" "\xa8" "x\xe3" "\x80" "\x80" "y\xc2" "\x85" "z", {"\xc5" "\xbf" "", "'S", " K", "'LL", " ", "\xe2" "\x80" "\xa8" "x", "\xe3" "\x80" "\x80" "y", "\xc2" "\x85" "z"}},
    {"gpt-2", "Hello  world123456 'S I'VE don't\x0a" "\x0a" "  x\x09" "\x09" "y", {"Hello", " ", " world", "123456", " '", "S", " I", "'", "VE", " don", "'t", "\x0a" "\x0a" " ", " x", "\x09" "", "\x09" "", "y"}},
    {"gpt-2", "  \xc2" "\xa0" " \xc3" "\xb1" "and\xc3" "\xba" " 3.14159 \xc2" "\xa3" "\xc2" "\xa3" " $$$\x0d" "\x0a" "\x0d" "\x0a" "end ", {"  \xc2" "\xa0" "", " \xc3" "\xb1" "and\xc3" "\xba" "", " 3", ".", "14159", " \xc2" "\xa3" "\xc2" "\xa3" "", " $$$", "\x0d" "\x0a" "\x0d" "", "\x0a" "", "end", " "}},
    {"gpt-2", "\xe6" "\x88" "\x91" "\xe6" "\x83" "\xb3" "\xe5" "\x9c" "\xa8" "apple\xe5" "\xb7" "\xa5" "\xe4" "\xbd" "\x9c" "1314151\xe5" "\xa4" "\xa9" "\xef" "\xbd" "\x9e" " \xf0" "\x9f" "\x98" "\x81" " \x3f" "!", {"\xe6" "\x88" "\x91" "\xe6" "\x83" "\xb3" "\xe5" "\x9c" "\xa8" "apple\xe5" "\xb7" "\xa5" "\xe4" "\xbd" "\x9c" "", "1314151", "\xe5" "\xa4" "\xa9" "", "\xef" "\xbd" "\x9e" "", " \xf0" "\x9f" "\x98" "\x81" "", " \x3f" "!"}},
    {"gpt-2", "\xc5" "\xbf" "'S K'LL \xe2" "\x80" "\xa8" "x\xe3" "\x80" "\x80" "y\xc2" "\x85" "z", {"\xc5" "\xbf" "", "'", "S", " K", "'", "LL", " ", "\xe2" "\x80" "\xa8" "", "x", "\xe3" "\x80" "\x80" "", "y", "\xc2" "\x85" "", "z"}},
    {"smollm", "Hello  world123456 'S I'VE don't\x0a" "\x0a" "  x\x09" "\x09" "y", {"Hello", " ", " world", "1", "2", "3", "4", "5", "6", " '", "S", " I", "'", "VE", " don", "'t", "\x0a" "\x0a" " ", " x", "\x09" "", "\x09" "", "y"}},
    {"smollm", "  \xc2" "\xa0" " \xc3" "\xb1" "and\xc3" "\xba" " 3.14159 \xc2" "\xa3" "\xc2" "\xa3" " $$$\x0d" "\x0a" "\x0d" "\x0a" "end ", {"  \xc2" "\xa0" "", " \xc3" "\xb1" "and\xc3" "\xba" "", " ", "3", ".", "1", "4", "1", "5", "9", " \xc2" "\xa3" "\xc2" "\xa3" "", " $$$", "\x0d" "\x0a" "\x0d" "", "\x0a" "", "end", " "}},
    {"smollm", "\xe6" "\x88" "\x91" "\xe6" "\x83" "\xb3" "\xe5" "\x9c" "\xa8" "apple\xe5" "\xb7" "\xa5" "\xe4" "\xbd" "\x9c" "1314151\xe5" "\xa4" "\xa9" "\xef" "\xbd" "\x9e" " \xf0" "\x9f" "\x98" "\x81" " \x3f" "!", {"\xe6" "\x88" "\x91" "\xe6" "\x83" "\xb3" "\xe5" "\x9c" "\xa8" "apple\xe5" "\xb7" "\xa5" "\xe4" "\xbd" "\x9c" "", "1", "3", "1", "4", "1", "5", "1", "\xe5" "\xa4" "\xa9" "", "\xef" "\xbd" "\x9e" "", " \xf0" "\x9f" "\x98" "\x81" "", " \x3f" "!"}},
    {"smollm", "\xc5" "\xbf" "'S K'LL \xe2" "\x80" "\xa8" "x\xe3" "\x80" "\x80" "y\xc2" "\x85" "z", {"\xc5" "\xbf" "", "'", "S", " K", "'", "LL", " ", "\xe2" "\x80" "\xa8" "", "x", "\xe3" "\x80" "\x80" "", "y", "\xc2" "\x85" "", "z"}},
};
// clang-format on

TEST(PreTokenizer, MatchesHfSplitting) {
    for (const Case& c : kCases) {
        auto preset = llm::pre_tokenizer_preset(c.pre);
        ASSERT_TRUE(preset.has_value()) << c.pre;
        auto sp = llm::RegexSplitter::compile(preset->regexes);
        ASSERT_TRUE(sp.has_value()) << sp.error_message();
        std::vector<std::pair<uint32_t, uint32_t>> pieces;
        sp->split(c.text, pieces);
        std::vector<std::string> got;
        for (auto [off, len] : pieces) got.push_back(c.text.substr(off, len));
        EXPECT_EQ(got, c.pieces) << c.pre << ": '" << c.text << "'";
    }
}

TEST(PreTokenizer, UnknownNameIsAnError) {
    auto p = llm::pre_tokenizer_preset("my-new-pre");
    ASSERT_FALSE(p.has_value());
    EXPECT_NE(p.error_message().find("'my-new-pre'"), std::string::npos);
}

std::vector<uint8_t> tiny_gguf(const std::string& model, const std::string& pre) {
    llm::GgufWriter w;
    w.add_string("general.architecture", "llama");
    w.add_string("tokenizer.ggml.model", model);
    if (!pre.empty()) w.add_string("tokenizer.ggml.pre", pre);
    std::vector<std::string> toks;
    for (int b = 0; b < 256; ++b) toks.push_back(std::string(1, static_cast<char>(b)));
    w.add_string_array("tokenizer.ggml.tokens", toks);
    w.add_string_array("tokenizer.ggml.merges", {"a b"});
    return w.serialize();
}

TEST(GgufTokenizer, ErrorsNameTheField) {
    {
        const auto bytes = tiny_gguf("gpt2", "my-new-pre");
        auto f = llm::GgufFile::parse(bytes.data(), bytes.size(), "tiny.gguf");
        ASSERT_TRUE(f.has_value()) << f.error_message();
        auto t = llm::Tokenizer::from_gguf(*f);
        ASSERT_FALSE(t.has_value());
        EXPECT_NE(t.error_message().find("my-new-pre"), std::string::npos) << t.error_message();
        EXPECT_NE(t.error_message().find("tokenizer.ggml.pre"), std::string::npos) << t.error_message();
    }
    {
        const auto bytes = tiny_gguf("bert", "");
        auto f = llm::GgufFile::parse(bytes.data(), bytes.size(), "tiny.gguf");
        ASSERT_TRUE(f.has_value());
        auto t = llm::Tokenizer::from_gguf(*f);
        ASSERT_FALSE(t.has_value());
        EXPECT_NE(t.error_message().find("'bert'"), std::string::npos) << t.error_message();
    }
    {
        llm::GgufWriter w;
        w.add_string("general.architecture", "llama");
        const auto bytes = w.serialize();
        auto f = llm::GgufFile::parse(bytes.data(), bytes.size(), "empty.gguf");
        ASSERT_TRUE(f.has_value());
        auto t = llm::Tokenizer::from_gguf(*f);
        ASSERT_FALSE(t.has_value());
        EXPECT_NE(t.error_message().find("tokenizer.ggml.model"), std::string::npos) << t.error_message();
    }
}

}  // namespace
