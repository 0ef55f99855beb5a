// StreamDecoder: token-by-token detokenization that only ever emits whole UTF-8 characters.
#include "tokenizer/tokenizer.hpp"
#include "tokenizer/tokenizer_impl.hpp"
#include "tokenizer/unicode.hpp"

namespace llm {

StreamDecoder::StreamDecoder(const Tokenizer& tok, bool unparse_special)
    : tok_(&tok), unparse_special_(unparse_special) {}

std::string StreamDecoder::push(int32_t id) {
    const TokenizerImpl& T = *tok_->impl_;
    std::string_view p = T.piece(id, unparse_special_);
    if (first_ && id == T.spec.bos_id && p.empty()) return {};  // a hidden BOS does not count as the first token
    if (first_ && T.spec.kind == VocabKind::Spm && T.spec.add_space_prefix && !p.empty() && p[0] == ' ')
        p.remove_prefix(1);
    first_ = false;
    pending_ += p;
    const size_t keep = utf8::incomplete_tail(pending_);
    const std::string_view ready(pending_.data(), pending_.size() - keep);
    std::string out = utf8::is_valid(ready) ? std::string(ready) : utf8::sanitize(ready);
    pending_.erase(0, pending_.size() - keep);
    return out;
}

std::string StreamDecoder::flush() {
    std::string out = utf8::sanitize(pending_);
    pending_.clear();
    return out;
}

void StreamDecoder::reset() {
    pending_.clear();
    first_ = true;
}

}  // namespace llm
