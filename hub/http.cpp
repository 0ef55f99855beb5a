// libcurl easy-handle wrapper: one handle per client (connections are kept alive between requests).
#include "hub/http.hpp"

#include <curl/curl.h>
#include <fmt/format.h>

#include <atomic>
#include <cctype>
#include <mutex>

namespace llm::hub {
namespace {

constexpr size_t kMaxBody = 64 * 1024;
std::atomic<bool> g_cancel{false};
static_assert(std::atomic<bool>::is_always_lock_free, "request_cancel must be async-signal-safe");

void global_init() {
    static std::once_flag once;
    std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

std::string lower(std::string s) {
    for (char& c : s) c = (char)std::tolower((unsigned char)c);
    return s;
}

std::string trim(const std::string& s) {
    size_t b = 0, e = s.size();
    while (b < e && std::isspace((unsigned char)s[b])) ++b;
    while (e > b && std::isspace((unsigned char)s[e - 1])) --e;
    return s.substr(b, e - b);
}

NetError classify(CURLcode c) {
    switch (c) {
        case CURLE_OK: return NetError::None;
        case CURLE_COULDNT_RESOLVE_HOST:
        case CURLE_COULDNT_RESOLVE_PROXY:
        case CURLE_COULDNT_CONNECT: return NetError::Connect;
        case CURLE_PARTIAL_FILE:
        case CURLE_RECV_ERROR:
        case CURLE_SEND_ERROR:
        case CURLE_GOT_NOTHING:
        case CURLE_HTTP2:
        case CURLE_HTTP2_STREAM: return NetError::Dropped;
        case CURLE_OPERATION_TIMEDOUT: return NetError::Timeout;
        case CURLE_ABORTED_BY_CALLBACK: return NetError::Cancelled;
        case CURLE_WRITE_ERROR: return NetError::Write;
        default: return NetError::Other;
    }
}

}  // namespace

struct HttpClient::Impl {
    CURL* curl = nullptr;
    HttpOptions opts;
    // Per-transfer state the callbacks fill.
    HttpResult* result = nullptr;
    const Sink* sink = nullptr;
    const std::function<void()>* on_tick = nullptr;
    bool sink_refused = false;

    static size_t on_header(char* data, size_t size, size_t n, void* user) {
        auto* self = static_cast<Impl*>(user);
        const std::string line(data, size * n);
        if (line.rfind("HTTP/", 0) == 0) {  // a new response (after a redirect or 100-continue): start over
            self->result->headers.clear();
            const size_t sp = line.find(' ');
            self->result->status = sp == std::string::npos ? 0 : std::atol(line.c_str() + sp + 1);
        } else if (const size_t colon = line.find(':'); colon != std::string::npos) {
            self->result->headers[lower(trim(line.substr(0, colon)))] = trim(line.substr(colon + 1));
        }
        return size * n;
    }

    static size_t on_body(char* data, size_t size, size_t n, void* user) {
        auto* self = static_cast<Impl*>(user);
        const size_t len = size * n;
        const long st = self->result->status;
        if (self->sink && st >= 200 && st < 300) {
            if (!(*self->sink)(st, data, len)) {
                self->sink_refused = true;
                return 0;  // CURLE_WRITE_ERROR
            }
            return len;
        }
        if (self->result->body.size() < kMaxBody)
            self->result->body.append(data, std::min(len, kMaxBody - self->result->body.size()));
        return len;
    }

    static int on_progress(void* user, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
        auto* self = static_cast<Impl*>(user);
        if (self->on_tick && *self->on_tick) (*self->on_tick)();
        return g_cancel.load() ? 1 : 0;
    }

    HttpResult perform(const std::string& method, const std::string& url, const std::vector<std::string>& headers,
                       bool follow) {
        HttpResult r;
        r.effective_url = url;
        result = &r;
        sink_refused = false;
        curl_easy_reset(curl);
        curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
        curl_easy_setopt(curl, CURLOPT_USERAGENT, opts.user_agent.c_str());
        curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT, opts.connect_timeout_s);
        curl_easy_setopt(curl, CURLOPT_LOW_SPEED_LIMIT, 1L);
        curl_easy_setopt(curl, CURLOPT_LOW_SPEED_TIME, opts.low_speed_time_s);
        curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, follow ? 1L : 0L);
        curl_easy_setopt(curl, CURLOPT_MAXREDIRS, 10L);
        curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
        curl_easy_setopt(curl, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
        curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, &Impl::on_header);
        curl_easy_setopt(curl, CURLOPT_HEADERDATA, this);
        curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, &Impl::on_body);
        curl_easy_setopt(curl, CURLOPT_WRITEDATA, this);
        curl_easy_setopt(curl, CURLOPT_BUFFERSIZE, 256L * 1024);  // fewer write calls for multi-GB files
        curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);
        curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, &Impl::on_progress);
        curl_easy_setopt(curl, CURLOPT_XFERINFODATA, this);
        if (method == "HEAD") curl_easy_setopt(curl, CURLOPT_NOBODY, 1L);
        curl_slist* list = nullptr;
        for (const std::string& h : headers) list = curl_slist_append(list, h.c_str());
        curl_easy_setopt(curl, CURLOPT_HTTPHEADER, list);
        const CURLcode rc = curl_easy_perform(curl);
        curl_slist_free_all(list);
        if (char* eff = nullptr; curl_easy_getinfo(curl, CURLINFO_EFFECTIVE_URL, &eff) == CURLE_OK && eff)
            r.effective_url = eff;
        r.net = classify(rc);
        if (sink_refused) r.net = NetError::Write;
        if (r.net == NetError::Cancelled && !g_cancel.load()) r.net = NetError::Other;
        if (r.net != NetError::None) r.net_message = curl_easy_strerror(rc);
        result = nullptr;
        sink = nullptr;
        on_tick = nullptr;
        return r;
    }
};

std::string HttpResult::describe() const {
    switch (net) {
        case NetError::None: return fmt::format("HTTP {}", status);
        case NetError::Connect: return fmt::format("cannot connect ({})", net_message);
        case NetError::Dropped: return fmt::format("connection dropped ({})", net_message);
        case NetError::Timeout: return fmt::format("timed out ({})", net_message);
        case NetError::Cancelled: return "interrupted";
        case NetError::Write: return "local write failed";
        case NetError::Other: return net_message;
    }
    return net_message;
}

HttpClient::HttpClient(HttpOptions opts) : impl_(std::make_unique<Impl>()) {
    global_init();
    impl_->curl = curl_easy_init();
    impl_->opts = std::move(opts);
}

HttpClient::~HttpClient() {
    if (impl_->curl) curl_easy_cleanup(impl_->curl);
}

HttpResult HttpClient::request(const std::string& method, const std::string& url,
                               const std::vector<std::string>& headers, bool follow_redirects) {
    return impl_->perform(method, url, headers, follow_redirects);
}

HttpResult HttpClient::get_to(const std::string& url, const std::vector<std::string>& headers,
                              const Sink& sink, const std::function<void()>& on_tick) {
    impl_->sink = &sink;
    impl_->on_tick = &on_tick;
    return impl_->perform("GET", url, headers, true);
}

void request_cancel() { g_cancel.store(true); }
bool cancel_requested() { return g_cancel.load(); }
void clear_cancel() { g_cancel.store(false); }

std::string url_origin(const std::string& url) {
    const size_t scheme_end = url.find("://");
    if (scheme_end == std::string::npos) return "";
    const std::string scheme = lower(url.substr(0, scheme_end));
    const size_t host_start = scheme_end + 3;
    size_t host_end = url.find_first_of("/?#", host_start);
    if (host_end == std::string::npos) host_end = url.size();
    std::string host = lower(url.substr(host_start, host_end - host_start));
    if (const size_t at = host.rfind('@'); at != std::string::npos) host = host.substr(at + 1);
    const size_t colon = host.rfind(':');
    if (colon == std::string::npos || host.back() == ']') host += scheme == "https" ? ":443" : ":80";
    return scheme + "://" + host;
}

std::string url_join(const std::string& base, const std::string& location) {
    if (location.find("://") != std::string::npos) return location;
    const std::string origin_with_port = base.substr(0, base.find('/', base.find("://") + 3));
    if (location.rfind("//", 0) == 0) return base.substr(0, base.find("://") + 1) + location;
    if (!location.empty() && location[0] == '/') return origin_with_port + location;
    std::string dir = base.substr(0, base.find_first_of("?#"));
    dir = dir.substr(0, dir.rfind('/') + 1);
    return dir + location;
}

std::string url_encode(const std::string& s, bool keep_slash) {
    std::string o;
    for (unsigned char c : s) {
        if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~' || (keep_slash && c == '/')) {
            o += (char)c;
        } else {
            o += fmt::format("%{:02X}", c);
        }
    }
    return o;
}

}  // namespace llm::hub
