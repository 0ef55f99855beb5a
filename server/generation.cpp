// The generation routes (chat and completions, any dialect): request -> tokens -> admission -> engine, and the
// engine's events -> one response or an SSE stream. Engine callbacks run on the engine's thread and only queue
// events; the connection thread formats and writes them, and cancels the engine request when the client leaves.
#include <fmt/format.h>

#include <condition_variable>
#include <deque>
#include <optional>
#include <random>

#include "server/client_socket.hpp"
#include "server/openai_request.hpp"
#include "server/server_impl.hpp"
#include "server/tool_call_gate.hpp"

namespace llm::server {
namespace {

// Events of one engine request, handed from the engine's thread to the connection's.
struct Channel {
    std::mutex mu;
    std::condition_variable cv;
    std::vector<TokenEvent> events;
    std::optional<RequestResult> result;
    // Timing, touched on the engine's thread only.
    Clock::time_point arrival, last_token;
    bool got_token = false;
};

double ms_between(Clock::time_point a, Clock::time_point b) {
    return std::chrono::duration<double, std::milli>(b - a).count();
}

}  // namespace

std::optional<ApiError> render_prompt(const ApiRequest& api, const Backend& b, std::vector<int32_t>& tokens,
                                      std::string* echo) {
    const ModelInfo& info = b.info();
    if (api.kind == ApiKind::Chat && api.tool_prompt) {
        auto t = b.tool_chat_prompt(api.messages_json, api.tools);
        if (!t) return invalid_param("messages", "the chat template failed on these messages: " + t.error_message());
        tokens = std::move(*t);
    } else if (api.kind == ApiKind::Chat) {
        auto t = b.chat_prompt(api.messages);
        if (!t) return invalid_param("messages", "the chat template failed on these messages: " + t.error_message());
        tokens = std::move(*t);
    } else if (api.prompt_is_tokens) {
        for (int32_t id : api.prompt_tokens)
            if (id >= info.n_vocab)
                return invalid_param("prompt", fmt::format("token id {} is out of range (vocabulary of {})", id, info.n_vocab));
        tokens = api.prompt_tokens;
        if (api.echo && echo)
            for (int32_t id : tokens) *echo += b.token_piece(id);
    } else {
        tokens = b.tokenize(api.prompt, true);
        if (api.echo && echo) *echo = api.prompt;
    }
    if (tokens.empty()) return invalid_param(api.kind == ApiKind::Chat ? "messages" : "prompt", "the prompt is empty");
    return std::nullopt;
}

namespace {

// ApiRequest -> engine Request: template or tokenize, then every limit that needs the model, all decided before
// anything reaches the engine (an over-long prompt costs no prefill).
std::optional<ApiError> prepare(const ApiDialect& d, const ApiRequest& api, const Backend& b, Request& out,
                                std::string& echo) {
    const ModelInfo& info = b.info();
    std::vector<int32_t> tokens;
    if (auto e = render_prompt(api, b, tokens, &echo)) return e;
    const int n_prompt = (int)tokens.size();
    int max_tokens = api.max_tokens;
    if (api.clamp_max_tokens && max_tokens > 0 && n_prompt < info.n_ctx) max_tokens = std::min(max_tokens, info.n_ctx - n_prompt);
    if (n_prompt >= info.n_ctx || (max_tokens > 0 && (int64_t)n_prompt + max_tokens > info.n_ctx))
        return d.context_error(n_prompt, max_tokens, info.n_ctx);
    if (Status s = validate(api.sampling, info.n_vocab); !s) {
        const std::string& m = s.message();
        return invalid_param(m.find("logit_bias") != std::string::npos ? "logit_bias" : "", m);
    }
    if (!api.tools.empty() && api.tool_choice.mode != ToolChoiceMode::None) {
        auto c = b.tool_constraint(api.tools, api.tool_choice);
        if (!c) return invalid_param("tools", c.error_message());
        out.constraint = std::move(*c);
    }
    if (!api.json_schema.empty()) {
        auto c = b.json_schema_constraint(api.json_schema);
        if (!c) return invalid_param("response_format", "response_format: " + c.error_message());
        out.constraint = std::move(*c);
    }
    out.prompt = std::move(tokens);
    out.sampling = api.sampling;
    out.max_tokens = max_tokens;
    out.stop = api.stop;
    out.top_logprobs = api.top_logprobs;
    out.stop_at_end_of_generation = !api.ignore_eos;
    return std::nullopt;
}

TokenInfo token_info(const Backend& b, const TokenEvent& e) {
    TokenInfo t{e.token, b.token_piece(e.token), e.logprob, {}};
    for (const TokenLogprob& tl : e.top_logprobs) t.top.emplace_back(b.token_piece(tl.token), tl.logprob);
    return t;
}

// Which stop string ended the text: the generated tokens run past the cut, so their text continues with it.
std::string matched_stop(const ApiRequest& api, const Backend& b, const RequestResult& r) {
    if (r.stop_reason != StopReason::StopString || api.stop.empty()) return "";
    if (api.stop.size() == 1) return api.stop[0];
    std::string full;
    for (int32_t t : r.tokens) full += b.token_piece(t);
    size_t best = std::string::npos;
    std::string found;
    for (const std::string& s : api.stop)
        if (size_t p = full.find(s, std::min(r.text.size(), full.size())); p < best) best = p, found = s;
    return found;
}

ApiResult api_result(const RequestResult& r, std::vector<TokenInfo> infos, const ApiRequest& api, const Backend& b) {
    ApiResult a;
    a.stop_sequence = matched_stop(api, b, r);
    a.text = r.text;
    a.stop_reason = r.stop_reason;
    a.prompt_tokens = r.n_prompt;
    a.cached_tokens = r.n_cached;
    a.completion_tokens = (int)r.tokens.size();
    a.logprobs = std::move(infos);
    return a;
}

void log_result(RequestLog& log, const RequestResult& r) {
    log.prompt_tokens = r.n_prompt;
    log.cached_tokens = r.n_cached;
    log.completion_tokens = (int)r.tokens.size();
    log.queue_ms = r.queue_ms;
    log.ttft_ms = r.ttft_ms;
    log.finish = stop_reason_name(r.stop_reason);
    if (!r.status) log.error = r.status.message();
}

// Requests with tools: the model's text goes through the tool-call parser, which splits it into content and
// calls. Its input shows the format's special tokens as text, so formats with special call markers read token
// pieces; the generic format (plain JSON) reads the streamed text, which has stop strings already cut.
struct ToolText {
    ToolFormat format = ToolFormat::Generic;
    std::optional<ToolCallParser> parser;
    ToolParserOptions options;

    static ToolText make(const ApiRequest& api, const Backend& b) {
        ToolText t;
        if (api.tools.empty() || api.tool_choice.mode == ToolChoiceMode::None) return t;
        t.format = b.tool_format();
        for (const ToolSpec& s : api.tools) t.options.tool_names.push_back(s.name);
        t.options.id_seed = std::random_device{}();
        t.parser.emplace(t.format, t.options);
        return t;
    }
    std::string text_of(const Backend& b, const std::vector<TokenEvent>& events) const {
        std::string text;
        for (const TokenEvent& e : events) {
            if (format == ToolFormat::Generic) text += e.text;
            else if (e.token >= 0) text += b.token_piece(e.token);
        }
        return text;
    }
};

// State of one SSE response, shared by the content provider and its releaser.
struct StreamState {
    std::shared_ptr<Channel> ch;
    std::shared_ptr<Backend> backend;
    // Kept by the connection thread: the registry outlives the lease, and the model stays loaded until the
    // stream ended (on_done's closure holds the lease too).
    std::shared_ptr<ModelRegistry> registry;
    std::shared_ptr<ModelLease> lease;
    RequestId id = 0;
    StreamContext ctx;
    ApiRequest api;
    ToolText tools;
    ToolCallGate calls;  // streamed calls wait until they parsed
    bool started = false, finished = false;
    Clock::time_point last_write;  // of the last bytes sent (pings are due `keepalive` after it)
};

}  // namespace

void HttpServer::Impl::handle_generation(const ApiDialect& d, const httplib::Request& req, httplib::Response& res) {
    const Clock::time_point arrival = current_log().start;
    auto reg = registry();
    if (!reg) return send_error(d, res, ApiError{503, "server_error", "the model is loading; retry shortly", "", "model_loading"});
    Json body;
    if (auto e = parse_json_body(req.body, opts.json, body)) return send_error(d, res, *e);
    auto st = std::make_shared<StreamState>();
    ApiRequest& api = st->api;
    if (auto e = d.parse_request(body, api))
        return send_error(d, res, *e);
    std::optional<ApiError> err;
    const int model_index = pick_model(*reg, api.model, err);
    if (err) return send_error(d, res, *err);
    current_log().model = api.model;
    current_log().stream = api.stream;

    // Admission: at most `parallel` running plus `max_queue` waiting (for the engine or for their model's load);
    // the rest are told to come back.
    if (in_flight.fetch_add(1) >= admission_limit()) {
        in_flight.fetch_sub(1);
        metrics.count_rejected();
        res.set_header("retry-after", "1");
        return send_error(d, res, ApiError{d.queue_full_status(), d.queue_full_status() == 429 ? "rate_limit_error" : "overloaded_error",
                                           fmt::format("the server is busy ({} requests admitted); retry shortly", admission_limit()),
                                           "", "queue_full"});
    }
    // From here until submit succeeds, every return gives the admission back.
    auto refuse = [&](const ApiError& e) {
        in_flight.fetch_sub(1);
        send_error(d, res, e);
    };
    AcquiredModel model;
    if (auto e = load_model(*reg, model_index, model)) return refuse(*e);
    const std::shared_ptr<Backend> b = model.backend;
    Request engine_req;
    if (auto e = prepare(d, api, *b, engine_req, st->ctx.echo)) return refuse(*e);
    st->ctx.prompt_tokens = (int)engine_req.prompt.size();
    if (std::string sid = req.get_header_value("X-Claude-Code-Session-Id"); !sid.empty()) api.session = sid;
    if (!api.session.empty()) {
        const PromptHistory::Recorded r = sessions.record(api.session, engine_req.prompt);
        current_log().diverged_at = r.diverged_at;
        engine_req.keep_prefix = r.main_thread;  // side requests of the session cannot evict its conversation
    }

    auto ch = std::make_shared<Channel>();
    ch->arrival = arrival;
    const bool want_logprobs = api.top_logprobs >= 0;
    RequestCallbacks cb;
    cb.on_token = [ch, this](const TokenEvent& e) {
        const Clock::time_point now = Clock::now();
        if (!ch->got_token) metrics.observe_ttft(ms_between(ch->arrival, now) / 1000.0);
        else metrics.observe_itl(ms_between(ch->last_token, now) / 1000.0);
        ch->got_token = true, ch->last_token = now;
        std::lock_guard lock(ch->mu);
        ch->events.push_back(e);
        ch->cv.notify_all();
    };
    // The lease goes with on_done's closure: the model stays loaded until its engine request ended.
    cb.on_done = [ch, this, lease = model.lease](const RequestResult& r) {
        metrics.count_tokens(r.n_prompt, r.n_cached, (int64_t)r.tokens.size());
        metrics.observe_e2e(ms_between(ch->arrival, Clock::now()) / 1000.0);
        {
            std::lock_guard lock(ch->mu);
            ch->result = r;
            ch->cv.notify_all();
        }
        in_flight.fetch_sub(1);
    };
    auto id = b->submit(std::move(engine_req), std::move(cb));
    if (!id) return refuse(ApiError{400, "invalid_request_error", id.error_message(), "", ""});
    st->ctx.meta = ResponseMeta{new_response_id(d.id_prefix()), (int64_t)std::time(nullptr),
                                api.model.empty() ? b->info().id : api.model};
    st->ctx.request = &st->api;
    st->ch = ch;
    st->backend = b;
    st->registry = reg;
    st->lease = model.lease;
    st->id = *id;
    st->tools = ToolText::make(api, *b);

    if (!api.stream) {
        std::vector<TokenEvent> events;
        RequestResult r;
        // Nothing is written until the answer is complete, so the client's socket is polled for a hang-up: a
        // client that left has its request cancelled like a streamed one (its computed prefix stays cached).
        const ClientSocket client(req);
        bool gone = false;
        {
            std::unique_lock lock(ch->mu);
            while (!ch->cv.wait_for(lock, std::chrono::milliseconds(100), [&] { return ch->result.has_value(); })) {
                if (gone || !client.gone()) continue;  // on_done comes exactly once, cancelled or not
                gone = true;
                b->cancel(*id);
                metrics.count_disconnect();
            }
            events.swap(ch->events);
            r = *ch->result;
        }
        log_result(current_log(), r);
        if (gone) {
            current_log().disconnected = true;
            return send_error(d, res, ApiError{499, "invalid_request_error", "the client closed the connection", "", "client_closed"});
        }
        if (!r.status)
            return send_error(d, res, ApiError{500, "server_error", "generation failed: " + r.status.message(), "", ""});
        std::vector<TokenInfo> infos;
        if (want_logprobs)
            for (const TokenEvent& e : events)
                if (e.token >= 0) infos.push_back(token_info(*b, e));  // token -1: held-back text only
        ApiResult result = api_result(r, std::move(infos), api, *b);
        if (ToolText tt = ToolText::make(api, *b); tt.parser) {
            ToolParseResult parsed = parse_tool_calls(tt.format, tt.text_of(*b, events), tt.options);
            result.text = parsed.content;
            result.tool_calls = std::move(parsed.calls);
            if (!parsed.warning.empty()) current_log().error = "tool calls: " + parsed.warning;
        }
        return send_json(res, 200, d.response_body(st->ctx, result));
    }

    res.set_header("Cache-Control", "no-cache");
    res.set_header("X-Accel-Buffering", "no");
    const auto keepalive = std::chrono::milliseconds((int64_t)(opts.keepalive_s * 1000));
    const ApiDialect* dp = &d;
    res.set_chunked_content_provider(
        "text/event-stream",
        [st, dp, keepalive, want_logprobs, this](size_t, httplib::DataSink& sink) {
            auto abandon = [&] {
                // The client is gone: free its sequence now (its full blocks stay in the prefix cache).
                st->backend->cancel(st->id);
                st->finished = true;
                metrics.count_disconnect();
                current_log().disconnected = true;
                return false;
            };
            auto write = [&](const std::string& s) { return s.empty() || sink.write(s.data(), s.size()); };
            if (!st->started) {  // headers and the first bytes leave at admission
                st->started = true;
                st->last_write = Clock::now();
                return write(dp->stream_start(st->ctx)) || abandon();
            }
            std::vector<TokenEvent> events;
            std::optional<RequestResult> r;
            {
                std::unique_lock lock(st->ch->mu);
                st->ch->cv.wait_for(lock, keepalive, [&] { return !st->ch->events.empty() || st->ch->result; });
                events.swap(st->ch->events);
                r = st->ch->result;
            }
            if (events.empty() && !r) {
                st->last_write = Clock::now();
                return write(dp->keepalive()) || abandon();
            }
            std::string text;
            std::vector<TokenInfo> infos;
            for (const TokenEvent& e : events) {
                text += e.text;
                if (want_logprobs && e.token >= 0) infos.push_back(token_info(*st->backend, e));
            }
            std::string out;
            ApiResult final_result;
            if (st->tools.parser) {
                ToolDelta delta = st->tools.parser->push(st->tools.text_of(*st->backend, events));
                out = dp->stream_delta(st->ctx, delta.content, infos, st->calls.pass(delta.calls, delta.calls_parsed));
                if (r) {
                    ToolParseResult fin = st->tools.parser->finish();
                    out += dp->stream_delta(st->ctx, fin.unstreamed_content, {}, st->calls.finish(fin.calls));
                    final_result.tool_calls = std::move(fin.calls);
                }
            } else {
                out = dp->stream_delta(st->ctx, text, infos);
            }
            if (r) {
                log_result(current_log(), *r);
                std::vector<ToolCall> calls = std::move(final_result.tool_calls);
                final_result = api_result(*r, {}, st->api, *st->backend);
                final_result.tool_calls = std::move(calls);
                if (r->status) out += dp->stream_end(st->ctx, final_result);
                else out += dp->stream_error(st->ctx, ApiError{500, "server_error", "generation failed: " + r->status.message(), "", ""});
            }
            // Tokens that sent nothing yet (a call held back until it parsed) still keep the connection warm.
            const Clock::time_point now = Clock::now();
            if (out.empty() && !r && now - st->last_write >= keepalive) out = dp->keepalive();
            if (!out.empty()) st->last_write = now;
            if (!write(out)) return abandon();
            if (r) {
                st->finished = true;
                sink.done();
            }
            return true;
        },
        [st, this](bool) {
            // The connection ended before the stream did (closed before the first write, or a write failed).
            if (!st->finished) {
                st->backend->cancel(st->id);
                metrics.count_disconnect();
            }
        });
}

}  // namespace llm::server
