// libFuzzer target for the tokenizers: arbitrary bytes are encoded with the llama-spm and gpt-2 fixture vocabs
// (with and without BOS / special-token parsing); ids must be in range, decoding must give valid UTF-8, and
// the streaming decoder must agree with decode(). The first input byte picks the options.
// Fixtures: $LLM_FIXTURES or ../shared/fixtures next to the source tree.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>

#include "formats/gguf.hpp"
#include "tokenizer/tokenizer.hpp"
#include "tokenizer/unicode.hpp"

namespace {

std::unique_ptr<llm::Tokenizer> load(const char* name) {
    const char* env = std::getenv("LLM_FIXTURES");
    const std::filesystem::path dir =
        env ? std::filesystem::path(env)
            : std::filesystem::path(__FILE__).parent_path().parent_path().parent_path().parent_path() / "shared" /
                  "fixtures";
    auto f = llm::GgufFile::open((dir / "tokenizer" / name).string());
    if (!f) std::abort();
    auto t = llm::Tokenizer::from_gguf(*f);
    if (!t) std::abort();
    return std::move(*t);
}

void check(const llm::Tokenizer& tok, std::string_view text, uint8_t flags) {
    const auto ids = tok.encode(text, flags & 1, flags & 2);
    for (int32_t id : ids)
        if (id < 0 || id >= tok.n_vocab()) std::abort();
    const std::string back = tok.decode(ids, flags & 4, flags & 8);
    if (!llm::utf8::is_valid(back)) std::abort();
    llm::StreamDecoder sd(tok, flags & 8);
    std::string streamed;
    for (int32_t id : ids) streamed += sd.push(id);
    streamed += sd.flush();
    if (!llm::utf8::is_valid(streamed)) std::abort();
    // SPM without BOS/special parsing round-trips exactly (unless the text itself holds U+2581, SPM's space mark).
    if (tok.kind() == llm::VocabKind::Spm && !(flags & 3) && text.find("\xE2\x96\x81") == std::string_view::npos &&
        streamed != llm::utf8::sanitize(text))
        std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    static const auto spm = load("ggml-vocab-llama-spm.gguf");
    static const auto bpe = load("ggml-vocab-gpt-2.gguf");
    if (size == 0) return 0;
    const uint8_t flags = data[0];
    const std::string_view text(reinterpret_cast<const char*>(data + 1), size - 1);
    check(*spm, text, flags);
    check(*bpe, text, flags);
    return 0;
}
