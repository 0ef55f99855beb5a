// Text <-> token ids: SentencePiece-style BPE (Llama/Mistral/Phi-3) and byte-level BPE (GPT-2, Llama 3,
// SmolLM2), loaded from GGUF metadata or a Hugging Face folder. Results match llama.cpp's llama_tokenize /
// llama_detokenize (which match HF `tokenizers`) token for token.
#pragma once
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "llm/export.hpp"
#include "llm/status.hpp"

namespace llm {

// Library-internal types the loaders take (tokenizer/vocab.hpp, formats/gguf.hpp); opaque here.
class GgufFile;
struct TokenizerImpl;
struct VocabSpec;
enum class VocabKind;

class LLM_API Tokenizer {
public:
    // From a GGUF file (a vocabulary-only one will do) or a Hugging Face folder, as below.
    static Expected<std::unique_ptr<Tokenizer>> from_file(const std::string& path);
    // From `tokenizer.ggml.*` metadata. An unsupported model or pre-tokenizer is an error naming it.
    static Expected<std::unique_ptr<Tokenizer>> from_gguf(const GgufFile& f);
    // From a Hugging Face folder: tokenizer.json (BPE model), else tokenizer.model (SentencePiece protobuf);
    // tokenizer_config.json supplies bos/eos/add_bos and the chat template.
    static Expected<std::unique_ptr<Tokenizer>> from_hf_folder(const std::string& dir);
    // The same from the files' contents (unset = absent): what from_hf_folder reads, parsed without touching the
    // disk (fuzz target, tests). `dir` names the folder in messages.
    struct HfFiles {
        std::string dir;
        std::optional<std::string> tokenizer_json, tokenizer_model, tokenizer_vocab_json, tokenizer_config_json,
            chat_template_jinja, generation_config_json, config_json;
    };
    static Expected<std::unique_ptr<Tokenizer>> from_hf_files(const HfFiles& files);
    // From an already assembled description (used by both loaders and by tests with synthetic vocabs).
    static Expected<std::unique_ptr<Tokenizer>> from_spec(VocabSpec spec);

    ~Tokenizer();
    Tokenizer(const Tokenizer&) = delete;
    Tokenizer& operator=(const Tokenizer&) = delete;

    // add_special: prepend BOS / append EOS as the model's add_bos/add_eos flags say.
    // parse_special: text of control tokens (e.g. "<|im_start|>") becomes that token; user-defined tokens are
    // always matched (as HF and llama.cpp do). Invalid UTF-8 is replaced by U+FFFD first.
    std::vector<int32_t> encode(std::string_view text, bool add_special, bool parse_special) const;
    // llama_detokenize semantics: drops the one leading space the SPM prefix rule added, cleans spaces
    // before punctuation where the vocab says so. remove_special drops a leading BOS / trailing EOS (when the
    // model adds them); unparse_special renders control tokens' text instead of nothing.
    std::string decode(std::span<const int32_t> ids, bool remove_special = false,
                       bool unparse_special = false) const;
    // Raw bytes of one token as it appears in text (control tokens give their text; byte tokens one byte,
    // which may be part of a UTF-8 character). Out-of-range ids give "".
    std::string token_to_piece(int32_t id) const;
    // The vocabulary entry as stored (e.g. "▁Hello", "ĠHello", "<0x0A>").
    const std::string& token_text(int32_t id) const;
    uint32_t token_attr(int32_t id) const;  // TokenAttr bits (tokenizer/vocab.hpp; llama.cpp's llama_token_attr)
    // Token id of an exact vocabulary string, or -1.
    int32_t find_token(std::string_view text) const;

    int32_t n_vocab() const;
    VocabKind kind() const;
    int32_t bos_id() const;  // -1 when the model has none
    int32_t eos_id() const;
    int32_t eot_id() const;
    int32_t unk_id() const;
    int32_t pad_id() const;
    bool add_bos() const;
    bool add_eos() const;
    // EOS, EOT, EOM and tokens such as <|im_end|>, <|end|>, <|eot_id|>, <|endoftext|>, <end_of_turn>.
    bool is_end_of_generation(int32_t id) const;
    const std::vector<int32_t>& end_of_generation_ids() const;
    const std::string& chat_template() const;  // may be empty
    std::string bos_text() const;              // "" when none
    std::string eos_text() const;
    const std::string& pre_tokenizer() const;  // e.g. "gpt-2", "llama-bpe", "smollm"; "" for SPM

private:
    Tokenizer();
    std::unique_ptr<TokenizerImpl> impl_;
    friend class StreamDecoder;
};

// Incremental detokenizer for streaming output: push() returns the newly completed text, never half a UTF-8
// character (bytes of an incomplete character, e.g. from byte-fallback tokens, wait for the rest).
// The first token's SPM leading space is dropped just as decode() does.
class LLM_API StreamDecoder {
public:
    explicit StreamDecoder(const Tokenizer& tok, bool unparse_special = false);
    std::string push(int32_t id);
    // Emits whatever is pending; an incomplete trailing character becomes U+FFFD.
    std::string flush();
    void reset();

private:
    const Tokenizer* tok_;
    bool unparse_special_;
    bool first_ = true;
    std::string pending_;  // bytes of an incomplete UTF-8 character
};

// Whether s is well-formed UTF-8 (no overlong forms, surrogates or code points past U+10FFFF).
LLM_API bool is_valid_utf8(std::string_view s);

}  // namespace llm
