// Golden tests: llama.cpp's vocab fixtures (.inp strings -> .out ids, without BOS, no special parsing) and the
// decode round trip described in fixtures/tokenizer/README.md.
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "formats/gguf.hpp"
#include "tokenizer/tokenizer.hpp"

namespace {

std::string read_all(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
}

struct Golden {
    std::vector<std::string> inputs;
    std::vector<std::vector<int32_t>> ids;
};

Golden load_golden(const std::string& base) {
    Golden g;
    const std::string inp = read_all(base + ".inp");
    const std::string sep = "\n__ggml_vocab_test__\n";
    size_t pos = 0;
    for (size_t hit; (hit = inp.find(sep, pos)) != std::string::npos; pos = hit + sep.size())
        g.inputs.push_back(inp.substr(pos, hit - pos));
    std::istringstream out(read_all(base + ".out"));
    for (std::string line; std::getline(out, line);) {
        std::istringstream ls(line);
        std::vector<int32_t> ids;
        for (int32_t id; ls >> id;) ids.push_back(id);
        g.ids.push_back(ids);
    }
    return g;
}

std::string fixture_dir() { return std::string(LLM_FIXTURES_DIR) + "/tokenizer"; }

// The vocab files too large for the fixtures (scripts/fetch-vocabs.sh), or "" when not fetched.
std::string fetched_vocab_dir() {
    const char* cache = std::getenv("LLM_CACHE");
    const char* home = std::getenv("HOME");
    const std::string dir = (cache ? std::string(cache) : std::string(home ? home : ".") + "/.cache/llm") + "/vocab";
    return std::ifstream(dir + "/ggml-vocab-qwen2.gguf.out") ? dir : "";
}

std::unique_ptr<llm::Tokenizer> load(const std::string& name, const std::string& dir = fixture_dir()) {
    auto f = llm::GgufFile::open(dir + "/" + name);
    EXPECT_TRUE(f.has_value()) << (f ? "" : f.error_message());
    if (!f) return nullptr;
    auto t = llm::Tokenizer::from_gguf(*f);
    EXPECT_TRUE(t.has_value()) << (t ? "" : t.error_message());
    return t ? std::move(*t) : nullptr;
}

std::string escape(const std::string& s) {
    std::string o;
    for (unsigned char c : s) {
        if (c == '\n') o += "\\n";
        else if (c == '\t') o += "\\t";
        else o += static_cast<char>(c);
    }
    return o;
}

void check_vocab(const std::string& name, std::vector<size_t> decode_exceptions,
                 const std::string& dir = fixture_dir()) {
    auto tok = load(name, dir);
    ASSERT_TRUE(tok);
    const Golden g = load_golden(dir + "/" + name);
    ASSERT_EQ(g.inputs.size(), 46u);
    ASSERT_EQ(g.ids.size(), g.inputs.size());
    int enc_ok = 0, dec_ok = 0;
    for (size_t i = 0; i < g.inputs.size(); ++i) {
        const auto ids = tok->encode(g.inputs[i], /*add_special=*/false, /*parse_special=*/false);
        EXPECT_EQ(ids, g.ids[i]) << name << " string " << i << ": '" << escape(g.inputs[i]) << "'";
        enc_ok += ids == g.ids[i];
        const std::string text = tok->decode(g.ids[i]);
        const bool exception = std::find(decode_exceptions.begin(), decode_exceptions.end(), i) != decode_exceptions.end();
        if (exception) {
            EXPECT_NE(text, g.inputs[i]) << name << " string " << i << " was expected not to round-trip";
        } else {
            EXPECT_EQ(text, g.inputs[i]) << name << " decode of string " << i;
            dec_ok += text == g.inputs[i];
        }
    }
    std::printf("%s: %d/46 encode exact, %d/%zu decode round trips\n", name.c_str(), enc_ok, dec_ok,
                46 - decode_exceptions.size());
}

TEST(TokenizerFixtures, LlamaSpm) { check_vocab("ggml-vocab-llama-spm.gguf", {}); }
TEST(TokenizerFixtures, Phi3) { check_vocab("ggml-vocab-phi-3.gguf", {}); }
TEST(TokenizerFixtures, Gpt2) { check_vocab("ggml-vocab-gpt-2.gguf", {32, 45}); }
TEST(TokenizerFixtures, Qwen2) {
    if (fetched_vocab_dir().empty()) GTEST_SKIP() << "ggml-vocab-qwen2.gguf not fetched: run scripts/fetch-vocabs.sh";
    check_vocab("ggml-vocab-qwen2.gguf", {}, fetched_vocab_dir());
}
TEST(TokenizerFixtures, LlamaBpe) {
    if (fetched_vocab_dir().empty()) GTEST_SKIP() << "ggml-vocab-llama-bpe.gguf not fetched: run scripts/fetch-vocabs.sh";
    // Strings 32 and 45 do not round-trip, as for GPT-2: the vocab asks for clean_spaces (" ?" -> "?").
    check_vocab("ggml-vocab-llama-bpe.gguf", {32, 45}, fetched_vocab_dir());
}

TEST(TokenizerFixtures, Gpt2CleanSpacesDecode) {
    auto tok = load("ggml-vocab-gpt-2.gguf");
    ASSERT_TRUE(tok);
    const auto ids = tok->encode("you 😁 ?ok", false, false);
    EXPECT_EQ(tok->decode(ids), "you 😁?ok");
}

TEST(TokenizerFixtures, SpecialTokenIds) {
    auto spm = load("ggml-vocab-llama-spm.gguf");
    ASSERT_TRUE(spm);
    EXPECT_EQ(spm->n_vocab(), 32000);
    EXPECT_EQ(spm->bos_id(), 1);
    EXPECT_EQ(spm->eos_id(), 2);
    EXPECT_EQ(spm->bos_text(), "<s>");
    EXPECT_EQ(spm->eos_text(), "</s>");
    EXPECT_TRUE(spm->is_end_of_generation(2));
    EXPECT_FALSE(spm->is_end_of_generation(1));
    EXPECT_EQ(spm->encode("Hello", true, false), (std::vector<int32_t>{1, 15043}));
    EXPECT_EQ(spm->encode(" Hello", false, false), (std::vector<int32_t>{29871, 15043}));
    EXPECT_EQ(spm->decode(std::vector<int32_t>{1, 15043}, /*remove_special=*/true), "Hello");

    auto phi = load("ggml-vocab-phi-3.gguf");
    ASSERT_TRUE(phi);
    EXPECT_EQ(phi->eos_id(), 32000);
    EXPECT_TRUE(phi->is_end_of_generation(32000));
    EXPECT_TRUE(phi->is_end_of_generation(phi->find_token("<|end|>")));
    EXPECT_FALSE(phi->chat_template().empty());

    auto gpt2 = load("ggml-vocab-gpt-2.gguf");
    ASSERT_TRUE(gpt2);
    EXPECT_EQ(gpt2->eos_id(), 50256);
    EXPECT_TRUE(gpt2->is_end_of_generation(50256));
    EXPECT_EQ(gpt2->pre_tokenizer(), "gpt-2");
}

TEST(TokenizerFixtures, ParseSpecialOnlyWhenAsked) {
    auto phi = load("ggml-vocab-phi-3.gguf");
    ASSERT_TRUE(phi);
    const int32_t user = phi->find_token("<|user|>");
    const int32_t end = phi->find_token("<|end|>");
    ASSERT_GE(user, 0);
    const auto plain = phi->encode("<|user|>\nHi<|end|>", false, false);
    EXPECT_EQ(std::count(plain.begin(), plain.end(), user), 0);
    const auto special = phi->encode("<|user|>\nHi<|end|>", false, true);
    ASSERT_GE(special.size(), 3u);
    EXPECT_EQ(special.front(), user);
    EXPECT_EQ(special.back(), end);
    // Phi-3 special tokens strip the whitespace after them (rstrip), so "\n" disappears: "<|user|>", "▁Hi", ...
    EXPECT_EQ(phi->decode(special, false, /*unparse_special=*/true), "<|user|> Hi<|end|>");

    auto gpt2 = load("ggml-vocab-gpt-2.gguf");
    ASSERT_TRUE(gpt2);
    EXPECT_EQ(gpt2->encode("a<|endoftext|>", false, true), (std::vector<int32_t>{64, 50256}));
    EXPECT_NE(gpt2->encode("a<|endoftext|>", false, false).back(), 50256);
}

TEST(TokenizerFixtures, TinyModelsLoad) {
    for (const char* path : {"/models/llama-mha/llama-mha.F32.gguf", "/models/phi3/phi3.Q8_0.gguf",
                             "/models/mistral-gqa/mistral-gqa.Q8_0.gguf"}) {
        auto f = llm::GgufFile::open(std::string(LLM_FIXTURES_DIR) + path);
        ASSERT_TRUE(f.has_value()) << path << ": " << (f ? "" : f.error_message());
        auto t = llm::Tokenizer::from_gguf(*f);
        ASSERT_TRUE(t.has_value()) << path << ": " << (t ? "" : t.error_message());
        const auto& tok = **t;
        EXPECT_GT(tok.n_vocab(), 256);
        const auto ids = tok.encode("Hello world, 123 ✓", true, false);
        ASSERT_FALSE(ids.empty());
        EXPECT_EQ(ids.front(), tok.bos_id());
        for (int32_t id : ids) EXPECT_LT(id, tok.n_vocab());
        EXPECT_EQ(tok.decode(ids, /*remove_special=*/true), "Hello world, 123 ✓") << path;
    }
}

}  // namespace
