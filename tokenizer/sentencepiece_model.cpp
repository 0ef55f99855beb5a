// Minimal protobuf wire-format reader for sentencepiece_model.proto (fields used: ModelProto.pieces = 1,
// trainer_spec = 2, normalizer_spec = 3; SentencePiece.piece = 1, score = 2, type = 3; TrainerSpec.model_type = 3,
// byte_fallback = 35, unk_id = 40, bos_id = 41, eos_id = 42, pad_id = 43; NormalizerSpec.add_dummy_prefix = 3).
// Written by hand: pulling in libprotobuf for one message is not worth it.
#include "tokenizer/sentencepiece_model.hpp"

#include <cstring>
#include <fstream>
#include <sstream>

namespace llm {
namespace {

class Wire {
public:
    explicit Wire(std::string_view b) : b_(b) {}
    bool done() const { return p_ >= b_.size(); }
    bool varint(uint64_t& v) {
        v = 0;
        for (int shift = 0; shift < 64; shift += 7) {
            if (p_ >= b_.size()) return false;
            const uint8_t c = static_cast<uint8_t>(b_[p_++]);
            v |= static_cast<uint64_t>(c & 0x7F) << shift;
            if (!(c & 0x80)) return true;
        }
        return false;
    }
    // Reads a key; for length-delimited fields also the payload; fixed32 into f32.
    bool field(uint32_t& num, uint32_t& wt, uint64_t& v, std::string_view& bytes) {
        uint64_t key;
        if (!varint(key)) return false;
        num = static_cast<uint32_t>(key >> 3);
        wt = static_cast<uint32_t>(key & 7);
        switch (wt) {
            case 0: return varint(v);
            case 1: if (b_.size() - p_ < 8) return false; std::memcpy(&v, b_.data() + p_, 8); p_ += 8; return true;
            case 2: {
                uint64_t n;
                if (!varint(n) || n > b_.size() - p_) return false;
                bytes = b_.substr(p_, n);
                p_ += n;
                return true;
            }
            case 5: {
                if (b_.size() - p_ < 4) return false;
                uint32_t x;
                std::memcpy(&x, b_.data() + p_, 4);
                v = x;
                p_ += 4;
                return true;
            }
            default: return false;
        }
    }

private:
    std::string_view b_;
    size_t p_ = 0;
};

}  // namespace

Status parse_sentencepiece_model(std::string_view bytes, const std::string& name, VocabSpec& s) {
    s.kind = VocabKind::Spm;
    s.bos_id = 1, s.eos_id = 2, s.unk_id = 0, s.pad_id = -1;
    s.add_bos = true;
    s.add_space_prefix = true;
    s.byte_fallback = false;
    int64_t model_type = 1;  // UNIGRAM is the proto default
    Wire w(bytes);
    uint32_t num, wt;
    uint64_t v;
    std::string_view sub;
    while (!w.done()) {
        if (!w.field(num, wt, v, sub)) return error("{}: malformed SentencePiece model", name);
        if (num == 1 && wt == 2) {  // SentencePiece
            Wire p(sub);
            std::string piece;
            float score = 0;
            int64_t type = 1;
            while (!p.done()) {
                if (!p.field(num, wt, v, sub)) return error("{}: malformed piece {}", name, s.tokens.size());
                if (num == 1 && wt == 2) piece.assign(sub);
                else if (num == 2 && wt == 5) { uint32_t x = static_cast<uint32_t>(v); std::memcpy(&score, &x, 4); }
                else if (num == 3 && wt == 0) type = static_cast<int64_t>(v);
            }
            s.tokens.push_back(std::move(piece));
            s.scores.push_back(score);
            s.attrs.push_back(token_type_to_attr(type));
        } else if (num == 2 && wt == 2) {  // TrainerSpec
            Wire t(sub);
            while (!t.done()) {
                if (!t.field(num, wt, v, sub)) return error("{}: malformed trainer_spec", name);
                const auto as_id = [&] { return static_cast<int32_t>(static_cast<int64_t>(v)); };
                if (wt != 0) continue;
                if (num == 3) model_type = static_cast<int64_t>(v);
                else if (num == 35) s.byte_fallback = v != 0;
                else if (num == 40) s.unk_id = as_id();
                else if (num == 41) s.bos_id = as_id();
                else if (num == 42) s.eos_id = as_id();
                else if (num == 43) s.pad_id = as_id();
            }
        } else if (num == 3 && wt == 2) {  // NormalizerSpec
            Wire t(sub);
            while (!t.done()) {
                if (!t.field(num, wt, v, sub)) return error("{}: malformed normalizer_spec", name);
                if (num == 3 && wt == 0) s.add_space_prefix = v != 0;
            }
        }
    }
    if (model_type != 2)
        return error("{}: SentencePiece model_type {} is not supported (only BPE = 2)", name, model_type);
    if (s.tokens.empty()) return error("{}: SentencePiece model without pieces", name);
    // Byte pieces exist only with byte_fallback; keep fallback on when they are there (as llama.cpp does).
    for (uint32_t a : s.attrs)
        if (a & kAttrByte) s.byte_fallback = true;
    return Status::ok();
}

Status load_sentencepiece_model(const std::string& path, VocabSpec& spec) {
    std::ifstream f(path, std::ios::binary);
    if (!f) return error("{}: cannot open", path);
    std::stringstream ss;
    ss << f.rdbuf();
    return parse_sentencepiece_model(ss.str(), path, spec);
}

}  // namespace llm
