#include "core/mapped_file.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <mutex>
#include <sstream>
#include <utility>
#include <vector>

namespace llm {
namespace {

// The live mappings' address ranges (release_mapped_pages only touches these).
struct MappingRegistry {
    std::mutex mu;
    std::vector<std::pair<uintptr_t, uintptr_t>> ranges;
};
MappingRegistry& registry() {
    static MappingRegistry r;
    return r;
}

}  // namespace

Expected<std::shared_ptr<MappedFile>> MappedFile::open(const std::string& path) {
    // O_NONBLOCK: a FIFO (or a device) must fail the regular-file check below, not block open() for a writer.
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0)
        return error(errno == ENOENT ? StatusCode::NotFound : StatusCode::Io, "{}: cannot open: {}", path,
                     std::strerror(errno));
    struct stat st {};
    if (fstat(fd, &st) != 0) {
        int e = errno;
        ::close(fd);
        return error(StatusCode::Io, "{}: cannot stat: {}", path, std::strerror(e));
    }
    if (!S_ISREG(st.st_mode)) {
        ::close(fd);
        return error("{}: not a regular file", path);
    }
    std::shared_ptr<MappedFile> f(new MappedFile());
    f->path_ = path;
    f->size_ = (size_t)st.st_size;
    if (f->size_ > 0) {
        void* p = mmap(nullptr, f->size_, PROT_READ, MAP_SHARED, fd, 0);
        if (p == MAP_FAILED) {
            int e = errno;
            ::close(fd);
            return error(StatusCode::Io, "{}: cannot mmap: {}", path, std::strerror(e));
        }
        f->data_ = static_cast<const uint8_t*>(p);
        std::lock_guard<std::mutex> lock(registry().mu);
        registry().ranges.emplace_back((uintptr_t)p, (uintptr_t)p + f->size_);
    }
    ::close(fd);
    return f;
}

MappedFile::~MappedFile() {
    if (!data_) return;
    {
        std::lock_guard<std::mutex> lock(registry().mu);
        auto& r = registry().ranges;
        for (size_t i = 0; i < r.size(); ++i)
            if (r[i].first == (uintptr_t)data_) {
                r.erase(r.begin() + (std::ptrdiff_t)i);
                break;
            }
    }
    munmap(const_cast<uint8_t*>(data_), size_);
}

void release_mapped_pages(const void* p, size_t n) {
    const uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
    const uintptr_t b = (uintptr_t)p, e = b + n;
    const uintptr_t first = (b + page - 1) / page * page, last = e / page * page;  // whole pages only
    if (first >= last) return;
    std::lock_guard<std::mutex> lock(registry().mu);
    for (const auto& [lo, hi] : registry().ranges)
        if (b >= lo && e <= hi) {
            madvise(reinterpret_cast<void*>(first), last - first, MADV_DONTNEED);
            return;
        }
}

Expected<std::string> read_text_file(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    if (!f) return error("{}: cannot open", path);
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
}

bool file_exists(const std::string& path) {
    struct stat st {};
    return stat(path.c_str(), &st) == 0;
}

}  // namespace llm
