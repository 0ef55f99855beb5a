// A small HTTP client over libcurl for the hub: JSON/HEAD requests with the response headers, and streamed
// GETs into a caller's sink. Failures are classified (connect, dropped, timeout, cancelled, local write) so the
// caller decides what is worth a retry; nothing here retries or prints.
#pragma once
#include "llm/hub.hpp"  // the public part
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace llm::hub {

enum class NetError {
    None,
    Connect,   // could not resolve or connect: the hub is unreachable (no retry for metadata, cache fallback)
    Dropped,   // connection reset/closed mid-transfer, empty reply, short body: retry (and resume)
    Timeout,   // connect or low-speed timeout: retry
    Cancelled, // request_cancel() (Ctrl-C)
    Write,     // the sink refused the data (local write error: disk full, file too large)
    Other,     // TLS, protocol, bad URL: no retry
};

struct HttpResult {
    NetError net = NetError::None;
    std::string net_message;  // curl's description when net != None
    long status = 0;          // last HTTP status seen (0 when no response)
    std::map<std::string, std::string> headers;  // lower-case names, of the last response
    std::string body;         // the body (request()), or a non-2xx body (get_to()), capped at 64 KiB
    std::string effective_url;

    bool ok() const { return net == NetError::None && status >= 200 && status < 300; }
    bool redirect() const { return net == NetError::None && status >= 300 && status < 400 && headers.count("location"); }
    std::string header(const std::string& lower_name) const {
        auto it = headers.find(lower_name);
        return it == headers.end() ? std::string() : it->second;
    }
    // "HTTP 500" / "connection dropped: ..." for messages.
    std::string describe() const;
};

struct HttpOptions {
    long connect_timeout_s = 15;
    long low_speed_time_s = 30;  // a transfer below 1 byte/s for this long counts as dropped
    std::string user_agent = "llm-hub/1";
};

class HttpClient {
public:
    explicit HttpClient(HttpOptions opts = {});
    ~HttpClient();
    HttpClient(const HttpClient&) = delete;
    HttpClient& operator=(const HttpClient&) = delete;

    // GET or HEAD; the body is kept. Redirects are followed only when asked.
    HttpResult request(const std::string& method, const std::string& url, const std::vector<std::string>& headers,
                       bool follow_redirects);
    // GET following redirects; a 2xx body goes to `sink` with the status (false from the sink stops the
    // transfer with NetError::Write), any other status's body to result.body. `on_tick` runs often, also while
    // the transfer is stalled.
    using Sink = std::function<bool(long status, const char* data, size_t n)>;
    HttpResult get_to(const std::string& url, const std::vector<std::string>& headers, const Sink& sink,
                      const std::function<void()>& on_tick);

    struct Impl;

private:
    std::unique_ptr<Impl> impl_;
};

// Async-signal-safe: transfers in progress stop with NetError::Cancelled (Ctrl-C keeps a resumable partial file).
void clear_cancel();

// URL helpers: "scheme://host:port" (lower-case host, default port made explicit), joining a Location header.
std::string url_origin(const std::string& url);
std::string url_join(const std::string& base, const std::string& location);
// Percent-encodes every byte but unreserved ones; keep_slash leaves '/' as is (repository paths).
std::string url_encode(const std::string& s, bool keep_slash);

}  // namespace llm::hub
