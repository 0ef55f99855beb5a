// Routes, auth, CORS, error shapes, access logs and the listening socket of llm-serve (cpp-httplib: a bounded
// worker pool, keep-alive, chunked responses for SSE; a Debian package, so no HTTP parser of our own).
#include "server/http_server.hpp"

#include <fmt/format.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <ctime>
#include <thread>

#include <sys/socket.h>

#include "server/auth.hpp"
#include "server/client_socket.hpp"
#include "server/openai_request.hpp"
#include "server/server_impl.hpp"

namespace llm::server {

RequestLog& current_log() {
    static thread_local RequestLog log;
    return log;
}

const ApiDialect& dialect_for_path(const std::string& path) {
    return path.rfind("/v1/messages", 0) == 0 ? anthropic_messages_dialect() : openai_chat_dialect();
}

namespace {

// Route label for metrics: the known paths, everything else "other" (bounded label cardinality).
std::string route_label(const std::string& path) {
    static const char* known[] = {"/v1/chat/completions", "/v1/completions", "/v1/embeddings", "/v1/models",
                                  "/health", "/metrics", "/v1/messages", "/v1/messages/count_tokens"};
    for (const char* k : known)
        if (path == k) return k;
    if (path.rfind("/v1/models/", 0) == 0) return "/v1/models/{id}";
    return "other";
}

std::string base64(const void* data, size_t n) {
    static const char* tbl = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const auto* p = static_cast<const unsigned char*>(data);
    std::string out;
    out.reserve((n + 2) / 3 * 4);
    for (size_t i = 0; i < n; i += 3) {
        const uint32_t v = (uint32_t)p[i] << 16 | (i + 1 < n ? (uint32_t)p[i + 1] << 8 : 0) | (i + 2 < n ? p[i + 2] : 0);
        out += tbl[v >> 18 & 63];
        out += tbl[v >> 12 & 63];
        out += i + 1 < n ? tbl[v >> 6 & 63] : '=';
        out += i + 2 < n ? tbl[v & 63] : '=';
    }
    return out;
}

std::string utc_now() {
    char buf[32];
    const std::time_t t = std::time(nullptr);
    std::tm tm{};
    gmtime_r(&t, &tm);
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return buf;
}

}  // namespace

void HttpServer::Impl::send_json(httplib::Response& res, int status, const Json& body) {
    res.status = status;
    res.set_content(dump_json(body), "application/json");
}

void HttpServer::Impl::send_error(const ApiDialect& d, httplib::Response& res, const ApiError& e) {
    // Deterministic client errors: the same request fails the same way, so the SDKs must not retry it.
    const bool retryable = e.status == 408 || e.status == 429 || e.status == 503 || e.status == 529 || e.status >= 500;
    res.set_header("x-should-retry", retryable ? "true" : "false");
    current_log().error = e.message;
    send_json(res, e.status, d.error_body(e));
}

int HttpServer::Impl::pick_model(const ModelRegistry& reg, const std::string& requested, std::optional<ApiError>& err) const {
    const int index = reg.resolve(requested, opts.strict_models);
    if (index < 0)
        err = ApiError{404, "invalid_request_error", fmt::format("The model '{}' does not exist", requested), "model",
                       "model_not_found"};
    return index;
}

std::optional<ApiError> HttpServer::Impl::load_model(ModelRegistry& reg, int index, AcquiredModel& out) const {
    auto m = reg.acquire((size_t)index);
    if (!m) return ApiError{503, "server_error", m.error_message(), "", "model_load_failed"};
    out = std::move(*m);
    return std::nullopt;
}

void HttpServer::Impl::handle_embeddings(const httplib::Request& req, httplib::Response& res) {
    const ApiDialect& d = openai_chat_dialect();
    auto reg = registry();
    if (!reg) return send_error(d, res, ApiError{503, "server_error", "the model is loading; retry shortly", "", "model_loading"});
    Json body;
    if (auto e = parse_json_body(req.body, opts.json, body)) return send_error(d, res, *e);
    EmbeddingRequest er;
    if (auto e = parse_embedding_request(body, er)) return send_error(d, res, *e);
    std::optional<ApiError> err;
    const int index = pick_model(*reg, er.model, err);
    AcquiredModel model;
    if (!err) err = load_model(*reg, index, model);
    if (err) return send_error(d, res, *err);
    Backend* b = model.backend.get();
    const ModelInfo& info = b->info();
    std::vector<std::vector<int32_t>> inputs = er.token_lists;
    for (const std::string& t : er.texts) inputs.push_back(b->tokenize(t, true));
    Json data = Json::array();
    int64_t total = 0;
    for (size_t i = 0; i < inputs.size(); ++i) {
        const auto& toks = inputs[i];
        if (toks.empty()) return send_error(d, res, invalid_param("input", fmt::format("input {} has no tokens", i)));
        for (int32_t id : toks)
            if (id >= info.n_vocab)
                return send_error(d, res, invalid_param("input", fmt::format("token id {} is out of range (vocabulary of {})", id, info.n_vocab)));
        if ((int)toks.size() > info.n_ctx)
            return send_error(d, res, ApiError{400, "invalid_request_error",
                                               fmt::format("input {} has {} tokens, more than the model's maximum context "
                                                           "length of {} tokens", i, toks.size(), info.n_ctx),
                                               "input", "context_length_exceeded"});
        auto v = b->embed(toks);
        if (!v) return send_error(d, res, ApiError{500, "server_error", "embedding failed: " + v.error_message(), "", ""});
        Json item = {{"object", "embedding"}, {"index", i}};
        if (er.base64) item["embedding"] = base64(v->data(), v->size() * sizeof(float));  // float32, little-endian
        else item["embedding"] = *v;
        data.push_back(std::move(item));
        total += (int64_t)toks.size();
    }
    current_log().prompt_tokens = (int)total;
    send_json(res, 200, Json{{"object", "list"}, {"data", data}, {"model", er.model.empty() ? info.id : er.model},
                            {"usage", {{"prompt_tokens", total}, {"total_tokens", total}}}});
}

void HttpServer::Impl::write_access_log(const httplib::Request& req, const httplib::Response& res) {
    RequestLog& log = current_log();
    metrics.count_request(route_label(req.path), res.status);
    if (opts.log_format == LogFormat::Off) return;
    const double total_ms = std::chrono::duration<double, std::milli>(Clock::now() - log.start).count();
    std::string line;
    if (opts.log_format == LogFormat::Json) {
        Json j = {{"time", utc_now()},         {"id", log.request_id},  {"remote", req.remote_addr},
                  {"method", req.method},      {"path", req.path},      {"status", res.status},
                  {"total_ms", total_ms}};
        if (!log.model.empty()) j["model"] = log.model;
        if (log.prompt_tokens >= 0) {
            j["stream"] = log.stream;
            j["prompt_tokens"] = log.prompt_tokens;
            j["cached_tokens"] = log.cached_tokens;
            j["completion_tokens"] = log.completion_tokens;
            j["queue_ms"] = log.queue_ms;
            j["ttft_ms"] = log.ttft_ms;
            j["finish"] = log.finish;
            if (log.diverged_at >= 0) j["diverged_at"] = log.diverged_at;
        }
        if (log.disconnected) j["disconnected"] = true;
        if (!log.error.empty()) j["error"] = log.error;
        line = dump_json(j);
    } else {
        line = fmt::format("{} {} {} {} {} {} {:.1f}ms", utc_now(), log.request_id, req.remote_addr, req.method, req.path,
                           res.status, total_ms);
        if (log.prompt_tokens >= 0)
            line += fmt::format(" stream={} prompt={} cached={} completion={} queue={:.1f}ms ttft={:.1f}ms finish={}",
                                log.stream ? 1 : 0, log.prompt_tokens, log.cached_tokens, log.completion_tokens,
                                log.queue_ms, log.ttft_ms, log.finish.empty() ? "-" : log.finish);
        if (log.diverged_at >= 0) line += fmt::format(" diverged_at={}", log.diverged_at);
        if (log.disconnected) line += " disconnected=1";
        if (!log.error.empty()) line += fmt::format(" error=\"{}\"", log.error.substr(0, 200));
    }
    std::lock_guard lock(log_mu);
    std::fprintf(stderr, "%s\n", line.c_str());
}

void HttpServer::Impl::setup_routes() {
    const int threads = opts.http_threads > 0 ? opts.http_threads : opts.parallel + opts.max_queue + 8;
    http.new_task_queue = [threads] { return new httplib::ThreadPool((size_t)threads); };
    http.set_payload_max_length(opts.max_body);
    // SO_REUSEADDR only: httplib's default also sets SO_REUSEPORT, with which a second server on a port in use
    // binds silently and the kernel splits the connections between the two instead of reporting the port busy.
    http.set_socket_options([this](socket_t sock) {
        const int yes = 1;
        setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
        listen_fd = sock;
    });
    http.set_keep_alive_max_count(1000);
    http.set_keep_alive_timeout(5);
    http.set_read_timeout(60);
    http.set_write_timeout(60);

    http.set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
        current_log() = RequestLog{};
        current_log().request_id = new_response_id("req-");
        res.set_header("x-request-id", current_log().request_id);
        if (req.path.rfind("/v1/messages", 0) == 0) res.set_header("request-id", current_log().request_id);  // Anthropic's name
        if (!opts.cors_origin.empty()) {
            res.set_header("Access-Control-Allow-Origin", opts.cors_origin);
            res.set_header("Vary", "Origin");
            if (req.method == "OPTIONS") {  // preflight: answered without auth, as browsers send no credentials
                res.set_header("Access-Control-Allow-Methods", "GET, POST, OPTIONS");
                res.set_header("Access-Control-Allow-Headers",
                               "Authorization, Content-Type, x-api-key, anthropic-version, anthropic-beta, OpenAI-Organization");
                res.set_header("Access-Control-Max-Age", "86400");
                res.status = 204;
                return httplib::Server::HandlerResponse::Handled;
            }
        }
        if (req.path == "/health") return httplib::Server::HandlerResponse::Unhandled;
        const std::string key = presented_key(req.get_header_value("Authorization"), req.get_header_value("x-api-key"));
        if (key_accepted(opts.api_keys, key)) return httplib::Server::HandlerResponse::Unhandled;
        send_error(dialect_for_path(req.path), res,
                   ApiError{401, "invalid_request_error",
                            key.empty() ? "You didn't provide an API key: send 'Authorization: Bearer KEY' or 'x-api-key: KEY'"
                                        : "Incorrect API key provided",
                            "", "invalid_api_key"});
        return httplib::Server::HandlerResponse::Handled;
    });

    // httplib's own errors (unknown route 404, body over the limit 413, bad request line 400) in OpenAI's shape.
    http.set_error_handler(httplib::Server::HandlerWithResponse([this](const httplib::Request& req, httplib::Response& res) {
        if (!res.body.empty()) return httplib::Server::HandlerResponse::Unhandled;
        ApiError e{res.status, "invalid_request_error", "", "", ""};
        if (res.status == 404) e.message = fmt::format("no route for {} {}", req.method, req.path), e.code = "not_found";
        else if (res.status == 413) e.message = fmt::format("request body exceeds the limit of {} bytes", opts.max_body), e.code = "request_too_large";
        else if (res.status == 405) e.message = fmt::format("method {} is not allowed on {}", req.method, req.path);
        else e.message = fmt::format("HTTP {}", res.status);
        if (res.status >= 500) e.type = "server_error";
        send_error(dialect_for_path(req.path), res, e);
        return httplib::Server::HandlerResponse::Handled;
    }));
    http.set_exception_handler([this](const httplib::Request& req, httplib::Response& res, std::exception_ptr ep) {
        std::string what = "internal error";
        try {
            if (ep) std::rethrow_exception(ep);
        } catch (const std::exception& e) {
            what = std::string("internal error: ") + e.what();
        } catch (...) {
        }
        send_error(dialect_for_path(req.path), res, ApiError{500, "server_error", what, "", ""});
    });
    http.set_logger([this](const httplib::Request& req, const httplib::Response& res) { write_access_log(req, res); });

    http.Get("/health", [this](const httplib::Request&, httplib::Response& res) {
        if (registry()) return send_json(res, 200, Json{{"status", "ok"}});
        send_json(res, 503, Json{{"status", "loading"}});
    });
    http.Get("/metrics", [this](const httplib::Request&, httplib::Response& res) {
        auto reg = registry();
        std::string text = metrics.render(reg ? reg->stats() : EngineStats{}, in_flight.load());
        if (reg) reg->render_metrics(text);
        res.set_content(text, "text/plain; version=0.0.4; charset=utf-8");
    });
    // One shape both SDKs parse: OpenAI's (object, created, owned_by) and Anthropic's (type, display_name,
    // created_at as RFC 3339; the list adds has_more, first_id, last_id); ours adds the model's state
    // ("loaded", "loading", "unloaded") and `loaded`, which the SDKs ignore.
    auto model_entry = [](const std::string& id, const ModelStatus& m) {
        char when[32];
        const std::time_t t = (std::time_t)m.spec.created;
        std::tm tm{};
        gmtime_r(&t, &tm);
        std::strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
        return Json{{"id", id}, {"object", "model"}, {"created", m.spec.created}, {"owned_by", "llm"},
                    {"type", "model"}, {"display_name", id}, {"created_at", when},
                    {"state", m.state}, {"loaded", m.state == "loaded"}};
    };
    auto no_registry = [this](httplib::Response& res) {
        send_error(openai_chat_dialect(), res, ApiError{503, "server_error", "the model is loading; retry shortly", "", "model_loading"});
    };
    http.Get("/v1/models", [this, model_entry, no_registry](const httplib::Request&, httplib::Response& res) {
        auto reg = registry();
        if (!reg) return no_registry(res);
        Json data = Json::array();
        for (const ModelStatus& m : reg->list()) {  // every model under its id, then its aliases
            data.push_back(model_entry(m.spec.id, m));
            for (const std::string& a : m.spec.aliases) data.push_back(model_entry(a, m));
        }
        send_json(res, 200, Json{{"object", "list"}, {"data", data}, {"has_more", false},
                                 {"first_id", data.front()["id"]}, {"last_id", data.back()["id"]}});
    });
    http.Get(R"(/v1/models/(.+))", [this, model_entry, no_registry](const httplib::Request& req, httplib::Response& res) {
        auto reg = registry();
        if (!reg) return no_registry(res);
        const std::string id = req.matches[1];
        std::optional<ApiError> err;
        const int index = pick_model(*reg, id, err);
        if (err) return send_error(openai_chat_dialect(), res, *err);
        send_json(res, 200, model_entry(id, reg->list()[(size_t)index]));
    });
    http.Post("/v1/chat/completions", [this](const httplib::Request& req, httplib::Response& res) {
        handle_generation(openai_chat_dialect(), req, res);
    });
    http.Post("/v1/completions", [this](const httplib::Request& req, httplib::Response& res) {
        handle_generation(openai_completion_dialect(), req, res);
    });
    // Anthropic Messages API (query strings such as ?beta=true are not part of req.path).
    http.Post("/v1/messages", [this](const httplib::Request& req, httplib::Response& res) {
        handle_generation(anthropic_messages_dialect(), req, res);
    });
    http.Post("/v1/messages/count_tokens", [this](const httplib::Request& req, httplib::Response& res) {
        handle_count_tokens(req, res);
    });
    http.Post("/v1/embeddings", [this](const httplib::Request& req, httplib::Response& res) { handle_embeddings(req, res); });
}

HttpServer::HttpServer(ServerOptions opts) : impl_(std::make_unique<Impl>(std::move(opts))) { impl_->setup_routes(); }
HttpServer::~HttpServer() {
    stop();
    // Admitted requests call back into impl_ (metrics, in_flight) from the engine's thread until their on_done,
    // which comes exactly once, cancelled or not (connection threads cancel the requests of clients that left):
    // wait for them before impl_ goes. Bounded, so a shutdown with a stuck backend still ends.
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (impl_->in_flight.load() > 0 && std::chrono::steady_clock::now() < deadline)
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
}

void HttpServer::set_backend(std::shared_ptr<Backend> backend) {
    std::shared_ptr<ModelRegistry> reg;
    if (backend) {
        reg = std::make_shared<ModelRegistry>(RegistryLimits{}, nullptr);
        ModelSpec spec{backend->info().id, "", impl_->opts.aliases, backend->info().bytes, backend->info().created};
        reg->add_loaded(std::move(spec), std::move(backend));
    }
    set_registry(std::move(reg));
}

void HttpServer::set_registry(std::shared_ptr<ModelRegistry> registry) {
    std::shared_ptr<ModelRegistry> old;
    std::lock_guard lock(impl_->registry_mu);
    old.swap(impl_->registry_);
    impl_->registry_ = std::move(registry);
}

// cpp-httplib 0.11 (a compiled library in Debian, so its backlog macro cannot be changed) listens with a backlog
// of 5: a burst of new connections from 16-32 clients overflows the accept queue and those connects stall for a
// SYN retransmit (1 s, then 3 s). listen() again on the listening socket widens the backlog (Linux and the BSDs
// update it in place).
static void widen_backlog(int fd) {
    if (fd >= 0) ::listen(fd, SOMAXCONN);
}

Expected<int> HttpServer::bind() {
    const ServerOptions& o = impl_->opts;
    if (o.port == 0) {
        const int port = impl_->http.bind_to_any_port(o.host);
        if (port <= 0) return error("cannot listen on {} (any port): {}", o.host, std::strerror(errno));
        widen_backlog(impl_->listen_fd);
        impl_->bound_port = port;
        return port;
    }
    if (!impl_->http.bind_to_port(o.host, o.port))
        return error("cannot listen on {}:{}: {}", o.host, o.port,
                     errno == EADDRINUSE ? "the port is in use (another server?)" : std::strerror(errno));
    widen_backlog(impl_->listen_fd);
    impl_->bound_port = o.port;
    return o.port;
}

void HttpServer::serve() {
    {
        std::lock_guard lock(impl_->listen_mu);
        if (impl_->stopped) return;
    }
    impl_->http.listen_after_bind();
    std::lock_guard lock(impl_->listen_mu);
    impl_->listen_fd = -1;  // closed by httplib on its way out
}

// httplib's stop() does nothing until its accept loop has started (it tests is_running()): a stop() right after
// serve() was launched on another thread would leave that thread in accept() for good. Shutting the listening socket
// down makes that accept() fail, and the loop ends, whichever of the two comes first.
void HttpServer::stop() {
    std::lock_guard lock(impl_->listen_mu);
    impl_->stopped = true;
    if (impl_->http.is_running()) impl_->http.stop();
    else if (impl_->listen_fd >= 0) ::shutdown(impl_->listen_fd, SHUT_RDWR);
    // Connections that hold no request being answered would keep their workers, and serve()'s return, in a read
    // for up to the read timeout (60 s): an idle keep-alive one, one still sending its request.
    stop_reading_idle_connections(impl_->bound_port);
}

}  // namespace llm::server
