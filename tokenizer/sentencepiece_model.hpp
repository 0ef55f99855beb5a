// Reader for SentencePiece's tokenizer.model (a ModelProto protobuf): pieces, scores, types, the trainer's
// special ids and byte_fallback, and the normalizer's add_dummy_prefix. Only BPE models are accepted.
#pragma once
#include <string>

#include "core/status.hpp"
#include "tokenizer/vocab.hpp"

namespace llm {

Status load_sentencepiece_model(const std::string& path, VocabSpec& spec);
// Parses an in-memory ModelProto (for tests); `name` is used in messages.
Status parse_sentencepiece_model(std::string_view bytes, const std::string& name, VocabSpec& spec);

}  // namespace llm
