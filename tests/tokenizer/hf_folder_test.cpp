// from_hf_folder: HF folders written on the fly from the GGUF fixtures (tokenizer.json in byte-level and
// SentencePiece-style form, tokenizer.model protobuf, the fixtures' tokenizer_vocab.json) must tokenize the
// golden strings exactly as the GGUF does.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

#include "formats/gguf.hpp"
#include "tokenizer/tokenizer.hpp"

namespace {

namespace fs = std::filesystem;
using nlohmann::json;

std::string read_all(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
}

std::vector<std::string> golden_inputs(const std::string& name) {
    const std::string inp = read_all(std::string(LLM_FIXTURES_DIR) + "/tokenizer/" + name + ".inp");
    const std::string sep = "\n__ggml_vocab_test__\n";
    std::vector<std::string> out;
    size_t pos = 0;
    for (size_t hit; (hit = inp.find(sep, pos)) != std::string::npos; pos = hit + sep.size())
        out.push_back(inp.substr(pos, hit - pos));
    return out;
}

struct Loaded {
    llm::GgufFile file;
    std::unique_ptr<llm::Tokenizer> tok;
};
Loaded load(const std::string& path) {
    auto f = llm::GgufFile::open(path);
    EXPECT_TRUE(f.has_value());
    auto t = llm::Tokenizer::from_gguf(*f);
    EXPECT_TRUE(t.has_value());
    return {std::move(*f), std::move(*t)};
}

fs::path temp_dir(const std::string& name) {
    const fs::path d = fs::path(LLM_BINARY_DIR) / "tokenizer_test_tmp" / name;
    fs::create_directories(d);
    return d;
}

void write(const fs::path& p, const std::string& s) {
    std::ofstream f(p, std::ios::binary);
    f << s;
}

void expect_same(const llm::Tokenizer& a, const llm::Tokenizer& b, const std::vector<std::string>& texts) {
    for (const auto& t : texts) {
        EXPECT_EQ(a.encode(t, false, false), b.encode(t, false, false)) << "'" << t << "'";
        EXPECT_EQ(a.encode(t, true, true), b.encode(t, true, true)) << "'" << t << "'";
        const auto ids = a.encode(t, false, false);
        EXPECT_EQ(a.decode(ids), b.decode(ids));
    }
}

TEST(HfFolder, ByteLevelTokenizerJson) {
    auto g = load(std::string(LLM_FIXTURES_DIR) + "/tokenizer/ggml-vocab-gpt-2.gguf");
    ASSERT_TRUE(g.tok);
    json vocab = json::object();
    for (int32_t i = 0; i < g.tok->n_vocab(); ++i) vocab[g.tok->token_text(i)] = i;
    auto merges = g.file.get_string_array("tokenizer.ggml.merges");
    ASSERT_TRUE(merges && *merges);
    json tj = {
        {"version", "1.0"},
        {"added_tokens", json::array({{{"id", 50256}, {"content", "<|endoftext|>"}, {"special", true},
                                       {"lstrip", false}, {"rstrip", false}, {"normalized", false}}})},
        {"normalizer", nullptr},
        {"pre_tokenizer", {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"trim_offsets", true}, {"use_regex", true}}},
        {"decoder", {{"type", "ByteLevel"}}},
        {"model", {{"type", "BPE"}, {"vocab", vocab}, {"merges", **merges}, {"byte_fallback", false}}},
    };
    const fs::path d = temp_dir("gpt2");
    write(d / "tokenizer.json", tj.dump());
    write(d / "tokenizer_config.json",
          json({{"bos_token", "<|endoftext|>"}, {"eos_token", "<|endoftext|>"}, {"clean_up_tokenization_spaces", true},
                {"chat_template", "{{ messages }}"}}).dump());
    auto h = llm::Tokenizer::from_hf_folder(d.string());
    ASSERT_TRUE(h.has_value()) << h.error_message();
    EXPECT_EQ((*h)->eos_id(), 50256);
    EXPECT_EQ((*h)->chat_template(), "{{ messages }}");
    expect_same(*g.tok, **h, golden_inputs("ggml-vocab-gpt-2.gguf"));

    // NFC normalizer: a decomposed "é" (e + U+0301) tokenizes like the composed one.
    tj["normalizer"] = {{"type", "NFC"}};
    write(d / "tokenizer.json", tj.dump());
    auto n = llm::Tokenizer::from_hf_folder(d.string());
    ASSERT_TRUE(n.has_value()) << n.error_message();
    EXPECT_EQ((*n)->encode("caf\x65\xCC\x81", false, false), g.tok->encode("caf\xC3\xA9", false, false));
    EXPECT_NE(g.tok->encode("caf\x65\xCC\x81", false, false), g.tok->encode("caf\xC3\xA9", false, false));
}

TEST(HfFolder, SentencePieceTokenizerJsonWithMerges) {
    auto g = load(std::string(LLM_FIXTURES_DIR) + "/tokenizer/ggml-vocab-llama-spm.gguf");
    ASSERT_TRUE(g.tok);
    auto scores = g.file.get_float_array("tokenizer.ggml.scores");
    ASSERT_TRUE(scores && *scores);
    const int32_t n = g.tok->n_vocab();
    // Merges as HF's LlamaConverter derives them: every split of a piece into two pieces, by piece score.
    std::map<std::string, int32_t> ids;
    json vocab = json::object();
    for (int32_t i = 0; i < n; ++i) {
        ids[g.tok->token_text(i)] = i;
        vocab[g.tok->token_text(i)] = i;
    }
    struct M { double score; int32_t l, r; std::string a, b; };
    std::vector<M> ms;
    for (int32_t i = 0; i < n; ++i) {
        if (!(g.tok->token_attr(i) & llm::kAttrNormal)) continue;
        const std::string& t = g.tok->token_text(i);
        std::vector<M> local;
        for (size_t k = 1; k < t.size(); ++k) {
            if ((static_cast<uint8_t>(t[k]) & 0xC0) == 0x80) continue;
            const auto l = ids.find(t.substr(0, k)), r = ids.find(t.substr(k));
            if (l != ids.end() && r != ids.end()) local.push_back({(**scores)[i], l->second, r->second, l->first, r->first});
        }
        std::sort(local.begin(), local.end(), [](const M& x, const M& y) { return std::tie(x.l, x.r) < std::tie(y.l, y.r); });
        ms.insert(ms.end(), local.begin(), local.end());
    }
    std::stable_sort(ms.begin(), ms.end(), [](const M& x, const M& y) { return x.score > y.score; });
    json merges = json::array();
    for (const auto& m : ms) merges.push_back(json::array({m.a, m.b}));
    json added = json::array();
    for (int32_t i : {0, 1, 2})
        added.push_back({{"id", i}, {"content", g.tok->token_text(i)}, {"special", true}});
    json tj = {
        {"added_tokens", added},
        {"normalizer", {{"type", "Sequence"}, {"normalizers", json::array({
            {{"type", "Prepend"}, {"prepend", "\xE2\x96\x81"}},
            {{"type", "Replace"}, {"pattern", {{"String", " "}}}, {"content", "\xE2\x96\x81"}}})}}},
        {"pre_tokenizer", nullptr},
        {"model", {{"type", "BPE"}, {"vocab", vocab}, {"merges", merges}, {"byte_fallback", true},
                   {"unk_token", "<unk>"}, {"fuse_unk", true}}},
    };
    const fs::path d = temp_dir("llama-spm-json");
    write(d / "tokenizer.json", tj.dump());
    write(d / "tokenizer_config.json", json({{"bos_token", "<s>"}, {"eos_token", "</s>"}, {"add_bos_token", true}}).dump());
    auto h = llm::Tokenizer::from_hf_folder(d.string());
    ASSERT_TRUE(h.has_value()) << h.error_message();
    EXPECT_EQ((*h)->bos_id(), 1);
    EXPECT_TRUE((*h)->add_bos());
    expect_same(*g.tok, **h, golden_inputs("ggml-vocab-llama-spm.gguf"));

    // The newer form: no normalizer, Metaspace(prepend_scheme="first"): no extra ▁ before a leading space and
    // none after a special token.
    tj["normalizer"] = nullptr;
    tj["pre_tokenizer"] = {{"type", "Metaspace"}, {"replacement", "\xE2\x96\x81"}, {"prepend_scheme", "first"},
                           {"split", false}};
    write(d / "tokenizer.json", tj.dump());
    auto m = llm::Tokenizer::from_hf_folder(d.string());
    ASSERT_TRUE(m.has_value()) << m.error_message();
    EXPECT_EQ((*m)->encode("Hello world", false, false), (std::vector<int32_t>{15043, 3186}));
    EXPECT_EQ((*m)->encode(" Hello world", false, false), (std::vector<int32_t>{15043, 3186}));
    EXPECT_EQ((*m)->encode("<s>Hello", false, true), (std::vector<int32_t>{1, 10994}));  // "Hello" without ▁
    EXPECT_EQ(g.tok->encode("<s>Hello", false, true), (std::vector<int32_t>{1, 15043}));  // llama.cpp: ▁Hello
}

// Protobuf writer for the test: ModelProto{pieces=1{piece=1,score=2,type=3}, trainer_spec=2{model_type=3,
// byte_fallback=35}, normalizer_spec=3{add_dummy_prefix=3}}.
void varint(std::string& o, uint64_t v) {
    while (v >= 0x80) { o += static_cast<char>((v & 0x7F) | 0x80); v >>= 7; }
    o += static_cast<char>(v);
}
void bytes_field(std::string& o, uint32_t num, const std::string& b) { varint(o, num << 3 | 2); varint(o, b.size()); o += b; }

TEST(HfFolder, SentencePieceModelProto) {
    auto g = load(std::string(LLM_FIXTURES_DIR) + "/tokenizer/ggml-vocab-llama-spm.gguf");
    ASSERT_TRUE(g.tok);
    auto scores = g.file.get_float_array("tokenizer.ggml.scores");
    auto types = g.file.get_int_array("tokenizer.ggml.token_type");
    ASSERT_TRUE(scores && *scores && types && *types);
    std::string proto;
    for (int32_t i = 0; i < g.tok->n_vocab(); ++i) {
        std::string p;
        bytes_field(p, 1, g.tok->token_text(i));
        varint(p, 2 << 3 | 5);
        const float s = static_cast<float>((**scores)[i]);
        p.append(reinterpret_cast<const char*>(&s), 4);
        varint(p, 3 << 3 | 0);
        varint(p, static_cast<uint64_t>((**types)[i]));
        bytes_field(proto, 1, p);
    }
    std::string trainer;
    varint(trainer, 3 << 3 | 0); varint(trainer, 2);   // model_type = BPE
    varint(trainer, 35 << 3 | 0); varint(trainer, 1);  // byte_fallback
    bytes_field(proto, 2, trainer);
    std::string norm;
    varint(norm, 3 << 3 | 0); varint(norm, 1);         // add_dummy_prefix
    bytes_field(proto, 3, norm);
    const fs::path d = temp_dir("llama-spm-model");
    write(d / "tokenizer.model", proto);
    auto h = llm::Tokenizer::from_hf_folder(d.string());
    ASSERT_TRUE(h.has_value()) << h.error_message();
    EXPECT_EQ((*h)->bos_id(), 1);
    EXPECT_EQ((*h)->eos_id(), 2);
    expect_same(*g.tok, **h, golden_inputs("ggml-vocab-llama-spm.gguf"));
}

TEST(HfFolder, FixtureModelVocabJson) {
    for (const char* m : {"llama-mha", "phi3"}) {
        const std::string base = std::string(LLM_FIXTURES_DIR) + "/models/" + m;
        auto h = llm::Tokenizer::from_hf_folder(base + "/hf");
        ASSERT_TRUE(h.has_value()) << h.error_message();
        std::string gguf = m == std::string("phi3") ? base + "/phi3.Q8_0.gguf" : base + "/llama-mha.F32.gguf";
        auto g = load(gguf);
        ASSERT_TRUE(g.tok);
        expect_same(*g.tok, **h, golden_inputs("ggml-vocab-llama-spm.gguf"));
    }
}

TEST(HfFolder, ErrorsNameTheProblem) {
    auto missing = llm::Tokenizer::from_hf_folder("/nonexistent/dir");
    ASSERT_FALSE(missing.has_value());
    EXPECT_NE(missing.error_message().find("/nonexistent/dir"), std::string::npos);
    const fs::path d = temp_dir("bad");
    write(d / "tokenizer.json", R"({"model": {"type": "Unigram", "vocab": []}})");
    auto bad = llm::Tokenizer::from_hf_folder(d.string());
    ASSERT_FALSE(bad.has_value());
    EXPECT_NE(bad.error_message().find("Unigram"), std::string::npos) << bad.error_message();
    write(d / "tokenizer.json", "{not json");
    bad = llm::Tokenizer::from_hf_folder(d.string());
    ASSERT_FALSE(bad.has_value());
    EXPECT_NE(bad.error_message().find("tokenizer.json"), std::string::npos) << bad.error_message();
}

}  // namespace
