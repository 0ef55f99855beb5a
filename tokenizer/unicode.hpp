// UTF-8 helpers for the tokenizers: validation with U+FFFD repair, character lengths, and GPT-2's reversible
// byte <-> unicode mapping used by byte-level BPE vocabularies.
#pragma once
#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace llm::utf8 {

// Length of the UTF-8 sequence a lead byte announces (1 for ASCII and for invalid lead bytes).
inline size_t seq_len(uint8_t lead) {
    static constexpr uint8_t kLen[16] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 3, 4};
    return kLen[lead >> 4];
}

// Length of the valid UTF-8 sequence at s[i] (1..4), or 0 when the bytes there are not valid UTF-8
// (bad lead, bad continuation, overlong form, surrogate, > U+10FFFF, or truncated).
size_t valid_seq_len(std::string_view s, size_t i);

bool is_valid(std::string_view s);
// Replaces each maximal invalid subpart with U+FFFD (the WHATWG / Python errors="replace" rule).
std::string sanitize(std::string_view s);
// How many bytes at the end of s form an incomplete (but so far valid) UTF-8 character: 0..3.
size_t incomplete_tail(std::string_view s);

void append_codepoint(std::string& out, uint32_t cp);
// Decodes the (valid) sequence at s[i]; advances i.
uint32_t decode(std::string_view s, size_t& i);

// GPT-2 byte-level alphabet: printable bytes map to themselves, the rest to U+0100 + n.
struct ByteUnicodeMap {
    std::array<std::string, 256> byte_to_utf8;  // byte -> UTF-8 of its stand-in character
    ByteUnicodeMap();
    // Stand-in character -> byte, or -1 when cp is not in the alphabet.
    static int utf8_to_byte(uint32_t cp);
};
const ByteUnicodeMap& byte_unicode_map();

}  // namespace llm::utf8
