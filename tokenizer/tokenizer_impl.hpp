// Internal state of a Tokenizer: the spec plus the lookup tables built from it (shared by the encoder,
// decoder, stream decoder and loaders; not part of the public API).
#pragma once
#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "tokenizer/pretokenizer.hpp"
#include "tokenizer/vocab.hpp"

namespace llm {

struct PairMerge {
    int32_t rank;
    int32_t merged;  // token id of left+right
};

struct TokenizerImpl {
    VocabSpec spec;  // tokens/attrs final (after the llama.cpp attribute fix-ups)
    // Views into spec.tokens (never resized after construction). token_to_id holds every token (later
    // duplicates win, as in llama.cpp); mergeable only those BPE merging may produce (normal/user-defined).
    std::unordered_map<std::string_view, int32_t> token_to_id;
    std::unordered_map<std::string_view, int32_t> mergeable;
    std::unordered_map<uint64_t, PairMerge> pair_merges;  // (left id << 32 | right id) -> rank, result
    bool use_ranks = false;                // merge priority from pair_merges instead of token scores
    std::vector<uint32_t> score_rank;      // Spm: position of the token's score, best first (equal scores tie)
    // Spm: (codepoint << 32 | next codepoint) for every pair of adjacent characters inside a mergeable token.
    std::unordered_set<uint64_t> adjacent_pairs;
    std::array<int32_t, 256> byte_tokens;  // Spm: <0xNN>; ByteBpe: the byte's stand-in character; -1 if none
    std::vector<int32_t> special_tokens;   // control/user-defined/unknown, longest text first
    std::vector<int32_t> eog_ids;          // sorted
    std::vector<std::string> pieces;       // token_to_piece with special = true
    RegexSplitter splitter;

    uint32_t attr(int32_t id) const {
        return id >= 0 && static_cast<size_t>(id) < spec.attrs.size() ? spec.attrs[id] : 0;
    }
    // Piece as llama_token_to_piece(special) gives it (no leading-space stripping).
    std::string_view piece(int32_t id, bool special) const;

    // Encoders of one raw text fragment (valid UTF-8), appending ids.
    void encode_spm(std::string_view escaped, std::vector<int32_t>& out) const;  // text already ▁-escaped
    void encode_bpe(std::string_view text, std::vector<int32_t>& out) const;
};

}  // namespace llm
