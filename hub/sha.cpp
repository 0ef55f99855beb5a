// SHA-256 and SHA-1 (FIPS 180-4): OpenSSL's EVP when available (SHA-NI/AVX2 code, ~1.5 GB/s), else the
// portable block functions below (~250 MB/s), which stay compiled so tests can check one against the other.
#include "hub/sha.hpp"

#include <algorithm>
#include <cstring>

#include "core/status.hpp"

#ifndef LLM_HAVE_OPENSSL
#define LLM_HAVE_OPENSSL 0
#endif
#if LLM_HAVE_OPENSSL
#include <openssl/evp.h>
#endif

namespace llm::hub {
namespace {

inline uint32_t rotr(uint32_t x, int n) { return (x >> n) | (x << (32 - n)); }
inline uint32_t rotl(uint32_t x, int n) { return (x << n) | (x >> (32 - n)); }
inline uint32_t load_be32(const uint8_t* p) {
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

constexpr uint32_t kSha256K[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5, 0xd807aa98,
    0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786,
    0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8,
    0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13,
    0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819,
    0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a,
    0x5b9cca4f, 0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
    0xc67178f2};

void sha256_block(uint32_t h[8], const uint8_t* p) {
    uint32_t w[64];
    for (int i = 0; i < 16; ++i) w[i] = load_be32(p + 4 * i);
    for (int i = 16; i < 64; ++i) {
        const uint32_t s0 = rotr(w[i - 15], 7) ^ rotr(w[i - 15], 18) ^ (w[i - 15] >> 3);
        const uint32_t s1 = rotr(w[i - 2], 17) ^ rotr(w[i - 2], 19) ^ (w[i - 2] >> 10);
        w[i] = w[i - 16] + s0 + w[i - 7] + s1;
    }
    uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6], hh = h[7];
    for (int i = 0; i < 64; ++i) {
        const uint32_t t1 = hh + (rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25)) + ((e & f) ^ (~e & g)) + kSha256K[i] + w[i];
        const uint32_t t2 = (rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
        hh = g, g = f, f = e, e = d + t1, d = c, c = b, b = a, a = t1 + t2;
    }
    h[0] += a, h[1] += b, h[2] += c, h[3] += d, h[4] += e, h[5] += f, h[6] += g, h[7] += hh;
}

void sha1_block(uint32_t h[5], const uint8_t* p) {
    uint32_t w[80];
    for (int i = 0; i < 16; ++i) w[i] = load_be32(p + 4 * i);
    for (int i = 16; i < 80; ++i) w[i] = rotl(w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16], 1);
    uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4];
    for (int i = 0; i < 80; ++i) {
        uint32_t f, k;
        if (i < 20) f = (b & c) | (~b & d), k = 0x5a827999;
        else if (i < 40) f = b ^ c ^ d, k = 0x6ed9eba1;
        else if (i < 60) f = (b & c) | (b & d) | (c & d), k = 0x8f1bbcdc;
        else f = b ^ c ^ d, k = 0xca62c1d6;
        const uint32_t t = rotl(a, 5) + f + e + k + w[i];
        e = d, d = c, c = rotl(b, 30), b = a, a = t;
    }
    h[0] += a, h[1] += b, h[2] += c, h[3] += d, h[4] += e;
}

std::string to_hex(const uint8_t* d, size_t n) {
    static const char* digits = "0123456789abcdef";
    std::string s(2 * n, '0');
    for (size_t i = 0; i < n; ++i) s[2 * i] = digits[d[i] >> 4], s[2 * i + 1] = digits[d[i] & 15];
    return s;
}

}  // namespace

struct Hasher::Impl {
    virtual ~Impl() = default;
    virtual void update(const uint8_t* p, size_t n) = 0;
    virtual std::string digest() = 0;
};

namespace {

// Merkle-Damgard over 64-byte blocks, big-endian bit length: shared by both algorithms.
template <int kWords, void (*Block)(uint32_t*, const uint8_t*)>
struct PortableImpl : Hasher::Impl {
    uint32_t h[8];
    uint8_t buf[64];
    size_t buf_len = 0;
    uint64_t total = 0;

    explicit PortableImpl(const uint32_t* init) { std::memcpy(h, init, sizeof(uint32_t) * kWords); }
    void update(const uint8_t* p, size_t n) override {
        total += n;
        if (buf_len) {
            const size_t take = std::min(n, 64 - buf_len);
            std::memcpy(buf + buf_len, p, take);
            buf_len += take, p += take, n -= take;
            if (buf_len < 64) return;
            Block(h, buf);
            buf_len = 0;
        }
        for (; n >= 64; p += 64, n -= 64) Block(h, p);
        std::memcpy(buf, p, n);
        buf_len = n;
    }
    std::string digest() override {
        const uint64_t bits = total * 8;
        const uint8_t pad = 0x80;
        update(&pad, 1);
        const uint8_t zero[64] = {};
        update(zero, (buf_len <= 56 ? 56 - buf_len : 120 - buf_len));
        uint8_t len[8];
        for (int i = 0; i < 8; ++i) len[i] = (uint8_t)(bits >> (56 - 8 * i));
        update(len, 8);
        uint8_t out[32];
        for (int i = 0; i < kWords; ++i)
            for (int j = 0; j < 4; ++j) out[4 * i + j] = (uint8_t)(h[i] >> (24 - 8 * j));
        return to_hex(out, 4 * kWords);
    }
};

constexpr uint32_t kSha256Init[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                                     0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
constexpr uint32_t kSha1Init[5] = {0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476, 0xc3d2e1f0};

#if LLM_HAVE_OPENSSL
struct OpensslImpl : Hasher::Impl {
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    explicit OpensslImpl(Hasher::Algo a) {
        LLM_CHECK(ctx && EVP_DigestInit_ex(ctx, a == Hasher::Algo::Sha256 ? EVP_sha256() : EVP_sha1(), nullptr) == 1);
    }
    ~OpensslImpl() override { EVP_MD_CTX_free(ctx); }
    void update(const uint8_t* p, size_t n) override { EVP_DigestUpdate(ctx, p, n); }
    std::string digest() override {
        uint8_t out[EVP_MAX_MD_SIZE];
        unsigned n = 0;
        EVP_DigestFinal_ex(ctx, out, &n);
        return to_hex(out, n);
    }
};
#endif

}  // namespace

Hasher::Hasher(Algo algo, bool portable) : algo_(algo) {
#if LLM_HAVE_OPENSSL
    if (!portable) {
        impl_ = std::make_unique<OpensslImpl>(algo);
        return;
    }
#endif
    if (algo == Algo::Sha256) impl_ = std::make_unique<PortableImpl<8, sha256_block>>(kSha256Init);
    else impl_ = std::make_unique<PortableImpl<5, sha1_block>>(kSha1Init);
}
Hasher::~Hasher() = default;
Hasher::Hasher(Hasher&&) noexcept = default;
Hasher& Hasher::operator=(Hasher&&) noexcept = default;

void Hasher::update(const void* data, size_t n) { impl_->update(static_cast<const uint8_t*>(data), n); }
std::string Hasher::hex_digest() { return impl_->digest(); }

std::string sha256_hex(const void* data, size_t n) {
    Hasher h(Hasher::Algo::Sha256);
    h.update(data, n);
    return h.hex_digest();
}

std::string git_blob_sha1_hex(const void* data, size_t n) {
    Hasher h(Hasher::Algo::Sha1);
    const std::string header = "blob " + std::to_string(n);
    h.update(header.data(), header.size() + 1);  // with the NUL
    h.update(data, n);
    return h.hex_digest();
}

bool built_with_openssl() { return LLM_HAVE_OPENSSL; }

}  // namespace llm::hub
