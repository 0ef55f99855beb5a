// A raw HTTP/1.1 client over a loopback socket for the server tests: exact bytes out, status + headers + de-chunked
// body back, and the option to hang up early (a client that disconnects mid-stream).
#pragma once
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <functional>
#include <map>
#include <string>
#include <vector>

namespace llm::server::testing {

struct RawResponse {
    int status = 0;
    std::map<std::string, std::string> headers;  // lower-case names
    std::string body;                            // de-chunked
    bool ok = false;                             // a complete response was read
};

// Sends one request with "Connection: close". `until`, when set, is called with the body read so far and ends the
// read (closing the socket) when it returns true; so does waiting `timeout_ms` for the next bytes.
inline RawResponse raw_http(int port, const std::string& method, const std::string& path, const std::string& body,
                            const std::vector<std::string>& headers = {},
                            const std::function<bool(const std::string&)>& until = nullptr, int timeout_ms = 60000) {
    RawResponse out;
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons((uint16_t)port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    timeval tv{timeout_ms / 1000, (timeout_ms % 1000) * 1000};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    if (::connect(fd, (sockaddr*)&addr, sizeof addr) != 0) {
        ::close(fd);
        return out;
    }
    std::string req = method + " " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n";
    for (const auto& h : headers) req += h + "\r\n";
    if (method == "POST") req += "Content-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) + "\r\n";
    req += "\r\n" + body;
    for (size_t sent = 0; sent < req.size();) {
        const ssize_t n = ::send(fd, req.data() + sent, req.size() - sent, MSG_NOSIGNAL);
        if (n <= 0) break;  // the server may answer (413) before reading everything
        sent += (size_t)n;
    }
    std::string raw;
    char buf[16384];
    size_t header_end = std::string::npos;
    bool chunked = false;
    auto dechunk = [&](std::string_view s, bool& complete) {
        std::string b;
        size_t i = 0;
        complete = false;
        while (i < s.size()) {
            const size_t eol = s.find("\r\n", i);
            if (eol == std::string::npos) break;
            const size_t len = std::stoul(std::string(s.substr(i, eol - i)), nullptr, 16);
            if (len == 0) {
                complete = true;
                break;
            }
            if (eol + 2 + len > s.size()) {
                b.append(s.substr(eol + 2));
                break;
            }
            b.append(s.substr(eol + 2, len));
            i = eol + 2 + len + 2;
        }
        return b;
    };
    while (true) {
        const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
        if (n <= 0) break;
        raw.append(buf, (size_t)n);
        if (header_end == std::string::npos) {
            header_end = raw.find("\r\n\r\n");
            if (header_end == std::string::npos) continue;
            const std::string head = raw.substr(0, header_end);
            out.status = std::stoi(head.substr(9, 3));
            size_t pos = head.find("\r\n");
            while (pos != std::string::npos && pos < head.size()) {
                const size_t next = head.find("\r\n", pos + 2);
                const std::string line = head.substr(pos + 2, next == std::string::npos ? std::string::npos : next - pos - 2);
                if (auto c = line.find(':'); c != std::string::npos) {
                    std::string k = line.substr(0, c);
                    for (char& ch : k) ch = (char)std::tolower((unsigned char)ch);
                    out.headers[k] = line.substr(line.find_first_not_of(' ', c + 1));
                }
                pos = next;
            }
            chunked = out.headers["transfer-encoding"] == "chunked";
        }
        if (until) {
            bool complete = false;
            const std::string so_far = chunked ? dechunk(std::string_view(raw).substr(header_end + 4), complete)
                                               : raw.substr(header_end + 4);
            if (until(so_far)) {
                out.body = so_far;
                ::close(fd);
                return out;
            }
        }
    }
    ::close(fd);
    if (header_end == std::string::npos) return out;
    bool complete = !chunked;
    out.body = chunked ? dechunk(std::string_view(raw).substr(header_end + 4), complete) : raw.substr(header_end + 4);
    out.ok = complete;
    return out;
}

// The `data:` payloads of an SSE body, in order (comments and blank lines skipped).
inline std::vector<std::string> sse_payloads(const std::string& body, int* comments = nullptr) {
    std::vector<std::string> out;
    size_t i = 0;
    while (i < body.size()) {
        size_t eol = body.find('\n', i);
        if (eol == std::string::npos) eol = body.size();
        const std::string line = body.substr(i, eol - i);
        if (line.rfind("data: ", 0) == 0) out.push_back(line.substr(6));
        else if (!line.empty() && line[0] == ':' && comments) ++*comments;
        i = eol + 1;
    }
    return out;
}

}  // namespace llm::server::testing
