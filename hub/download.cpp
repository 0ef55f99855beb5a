// One blob download: HTTP Range resume of blobs/<etag>.incomplete, retries with backoff, free-space check,
// content hash verification, then the atomic rename to blobs/<etag>.
// The .incomplete file always holds a prefix of the blob as received (pwrite at the received offset), so a
// crash, Ctrl-C or full disk leaves something a later run resumes; the hash over the whole file catches a bad prefix.
#include "hub/download.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <optional>
#include <thread>

#include "hub/progress.hpp"
#include "hub/sha.hpp"

namespace llm::hub {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }


// pwrite all of it; errno describes a failure.
bool write_all(int fd, const char* p, size_t n, uint64_t offset) {
    while (n > 0) {
        const ssize_t w = ::pwrite(fd, p, n, (off_t)offset);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) {
            if (w == 0) errno = ENOSPC;
            return false;
        }
        p += w, n -= (size_t)w, offset += (uint64_t)w;
    }
    return true;
}

// Progress reports for one transfer: throttled to ~10 per second, rate smoothed over half-second windows.
struct Meter {
    const PullOptions& opts;
    FileProgress p;
    Clock::time_point start = Clock::now(), last_report{}, window_start = Clock::now();
    uint64_t window_bytes = 0;

    Meter(const PullOptions& o, const std::string& file, uint64_t total) : opts(o) {
        p.file = file;
        p.total = total;
    }
    void add(uint64_t n) {
        p.done += n;
        window_bytes += n;
    }
    void emit(FileProgress::Phase phase, bool force) {
        const auto now = Clock::now();
        const double win = std::chrono::duration<double>(now - window_start).count();
        if (win >= 0.5) {
            const double inst = window_bytes / win;
            p.bytes_per_s = p.bytes_per_s == 0 ? inst : 0.6 * p.bytes_per_s + 0.4 * inst;
            window_start = now, window_bytes = 0;
        }
        if (!opts.progress || (!force && now - last_report < std::chrono::milliseconds(100))) return;
        last_report = now;
        p.phase = phase;
        p.elapsed_s = seconds_since(start);
        opts.progress(p);
    }
};

std::string write_error(const std::string& inc, int err, uint64_t done, uint64_t total) {
    const std::string of = total ? fmt::format(" of {}", format_bytes(total)) : "";
    const std::string kept = fmt::format("{}{} kept in the partial file: run again to resume", format_bytes(done), of);
    if (err == ENOSPC) return fmt::format("{}: disk full ({}; {})", inc, std::strerror(err), kept);
    if (err == EFBIG) return fmt::format("{}: file too large ({}: a file-size limit or the file system's; {})", inc, std::strerror(err), kept);
    return fmt::format("{}: write failed: {} ({})", inc, std::strerror(err), kept);
}

}  // namespace

uint64_t free_space(const PullOptions& opts, const std::string& dir) {
    std::filesystem::path p = dir;  // the nearest folder that exists: the cache may not have this one yet
    std::error_code ec;
    while (!p.empty() && p != p.root_path() && !std::filesystem::exists(p, ec)) p = p.parent_path();
    if (opts.free_space) return opts.free_space(p.string());
    struct statvfs s {};
    if (::statvfs(p.c_str(), &s) != 0) return UINT64_MAX;  // unknown: do not block the download
    return (uint64_t)s.f_bavail * s.f_frsize;
}

bool is_transient(const HttpResult& r, bool connect_is_transient) {
    switch (r.net) {
        case NetError::None: return r.status == 408 || r.status == 429 || (r.status >= 500 && r.status <= 599);
        case NetError::Dropped:
        case NetError::Timeout: return true;
        case NetError::Connect: return connect_is_transient;
        default: return false;
    }
}

int backoff_delay_ms(const PullOptions& opts, int attempt, const HttpResult& r) {
    const std::string ra = r.header("retry-after");
    if (!ra.empty() && std::all_of(ra.begin(), ra.end(), ::isdigit) && ra.size() < 7)
        return std::min(std::stoi(ra) * 1000, opts.max_backoff_ms);
    const long long d = (long long)opts.backoff_ms << std::min(attempt, 20);
    return (int)std::min<long long>(d, opts.max_backoff_ms);
}

bool sleep_unless_cancelled(int ms) {
    const auto until = Clock::now() + std::chrono::milliseconds(ms);
    while (Clock::now() < until) {
        if (cancel_requested()) return false;
        std::this_thread::sleep_for(std::min<Clock::duration>(until - Clock::now(), std::chrono::milliseconds(20)));
    }
    return !cancel_requested();
}

HttpResult with_retries(const std::function<HttpResult()>& attempt, const PullOptions& opts, const std::string& what) {
    for (int i = 0;; ++i) {
        HttpResult r = attempt();
        if (!is_transient(r, false) || i >= opts.max_retries) return r;
        const int ms = backoff_delay_ms(opts, i, r);
        if (opts.note) opts.note(fmt::format("{}: {}; retry {}/{} in {:.1f} s", what, r.describe(), i + 1, opts.max_retries, ms / 1000.0));
        if (!sleep_unless_cancelled(ms)) return r;
    }
}

Expected<BlobOutcome> download_blob(HttpClient& http, const HubCache& cache, const BlobRequest& req,
                                    const PullOptions& opts) {
    const std::string blob = cache.blob_path(req.repo, req.etag);
    const std::string inc = cache.incomplete_path(req.repo, req.etag);
    const std::string dir = std::filesystem::path(blob).parent_path().string();
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    if (ec) return error("{}: cannot create folder: {}", dir, ec.message());
    // Space first, before the partial file is created: a download that cannot fit never starts.
    struct stat st {};
    uint64_t offset = ::stat(inc.c_str(), &st) == 0 ? (uint64_t)st.st_size : 0;
    if (req.size && offset > req.size) offset = 0;  // not a prefix of this blob: truncated below
    const uint64_t need = req.size > offset ? req.size - offset : 0;
    const uint64_t free_bytes = free_space(opts, dir);
    if (need > free_bytes)
        return error("{}: not enough disk space in {} for {}: need {}, {} free", req.repo, dir, req.file,
                     format_bytes(need), format_bytes(free_bytes));
    const int fd = ::open(inc.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) return error("{}: cannot open: {}", inc, std::strerror(errno));
    struct FdCloser {
        int fd;
        ~FdCloser() { ::close(fd); }
    } closer{fd};
    if (::fstat(fd, &st) != 0 || (uint64_t)st.st_size != offset) {
        if (::ftruncate(fd, (off_t)offset) != 0) return error("{}: cannot truncate: {}", inc, std::strerror(errno));
    }

    BlobOutcome out;
    bool restarted_fresh = false;
    for (;;) {  // runs twice at most: a resumed download whose hash fails is fetched again from the start
        std::optional<Hasher> h256, h1;
        if (!req.sha256.empty()) h256.emplace(Hasher::Algo::Sha256);
        if (!req.git_sha1.empty()) {
            h1.emplace(Hasher::Algo::Sha1);
            const std::string header = "blob " + std::to_string(req.size);
            h1->update(header.data(), header.size() + 1);
        }
        auto hash = [&](const char* p, size_t n) {
            if (h256) h256->update(p, n);
            if (h1) h1->update(p, n);
        };
        out.resumed_from = offset;
        if (offset > 0) {  // the hash covers the whole blob: read the prefix back
            if (opts.note) opts.note(fmt::format("resuming {} at {} of {}", req.file, format_bytes(offset),
                                                 req.size ? format_bytes(req.size) : "?"));
            std::vector<char> buf(1 << 20);
            for (uint64_t pos = 0; pos < offset;) {
                const ssize_t n = ::pread(fd, buf.data(), std::min<uint64_t>(buf.size(), offset - pos), (off_t)pos);
                if (n <= 0) return error("{}: cannot read the partial download: {}", inc, std::strerror(errno));
                hash(buf.data(), (size_t)n);
                pos += (uint64_t)n;
            }
        }
        Meter meter(opts, req.file, req.size);
        meter.p.done = offset;
        meter.p.resumed_from = offset;
        meter.emit(FileProgress::Phase::Start, true);

        int failures = 0;
        bool restart = false;
        while (!(req.size && offset == req.size)) {
            std::vector<std::string> headers = req.headers;
            if (offset > 0) headers.push_back(fmt::format("Range: bytes={}-", offset));
            const uint64_t before = out.downloaded;
            bool first_chunk = true;
            int write_errno = 0;
            auto sink = [&](long status, const char* p, size_t n) {
                if (first_chunk) {
                    first_chunk = false;
                    if (offset > 0 && status == 200) {  // the server ignored the Range: start over
                        if (::ftruncate(fd, 0) != 0) return write_errno = errno, false;
                        offset = 0;
                        meter.p.done = 0;
                        if (h256) h256.emplace(Hasher::Algo::Sha256);
                        if (h1) {
                            h1.emplace(Hasher::Algo::Sha1);
                            const std::string header = "blob " + std::to_string(req.size);
                            h1->update(header.data(), header.size() + 1);
                        }
                        out.resumed_from = 0;
                        if (opts.note) opts.note(fmt::format("{}: the server ignored the Range request; downloading from the start", req.file));
                    }
                }
                if (req.size && offset + n > req.size) return write_errno = EOVERFLOW, false;
                if (!write_all(fd, p, n, offset)) return write_errno = errno, false;
                hash(p, n);
                offset += n;
                out.downloaded += n;
                meter.add(n);
                return true;
            };
            auto tick = [&] { meter.emit(FileProgress::Phase::Progress, false); };
            HttpResult r = http.get_to(req.url, headers, sink, tick);
            if (r.net == NetError::Write) {
                if (write_errno == EOVERFLOW) {
                    ::ftruncate(fd, 0);
                    ::unlink(inc.c_str());
                    return error("{}: the server sent more than the {} bytes the hub announced (from {}); the download was deleted",
                                 req.file, req.size, req.url);
                }
                return error("{}", write_error(inc, write_errno, offset, req.size));
            }
            if (r.net == NetError::Cancelled)
                return error("{}: interrupted after {}{}; the partial download {} is kept: run the same command again to resume",
                             req.file, format_bytes(offset), req.size ? " of " + format_bytes(req.size) : "", inc);
            bool short_body = false;
            if (r.ok()) {
                if (!req.size) break;  // size unknown: the server's end of body is the end
                if (offset == req.size) break;
                short_body = true;  // closed early without curl noticing (no Content-Length)
            }
            if (r.net == NetError::None && r.status == 416 && offset > 0 && !restarted_fresh) {  // not a prefix
                if (::ftruncate(fd, 0) != 0) return error("{}: cannot truncate: {}", inc, std::strerror(errno));
                offset = 0;
                restarted_fresh = restart = true;
                break;  // fresh hashers via the outer loop
            }
            if (!short_body && !is_transient(r, true)) {
                std::string body = r.body.substr(0, 200);
                std::replace(body.begin(), body.end(), '\n', ' ');
                return error("{}: GET {}: {}{}{}", req.file, req.url, r.describe(), body.empty() ? "" : ": ", body);
            }
            failures = out.downloaded > before ? 0 : failures + 1;  // progress resets the count
            if (failures > opts.max_retries)
                return error("{}: download failed after {} attempts: {} from {} ({}{} kept in {}: run again to resume)",
                             req.file, failures, short_body ? "connection closed early" : r.describe(), req.url,
                             format_bytes(offset), req.size ? " of " + format_bytes(req.size) : "", inc);
            const int ms = backoff_delay_ms(opts, std::max(failures - 1, 0), r);
            if (opts.note)
                opts.note(fmt::format("{}: {} at {}; retrying in {:.1f} s", req.file,
                                      short_body ? "connection closed early" : r.describe(), format_bytes(offset), ms / 1000.0));
            if (!sleep_unless_cancelled(ms))
                return error("{}: interrupted; the partial download {} is kept: run the same command again to resume", req.file, inc);
        }
        if (restart) continue;

        // Verify before the blob becomes visible: a bad file never reaches blobs/ or a snapshot.
        std::string expected, actual, algo;
        if (h256) expected = req.sha256, actual = h256->hex_digest(), algo = "sha256";
        else if (h1) expected = req.git_sha1, actual = h1->hex_digest(), algo = "git-sha1";
        if (expected != actual) {
            if (::ftruncate(fd, 0) != 0) return error("{}: cannot truncate: {}", inc, std::strerror(errno));
            if (out.resumed_from > 0 && !restarted_fresh) {
                restarted_fresh = true;
                offset = 0;
                if (opts.note) opts.note(fmt::format("{}: {} mismatch after resuming an earlier partial download; downloading it again from the start", req.file, algo));
                continue;
            }
            ::unlink(inc.c_str());
            return error("{}: {} mismatch: expected {}, got {} (downloaded from {}); the corrupt download was deleted",
                         req.file, algo, expected, actual, req.url);
        }
        if (::fsync(fd) != 0) return error("{}", write_error(inc, errno, offset, req.size));
        if (::rename(inc.c_str(), blob.c_str()) != 0)
            return error("{}: cannot rename to {}: {}", inc, blob, std::strerror(errno));
        out.size = offset;
        out.verified = algo;
        meter.p.done = offset;
        meter.emit(FileProgress::Phase::Done, true);
        return out;
    }
}

}  // namespace llm::hub
