// The Hugging Face cache, exactly as huggingface_hub lays it out, so either side finds the other's downloads:
//   <root>/models--owner--repo/blobs/<etag>              file contents (etag: LFS sha256, else git blob sha1)
//                              blobs/<etag>.incomplete   a partial download (resumed with an HTTP Range)
//                              snapshots/<commit>/<path> relative symlinks to ../../blobs/<etag>
//                              refs/<revision>           the commit a branch or tag pointed to (no newline)
//   <root>/.locks/models--owner--repo/<etag>.lock        flock(2) held while a blob is written
// Invariant: a snapshot entry exists only for a complete, verified blob.
#pragma once
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "core/mapped_file.hpp"  // read_text_file
#include "core/status.hpp"
#include "llm/hub.hpp"  // the public part

namespace llm::hub {


// An exclusive flock(2) on a lock file (the one huggingface_hub's FileLock takes too), held until destruction.
class FileLock {
public:
    // Blocks while another process holds it; `on_wait` runs once before blocking.
    static Expected<FileLock> acquire(const std::string& path, const std::function<void()>& on_wait);
    FileLock(FileLock&& o) noexcept : fd_(o.fd_) { o.fd_ = -1; }
    FileLock& operator=(FileLock&&) = delete;
    ~FileLock();

private:
    explicit FileLock(int fd) : fd_(fd) {}
    int fd_ = -1;
};

// Small-file helper shared by the hub code (read_text_file is core/mapped_file.hpp's).
// Writes via a temporary file and rename, so readers see the old or the new content, never a torn one.
Status write_file_atomic(const std::string& path, const std::string& content);

}  // namespace llm::hub
