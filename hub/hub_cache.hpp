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

#include "core/status.hpp"

namespace llm::hub {

// The settings huggingface_hub reads from the environment (same variables, same precedence).
struct HubEnv {
    std::string endpoint = "https://huggingface.co";  // HF_ENDPOINT, without a trailing '/'
    std::string cache_dir;     // HF_HUB_CACHE | HUGGINGFACE_HUB_CACHE | $HF_HOME/hub | $XDG_CACHE_HOME/huggingface/hub | ~/.cache/huggingface/hub
    std::string token;         // HF_TOKEN | HUGGING_FACE_HUB_TOKEN | the file HF_TOKEN_PATH or $HF_HOME/token
    std::string token_source;  // where the token came from ("HF_TOKEN", a file path), for messages
    std::string token_file;    // the token file looked at (for "set HF_TOKEN or write <file>" messages)
    bool offline = false;      // HF_HUB_OFFLINE or TRANSFORMERS_OFFLINE set to 1/true/yes/on
    static HubEnv from_environment();
};

class HubCache {
public:
    explicit HubCache(const std::string& root);  // made absolute
    const std::string& root() const { return root_; }

    std::string repo_dir(const std::string& repo) const;
    std::string blob_path(const std::string& repo, const std::string& etag) const;
    std::string incomplete_path(const std::string& repo, const std::string& etag) const;
    std::string lock_path(const std::string& repo, const std::string& etag) const;
    std::string snapshot_dir(const std::string& repo, const std::string& commit) const;
    std::string snapshot_path(const std::string& repo, const std::string& commit, const std::string& file) const;

    // The commit refs/<revision> holds, if any.
    std::optional<std::string> read_ref(const std::string& repo, const std::string& revision) const;
    Status write_ref(const std::string& repo, const std::string& revision, const std::string& commit) const;
    // snapshots/<commit>/<file> -> relative symlink to blobs/<etag>, replaced atomically.
    Status link_snapshot(const std::string& repo, const std::string& commit, const std::string& file,
                         const std::string& etag) const;
    // Files of a snapshot whose target exists (relative paths with '/', sorted).
    std::vector<std::string> snapshot_files(const std::string& repo, const std::string& commit) const;
    // Commits with a snapshot folder, and refs as (revision, commit) pairs.
    std::vector<std::string> snapshots(const std::string& repo) const;
    std::vector<std::pair<std::string, std::string>> refs(const std::string& repo) const;
    // Repositories with a models--* folder.
    std::vector<std::string> repos() const;

private:
    std::string root_;
};

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

// Small-file helpers shared by the hub code.
Expected<std::string> read_text_file(const std::string& path);
// Writes via a temporary file and rename, so readers see the old or the new content, never a torn one.
Status write_file_atomic(const std::string& path, const std::string& content);

}  // namespace llm::hub
