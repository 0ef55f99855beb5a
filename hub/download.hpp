// Internal to hub/: one blob's download and the retry policy shared with the metadata requests.
#pragma once
#include <functional>
#include <string>
#include <vector>

#include "hub/http.hpp"
#include "hub/hub.hpp"

namespace llm::hub {

// Free bytes where `dir` is (or would be created): opts.free_space when set, else statvfs.
uint64_t free_space(const PullOptions& opts, const std::string& dir);
// Transient: 408, 429, 5xx, dropped connections and timeouts (and connect failures when asked).
bool is_transient(const HttpResult& r, bool connect_is_transient);
// The delay before retry number `attempt` (0-based): Retry-After when the server sent one, else exponential.
int backoff_delay_ms(const PullOptions& opts, int attempt, const HttpResult& r);
// Sleeps in short slices; false when cancelled meanwhile.
bool sleep_unless_cancelled(int ms);
// Runs `attempt` again while the result is transient, up to opts.max_retries more times; `what` names the request.
HttpResult with_retries(const std::function<HttpResult()>& attempt, const PullOptions& opts, const std::string& what);

struct BlobRequest {
    std::string repo;
    std::string file;  // path in the repository (messages, progress)
    std::string url;   // the GET location (the storage URL the hub redirected to)
    std::vector<std::string> headers;  // Authorization only when `url` is on the hub's origin
    std::string etag;
    uint64_t size = 0;      // 0: unknown
    std::string sha256;     // expected content hash, empty when unknown
    std::string git_sha1;   // expected git blob id (non-LFS files), empty when unknown
};

struct BlobOutcome {
    uint64_t size = 0;
    uint64_t downloaded = 0;
    uint64_t resumed_from = 0;
    std::string verified;
};

// Downloads into blobs/<etag>.incomplete (resuming what is there), verifies, renames to blobs/<etag>.
// The caller holds the blob's lock. On failure the partial file stays unless its content is known bad.
Expected<BlobOutcome> download_blob(HttpClient& http, const HubCache& cache, const BlobRequest& req,
                                    const PullOptions& opts);

}  // namespace llm::hub
