// Invalid UTF-8, pathological inputs (must stay fast: no recursion, no quadratic merging), the streaming
// decoder on characters split over byte tokens, and UTF-8 helpers.
#include <gtest/gtest.h>

#include <time.h>

#include <algorithm>

#include "formats/gguf.hpp"
#include "tokenizer/tokenizer.hpp"
#include "tokenizer/unicode.hpp"

namespace {

std::unique_ptr<llm::Tokenizer> load(const std::string& name) {
    auto f = llm::GgufFile::open(std::string(LLM_FIXTURES_DIR) + "/tokenizer/" + name);
    if (!f) return nullptr;
    auto t = llm::Tokenizer::from_gguf(*f);
    return t ? std::move(*t) : nullptr;
}

class Vocabs : public ::testing::TestWithParam<const char*> {};

TEST(Utf8, Sanitize) {
    using llm::utf8::sanitize;
    EXPECT_EQ(sanitize("abc"), "abc");
    EXPECT_EQ(sanitize("a\xFF" "b"), "a\xEF\xBF\xBD" "b");
    EXPECT_EQ(sanitize("\xE2\x82" "a"), "\xEF\xBF\xBD" "a");        // truncated 3-byte sequence: one U+FFFD
    EXPECT_EQ(sanitize("\xC0\xAF"), "\xEF\xBF\xBD\xEF\xBF\xBD");    // overlong: each byte
    EXPECT_EQ(sanitize("\xED\xA0\x80"), "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");  // surrogate
    EXPECT_EQ(sanitize("\xF0\x9F\x98"), "\xEF\xBF\xBD");            // truncated emoji at the end
    EXPECT_EQ(sanitize("\xF4\x90\x80\x80"), "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");  // > U+10FFFF
    EXPECT_TRUE(llm::utf8::is_valid("h\xC3\xA9llo \xF0\x9F\x98\x81"));
    EXPECT_EQ(llm::utf8::incomplete_tail("ab\xF0\x9F"), 2u);
    EXPECT_EQ(llm::utf8::incomplete_tail("ab\xF0\x9F\x98\x81"), 0u);
    EXPECT_EQ(llm::utf8::incomplete_tail("ab\xE4"), 1u);
    EXPECT_EQ(llm::utf8::incomplete_tail("ab\xFF"), 0u);
}

TEST(Utf8, ByteUnicodeMapRoundTrips) {
    const auto& m = llm::utf8::byte_unicode_map();
    for (int b = 0; b < 256; ++b) {
        size_t i = 0;
        const uint32_t cp = llm::utf8::decode(m.byte_to_utf8[b], i);
        EXPECT_EQ(llm::utf8::ByteUnicodeMap::utf8_to_byte(cp), b);
    }
    EXPECT_EQ(m.byte_to_utf8[' '], "\xC4\xA0");  // 'Ġ'
    EXPECT_EQ(m.byte_to_utf8['\n'], "\xC4\x8A");  // 'Ċ'
}

TEST_P(Vocabs, InvalidUtf8BecomesReplacementChar) {
    auto tok = load(GetParam());
    ASSERT_TRUE(tok);
    const std::string bad = "ok \xFF\xFE bad \xE2\x82 end \xC0";
    const auto ids = tok->encode(bad, true, true);
    EXPECT_EQ(tok->decode(ids, true), llm::utf8::sanitize(bad));
    EXPECT_EQ(tok->encode(bad, false, false), tok->encode(llm::utf8::sanitize(bad), false, false));
    // Embedded NULs are ordinary characters.
    const std::string nul("a\0b", 3);
    EXPECT_EQ(tok->decode(tok->encode(nul, false, false)), nul);
}

// CPU seconds of this thread: unlike wall time, it does not grow when other processes share the cores.
double thread_cpu_seconds() {
    timespec ts{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return double(ts.tv_sec) + 1e-9 * double(ts.tv_nsec);
}

// Linear, not quadratic: 4x the input may cost at most 8x the CPU time (linear: ~4x, n log n: ~4.5x, quadratic:
// 16x), plus 5 ms for page faults and allocator noise (measured: 4.1x-5.7x, 1-10 ms at 64 KiB). Independent of the
// load and of sanitizers; the absolute bound (60 CPU-s for 256 KiB) only catches a runaway slow at every size.
TEST_P(Vocabs, PathologicalInputsAreFast) {
    auto tok = load(GetParam());
    ASSERT_TRUE(tok);
    const size_t n = 64 * 1024;
    for (const char c : {'a', ' ', '7', '\n', '\xC3' /* invalid alone */}) {
        const size_t len = c == '\xC3' ? n / 2 : n;
        double small = 1e9;
        for (int rep = 0; rep < 2; ++rep) {  // the faster of two: the first call may warm caches and the allocator
            const double t0 = thread_cpu_seconds();
            EXPECT_FALSE(tok->encode(std::string(len, c), false, false).empty());
            small = std::min(small, thread_cpu_seconds() - t0);
        }
        const std::string s(4 * len, c);
        const double t0 = thread_cpu_seconds();
        const auto ids = tok->encode(s, false, false);
        const double large = thread_cpu_seconds() - t0;
        EXPECT_FALSE(ids.empty());
        EXPECT_LT(large, 8 * small + 0.005) << GetParam() << ": 0x" << std::hex << int(uint8_t(c)) << std::dec << " x "
                                           << len << " took " << small << " s, x " << 4 * len << " " << large << " s";
        EXPECT_LT(large, 60.0);
        if (c != '\xC3') {
            EXPECT_EQ(tok->decode(ids), s);
        }
    }
}

TEST_P(Vocabs, StreamDecoderNeverSplitsCharacters) {
    auto tok = load(GetParam());
    ASSERT_TRUE(tok);
    const std::string text = "Emoji 😶‍🌫️ and 🦙, CJK 我想在apple工作 ～ Khmer កាន់ end";
    const auto ids = tok->encode(text, true, false);
    llm::StreamDecoder sd(*tok);
    std::string all;
    for (int32_t id : ids) {
        const std::string part = sd.push(id);
        EXPECT_TRUE(llm::utf8::is_valid(part)) << "token " << id;
        all += part;
    }
    all += sd.flush();
    EXPECT_EQ(all, text);
    // A character cut off at the end is flushed as U+FFFD.
    sd.reset();
    const auto emoji = tok->encode("🦙", false, false);
    std::string partial;
    for (size_t i = 0; i + 1 < emoji.size(); ++i) partial += sd.push(emoji[i]);
    if (emoji.size() > 1) {
        EXPECT_EQ(partial, "");
        EXPECT_EQ(sd.flush(), "\xEF\xBF\xBD");
    }
}

TEST_P(Vocabs, RandomBytesNeverCrash) {
    auto tok = load(GetParam());
    ASSERT_TRUE(tok);
    uint64_t state = 0x9E3779B97F4A7C15ull;
    for (int iter = 0; iter < 200; ++iter) {
        std::string s;
        const size_t len = iter % 97;
        for (size_t i = 0; i < len; ++i) {
            state = state * 6364136223846793005ull + 1442695040888963407ull;
            s += static_cast<char>(state >> 56);
        }
        if (iter % 5 == 0) s += "<s></s><|endoftext|><|user|>";
        const auto ids = tok->encode(s, iter & 1, iter & 2);
        for (int32_t id : ids) ASSERT_TRUE(id >= 0 && id < tok->n_vocab());
        const std::string back = tok->decode(ids, false, true);
        EXPECT_TRUE(llm::utf8::is_valid(back));
    }
    EXPECT_EQ(tok->decode(std::vector<int32_t>{-5, 1 << 30}), "");
}

INSTANTIATE_TEST_SUITE_P(Fixtures, Vocabs,
                         ::testing::Values("ggml-vocab-llama-spm.gguf", "ggml-vocab-phi-3.gguf", "ggml-vocab-gpt-2.gguf"),
                         [](const auto& info) {
                             std::string n = info.param;
                             n = n.substr(11, n.size() - 16);
                             for (char& c : n)
                                 if (c == '-') c = '_';
                             return n;
                         });

TEST(Spec, UnsupportedPreTokenizerIsNamed) {
    llm::VocabSpec s;
    s.kind = llm::VocabKind::ByteBpe;
    s.source = "x.gguf";
    s.tokens = {"a", "b", "ab"};
    s.merges = {{"a", "b"}};
    s.pre_regexes = {"(unclosed"};
    auto t = llm::Tokenizer::from_spec(s);
    ASSERT_FALSE(t.has_value());
    EXPECT_NE(t.error_message().find("x.gguf"), std::string::npos) << t.error_message();
}

// A token text that is not UTF-8 (found by fuzz_tokenizer_files: a SentencePiece piece "<\x9enk>") would make
// decode() emit invalid UTF-8: the vocabulary is refused, naming the token.
TEST(Spec, TokenTextThatIsNotUtf8IsRefused) {
    llm::VocabSpec s;
    s.kind = llm::VocabKind::Spm;
    s.source = "tokenizer.model";
    s.tokens = {"<unk>", "<\x9enk>", "a"};
    auto t = llm::Tokenizer::from_spec(s);
    ASSERT_FALSE(t.has_value());
    EXPECT_EQ(t.error_message(), "tokenizer.model: token 1 is not valid UTF-8");
}

// The unknown token of a SentencePiece model that is a byte token (found by fuzz_tokenizer_files: "<0x82>" at
// id 0, the default unk id) would put a stray byte into the text of every unknown character: refused.
TEST(Spec, UnknownTokenThatIsAByteTokenIsRefused) {
    llm::VocabSpec s;
    s.kind = llm::VocabKind::Spm;
    s.source = "tokenizer.model";
    s.tokens = {"<0x82>", "\xe2\x96\x81", "a"};
    s.attrs = {llm::kAttrByte, llm::kAttrNormal, llm::kAttrNormal};
    s.unk_id = 0;
    auto t = llm::Tokenizer::from_spec(s);
    ASSERT_FALSE(t.has_value());
    EXPECT_EQ(t.error_message(), "tokenizer.model: the unknown token 0 ('<0x82>') is a byte token");
}

// A character whose bytes the vocabulary can spell only in part becomes one unknown token, never some of its
// bytes (which decode to invalid UTF-8), with byte fallback (SPM) and in byte-level BPE, where no merge may take
// its bytes either.
TEST(Spec, CharactersWithMissingByteTokensBecomeOneUnknownToken) {
    llm::VocabSpec spm;
    spm.kind = llm::VocabKind::Spm;
    spm.source = "spm";
    spm.tokens = {"<unk>", "<0xC3>", "\xe2\x96\x81", "a", "\xe2\x96\x81" "a"};
    spm.attrs = {llm::kAttrUnknown, llm::kAttrByte, llm::kAttrNormal, llm::kAttrNormal, llm::kAttrNormal};
    spm.scores = {0, 0, -1, -2, -0.5f};
    spm.byte_fallback = true, spm.unk_id = 0, spm.add_bos = false;
    auto s = llm::Tokenizer::from_spec(spm);
    ASSERT_TRUE(s.has_value()) << s.error_message();
    const auto ids = (*s)->encode("a\xc3\xa9" "a", false, false);  // "aéa": é is C3 A9, and <0xA9> is missing
    EXPECT_EQ(ids, (std::vector<int32_t>{4, 0, 3}));
    EXPECT_TRUE(llm::utf8::is_valid((*s)->decode(ids)));

    llm::VocabSpec bpe;  // GPT-2's byte alphabet: 0xC3 is "\xc3\x83" (U+00C3), 0xA9 (U+00A9) is absent
    bpe.kind = llm::VocabKind::ByteBpe;
    bpe.source = "bpe";
    bpe.tokens = {"a", "\xc3\x83", "a\xc3\x83", "<unk>"};
    bpe.merges = {{"a", "\xc3\x83"}};
    bpe.unk_id = 3;
    auto b = llm::Tokenizer::from_spec(bpe);
    ASSERT_TRUE(b.has_value()) << b.error_message();
    const auto bids = (*b)->encode("a\xc3\xa9" "a", false, false);
    EXPECT_EQ(bids, (std::vector<int32_t>{0, 3, 0}));  // not "aÃ" + unknown
    EXPECT_TRUE(llm::utf8::is_valid((*b)->decode(bids)));
}

}  // namespace
