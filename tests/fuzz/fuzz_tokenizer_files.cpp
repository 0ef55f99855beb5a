// libFuzzer target for a Hugging Face folder's tokenizer files, parsed from memory (Tokenizer::from_hf_files):
// tokenizer.json, tokenizer.model (SentencePiece protobuf), tokenizer_config.json and generation_config.json.
// The first byte picks which file the rest is (the others come from a small valid tokenizer); a tokenizer that
// loads must encode and decode without crashing and give ids in range.
// Build and run: scripts/fuzz.sh tokenizer_files (corpus: tests/fuzz/corpus/tokenizer_files, json.dict).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "tokenizer/tokenizer.hpp"
#include "tokenizer/unicode.hpp"

namespace {

// A byte-level BPE tokenizer.json small enough to keep each run fast.
constexpr const char* kTokenizerJson = R"({"model": {"type": "BPE", "vocab": {"h": 0, "e": 1, "l": 2, "o": 3,
  "he": 4, "ll": 5, "hell": 6, "hello": 7, "Ġ": 8, "<s>": 9}, "merges": ["h e", "l l", "he ll", "hell o"]},
  "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": false, "use_regex": true},
  "decoder": {"type": "ByteLevel"},
  "added_tokens": [{"id": 9, "content": "<s>", "special": true}]})";

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size == 0 || size > 1 << 20) return 0;
    const std::string body(reinterpret_cast<const char*>(data + 1), size - 1);
    llm::Tokenizer::HfFiles f;
    f.dir = "fuzz";
    switch (data[0] % 4) {
        case 0: f.tokenizer_json = body; break;
        case 1: f.tokenizer_model = body; break;
        case 2: f.tokenizer_json = kTokenizerJson, f.tokenizer_config_json = body; break;
        default: f.tokenizer_json = kTokenizerJson, f.generation_config_json = body; break;
    }
    auto tok = llm::Tokenizer::from_hf_files(f);
    if (!tok) {
        if (tok.error_message().empty()) std::abort();
        return 0;
    }
    const llm::Tokenizer& t = **tok;
    for (std::string_view text : {std::string_view("hello world <s> \xc3\xa9\xff"), std::string_view(body).substr(0, 256)}) {
        for (int flags = 0; flags < 4; ++flags) {
            const auto ids = t.encode(text, flags & 1, flags & 2);
            for (int32_t id : ids)
                if (id < 0 || id >= t.n_vocab()) std::abort();
            if (!llm::utf8::is_valid(t.decode(ids, flags & 1, flags & 2))) std::abort();
        }
    }
    for (int32_t id = 0; id < t.n_vocab() && id < 512; ++id) (void)t.token_to_piece(id);
    return 0;
}
