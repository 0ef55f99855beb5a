// Regex pre-tokenization for byte-level BPE (PCRE2 with JIT, UTF + UCP so \p{L}, \p{N}, \s are Unicode-aware),
// and the table of `tokenizer.ggml.pre` names -> the Hugging Face pre-tokenizer regexes they stand for.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/status.hpp"

namespace llm {

// What a GGUF pre-tokenizer name implies (llama.cpp's llama_vocab::load table).
struct PreTokenizerPreset {
    std::vector<std::string> regexes;
    bool clean_spaces = true;
    bool ignore_merges = false;
    bool add_bos = false;
};
// Error (naming `pre`) when the name is unknown or not supported.
Expected<PreTokenizerPreset> pre_tokenizer_preset(const std::string& pre);

// The regex of GPT-2's ByteLevel pre-tokenizer (HF `tokenizers` form).
extern const char* const kGpt2Regex;

// A sequence of regexes: each one splits every piece the previous one produced; the matches and the gaps
// between them both become pieces (HF Split behavior "Isolated"). Thread-safe for concurrent split() calls.
class RegexSplitter {
public:
    static Expected<RegexSplitter> compile(const std::vector<std::string>& patterns);
    RegexSplitter() = default;
    bool empty() const { return codes_.empty(); }
    // text must be valid UTF-8. Appends (offset, length) pieces covering text in order.
    void split(std::string_view text, std::vector<std::pair<uint32_t, uint32_t>>& pieces) const;

private:
    struct Code;
    std::vector<std::shared_ptr<Code>> codes_;
};

}  // namespace llm
