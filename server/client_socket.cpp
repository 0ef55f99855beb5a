// ClientSocket: the connection's socket found among the process's descriptors by its addresses, polled for POLLRDHUP;
// and the stop's counterpart: the connections no ClientSocket holds stop reading.
#include "server/client_socket.hpp"

#if defined(__linux__)
#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>

#include <cstdlib>
#include <cstring>
#include <mutex>
#include <set>
#endif

namespace llm::server {

#if defined(__linux__)
namespace {

// The port of a socket address (IPv4 or IPv6), -1 for another family.
int port_of(const sockaddr_storage& a) {
    if (a.ss_family == AF_INET) return ntohs(reinterpret_cast<const sockaddr_in&>(a).sin_port);
    if (a.ss_family == AF_INET6) return ntohs(reinterpret_cast<const sockaddr_in6&>(a).sin6_port);
    return -1;
}

// "address:port" of a socket address (IPv4 or IPv6), as httplib writes req.remote_addr / remote_port.
bool same_endpoint(const sockaddr_storage& a, const std::string& addr, int port) {
    if (port_of(a) != port) return false;
    char text[INET6_ADDRSTRLEN] = {};
    if (a.ss_family == AF_INET) inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in&>(a).sin_addr, text, sizeof text);
    else inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6&>(a).sin6_addr, text, sizeof text);
    return addr == text;
}

// Calls fn(fd, local, peer) for each connected socket among the process's descriptors until it returns true.
template <typename Fn>
void for_each_connected_socket(Fn fn) {
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
        if (fn((int)fd, local, peer)) break;
    }
    closedir(dir);
}

// The descriptors a ClientSocket holds: a handler waits on their requests.
std::mutex watched_mu;
std::multiset<int> watched;

}  // namespace

ClientSocket::ClientSocket(const httplib::Request& req) {
    if (req.remote_port < 0 || req.local_port < 0) return;
    // The connection's socket stays open while its handler runs, so the descriptor found stays this connection's.
    for_each_connected_socket([&](int fd, const sockaddr_storage& local, const sockaddr_storage& peer) {
        if (!same_endpoint(peer, req.remote_addr, req.remote_port) || !same_endpoint(local, req.local_addr, req.local_port))
            return false;
        fd_ = fd;
        return true;
    });
    if (fd_ < 0) return;
    std::lock_guard lock(watched_mu);
    watched.insert(fd_);
}

ClientSocket::~ClientSocket() {
    if (fd_ < 0) return;
    std::lock_guard lock(watched_mu);
    watched.erase(watched.find(fd_));
}

void stop_reading_idle_connections(int local_port) {
    if (local_port <= 0) return;
    std::lock_guard lock(watched_mu);  // no handler starts or ends its wait meanwhile
    for_each_connected_socket([&](int fd, const sockaddr_storage& local, const sockaddr_storage&) {
        if (port_of(local) == local_port && !watched.count(fd)) shutdown(fd, SHUT_RD);
        return false;
    });
}

bool ClientSocket::gone() const {
    if (fd_ < 0) return false;
    pollfd p{fd_, POLLRDHUP, 0};
    if (poll(&p, 1, 0) <= 0) return false;
    return (p.revents & (POLLRDHUP | POLLHUP | POLLERR | POLLNVAL)) != 0;
}
#else
ClientSocket::ClientSocket(const httplib::Request&) {}
ClientSocket::~ClientSocket() = default;
bool ClientSocket::gone() const { return false; }
void stop_reading_idle_connections(int) {}
#endif

}  // namespace llm::server
