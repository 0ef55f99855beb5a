// UTF-8 validation/repair and the GPT-2 byte <-> unicode alphabet.
#include "tokenizer/unicode.hpp"

namespace llm::utf8 {

size_t valid_seq_len(std::string_view s, size_t i) {
    const auto b = [&](size_t k) { return static_cast<uint8_t>(s[i + k]); };
    const uint8_t c = b(0);
    if (c < 0x80) return 1;
    size_t n;
    uint8_t lo = 0x80, hi = 0xBF;  // allowed range of the second byte
    if (c >= 0xC2 && c <= 0xDF) {
        n = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
        n = 3;
        if (c == 0xE0) lo = 0xA0;  // no overlong forms
        if (c == 0xED) hi = 0x9F;  // no surrogates
    } else if (c >= 0xF0 && c <= 0xF4) {
        n = 4;
        if (c == 0xF0) lo = 0x90;
        if (c == 0xF4) hi = 0x8F;  // <= U+10FFFF
    } else {
        return 0;
    }
    if (i + n > s.size()) return 0;
    if (b(1) < lo || b(1) > hi) return 0;
    for (size_t k = 2; k < n; ++k)
        if ((b(k) & 0xC0) != 0x80) return 0;
    return n;
}

bool is_valid(std::string_view s) {
    size_t i = 0;
    while (i < s.size()) {
        if (static_cast<uint8_t>(s[i]) < 0x80) {
            ++i;
            continue;
        }
        const size_t n = valid_seq_len(s, i);
        if (n == 0) return false;
        i += n;
    }
    return true;
}

// Length of the longest prefix at s[i] that could start a valid sequence (at least 1): the "maximal subpart"
// replaced by a single U+FFFD.
static size_t invalid_subpart_len(std::string_view s, size_t i) {
    const uint8_t c = static_cast<uint8_t>(s[i]);
    size_t n;
    uint8_t lo = 0x80, hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF) n = 2;
    else if (c >= 0xE0 && c <= 0xEF) { n = 3; if (c == 0xE0) lo = 0xA0; if (c == 0xED) hi = 0x9F; }
    else if (c >= 0xF0 && c <= 0xF4) { n = 4; if (c == 0xF0) lo = 0x90; if (c == 0xF4) hi = 0x8F; }
    else return 1;
    size_t k = 1;
    for (; k < n && i + k < s.size(); ++k) {
        const uint8_t d = static_cast<uint8_t>(s[i + k]);
        if (k == 1 ? (d < lo || d > hi) : ((d & 0xC0) != 0x80)) break;
    }
    return k;
}

std::string sanitize(std::string_view s) {
    std::string out;
    out.reserve(s.size() + 8);
    size_t i = 0;
    while (i < s.size()) {
        const size_t n = static_cast<uint8_t>(s[i]) < 0x80 ? 1 : valid_seq_len(s, i);
        if (n > 0) {
            out.append(s.data() + i, n);
            i += n;
        } else {
            out += "\xEF\xBF\xBD";
            i += invalid_subpart_len(s, i);
        }
    }
    return out;
}

size_t incomplete_tail(std::string_view s) {
    // Look back at most 3 bytes for a lead byte whose sequence runs past the end.
    const size_t n = s.size();
    for (size_t back = 1; back <= 3 && back <= n; ++back) {
        const uint8_t c = static_cast<uint8_t>(s[n - back]);
        if ((c & 0xC0) == 0x80) continue;  // continuation byte: keep looking for the lead
        if (c < 0xC2 || c > 0xF4) return 0;  // ASCII or a byte that never starts a valid sequence
        const size_t need = seq_len(c);
        if (need <= back) return 0;
        // Only hold back a prefix that can still become valid.
        return invalid_subpart_len(s, n - back) == back ? back : 0;
    }
    return 0;
}

void append_codepoint(std::string& out, uint32_t cp) {
    if (cp < 0x80) {
        out += static_cast<char>(cp);
    } else if (cp < 0x800) {
        out += static_cast<char>(0xC0 | (cp >> 6));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
        out += static_cast<char>(0xE0 | (cp >> 12));
        out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
        out += static_cast<char>(0xF0 | (cp >> 18));
        out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
        out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    }
}

uint32_t decode(std::string_view s, size_t& i) {
    const uint8_t c = static_cast<uint8_t>(s[i]);
    size_t n = seq_len(c);
    if (i + n > s.size()) n = 1;
    uint32_t cp;
    switch (n) {
        case 1: cp = c; break;
        case 2: cp = c & 0x1F; break;
        case 3: cp = c & 0x0F; break;
        default: cp = c & 0x07; break;
    }
    for (size_t k = 1; k < n; ++k) cp = (cp << 6) | (static_cast<uint8_t>(s[i + k]) & 0x3F);
    i += n;
    return cp;
}

static bool gpt2_printable(int b) {
    return (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
}

ByteUnicodeMap::ByteUnicodeMap() {
    int n = 0;
    for (int b = 0; b < 256; ++b) {
        const uint32_t cp = gpt2_printable(b) ? static_cast<uint32_t>(b) : static_cast<uint32_t>(256 + n++);
        append_codepoint(byte_to_utf8[b], cp);
    }
}

int ByteUnicodeMap::utf8_to_byte(uint32_t cp) {
    if (cp < 256) return gpt2_printable(static_cast<int>(cp)) ? static_cast<int>(cp) : -1;
    // Non-printable bytes in increasing order: 0x00-0x20 (33), 0x7F-0xA0 (34), 0xAD (1).
    const uint32_t n = cp - 256;
    if (n < 33) return static_cast<int>(n);
    if (n < 67) return static_cast<int>(0x7F + (n - 33));
    if (n == 67) return 0xAD;
    return -1;
}

const ByteUnicodeMap& byte_unicode_map() {
    static const ByteUnicodeMap map;
    return map;
}

}  // namespace llm::utf8
