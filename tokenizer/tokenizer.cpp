// Tokenizer construction (tables and llama.cpp's attribute fix-ups), special-token partitioning, encode and
// decode (llama_tokenize / llama_detokenize semantics).
#include "tokenizer/tokenizer.hpp"

#include <algorithm>
#include <cctype>
#include <cstdlib>

#include <utf8proc.h>

#include "tokenizer/tokenizer_impl.hpp"
#include "tokenizer/unicode.hpp"

namespace llm {

static constexpr std::string_view kSpaceMarker = "\xE2\x96\x81";  // U+2581 ▁

uint32_t token_type_to_attr(int64_t t) {
    switch (t) {
        case 1: return kAttrNormal;
        case 2: return kAttrUnknown;
        case 3: return kAttrControl;
        case 4: return kAttrUserDefined;
        case 5: return kAttrUnused;
        case 6: return kAttrByte;
        default: return kAttrUndefined;
    }
}

// "<0xNN>" -> NN, else -1.
static int parse_byte_token(std::string_view s) {
    if (s.size() != 6 || s.substr(0, 3) != "<0x" || s[5] != '>') return -1;
    int v = 0;
    for (int k = 3; k < 5; ++k) {
        const char c = s[k];
        v <<= 4;
        if (c >= '0' && c <= '9') v |= c - '0';
        else if (c >= 'A' && c <= 'F') v |= c - 'A' + 10;
        else if (c >= 'a' && c <= 'f') v |= c - 'a' + 10;
        else return -1;
    }
    return v;
}

static void replace_all(std::string& s, std::string_view from, std::string_view to) {
    if (s.find(from) == std::string::npos) return;
    std::string out;
    out.reserve(s.size());
    size_t pos = 0;
    for (size_t hit; (hit = s.find(from, pos)) != std::string::npos; pos = hit + from.size()) {
        out.append(s, pos, hit - pos);
        out += to;
    }
    out.append(s, pos, std::string::npos);
    s.swap(out);
}

static std::string lower(std::string s) {
    for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return s;
}

Tokenizer::Tokenizer() : impl_(std::make_unique<TokenizerImpl>()) {}
Tokenizer::~Tokenizer() = default;

Expected<std::unique_ptr<Tokenizer>> Tokenizer::from_spec(VocabSpec spec) {
    const std::string src = spec.source;
    const size_t n = spec.tokens.size();
    if (n == 0) return error("{}: tokenizer has no tokens", src);
    if (n > 0x7fffffff) return error("{}: too many tokens ({})", src, n);
    if (!spec.scores.empty() && spec.scores.size() != n)
        return error("{}: {} scores for {} tokens", src, spec.scores.size(), n);
    if (spec.attrs.empty()) spec.attrs.assign(n, kAttrNormal);
    if (spec.attrs.size() != n) return error("{}: {} token types for {} tokens", src, spec.attrs.size(), n);
    // Token texts are UTF-8 in every format (GGUF strings, tokenizer.json, SentencePiece pieces); one that is not
    // would make decode() emit invalid UTF-8 (byte tokens are written "<0x9E>", so they are valid text too).
    for (size_t i = 0; i < n; ++i)
        if (!utf8::is_valid(spec.tokens[i])) return error("{}: token {} is not valid UTF-8", src, i);
    for (int32_t* id : {&spec.bos_id, &spec.eos_id, &spec.unk_id, &spec.pad_id, &spec.eot_id, &spec.eom_id}) {
        if (*id >= static_cast<int64_t>(n)) return error("{}: special token id {} >= n_vocab {}", src, *id, n);
        if (*id < 0) *id = -1;
    }
    // The unknown token stands for characters the vocabulary cannot spell; a byte token there would put a stray
    // byte (invalid UTF-8) into the text of valid input (found by fuzz_tokenizer_files). SentencePiece refuses
    // such a model too (its unknown piece must be of type UNKNOWN).
    if (spec.unk_id >= 0 && (spec.attrs[spec.unk_id] & kAttrByte))
        return error("{}: the unknown token {} ('{}') is a byte token", src, spec.unk_id, spec.tokens[spec.unk_id]);

    std::unique_ptr<Tokenizer> tok(new Tokenizer());
    TokenizerImpl& T = *tok->impl_;
    T.spec = std::move(spec);
    VocabSpec& S = T.spec;
    auto& attrs = S.attrs;
    for (size_t i = 0; i < n; ++i) {
        if (S.tokens[i].empty()) S.tokens[i] = "[EMPTY_" + std::to_string(i) + "]";  // as llama.cpp does
    }
    T.token_to_id.reserve(n * 2);
    for (size_t i = 0; i < n; ++i) T.token_to_id[S.tokens[i]] = static_cast<int32_t>(i);

    // End-of-generation tokens by text (llama.cpp's workaround for metadata that does not name them);
    // they become control tokens so that plain text never produces them.
    static const char* const kEogTexts[] = {"<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>",
                                            "<|endoftext|>", "<|eom_id|>", "<EOT>", "_<EOT>"};
    std::vector<int32_t> eog;
    for (const char* t : kEogTexts) {
        const auto it = T.token_to_id.find(t);
        if (it == T.token_to_id.end()) continue;
        if (S.eot_id < 0 && std::string_view(t) != "<|eom_id|>") S.eot_id = it->second;
        if (S.eom_id < 0 && std::string_view(t) == "<|eom_id|>") S.eom_id = it->second;
        eog.push_back(it->second);
        attrs[it->second] = (attrs[it->second] & ~(kAttrNormal | kAttrUserDefined)) | kAttrControl;
    }
    for (int32_t id : {S.eos_id, S.eot_id, S.eom_id})
        if (id >= 0) eog.push_back(id);
    for (int32_t id : S.extra_eog_ids)
        if (id >= 0 && static_cast<size_t>(id) < n) eog.push_back(id);
    std::sort(eog.begin(), eog.end());
    eog.erase(std::unique(eog.begin(), eog.end()), eog.end());
    T.eog_ids = std::move(eog);

    // Special tokens matched in raw text, longest first (ties by id for a deterministic order).
    for (size_t i = 0; i < n; ++i)
        if (attrs[i] & (kAttrControl | kAttrUserDefined | kAttrUnknown)) T.special_tokens.push_back(static_cast<int32_t>(i));
    std::stable_sort(T.special_tokens.begin(), T.special_tokens.end(), [&](int32_t a, int32_t b) {
        return S.tokens[a].size() > S.tokens[b].size();
    });
    // llama.cpp: Phi-3 special tokens swallow the whitespace after them (except <unk>, <s>, <|endoftext|>).
    const std::string name = lower(S.model_name);
    if (name.find("phi-3") != std::string::npos || name.find("phi3") != std::string::npos) {
        for (int32_t id : T.special_tokens) attrs[id] |= kAttrRstrip;
        const auto set = [&](const char* text, bool on) {
            const auto it = T.token_to_id.find(text);
            if (it == T.token_to_id.end()) return;
            attrs[it->second] = on ? (attrs[it->second] | kAttrRstrip) : (attrs[it->second] & ~kAttrRstrip);
        };
        set("</s>", true);
        for (const char* t : {"<unk>", "<s>", "<|endoftext|>"}) set(t, false);
    }

    // Tokens that merging may produce (SentencePiece never produces control/unknown/byte pieces from text).
    for (size_t i = 0; i < n; ++i)
        if ((attrs[i] & (kAttrNormal | kAttrUserDefined)) || attrs[i] == kAttrUndefined)
            T.mergeable[S.tokens[i]] = static_cast<int32_t>(i);

    // Spm: score ranks (merge priority as a small integer, equal scores sharing a rank) and the character
    // pairs that occur inside tokens (the encoder splits text where no token can span).
    if (S.kind == VocabKind::Spm) {
        std::vector<int32_t> order(n);
        for (size_t i = 0; i < n; ++i) order[i] = static_cast<int32_t>(i);
        const auto score = [&](int32_t id) { return S.scores.empty() ? 0.0f : S.scores[id]; };
        std::stable_sort(order.begin(), order.end(), [&](int32_t a, int32_t b) { return score(a) > score(b); });
        T.score_rank.assign(n, 0);
        uint32_t rank = 0;
        for (size_t k = 0; k < n; ++k) {
            if (k > 0 && score(order[k]) != score(order[k - 1])) rank = static_cast<uint32_t>(k);
            T.score_rank[order[k]] = rank;
        }
        for (const auto& [text, id] : T.mergeable) {
            size_t i = 0;
            uint32_t prev = utf8::decode(text, i);
            while (i < text.size()) {
                const uint32_t cp = utf8::decode(text, i);
                T.adjacent_pairs.insert((static_cast<uint64_t>(prev) << 32) | cp);
                prev = cp;
            }
        }
    }

    // Byte tokens.
    T.byte_tokens.fill(-1);
    const auto& bmap = utf8::byte_unicode_map();
    for (int b = 0; b < 256; ++b) {
        if (S.kind == VocabKind::Spm) {
            const auto key = fmt::format("<0x{:02X}>", b);
            const auto it = T.token_to_id.find(key);
            if (it != T.token_to_id.end()) {
                T.byte_tokens[b] = it->second;
            } else {
                const auto it2 = T.token_to_id.find(std::string(1, static_cast<char>(b)));
                if (it2 != T.token_to_id.end()) T.byte_tokens[b] = it2->second;
            }
        } else {
            const auto it = T.token_to_id.find(bmap.byte_to_utf8[b]);
            if (it != T.token_to_id.end()) T.byte_tokens[b] = it->second;
        }
    }

    // Merges: (left id, right id) -> (rank, result). Merges naming unknown tokens cannot apply and are dropped.
    T.use_ranks = S.kind == VocabKind::ByteBpe || !S.merges.empty();
    T.pair_merges.reserve(S.merges.size() * 2);
    for (size_t r = 0; r < S.merges.size(); ++r) {
        const auto& [a, b] = S.merges[r];
        const auto ia = T.token_to_id.find(a), ib = T.token_to_id.find(b), im = T.token_to_id.find(a + b);
        if (ia == T.token_to_id.end() || ib == T.token_to_id.end() || im == T.token_to_id.end()) continue;
        const uint64_t key = (static_cast<uint64_t>(ia->second) << 32) | static_cast<uint32_t>(ib->second);
        T.pair_merges.emplace(key, PairMerge{static_cast<int32_t>(r), im->second});  // first (lowest rank) wins
    }
    if (S.kind == VocabKind::ByteBpe) {
        if (S.merges.empty()) return error("{}: byte-level BPE tokenizer without merges", src);
        auto sp = RegexSplitter::compile(S.pre_regexes);
        if (!sp) return sp.status().with_context(src);
        T.splitter = std::move(*sp);
        S.add_space_prefix = false;
    }

    // Piece cache (llama_token_to_piece with special = true).
    T.pieces.resize(n);
    for (size_t i = 0; i < n; ++i) {
        const uint32_t a = attrs[i];
        const std::string& text = S.tokens[i];
        std::string& p = T.pieces[i];
        if (a & (kAttrUnknown | kAttrControl | kAttrUserDefined)) {
            p = text;
        } else if (a & kAttrByte) {
            const int v = parse_byte_token(text);
            if (v >= 0) p = std::string(1, static_cast<char>(v));
            else if (S.kind == VocabKind::Spm) p = text;
        } else if (a & kAttrNormal || a == kAttrUndefined) {
            if (S.kind == VocabKind::Spm) {
                p = text;
                replace_all(p, kSpaceMarker, " ");
            } else {
                for (size_t k = 0; k < text.size();) {
                    const size_t start = k;
                    const int byte = utf8::ByteUnicodeMap::utf8_to_byte(utf8::decode(text, k));
                    if (byte >= 0) p += static_cast<char>(byte);
                    else p.append(text, start, k - start);  // not in the byte alphabet: keep as is
                }
            }
        }
    }
    return tok;
}

std::string_view TokenizerImpl::piece(int32_t id, bool special) const {
    if (id < 0 || static_cast<size_t>(id) >= pieces.size()) return {};
    if (!special && (spec.attrs[id] & (kAttrUnknown | kAttrControl))) return {};
    return pieces[id];
}

namespace {
struct Fragment {
    int32_t token;  // -1: raw text [off, off + len)
    uint32_t off, len;
};
bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r'; }
}  // namespace

// llama.cpp's tokenizer_st_partition: each special token in turn (longest first) splits the raw fragments
// around its occurrences, honouring its lstrip/rstrip attributes.
static std::vector<Fragment> partition(const TokenizerImpl& T, std::string_view text, bool parse_special) {
    std::vector<Fragment> frags{{-1, 0, static_cast<uint32_t>(text.size())}}, next;
    bool present[256] = {};
    for (const char c : text) present[static_cast<uint8_t>(c)] = true;
    for (const int32_t id : T.special_tokens) {
        const uint32_t a = T.spec.attrs[id];
        if (!parse_special && (a & (kAttrControl | kAttrUnknown))) continue;
        const std::string& st = T.spec.tokens[id];
        if (!present[static_cast<uint8_t>(st[0])]) continue;
        next.clear();
        bool changed = false;
        for (const Fragment& f : frags) {
            if (f.token >= 0 || f.len < st.size()) {
                next.push_back(f);
                continue;
            }
            size_t base = f.off, len = f.len;
            while (len > 0) {
                const size_t match = text.substr(0, base + len).find(st, base);
                if (match == std::string_view::npos) break;
                changed = true;
                size_t left_len = match - base;
                if (a & kAttrLstrip)
                    while (left_len > 0 && is_space(text[base + left_len - 1])) --left_len;
                if (left_len > 0) next.push_back({-1, static_cast<uint32_t>(base), static_cast<uint32_t>(left_len)});
                next.push_back({id, 0, 0});
                size_t right = match + st.size();
                size_t right_len = base + len - right;
                if (a & kAttrRstrip)
                    while (right_len > 0 && is_space(text[right])) ++right, --right_len;
                base = right;
                len = right_len;
            }
            if (len > 0) next.push_back({-1, static_cast<uint32_t>(base), static_cast<uint32_t>(len)});
        }
        if (changed) frags.swap(next);
    }
    return frags;
}

// The fragment after the HF normalizer (only NFC is supported besides the SPM space rules).
static std::string_view normalized(const VocabSpec& S, std::string_view text, std::string& storage) {
    if (!S.normalize_nfc || text.empty()) return text;
    utf8proc_uint8_t* dst = nullptr;
    const utf8proc_ssize_t n = utf8proc_map(reinterpret_cast<const utf8proc_uint8_t*>(text.data()),
                                            static_cast<utf8proc_ssize_t>(text.size()), &dst,
                                            static_cast<utf8proc_option_t>(UTF8PROC_STABLE | UTF8PROC_COMPOSE));
    if (n < 0) {  // cannot happen for valid UTF-8; keep the text as it is
        std::free(dst);
        return text;
    }
    storage.assign(reinterpret_cast<const char*>(dst), static_cast<size_t>(n));
    std::free(dst);
    return storage;
}

std::vector<int32_t> Tokenizer::encode(std::string_view raw, bool add_special, bool parse_special) const {
    const TokenizerImpl& T = *impl_;
    const VocabSpec& S = T.spec;
    std::string repaired;
    std::string_view text = raw;
    if (!utf8::is_valid(raw)) {
        repaired = utf8::sanitize(raw);
        text = repaired;
    }
    std::vector<int32_t> out;
    out.reserve(text.size() / 3 + 4);
    if (add_special && S.add_bos && S.bos_id >= 0) out.push_back(S.bos_id);
    const auto frags = text.empty() ? std::vector<Fragment>{} : partition(T, text, parse_special);
    if (S.kind == VocabKind::Spm) {
        bool prev_special = true;  // the text start counts as "after a special token"
        std::string buf;
        for (const Fragment& f : frags) {
            if (f.token >= 0) {
                out.push_back(f.token);
                prev_special = true;
                continue;
            }
            std::string nfc;
            const std::string_view piece = normalized(S, text.substr(f.off, f.len), nfc);
            buf.clear();
            bool prefix = S.add_space_prefix && prev_special;
            if (S.spm_prefix_first_only && f.off != 0) prefix = false;
            if (prefix) buf += kSpaceMarker;
            for (const char c : piece) {
                if (c == ' ') buf += kSpaceMarker;
                else buf += c;
            }
            // HF Metaspace prepends only when the replaced text does not already start with ▁.
            std::string_view word = buf;
            if (prefix && S.spm_prefix_skip_if_present && word.substr(kSpaceMarker.size()).starts_with(kSpaceMarker))
                word.remove_prefix(kSpaceMarker.size());
            T.encode_spm(word, out);
            prev_special = false;
        }
    } else {
        for (const Fragment& f : frags) {
            std::string nfc;
            if (f.token >= 0) out.push_back(f.token);
            else T.encode_bpe(normalized(S, text.substr(f.off, f.len), nfc), out);
        }
    }
    if (add_special && S.add_eos && S.eos_id >= 0) out.push_back(S.eos_id);
    return out;
}

// HF clean_up_tokenization_spaces as llama.cpp applies it (three passes over the bytes).
static void clean_spaces(std::string& t) {
    std::string o;
    o.reserve(t.size());
    // " ?", " !", " .", " ,"
    for (size_t i = 0; i < t.size(); ++i) {
        const char x = t[i];
        if (i > 0 && t[i - 1] == ' ' && (x == '?' || x == '!' || x == '.' || x == ',') && !o.empty()) o.pop_back();
        o += x;
    }
    t.swap(o);
    o.clear();
    // " ' " -> "'"
    for (size_t i = 0; i < t.size(); ++i) {
        const char x = t[i];
        if (i > 0 && x == '\'' && i + 1 < t.size() && t[i - 1] == ' ' && t[i + 1] == ' ') {
            if (!o.empty()) o.pop_back();
            o += x;
            ++i;  // drop the next space
            continue;
        }
        o += x;
    }
    t.swap(o);
    o.clear();
    // " 's", " 'm", " 're", " 've"
    for (size_t i = 0; i < t.size(); ++i) {
        const char x = t[i];
        if (i > 0 && t[i - 1] == ' ' && x == '\'' && i + 1 < t.size()) {
            const char x1 = t[i + 1];
            const char x2 = i + 2 < t.size() ? t[i + 2] : '\0';
            if (x1 == 's' || x1 == 'm' || (i + 2 < t.size() && ((x1 == 'r' && x2 == 'e') || (x1 == 'v' && x2 == 'e'))))
                if (!o.empty()) o.pop_back();
        }
        o += x;
    }
    t.swap(o);
}

std::string Tokenizer::decode(std::span<const int32_t> ids, bool remove_special, bool unparse_special) const {
    const TokenizerImpl& T = *impl_;
    const VocabSpec& S = T.spec;
    // The leading space the SPM prefix rule added is dropped from the first token after an optional BOS.
    // (llama.cpp keeps it when a BOS precedes; SentencePiece and HF drop it, which is what round trips.)
    bool remove_space = S.kind == VocabKind::Spm && S.add_space_prefix;
    if (!ids.empty() && ids.front() == S.bos_id && S.bos_id >= 0) {
        if (remove_special && S.add_bos) ids = ids.subspan(1);
        else if (!unparse_special) ids = ids.subspan(1);  // its piece is empty anyway
    }
    if (remove_special && S.add_eos && !ids.empty() && ids.back() == S.eos_id) ids = ids.first(ids.size() - 1);
    std::string out;
    for (const int32_t id : ids) {
        std::string_view p = T.piece(id, unparse_special);
        if (remove_space && !p.empty() && p[0] == ' ') p.remove_prefix(1);
        remove_space = false;
        out += p;
    }
    if (S.clean_spaces) clean_spaces(out);
    return out;
}

std::string Tokenizer::token_to_piece(int32_t id) const { return std::string(impl_->piece(id, true)); }
const std::string& Tokenizer::token_text(int32_t id) const {
    static const std::string empty;
    if (id < 0 || id >= n_vocab()) return empty;
    return impl_->spec.tokens[id];
}
uint32_t Tokenizer::token_attr(int32_t id) const { return impl_->attr(id); }
int32_t Tokenizer::find_token(std::string_view text) const {
    const auto it = impl_->token_to_id.find(text);
    return it == impl_->token_to_id.end() ? -1 : it->second;
}
int32_t Tokenizer::n_vocab() const { return static_cast<int32_t>(impl_->spec.tokens.size()); }
VocabKind Tokenizer::kind() const { return impl_->spec.kind; }
int32_t Tokenizer::bos_id() const { return impl_->spec.bos_id; }
int32_t Tokenizer::eos_id() const { return impl_->spec.eos_id; }
int32_t Tokenizer::eot_id() const { return impl_->spec.eot_id; }
int32_t Tokenizer::unk_id() const { return impl_->spec.unk_id; }
int32_t Tokenizer::pad_id() const { return impl_->spec.pad_id; }
bool Tokenizer::add_bos() const { return impl_->spec.add_bos; }
bool Tokenizer::add_eos() const { return impl_->spec.add_eos; }
bool Tokenizer::is_end_of_generation(int32_t id) const {
    return std::binary_search(impl_->eog_ids.begin(), impl_->eog_ids.end(), id);
}
const std::vector<int32_t>& Tokenizer::end_of_generation_ids() const { return impl_->eog_ids; }
const std::string& Tokenizer::chat_template() const { return impl_->spec.chat_template; }
std::string Tokenizer::bos_text() const { return impl_->spec.bos_id >= 0 ? impl_->spec.tokens[impl_->spec.bos_id] : ""; }
std::string Tokenizer::eos_text() const { return impl_->spec.eos_id >= 0 ? impl_->spec.tokens[impl_->spec.eos_id] : ""; }
const std::string& Tokenizer::pre_tokenizer() const { return impl_->spec.pre; }

}  // namespace llm
