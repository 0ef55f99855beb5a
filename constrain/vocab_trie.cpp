// VocabTrie construction: sort the token byte strings, then lay out the trie in preorder from the longest
// common prefix of neighbours.
#include "constrain/vocab_trie.hpp"

#include <algorithm>
#include <numeric>

#include "tokenizer/tokenizer.hpp"

namespace llm {

VocabTrie VocabTrie::build(const std::vector<std::string>& pieces, const std::vector<bool>& text,
                           std::vector<int32_t> eog_ids) {
    VocabTrie t;
    t.n_vocab = static_cast<int32_t>(pieces.size());
    t.eog_ids = std::move(eog_ids);
    std::vector<int32_t> ids;
    for (int32_t id = 0; id < t.n_vocab; ++id)
        if (text[id] && !pieces[id].empty()) ids.push_back(id);
    // std::string compares bytes as unsigned char: the order matches the preorder of a byte trie.
    std::stable_sort(ids.begin(), ids.end(), [&](int32_t a, int32_t b) { return pieces[a] < pieces[b]; });
    t.n_text_tokens = ids.size();

    t.byte.push_back(0), t.depth.push_back(0), t.parent.push_back(0);
    std::vector<uint32_t> path{0};  // path[d]: node at depth d on the current path
    std::vector<uint32_t> node_of(ids.size());
    const std::string* prev = nullptr;
    for (size_t k = 0; k < ids.size(); ++k) {
        const std::string& p = pieces[ids[k]];
        size_t lcp = 0;
        if (prev) {
            const size_t n = std::min(prev->size(), p.size());
            while (lcp < n && (*prev)[lcp] == p[lcp]) ++lcp;
        }
        path.resize(lcp + 1);
        for (size_t d = lcp; d < p.size(); ++d) {
            const uint32_t id = static_cast<uint32_t>(t.byte.size());
            t.byte.push_back(static_cast<uint8_t>(p[d]));
            t.depth.push_back(static_cast<uint16_t>(std::min<size_t>(d + 1, UINT16_MAX)));
            t.parent.push_back(path[d]);
            path.push_back(id);
        }
        node_of[k] = path[p.size()];
        t.max_depth = std::max(t.max_depth, p.size());
        prev = &p;
    }
    const size_t n = t.byte.size();
    // end[i]: the first later node that is not in i's subtree (depth <= depth[i]).
    t.end.assign(n, static_cast<uint32_t>(n));
    std::vector<uint32_t> open;
    for (uint32_t i = 0; i < n; ++i) {
        while (!open.empty() && t.depth[open.back()] >= t.depth[i]) {
            t.end[open.back()] = i;
            open.pop_back();
        }
        open.push_back(i);
    }
    // Tokens per node (ids are sorted by bytes, so node_of is non-decreasing).
    t.tok_begin.assign(n + 1, 0);
    for (uint32_t v : node_of) ++t.tok_begin[v + 1];
    std::partial_sum(t.tok_begin.begin(), t.tok_begin.end(), t.tok_begin.begin());
    t.token_ids = ids;
    t.node_of_token.assign(t.n_vocab, kNoNode);
    for (size_t k = 0; k < ids.size(); ++k) t.node_of_token[ids[k]] = node_of[k];
    return t;
}

std::string VocabTrie::bytes_of(uint32_t node) const {
    std::string s(depth[node], '\0');
    for (uint32_t i = node; i != 0; i = parent[i]) s[depth[i] - 1] = static_cast<char>(byte[i]);
    return s;
}

std::shared_ptr<const VocabTrie> VocabTrie::from_tokenizer(const Tokenizer& tok, std::span<const int32_t> also_text) {
    const int32_t n = tok.n_vocab();
    std::vector<std::string> pieces(n);
    std::vector<bool> text(n);
    constexpr uint32_t kSpecial = kAttrControl | kAttrUnknown | kAttrUnused | kAttrUserDefined;
    for (int32_t id = 0; id < n; ++id) {
        text[id] = !(tok.token_attr(id) & kSpecial) && !tok.is_end_of_generation(id) && id != tok.bos_id();
        if (text[id]) pieces[id] = tok.token_to_piece(id);
    }
    for (int32_t id : also_text) {
        if (id < 0 || id >= n) continue;
        text[id] = true;
        pieces[id] = tok.token_to_piece(id);
    }
    return std::make_shared<const VocabTrie>(build(pieces, text, tok.end_of_generation_ids()));
}

}  // namespace llm
