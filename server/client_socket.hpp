// Whether the client of the request being handled is still connected, for waits that write nothing (a
// non-streamed answer): cpp-httplib 0.11 gives handlers no socket, so the connection's socket is found by its
// addresses and polled for the peer's hang-up.
#pragma once
#include <httplib.h>

namespace llm::server {

class ClientSocket {
public:
    // Finds the socket of `req`'s connection (local and remote address and port); Linux only (elsewhere, and when
    // not found, gone() is always false).
    explicit ClientSocket(const httplib::Request& req);
    // True once the client closed the connection (or half-closed it: HTTP/1.1 clients keep writing until they
    // have the answer, so a hang-up before it means nobody will read it) or the socket failed.
    bool gone() const;
    bool found() const { return fd_ >= 0; }

private:
    int fd_ = -1;
};

}  // namespace llm::server
