// ClientSocket: the connection's socket found among the process's descriptors by its addresses, polled for POLLRDHUP.
#include "server/client_socket.hpp"

#if defined(__linux__)
#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>

#include <cstdlib>
#include <cstring>
#endif

namespace llm::server {

#if defined(__linux__)
namespace {

// "address:port" of a socket address (IPv4 or IPv6), as httplib writes req.remote_addr / remote_port.
bool same_endpoint(const sockaddr_storage& a, const std::string& addr, int port) {
    char text[INET6_ADDRSTRLEN] = {};
    int p = -1;
    if (a.ss_family == AF_INET) {
        const auto& in = reinterpret_cast<const sockaddr_in&>(a);
        inet_ntop(AF_INET, &in.sin_addr, text, sizeof text);
        p = ntohs(in.sin_port);
    } else if (a.ss_family == AF_INET6) {
        const auto& in6 = reinterpret_cast<const sockaddr_in6&>(a);
        inet_ntop(AF_INET6, &in6.sin6_addr, text, sizeof text);
        p = ntohs(in6.sin6_port);
    } else {
        return false;
    }
    return p == port && addr == text;
}

}  // namespace

ClientSocket::ClientSocket(const httplib::Request& req) {
    if (req.remote_port < 0 || req.local_port < 0) return;
    // The connection's socket stays open while its handler runs, so the descriptor found stays this connection's.
    DIR* dir = opendir("/proc/self/fd");
    if (!dir) return;
    while (dirent* e = readdir(dir)) {
        char* end = nullptr;
        const long fd = std::strtol(e->d_name, &end, 10);
        if (end == e->d_name || *end) continue;
        sockaddr_storage peer{}, local{};
        socklen_t pl = sizeof peer, ll = sizeof local;
        if (getpeername((int)fd, (sockaddr*)&peer, &pl) != 0) continue;  // not a connected socket
        if (getsockname((int)fd, (sockaddr*)&local, &ll) != 0) continue;
        if (same_endpoint(peer, req.remote_addr, req.remote_port) && same_endpoint(local, req.local_addr, req.local_port)) {
            fd_ = (int)fd;
            break;
        }
    }
    closedir(dir);
}

bool ClientSocket::gone() const {
    if (fd_ < 0) return false;
    pollfd p{fd_, POLLRDHUP, 0};
    if (poll(&p, 1, 0) <= 0) return false;
    return (p.revents & (POLLRDHUP | POLLHUP | POLLERR | POLLNVAL)) != 0;
}
#else
ClientSocket::ClientSocket(const httplib::Request&) {}
bool ClientSocket::gone() const { return false; }
#endif

}  // namespace llm::server
