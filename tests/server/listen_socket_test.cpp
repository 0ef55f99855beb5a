// llm-serve's listening socket: a port in use is an error (not a silently shared port), and a burst of connections
// beyond cpp-httplib's built-in backlog of 5 is queued by the kernel instead of dropped.
#include <gtest/gtest.h>

#include <chrono>
#include <vector>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "served.hpp"

using namespace llm::server;
using namespace llm::server::testing;

TEST(ListenSocket, APortInUseIsAnErrorNotASharedPort) {
    Served first;
    ServerOptions o;
    o.port = first.port;
    o.log_format = LogFormat::Off;
    HttpServer second(o);
    auto bound = second.bind();
    ASSERT_FALSE(bound.has_value()) << "a second server bound port " << first.port;
    EXPECT_NE(bound.error_message().find("in use"), std::string::npos) << bound.error_message();
}

// Nobody accepts here (bound, not serving): connects complete only while the kernel's accept queue has room. With
// httplib's backlog of 5, six would complete and the rest wait for a SYN retransmit that never finds room.
TEST(ListenSocket, ABurstOfConnectionsIsQueuedNotDropped) {
    ServerOptions o;
    o.port = 0;
    o.log_format = LogFormat::Off;
    HttpServer server(o);
    auto port = server.bind();
    ASSERT_TRUE(port.has_value()) << port.error_message();

    constexpr int kClients = 64;
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons((uint16_t)*port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    std::vector<pollfd> fds;
    for (int i = 0; i < kClients; ++i) {
        const int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
        ASSERT_GE(fd, 0);
        connect(fd, (const sockaddr*)&addr, sizeof addr);  // EINPROGRESS, or done at once on loopback
        fds.push_back({fd, POLLOUT, 0});
    }
    int connected = 0;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (connected < kClients && std::chrono::steady_clock::now() < deadline) {
        connected = 0;
        for (auto& p : fds) {
            int err = -1;
            socklen_t len = sizeof err;
            if (getsockopt(p.fd, SOL_SOCKET, SO_ERROR, &err, &len) == 0 && err == 0) {
                sockaddr_in peer{};
                socklen_t plen = sizeof peer;
                if (getpeername(p.fd, (sockaddr*)&peer, &plen) == 0) ++connected;
            }
        }
        if (connected < kClients) poll(fds.data(), fds.size(), 50);
    }
    for (auto& p : fds) close(p.fd);
    EXPECT_EQ(connected, kClients);
}
