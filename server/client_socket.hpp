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
    ~ClientSocket();
    ClientSocket(const ClientSocket&) = delete;
    ClientSocket& operator=(const ClientSocket&) = delete;
    // True once the client closed the connection (or half-closed it: HTTP/1.1 clients keep writing until they
    // have the answer, so a hang-up before it means nobody will read it) or the socket failed.
    bool gone() const;
    bool found() const { return fd_ >= 0; }

private:
    int fd_ = -1;
};

// For a stopping server: shuts the reading side of every connection accepted on local_port whose request no
// handler is waiting on (no ClientSocket holds it): an idle keep-alive connection, or one still sending its
// request, ends its worker's read at once (such a request is dropped) instead of holding the stop for up to the
// read timeout. Writing is untouched: responses being written complete. Linux only (elsewhere nothing happens).
void stop_reading_idle_connections(int local_port);

}  // namespace llm::server
