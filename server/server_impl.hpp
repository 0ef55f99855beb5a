// Internals shared by http_server.cpp (routes, auth, logging) and generation.cpp (the generation routes).
#pragma once
#include <httplib.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <string>

#include "server/dialect.hpp"
#include "server/http_server.hpp"
#include "server/metrics.hpp"
#include "server/model_registry.hpp"
#include "server/prompt_history.hpp"

namespace llm::server {

using Clock = std::chrono::steady_clock;

// What the access-log line says about one request; filled by the handler (and the stream writer, which runs
// on the same connection thread) and written by the logger after the response went out.
struct RequestLog {
    std::string request_id, model, finish, error;
    int prompt_tokens = -1, cached_tokens = 0, completion_tokens = 0;
    int64_t diverged_at = -1;  // first token where the prompt left its session's previous one (-1: it extends it)
    double queue_ms = -1, ttft_ms = -1;
    bool stream = false, disconnected = false;
    Clock::time_point start = Clock::now();
};
// One request per connection thread at a time, so the log of the request being served is thread-local.
RequestLog& current_log();

// The prompt tokens of a request (chat template, or the completion prompt as text or ids; the echo text when
// asked): what generation submits and what count_tokens counts. A 400 when the template refuses the messages.
std::optional<ApiError> render_prompt(const ApiRequest& api, const Backend& b, std::vector<int32_t>& tokens,
                                      std::string* echo = nullptr);

// The dialect a path speaks (errors outside the handlers: auth, unknown routes, limits): /v1/messages... is
// Anthropic's, everything else OpenAI's.
const ApiDialect& dialect_for_path(const std::string& path);

struct HttpServer::Impl {
    explicit Impl(ServerOptions o) : opts(std::move(o)) {}

    ServerOptions opts;
    httplib::Server http;
    std::mutex registry_mu;
    std::shared_ptr<ModelRegistry> registry_;  // null until set: every model route answers 503
    Metrics metrics;
    std::atomic<int> in_flight{0};  // admitted generation requests whose engine request has not finished
    int listen_fd = -1;             // the listening socket, captured by the socket-options hook (see bind())
    std::mutex listen_mu;           // listen_fd against stop() racing serve()'s start and end
    bool stopped = false;           // stop() came: serve() returns at once
    int bound_port = 0;             // the port bind() got: stop() finds the connections accepted on it
    std::mutex log_mu;
    PromptHistory sessions;

    std::shared_ptr<ModelRegistry> registry() {
        std::lock_guard lock(registry_mu);
        return registry_;
    }
    int admission_limit() const { return opts.parallel + opts.max_queue; }

    void setup_routes();
    void send_json(httplib::Response& res, int status, const Json& body);
    void send_error(const ApiDialect& d, httplib::Response& res, const ApiError& e);
    // The model a request named (id or alias; unknown names the default one, or 404 under --strict-models).
    // -1 with the error set when there is none.
    int pick_model(const ModelRegistry& reg, const std::string& requested, std::optional<ApiError>& err) const;
    // The picked model, loaded: waits while the loader thread loads it; a failed load is a 503 naming why.
    std::optional<ApiError> load_model(ModelRegistry& reg, int index, AcquiredModel& out) const;
    void handle_generation(const ApiDialect& d, const httplib::Request& req, httplib::Response& res);
    void handle_count_tokens(const httplib::Request& req, httplib::Response& res);  // anthropic_dialect.cpp
    void handle_embeddings(const httplib::Request& req, httplib::Response& res);
    void write_access_log(const httplib::Request& req, const httplib::Response& res);
};

}  // namespace llm::server
