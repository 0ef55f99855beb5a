// Shared helpers for the format tests: byte builders for hand-made GGUF/safetensors files, a temp dir,
// and the corrupt-case lists (defined in the *_corrupt_test.cpp files, reused by the allocation probe).
#pragma once
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <unistd.h>
#include <vector>

namespace fmt_test {

using Bytes = std::vector<uint8_t>;

// Little-endian appenders.
template <typename T>
inline void put(Bytes& b, T v) {
    const size_t o = b.size();
    b.resize(o + sizeof(T));
    std::memcpy(b.data() + o, &v, sizeof(T));
}
inline void put_str(Bytes& b, const std::string& s) {
    put<uint64_t>(b, s.size());
    b.insert(b.end(), s.begin(), s.end());
}
inline void put_bytes(Bytes& b, const Bytes& x) { b.insert(b.end(), x.begin(), x.end()); }

inline Bytes read_file(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    return Bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
}
inline void write_file(const std::string& path, const Bytes& b) {
    std::ofstream f(path, std::ios::binary | std::ios::trunc);
    f.write(reinterpret_cast<const char*>(b.data()), (std::streamsize)b.size());
}
inline void write_file(const std::string& path, const std::string& s) { write_file(path, Bytes(s.begin(), s.end())); }

// A fresh directory under the system temp dir, removed on destruction.
class TempDir {
public:
    explicit TempDir(const std::string& tag) {
        static int counter = 0;
        path_ = std::filesystem::temp_directory_path() /
                ("llm_formats_" + tag + "_" + std::to_string(::getpid()) + "_" + std::to_string(counter++));
        std::filesystem::remove_all(path_);
        std::filesystem::create_directories(path_);
    }
    ~TempDir() {
        std::error_code ec;
        std::filesystem::remove_all(path_, ec);
    }
    std::string file(const std::string& name) const { return (path_ / name).string(); }
    std::string path() const { return path_.string(); }

private:
    std::filesystem::path path_;
};

// One hand-made broken file and the substring its error message must contain.
struct CorruptCase {
    std::string name;
    Bytes bytes;
    std::string expect;
};

std::vector<CorruptCase> gguf_corrupt_cases();
std::vector<CorruptCase> safetensors_corrupt_cases();

// A safetensors file from (name, dtype, shape, payload size) entries laid out back to back; header_json
// overrides the generated header when non-empty.
struct StEntry {
    std::string name;
    std::string dtype;
    std::vector<uint64_t> shape;
    uint64_t begin, end;
};
Bytes make_safetensors(const std::vector<StEntry>& entries, uint64_t data_size, const std::string& metadata_json = "");
Bytes make_safetensors_raw(const std::string& header, uint64_t data_size);

inline std::string fixtures_dir() { return std::string(LLM_FIXTURES_DIR) + "/models"; }

}  // namespace fmt_test
