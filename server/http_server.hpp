// The HTTP server of llm-serve (cpp-httplib): routes, auth, CORS, body limits, admission (bounded queue),
// SSE streaming, metrics and access logs, over a Backend. Generation itself is the backend's (the engine's).
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "core/status.hpp"
#include "server/backend.hpp"
#include "server/json_body.hpp"
#include "server/model_registry.hpp"

namespace llm::server {

enum class LogFormat { Text, Json, Off };

struct ServerOptions {
    std::string host = "127.0.0.1";
    int port = 8080;                      // 0: any free port (bind() returns it)
    std::vector<std::string> api_keys;    // empty: no auth
    std::vector<std::string> aliases;     // extra ids of the model given to set_backend (a registry has its own)
    bool strict_models = false;           // unknown model ids -> 404 (else served by the default model)
    int parallel = 16;                    // sequences the engine runs at once (admission counts them)
    int max_queue = 64;                   // requests admitted beyond `parallel`; more get 429
    size_t max_body = 32u << 20;          // bytes; larger bodies get 413
    std::string cors_origin;              // "" = no CORS headers
    LogFormat log_format = LogFormat::Text;
    double keepalive_s = 5;               // SSE comment interval while waiting (queued, prefilling)
    int http_threads = 0;                 // 0: parallel + max_queue + 8 (every admitted stream holds one)
    JsonLimits json;
};

class HttpServer {
public:
    explicit HttpServer(ServerOptions opts);
    ~HttpServer();
    // Until a backend or registry is set, /health answers 503 and every model route 503 (loading).
    // set_backend serves one loaded model (with opts.aliases); set_registry many, loaded on demand.
    void set_backend(std::shared_ptr<Backend> backend);
    void set_registry(std::shared_ptr<ModelRegistry> registry);
    // Binds the listening socket; returns the port (useful with port 0). Errors name host and port.
    Expected<int> bind();
    // Serves on the bound socket until stop() (blocking).
    void serve();
    void stop();

    struct Impl;

private:
    std::unique_ptr<Impl> impl_;
};

}  // namespace llm::server
