// Content hashes of downloads: SHA-256 (the LFS object id, the hub's X-Linked-Etag) and git's blob SHA-1
// (the ETag of small, non-LFS files). OpenSSL's libcrypto when the build found it, else a portable version.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

namespace llm::hub {

class Hasher {
public:
    enum class Algo { Sha256, Sha1 };
    // portable: use the built-in implementation even when OpenSSL is available (tests compare the two).
    explicit Hasher(Algo algo, bool portable = false);
    ~Hasher();
    Hasher(Hasher&&) noexcept;
    Hasher& operator=(Hasher&&) noexcept;
    void update(const void* data, size_t n);
    std::string hex_digest();  // lower-case hex; the hasher is spent afterwards
    Algo algo() const { return algo_; }

    struct Impl;

private:
    Algo algo_;
    std::unique_ptr<Impl> impl_;
};

std::string sha256_hex(const void* data, size_t n);
// git's object id of a blob: sha1("blob <size>\0" + content).
std::string git_blob_sha1_hex(const void* data, size_t n);
bool built_with_openssl();

}  // namespace llm::hub
