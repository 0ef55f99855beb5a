// VocabSpec: the loader-independent description of a tokenizer (what GGUF `tokenizer.ggml.*` or an HF folder
// says). Loaders fill it; Tokenizer::from_spec validates it and builds the lookup tables.
#pragma once
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace llm {

enum class VocabKind {
    Spm,      // SentencePiece-style BPE: spaces as U+2581, byte fallback <0xNN>, merges by token score or rank
    ByteBpe,  // byte-level BPE: GPT-2 byte<->unicode map, regex pre-tokenizer, merges by rank
};

// Per-token attribute bits (same meaning and values as llama.cpp's llama_token_attr).
enum TokenAttr : uint32_t {
    kAttrUndefined = 0,
    kAttrUnknown = 1u << 0,
    kAttrUnused = 1u << 1,
    kAttrNormal = 1u << 2,
    kAttrControl = 1u << 3,
    kAttrUserDefined = 1u << 4,
    kAttrByte = 1u << 5,
    kAttrNormalized = 1u << 6,
    kAttrLstrip = 1u << 7,
    kAttrRstrip = 1u << 8,
    kAttrSingleWord = 1u << 9,
};

// GGUF `tokenizer.ggml.token_type` values -> attribute bits.
uint32_t token_type_to_attr(int64_t gguf_token_type);

struct VocabSpec {
    VocabKind kind = VocabKind::Spm;
    std::string source;                // file or folder, for messages
    std::vector<std::string> tokens;   // id -> text as stored (▁ for spaces / byte-mapped for ByteBpe)
    std::vector<float> scores;         // Spm merge priority of the merged token (empty: all 0)
    std::vector<uint32_t> attrs;       // TokenAttr bits per token (empty: all normal)
    // Merges in rank order (rank = index). ByteBpe always; Spm only when loaded from tokenizer.json, in which
    // case merge priority is the pair's rank (HF semantics) instead of the merged token's score.
    std::vector<std::pair<std::string, std::string>> merges;

    // ByteBpe: pre-tokenizer name (`tokenizer.ggml.pre`) and the regexes it stands for (each splits every piece
    // of the previous one; matches and the gaps between them both become pieces).
    std::string pre;
    std::vector<std::string> pre_regexes;
    bool byte_level_prefix_space = false;  // HF ByteLevel add_prefix_space

    // Spm: "always" prepend ▁ to each text fragment that follows a special token or starts the text
    // (llama.cpp/legacy HF); with spm_prefix_first_only only at the start of the input (HF Metaspace "first").
    bool add_space_prefix = true;
    bool spm_prefix_first_only = false;
    bool spm_prefix_skip_if_present = false;  // HF Metaspace: no extra ▁ when the text already starts with one
    bool spm_split_on_space = false;          // HF Metaspace split=true: each ▁ starts a new word

    int32_t bos_id = -1, eos_id = -1, unk_id = -1, pad_id = -1, eot_id = -1, eom_id = -1;
    std::vector<int32_t> extra_eog_ids;  // more end-of-generation tokens named by the loader
    bool add_bos = false;
    bool add_eos = false;
    bool clean_spaces = false;   // detokenize removes " ?", " 's" ... (HF clean_up_tokenization_spaces)
    bool ignore_merges = false;  // a whole pre-tokenized word found in the vocab is one token (Llama 3)
    bool byte_fallback = true;   // Spm: unknown characters become <0xNN> tokens (else unk)
    bool normalize_nfc = false;  // HF NFC normalizer: each raw text fragment is NFC-composed first

    std::string model_name;     // general.name (llama.cpp sets RSTRIP on Phi-3 special tokens by name)
    std::string chat_template;  // may be empty
};

}  // namespace llm
