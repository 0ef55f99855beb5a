// The BPE merge loop shared by both tokenizer kinds, and the per-fragment encoders.
// Merging keeps the symbols of a word in a doubly linked list and the candidate pairs in a binary heap:
// each merge pushes at most two new candidates and stale ones are skipped when popped, so a word of n
// characters costs O(n log n) whatever its content (no recursion, no rescans).
#include <algorithm>

#include "tokenizer/tokenizer_impl.hpp"
#include "tokenizer/unicode.hpp"

namespace llm {
namespace {

struct Symbol {
    int32_t prev, next;
    uint32_t off, len;  // bytes of the word; len == 0 once merged into the left neighbour
    int32_t id;         // token id of the symbol's text, or -1 when not (yet) known to be a token (-2: a later
                        // byte of a character that encodes as one unknown token)
};

struct Candidate {
    // Priority in the high half (lower merges first: the pair's rank, or the merged token's score rank), the
    // left symbol index in the low half, so one compare orders by priority and then leftmost (llama.cpp and HF
    // both break ties by position).
    uint64_t key;
    uint32_t size;  // left.len + right.len when pushed: a different sum later means the entry is stale
    int32_t id;     // the merged token
};

struct MergesLater {  // std heaps keep the "largest" on top
    bool operator()(const Candidate& a, const Candidate& b) const { return a.key > b.key; }
};

// PairFn(const Symbol& l, const Symbol& r, uint32_t& prio, int32_t& id) -> whether l+r may merge.
template <typename PairFn>
void merge_symbols(std::vector<Symbol>& syms, std::vector<Candidate>& heap, PairFn&& pair) {
    heap.clear();
    const auto try_add = [&](int32_t l, int32_t r) {
        if (l < 0 || r < 0) return;
        uint32_t prio;
        int32_t id;
        if (!pair(syms[l], syms[r], prio, id)) return;
        heap.push_back({(static_cast<uint64_t>(prio) << 32) | static_cast<uint32_t>(l), syms[l].len + syms[r].len, id});
        std::push_heap(heap.begin(), heap.end(), MergesLater{});
    };
    for (size_t i = 1; i < syms.size(); ++i) try_add(static_cast<int32_t>(i - 1), static_cast<int32_t>(i));
    while (!heap.empty()) {
        std::pop_heap(heap.begin(), heap.end(), MergesLater{});
        const Candidate c = heap.back();
        heap.pop_back();
        const int32_t li = static_cast<int32_t>(c.key & 0xffffffffu);
        Symbol& l = syms[li];
        if (l.len == 0 || l.next < 0) continue;
        Symbol& r = syms[l.next];
        // Lengths only grow and l.next changes only when l grows, so an unchanged sum means an unchanged pair.
        if (l.len + r.len != c.size) continue;
        l.len += r.len;
        l.id = c.id;
        r.len = 0;
        l.next = r.next;
        if (r.next >= 0) syms[r.next].prev = li;
        try_add(l.prev, li);
        try_add(li, l.next);
    }
}

// Per-thread buffers reused across words and calls (encode is const and may run on many threads at once).
struct Scratch {
    std::vector<Symbol> syms;
    std::vector<Candidate> heap;
    std::vector<std::pair<uint32_t, uint32_t>> pieces;
    std::string mapped;
    // Drops buffers a huge input left behind so a thread does not keep tens of MB for good.
    void trim() {
        if (syms.capacity() > (1u << 16)) syms = {};
        if (heap.capacity() > (1u << 16)) heap = {};
        if (pieces.capacity() > (1u << 16)) pieces = {};
    }
};
Scratch& scratch() {
    thread_local Scratch s;
    return s;
}

}  // namespace

// SentencePiece-style: symbols are the UTF-8 characters of the ▁-escaped fragment; a pair merges when the
// concatenation is a (normal/user-defined) token, best score first (or, from tokenizer.json, lowest rank).
// Unmerged characters that are not tokens fall back to <0xNN> byte tokens (or unk).
void TokenizerImpl::encode_spm(std::string_view text, std::vector<int32_t>& out) const {
    auto& S = scratch();
    auto& syms = S.syms;
    bool last_unk = false;  // runs of unknown bytes fuse into one unk (across the words of the fragment)
    const auto encode_word = [&](std::string_view word) {
        syms.clear();
        for (size_t off = 0; off < word.size();) {
            const uint32_t n = static_cast<uint32_t>(
                std::min(utf8::seq_len(static_cast<uint8_t>(word[off])), word.size() - off));
            int32_t id = -1;
            if (use_ranks) {
                const auto it = mergeable.find(word.substr(off, n));
                if (it != mergeable.end()) id = it->second;
            }
            const int32_t idx = static_cast<int32_t>(syms.size());
            syms.push_back({idx - 1, off + n == word.size() ? -1 : idx + 1, static_cast<uint32_t>(off), n, id});
            off += n;
        }
        if (use_ranks) {
            merge_symbols(syms, S.heap, [&](const Symbol& l, const Symbol& r, uint32_t& prio, int32_t& id) {
                if (l.id < 0 || r.id < 0) return false;
                const auto it = pair_merges.find((static_cast<uint64_t>(l.id) << 32) | static_cast<uint32_t>(r.id));
                if (it == pair_merges.end()) return false;
                prio = static_cast<uint32_t>(it->second.rank);
                id = it->second.merged;
                return true;
            });
        } else {
            merge_symbols(syms, S.heap, [&](const Symbol& l, const Symbol& r, uint32_t& prio, int32_t& id) {
                const auto it = mergeable.find(word.substr(l.off, l.len + r.len));
                if (it == mergeable.end()) return false;
                id = it->second;
                prio = score_rank[id];
                return true;
            });
        }
        for (int32_t i = syms.empty() ? -1 : 0; i != -1; i = syms[i].next) {
            const Symbol& s = syms[i];
            int32_t id = s.id;
            if (id < 0) {
                const auto it = mergeable.find(word.substr(s.off, s.len));
                if (it != mergeable.end()) id = it->second;
            }
            if (id >= 0) {
                out.push_back(id);
                last_unk = false;
                continue;
            }
            // A character outside the vocabulary: its bytes' tokens (byte fallback) when the vocabulary has every
            // one of them, else the unknown token; never part of its bytes, which would decode to invalid UTF-8.
            bool all_bytes = spec.byte_fallback;
            for (uint32_t k = 0; k < s.len && all_bytes; ++k)
                all_bytes = byte_tokens[static_cast<uint8_t>(word[s.off + k])] >= 0;
            if (all_bytes) {
                for (uint32_t k = 0; k < s.len; ++k) out.push_back(byte_tokens[static_cast<uint8_t>(word[s.off + k])]);
                last_unk = false;
            } else if (spec.unk_id >= 0 && !last_unk) {
                out.push_back(spec.unk_id);
                last_unk = true;
            }
        }
    };
    if (!spec.spm_split_on_space) {
        // No merge can cross a point between two characters that are never adjacent inside a mergeable token,
        // so the fragment splits there into independent words (exact, and keeps each heap small).
        size_t start = 0, i = 0;
        uint32_t prev_cp = 0;
        bool have_prev = false;
        while (i < text.size()) {
            const size_t at = i;
            const uint32_t cp = utf8::decode(text, i);
            if (have_prev && !adjacent_pairs.count((static_cast<uint64_t>(prev_cp) << 32) | cp)) {
                encode_word(text.substr(start, at - start));
                start = at;
            }
            prev_cp = cp;
            have_prev = true;
        }
        if (start < text.size()) encode_word(text.substr(start));
        S.trim();
        return;
    }
    // HF Metaspace split=true: a new word starts at every ▁.
    static constexpr std::string_view kSpace = "\xE2\x96\x81";
    size_t start = 0;
    for (size_t pos = text.find(kSpace, 1); pos != std::string_view::npos; pos = text.find(kSpace, pos + 1)) {
        if (pos > start) encode_word(text.substr(start, pos - start));
        start = pos;
    }
    if (start < text.size()) encode_word(text.substr(start));
    S.trim();
}

// Byte-level BPE: regex pre-tokenization, then per word rank-ordered merges over the word's bytes (each byte
// is one symbol: its stand-in character in the GPT-2 alphabet).
void TokenizerImpl::encode_bpe(std::string_view text, std::vector<int32_t>& out) const {
    auto& S = scratch();
    std::string prefixed;
    if (spec.byte_level_prefix_space && !text.empty() && text[0] != ' ') {
        prefixed.reserve(text.size() + 1);
        prefixed += ' ';
        prefixed.append(text);
        text = prefixed;
    }
    S.pieces.clear();
    if (splitter.empty()) S.pieces.emplace_back(0u, static_cast<uint32_t>(text.size()));
    else splitter.split(text, S.pieces);
    const auto& bmap = utf8::byte_unicode_map();
    auto& syms = S.syms;
    for (const auto& [off, len] : S.pieces) {
        const std::string_view word = text.substr(off, len);
        if (spec.ignore_merges) {
            S.mapped.clear();
            for (const char ch : word) S.mapped += bmap.byte_to_utf8[static_cast<uint8_t>(ch)];
            const auto it = mergeable.find(S.mapped);
            if (it != mergeable.end()) {
                out.push_back(it->second);
                continue;
            }
        }
        syms.clear();
        for (uint32_t k = 0; k < len; ++k) {
            const int32_t idx = static_cast<int32_t>(k);
            syms.push_back({idx - 1, k + 1 == len ? -1 : idx + 1, k, 1, byte_tokens[static_cast<uint8_t>(word[k])]});
        }
        // A character with a byte the vocabulary lacks takes part in no merge and becomes one unknown token
        // below (its first byte -1, the others -2): none of its bytes alone, which would decode to invalid UTF-8.
        for (uint32_t k = 0; k < len;) {
            const uint32_t lead = static_cast<uint8_t>(word[k]);
            const uint32_t n = std::min<uint32_t>(len - k, static_cast<uint32_t>(utf8::seq_len(lead)));
            bool missing = false;
            for (uint32_t i = k; i < k + n; ++i) missing = missing || syms[i].id < 0;
            if (missing)
                for (uint32_t i = k; i < k + n; ++i) syms[i].id = i == k ? -1 : -2;
            k += n;
        }
        merge_symbols(syms, S.heap, [&](const Symbol& l, const Symbol& r, uint32_t& prio, int32_t& id) {
            if (l.id < 0 || r.id < 0) return false;
            const auto it = pair_merges.find((static_cast<uint64_t>(l.id) << 32) | static_cast<uint32_t>(r.id));
            if (it == pair_merges.end()) return false;
            prio = static_cast<uint32_t>(it->second.rank);
            id = it->second.merged;
            return true;
        });
        for (int32_t i = syms.empty() ? -1 : 0; i != -1; i = syms[i].next) {
            if (syms[i].id >= 0) out.push_back(syms[i].id);
            else if (syms[i].id == -1 && spec.unk_id >= 0) out.push_back(spec.unk_id);  // once per such character
        }
    }
    S.trim();
}

}  // namespace llm
