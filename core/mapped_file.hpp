// Read-only memory map of a whole file (weights are used in place from it), and the small whole-file reads the
// loaders and the hub share.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "core/status.hpp"

namespace llm {

class MappedFile {
public:
    static Expected<std::shared_ptr<MappedFile>> open(const std::string& path);
    ~MappedFile();
    MappedFile(const MappedFile&) = delete;
    MappedFile& operator=(const MappedFile&) = delete;

    const uint8_t* data() const { return data_; }
    size_t size() const { return size_; }
    const std::string& path() const { return path_; }

private:
    MappedFile() = default;
    std::string path_;
    const uint8_t* data_ = nullptr;
    size_t size_ = 0;
};

// Drops the whole pages of [p, p + n) that lie in a live MappedFile from the process's resident memory (the data
// stays in the file and comes back on the next access); memory that is not such a mapping is left alone. For data
// copied elsewhere at load (runtime/repack_weights.cpp), so a model is not resident twice.
void release_mapped_pages(const void* p, size_t n);

// A whole file as a string ("PATH: cannot open" when it cannot be read).
Expected<std::string> read_text_file(const std::string& path);
// Whether something (a file or a folder) exists at path.
bool file_exists(const std::string& path);

}  // namespace llm
