// A real HttpServer over a FakeBackend on a free loopback port, serving from its own thread for one test; shared by
// the OpenAI and Anthropic HTTP tests.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "fake_backend.hpp"
#include "http_client.hpp"
#include "server/http_server.hpp"

namespace llm::server::testing {

class Served {
public:
    explicit Served(ServerOptions o = {}, bool with_backend = true) : server(prep(std::move(o))) {
        backend = std::make_shared<FakeBackend>();
        if (with_backend) server.set_backend(backend);
        auto p = server.bind();
        EXPECT_TRUE(p.has_value()) << p.error_message();
        port = p.has_value() ? *p : 0;
        thread = std::thread([this] { server.serve(); });
    }
    ~Served() {
        backend->open_gate();
        server.stop();
        thread.join();
    }
    RawResponse post(const std::string& path, const std::string& body, const std::vector<std::string>& headers = {},
                     const std::function<bool(const std::string&)>& until = nullptr) {
        return raw_http(port, "POST", path, body, headers, until);
    }
    RawResponse get(const std::string& path, const std::vector<std::string>& headers = {}) {
        return raw_http(port, "GET", path, "", headers);
    }

    HttpServer server;
    std::shared_ptr<FakeBackend> backend;
    int port = 0;
    std::thread thread;

private:
    static ServerOptions prep(ServerOptions o) {
        o.port = 0;
        o.log_format = LogFormat::Off;
        return o;
    }
};

}  // namespace llm::server::testing
