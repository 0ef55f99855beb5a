// The vocabulary as a byte trie in preorder, which is what token masks walk: tokens sharing a prefix share
// the matcher steps for it, and a dead prefix skips its whole subtree (end[i]) at once.
#pragma once
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "core/status.hpp"

namespace llm {

class Tokenizer;

struct VocabTrie {
    int32_t n_vocab = 0;
    // Node 0 is the root (empty prefix); nodes are in preorder, children in byte order.
    std::vector<uint8_t> byte;         // the byte leading into node i
    std::vector<uint16_t> depth;       // bytes from the root
    std::vector<uint32_t> parent;
    std::vector<uint32_t> end;         // one past the last node of i's subtree
    std::vector<uint32_t> tok_begin;   // tokens whose bytes end at node i: token_ids[tok_begin[i] .. tok_begin[i + 1])
    std::vector<int32_t> token_ids;
    std::vector<int32_t> eog_ids;      // end-of-generation tokens: allowed exactly where the grammar accepts
    std::vector<uint32_t> node_of_token;  // token id -> its trie node, kNoNode for tokens left out
    size_t max_depth = 0;
    size_t n_text_tokens = 0;          // tokens in the trie

    static constexpr uint32_t kNoNode = UINT32_MAX;

    size_t n_nodes() const { return byte.size(); }
    // The bytes of the path to node i (a token's text).
    std::string bytes_of(uint32_t node) const;
    bool has_tokens(uint32_t i) const { return tok_begin[i + 1] != tok_begin[i]; }

    // pieces[id] are the bytes of token id; ids with text[id] == false (special tokens) or empty pieces
    // are left out, so they are never allowed by a mask.
    static VocabTrie build(const std::vector<std::string>& pieces, const std::vector<bool>& text,
                           std::vector<int32_t> eog_ids);
    // From a tokenizer: control, unknown, unused and user-defined tokens are left out (never allowed inside
    // constrained text); end-of-generation tokens are allowed where the grammar accepts.
    // `also_text`: special tokens to include as their text anyway (a tool-call format's <tool_call>, say).
    static std::shared_ptr<const VocabTrie> from_tokenizer(const Tokenizer& tok, std::span<const int32_t> also_text = {});
};

}  // namespace llm
