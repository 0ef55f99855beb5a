// llm-run: prompts, interactive chat and raw logits from the terminal.
// Thin: parses options, then uses the library's Model/Session, Sampler, generate() and ChatSession.
#include <signal.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "cli.hpp"
#include "llm/constrain.hpp"
#include "llm/llm.hpp"
#include "llm/quantize.hpp"

namespace {

std::atomic<bool> g_cancel{false};
std::atomic<int> g_interrupts{0};

void on_sigint(int) {
    g_cancel = true;
    if (++g_interrupts >= 3) _exit(130);  // a stuck process still dies on the third Ctrl-C
}

// A bar on stderr while a large model is read (only on a terminal).
void show_load_progress(size_t done, size_t total) {
    if (total < (64u << 20) || !isatty(STDERR_FILENO)) return;
    const int width = 40, filled = (int)(width * (double)done / total);
    std::fprintf(stderr, "\rllm-run: loading [%s%s] %3d%% of %.0f MiB", std::string(filled, '#').c_str(),
                 std::string(width - filled, ' ').c_str(), (int)(100.0 * done / total), total / 1048576.0);
    if (done == total) std::fprintf(stderr, "\n");
}

int fail(const std::string& message) { return llm::cli::fail("llm-run", message); }
int usage_error(const std::string& message) { return llm::cli::usage_error("llm-run", message); }

// The option behind a library message about a field ("sampler: top_p must be ..." -> "--top-p: ...").
std::string with_option(const std::string& message) {
    static const std::pair<const char*, const char*> kFields[] = {
        {"temperature", "--temp"}, {"top_k", "--top-k"}, {"top_p", "--top-p"}, {"min_p", "--min-p"},
        {"typical_p", "--typical"}, {"repeat_penalty", "--repeat-penalty"}, {"repeat_last_n", "--repeat-last-n"},
        {"frequency_penalty", "--frequency-penalty"}, {"presence_penalty", "--presence-penalty"},
        {"n_ctx", "--ctx"}, {"n_threads", "--threads"}, {"n_batch", "--batch"}, {"KV cache type", "--kv-type"},
        {"device", "--device"}};
    for (const auto& [field, option] : kFields)
        if (message.find(field) != std::string::npos) return std::string(option) + ": " + message;
    return message;
}

llm::Expected<std::vector<int32_t>> parse_token_list(const std::string& text) {
    std::vector<int32_t> ids;
    std::stringstream ss(text);
    std::string item;
    while (std::getline(ss, item, ',')) {
        item.erase(0, item.find_first_not_of(" \t"));
        item.erase(item.find_last_not_of(" \t") + 1);
        if (item.empty()) continue;
        char* stop = nullptr;
        const long v = std::strtol(item.c_str(), &stop, 10);
        if (*stop != '\0' || v < 0 || v > INT32_MAX) return llm::cli::error("--tokens: '{}' is not a token id", item);
        ids.push_back((int32_t)v);
    }
    if (ids.empty()) return llm::cli::error("--tokens: no token ids given");
    return ids;
}

struct Options {
    std::string model, prompt, prompt_file, system, tokens, dump_logits, kv_type = "f16", samplers, quantize;
    std::string schema, grammar_file;
    int json_max_string = llm::JsonSchemaOptions{}.max_string_length;
    bool print_grammar = false;
    std::string device = "cpu";
    bool list_devices = false;
    std::vector<std::string> stop;
    int max_tokens = -1, n_ctx = 0, n_threads = llm::physical_core_count(), n_batch = 512;
    bool prompt_given = false;  // -p "" is an empty prompt, not "read stdin"
    bool seed_given = false;
    bool chat = false, raw = false, json = false, one_by_one = false, no_display_prompt = true, flash_attn = false;
    std::string numerics = "invariant";
    llm::SamplerConfig sampling;
    int64_t seed = -1;
};

// --schema FILE|JSON or --grammar FILE as a grammar, checked before the model loads so a mistake costs nothing.
// `printable` gets the GBNF text (--print-grammar).
llm::Expected<llm::CompiledGrammar> load_constraint(const Options& o, std::string& printable) {
    auto read = [](const std::string& path) -> llm::Expected<std::string> {
        std::ifstream in(path, std::ios::binary);
        if (!in) return llm::cli::error("cannot open '{}'", path);
        std::stringstream ss;
        ss << in.rdbuf();
        return ss.str();
    };
    if (!o.schema.empty() && !o.grammar_file.empty()) return llm::cli::error("--schema and --grammar exclude each other");
    if (!o.grammar_file.empty()) {
        auto text = read(o.grammar_file);
        if (!text) return text.status().with_context("--grammar");
        printable = *text;
        auto g = llm::CompiledGrammar::from_gbnf(*text);
        if (!g) return g.status().with_context("--grammar " + o.grammar_file);
        return g;
    }
    // Inline JSON when it starts like a JSON value, else a file name.
    const size_t first = o.schema.find_first_not_of(" \t\r\n");
    const bool inline_json = first != std::string::npos && (o.schema[first] == '{' || o.schema.compare(first, 4, "true") == 0);
    std::string text = o.schema, where = "--schema";
    if (!inline_json) {
        auto file = read(o.schema);
        if (!file) return file.status().with_context("--schema");
        text = *file, where = "--schema " + o.schema;
    }
    auto gbnf = llm::json_schema_to_gbnf(text, llm::JsonSchemaOptions{.max_string_length = o.json_max_string});
    if (!gbnf) return gbnf.status().with_context(where);
    printable = *gbnf;
    auto g = llm::CompiledGrammar::from_gbnf(*gbnf);
    if (!g) return g.status().with_context(where + " (generated grammar)");
    return g;
}

void print_timings(const llm::GenerateResult& r, double load_ms) {
    auto tps = [](int n, double ms) { return ms > 0 ? 1000.0 * n / ms : 0.0; };
    if (load_ms >= 0) std::fprintf(stderr, "llm-run: load time %10.2f ms\n", load_ms);
    std::fprintf(stderr, "llm-run: prompt     %10.2f ms / %5d tokens (%8.2f tokens/s)\n", r.prompt_ms, r.n_prompt,
                 tps(r.n_prompt, r.prompt_ms));
    std::fprintf(stderr, "llm-run: generated  %10.2f ms / %5zu tokens (%8.2f tokens/s), stop: %s\n", r.generate_ms,
                 r.tokens.size(), tps((int)r.tokens.size(), r.generate_ms), llm::stop_reason_name(r.stop_reason));
}

nlohmann::json result_json(const llm::GenerateResult& r, double load_ms) {
    auto tps = [](double n, double ms) { return ms > 0 ? 1000.0 * n / ms : 0.0; };
    return {{"text", r.text},
            {"tokens", r.tokens},
            {"stop_reason", llm::stop_reason_name(r.stop_reason)},
            {"load_ms", load_ms},
            {"prompt_tokens", r.n_prompt},
            {"prompt_ms", r.prompt_ms},
            {"prompt_tokens_per_s", tps(r.n_prompt, r.prompt_ms)},
            {"generated_tokens", r.tokens.size()},
            {"generate_ms", r.generate_ms},
            {"generate_tokens_per_s", tps((double)r.tokens.size(), r.generate_ms)}};
}

// --tokens with -n N (and no --dump-logits): continue the ids with the sampler, printing the new ids; for
// models without a tokenizer (e.g. a safetensors folder with only config.json and weights).
int continue_tokens(llm::Session& session, std::vector<int32_t> ids, const Options& o) {
    const int n_vocab = session.model().info().n_vocab;
    auto sampler = llm::Sampler::create(o.sampling, n_vocab);
    if (!sampler) return fail(sampler.error_message());
    for (int32_t t : ids) sampler->accept(t);
    if ((int64_t)ids.size() + o.max_tokens > session.n_ctx())
        return fail(fmt::format("{} prompt ids + {} new tokens exceed the context of {} (use --ctx)", ids.size(),
                                o.max_tokens, session.n_ctx()));
    if (auto s = session.eval(ids, false); !s) return fail(s.message());
    std::vector<int32_t> out;
    for (int i = 0; i < o.max_tokens && !g_cancel; ++i) {
        const int32_t next = sampler->sample(session.logits());
        sampler->accept(next);
        out.push_back(next);
        std::printf(i ? ",%d" : "%d", next);
        std::fflush(stdout);
        if (i + 1 < o.max_tokens)
            if (auto s = session.eval({&next, 1}, false); !s) return fail(s.message());
    }
    std::printf("\n");
    return 0;
}

int run_tokens(llm::Session& session, const Options& o) {
    auto tokens = parse_token_list(o.tokens);
    if (!tokens) return fail(tokens.error_message());
    if (o.max_tokens > 0 && o.dump_logits.empty()) return continue_tokens(session, *tokens, o);
    const int n_vocab = session.model().info().n_vocab;
    std::vector<float> all;
    all.reserve(tokens->size() * n_vocab);
    const auto t0 = std::chrono::steady_clock::now();
    if (o.one_by_one) {
        for (int32_t t : *tokens) {
            if (auto s = session.eval({&t, 1}, false); !s) return fail(s.message());
            auto l = session.logits();
            all.insert(all.end(), l.begin(), l.end());
        }
    } else {
        if (auto s = session.eval(*tokens, true); !s) return fail(s.message());
        for (size_t i = 0; i < tokens->size(); ++i) {
            auto l = session.logits((int64_t)i);
            all.insert(all.end(), l.begin(), l.end());
        }
    }
    const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    if (!o.dump_logits.empty()) {
        std::ofstream out(o.dump_logits, std::ios::binary);
        out.write(reinterpret_cast<const char*>(all.data()), (std::streamsize)(all.size() * sizeof(float)));
        if (!out) return fail("cannot write " + o.dump_logits);
    }
    std::fprintf(stderr, "llm-run: %zu tokens in %.2f ms (%s)\n", tokens->size(), ms,
                 o.one_by_one ? "one by one" : "one batch");
    return 0;
}

bool stream_to_stdout(std::string_view text) {
    std::fwrite(text.data(), 1, text.size(), stdout);
    std::fflush(stdout);
    return true;
}

llm::Expected<std::string> read_prompt_text(const Options& o) {
    if (!o.prompt.empty() || o.prompt_given) return o.prompt;
    if (!o.prompt_file.empty()) {
        std::ifstream in(o.prompt_file, std::ios::binary);
        if (!in) return llm::cli::error("{}: cannot open prompt file", o.prompt_file);
        std::stringstream ss;
        ss << in.rdbuf();
        return ss.str();
    }
    if (!isatty(STDIN_FILENO)) {
        std::stringstream ss;
        ss << std::cin.rdbuf();
        return ss.str();
    }
    return llm::cli::error("no prompt: use -p TEXT, -f FILE, pipe text on stdin, or --chat");
}

llm::Expected<std::string> read_prompt(const Options& o) {
    auto text = read_prompt_text(o);
    if (text && text->empty()) return llm::cli::error("the prompt is empty");
    return text;
}

int run_prompt(llm::Session& session, const llm::Tokenizer& tok, llm::Sampler& sampler, const Options& o,
               double load_ms) {
    auto prompt = read_prompt(o);
    if (!prompt) return fail(prompt.error_message());
    llm::GenerateOptions g;
    g.max_tokens = o.max_tokens;
    g.stop = o.stop;
    auto on_text = o.json ? llm::TextCallback() : llm::TextCallback(stream_to_stdout);
    llm::Expected<llm::GenerateResult> r = llm::cli::error("unreachable");
    if (o.raw) {
        const auto ids = tok.encode(*prompt, true, false);
        if (ids.empty()) return fail("the prompt is empty");
        if ((int64_t)ids.size() >= session.n_ctx())
            return fail(fmt::format("the prompt has {} tokens, more than the context of {} (use --ctx)", ids.size(),
                                    session.n_ctx()));
        r = llm::generate(session, tok, sampler, ids, g, on_text, &g_cancel);
    } else {
        auto chat = llm::ChatSession::create(session, tok, tok.chat_template(), o.system);
        if (!chat) return fail(chat.error_message());
        r = chat->respond(*prompt, sampler, g, on_text, &g_cancel);
    }
    if (!r) return fail(r.error_message());
    if (o.json) {
        std::printf("%s\n", result_json(*r, load_ms).dump().c_str());
    } else {
        std::printf("\n");
        std::fflush(stdout);  // before the summary on (unbuffered) stderr, which may share a terminal or file
        print_timings(*r, load_ms);
    }
    return 0;
}

int run_chat(llm::Session& session, const llm::Tokenizer& tok, llm::Sampler& sampler, const Options& o) {
    if (tok.chat_template().empty())
        std::fprintf(stderr, "llm-run: the model has no chat template; using %s\n",
                     llm::fallback_chat_template(tok) == llm::kChatMlTemplate ? "ChatML" : "Gemma's");
    auto chat = llm::ChatSession::create(session, tok, tok.chat_template(), o.system);
    if (!chat) return fail(chat.error_message());
    const bool tty = isatty(STDIN_FILENO);
    if (tty) std::fprintf(stderr, "llm-run: chat mode. Enter a message; Ctrl-C stops an answer, Ctrl-D quits.\n");
    llm::GenerateOptions g;
    g.max_tokens = o.max_tokens;
    g.stop = o.stop;
    std::string line;
    while (true) {
        if (tty) std::fprintf(stdout, "\n> "), std::fflush(stdout);
        g_cancel = false, g_interrupts = 0;
        if (!std::getline(std::cin, line)) break;
        if (line.empty()) continue;
        auto r = chat->respond(line, sampler, g, stream_to_stdout, &g_cancel);
        if (!r) {
            std::fprintf(stderr, "llm-run: error: %s\n", r.error_message().c_str());
            continue;
        }
        std::printf("\n");
        std::fflush(stdout);
        print_timings(*r, -1);
        if (r->stop_reason == llm::StopReason::Cancelled) std::fprintf(stderr, "llm-run: (interrupted)\n");
    }
    return 0;
}

// Options of the model, the prompt and the output; add_sampling_options and add_run_options add the rest.
void add_options(CLI::App& app, Options& o) {
    app.get_formatter()->column_width(34);
    app.add_option("-m,--model", o.model,
                   "GGUF file or safetensors folder (default: $LLM_MODEL, else SmolLM2-135M-Instruct from "
                   "scripts/fetch-smollm2.sh's cache)");
    CLI::Option* prompt_opt = app.add_option("-p,--prompt", o.prompt, "prompt text");
    app.add_option("-f,--file", o.prompt_file, "read the prompt from a file (stdin is read when neither is given)")
        ->excludes(prompt_opt);
    app.add_option("--system", o.system, "system message for the chat template");
    app.add_flag("--chat", o.chat, "interactive multi-turn chat on stdin (reuses the KV cache across turns)");
    app.add_flag("--raw", o.raw, "feed the prompt as-is, without the chat template");
}

void add_sampling_options(CLI::App& app, Options& o) {
    app.add_option("-n,--max-tokens", o.max_tokens, "new tokens at most (-1: until end of answer or full context)")
        ->capture_default_str();
    app.add_option("--temp", o.sampling.temperature, "temperature (0 = greedy)")->capture_default_str();
    app.add_option("--top-k", o.sampling.top_k, "top-k (0 = off)")->capture_default_str();
    app.add_option("--top-p", o.sampling.top_p, "top-p / nucleus (1 = off)")->capture_default_str();
    app.add_option("--min-p", o.sampling.min_p, "min-p (0 = off)")->capture_default_str();
    app.add_option("--typical", o.sampling.typical_p, "locally typical sampling p (1 = off)")->capture_default_str();
    app.add_option("--repeat-penalty", o.sampling.repeat_penalty, "repetition penalty (1 = off)")
        ->capture_default_str();
    app.add_option("--repeat-last-n", o.sampling.repeat_last_n, "penalty window in tokens (-1 = all)")
        ->capture_default_str();
    app.add_option("--frequency-penalty", o.sampling.frequency_penalty, "frequency penalty (0 = off)")
        ->capture_default_str();
    app.add_option("--presence-penalty", o.sampling.presence_penalty, "presence penalty (0 = off)")
        ->capture_default_str();
    app.add_option("--samplers", o.samplers,
                   "sampler order, ';'-separated (default: penalties;top_k;typical_p;top_p;min_p;temperature)");
    app.add_option("-s,--seed", o.seed, "random seed (default 42; -1 = random)");
    app.add_option("--stop", o.stop, "stop string (repeatable); generation ends before it");
}

// Context, threads, weights, KV cache, numerics, device, constraints and output.
void add_run_options(CLI::App& app, Options& o) {
    app.add_option("-c,--ctx", o.n_ctx, "context length (default: the model's, capped at 4096)");
    app.add_option("-t,--threads", o.n_threads, "worker threads (default: physical cores)")->capture_default_str();
    app.add_option("-b,--batch", o.n_batch, "prompt tokens per forward pass")->capture_default_str();
    app.add_option("--quantize", o.quantize,
                   "quantize F32/F16/BF16 weights at load time: q4_0, q4_k (= Q4_K_M), q8_0, q5_k_m, ...");
    app.add_option("--kv-type", o.kv_type, "KV cache type: f16, bf16, f32 or q8_0")->capture_default_str();
    app.add_option("--numerics", o.numerics,
                   "CPU kernel arithmetic: invariant (a token's result does not depend on the batch; the serving "
                   "engine's), exact (llama.cpp's: the same greedy tokens as llama.cpp) or fast (our fastest kernels)")
        ->capture_default_str();
    app.add_flag("--flash-attn", o.flash_attn, "the same as --numerics fast (flash attention is part of it)");
    app.add_option("--device", o.device, "cpu, vulkan or vulkan:N (falls back to the CPU if unusable)")
        ->capture_default_str();
    app.add_flag("--list-devices", o.list_devices, "list the compute devices and exit");
    app.add_option("--schema", o.schema,
                   "constrain the answer to JSON valid under this JSON Schema (a file, or the schema text itself)");
    app.add_option("--grammar", o.grammar_file, "constrain the answer to a GBNF grammar (llama.cpp syntax) in FILE");
    app.add_option("--json-max-string", o.json_max_string, "--schema: most characters of a string the schema leaves "
                   "unbounded (no maxLength, pattern or format); 0 = unbounded")->capture_default_str();
    app.add_flag("--print-grammar", o.print_grammar, "print the GBNF grammar of --schema/--grammar and exit");
    app.add_flag("--json", o.json, "print one JSON object with the text and the timings instead of streaming");
    CLI::Option* tokens_opt = app.add_option("--tokens", o.tokens,
                   "evaluate these comma-separated token ids instead of a prompt; with -n N, continue them and print "
                   "the N new ids (models without a tokenizer)");
    app.add_option("--dump-logits", o.dump_logits,
                   "with --tokens: write the logits of every position, float32 LE [n_tokens x n_vocab]")
        ->needs(tokens_opt);
    app.add_flag("--one-by-one", o.one_by_one, "with --tokens: feed tokens one at a time through the KV cache")
        ->needs(tokens_opt);
}

// --schema / --grammar (or --print-grammar): an exit code when the program stops here (printed, or an error).
std::optional<int> check_constraint(const Options& o, std::optional<llm::CompiledGrammar>& grammar) {
    if (!o.schema.empty() || !o.grammar_file.empty()) {
        std::string printable;
        auto g = load_constraint(o, printable);
        if (!g) return fail(g.error_message());
        if (o.print_grammar) {
            std::printf("%s", printable.c_str());
            return 0;
        }
        if (!o.tokens.empty()) return fail("--schema/--grammar constrain text: use a prompt, not --tokens");
        grammar = std::move(*g);
    } else if (o.print_grammar) {
        return fail("--print-grammar needs --schema or --grammar");
    }
    return std::nullopt;
}

// Everything that can be checked without the model, in the order the tool always has: an exit code when the
// program stops here, else the session options (and o.model / o.sampling completed).
std::optional<int> check_options(Options& o, llm::SessionOptions& so, std::optional<llm::CompiledGrammar>& grammar) {
    if (o.n_threads <= 0) return usage_error(fmt::format("--threads must be positive, got {}", o.n_threads));
    const auto numerics = llm::parse_numerics(o.numerics);
    if (!numerics) return usage_error("--numerics: expected exact, fast or invariant, got '" + o.numerics + "'");
    if (o.flash_attn && *numerics != llm::Numerics::Exact && *numerics != llm::Numerics::Fast)
        return usage_error("--flash-attn means --numerics fast; it cannot be combined with --numerics " + o.numerics);
    if (o.max_tokens < -1) return usage_error(fmt::format("--max-tokens must be >= -1 (-1 = no limit), got {}", o.max_tokens));
    if (o.json_max_string < 0) return usage_error("--json-max-string must be 0 (unbounded) or more");
    if (o.seed < -1) return usage_error(fmt::format("--seed must be >= 0, or -1 for a random seed, got {}", o.seed));
    for (const std::string& s : o.stop)
        if (s.empty()) return usage_error("--stop: an empty stop string would end every answer at once");
    if (!o.quantize.empty() && !llm::file_type_from_name(o.quantize))
        return usage_error(fmt::format("--quantize: unknown type '{}' (e.g. q4_0, q4_k, q8_0)", o.quantize));
    if (auto code = check_constraint(o, grammar)) return code;
    if (o.model.empty()) {
        auto def = llm::find_default_model();
        if (!def) return fail("no model given and no default model found: pass -m MODEL or run scripts/fetch-smollm2.sh");
        o.model = *def;
    }
    auto kv = llm::dtype_from_name(o.kv_type);
    if (!kv) return usage_error("--kv-type: unknown type '" + o.kv_type + "' (f16, bf16, f32 or q8_0)");
    if (!o.samplers.empty()) {
        auto order = llm::parse_sampler_order(o.samplers);
        if (!order) return usage_error("--samplers: " + order.error_message());
        o.sampling.order = *order;
    }
    if (o.seed >= 0) o.sampling.seed = (uint64_t)o.seed;
    else if (o.seed_given) o.sampling.seed = llm::SamplerConfig::kRandomSeed;
    // Everything the library can check without the model, before it loads.
    if (llm::Status st = llm::validate(o.sampling); !st) return usage_error(with_option(st.message()));
    so.n_threads = o.n_threads, so.n_ctx = o.n_ctx, so.kv_type = *kv, so.n_batch = o.n_batch;
    so.numerics = o.flash_attn ? llm::Numerics::Fast : *numerics;
    so.device = o.device;
    if (llm::Status st = llm::validate(so); !st) return usage_error(with_option(st.message()));
    return std::nullopt;
}

// Loads the model, opens the session and runs the prompt, the chat or the token ids.
int run(const Options& o, llm::SessionOptions so, std::optional<llm::CompiledGrammar>& grammar) {
    const auto t0 = std::chrono::steady_clock::now();
    llm::LoadOptions lo;
    lo.n_threads = o.n_threads;
    lo.quantize = o.quantize;
    lo.progress = show_load_progress;
    // The interleaved float matrices serve the CPU kernels of fast / invariant (exact decodes from the rows).
    lo.repack = so.device == "cpu" && so.numerics != llm::Numerics::Exact;
    auto model = llm::Model::load(o.model, lo);
    if (!model) return fail(model.error_message());
    if (!o.tokens.empty() && o.n_ctx == 0) {
        auto ids = parse_token_list(o.tokens);
        if (ids && (int)ids->size() > std::min((*model)->info().n_ctx_train, 4096)) so.n_ctx = (int)ids->size();
    }
    auto session = llm::Session::create(*model, so);
    if (!session) return fail(session.error_message());
    const double load_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();

    if (!o.tokens.empty()) return run_tokens(**session, o);

    const llm::Tokenizer* tok = (*model)->tokenizer();
    if (!tok) return fail("the model has no usable tokenizer (" + (*model)->tokenizer_error() + "); use --tokens");
    auto sampler = llm::Sampler::create(o.sampling, (*model)->info().n_vocab);
    if (!sampler) return fail(sampler.error_message());
    if (grammar) {
        auto constraint = grammar->constraint(*tok);
        if (!constraint) return fail(constraint.error_message());
        sampler->set_constraint(*constraint);
    }
    return o.chat ? run_chat(**session, *tok, *sampler, o) : run_prompt(**session, *tok, *sampler, o, load_ms);
}

}  // namespace

int main(int argc, char** argv) {
    Options o;
    CLI::App app{
        "llm-run: run a Llama / Mistral / Phi-3 / Gemma 3 / Qwen 2.5 / Qwen 3 model from a GGUF file or a Hugging Face safetensors folder.\n"
        "Streams the answer to a prompt (through the model's chat template unless --raw), holds a chat\n"
        "(--chat), or evaluates token ids and dumps logits (--tokens)."};
    add_options(app, o);
    add_sampling_options(app, o);
    add_run_options(app, o);
    // --chat reads its turns from stdin and streams them: a one-shot prompt, raw mode, JSON or token ids with it
    // would be ignored, so they are refused.
    for (const char* other : {"--prompt", "--file", "--raw", "--json", "--tokens"}) app.get_option("--chat")->excludes(other);
    for (int i = 1; i < argc; ++i)  // llama.cpp's spelling (CLI11 wants two dashes for multi-letter names)
        if (!std::strcmp(argv[i], "-fa")) argv[i] = const_cast<char*>("--flash-attn");
    if (auto code = llm::cli::parse(app, "llm-run", argc, argv)) return *code;
    o.prompt_given = app.count("--prompt") > 0;
    o.seed_given = app.count("--seed") > 0;

    if (o.list_devices) {
        for (const std::string& line : llm::list_devices()) std::printf("%s\n", line.c_str());
        for (const std::string& line : llm::cpu_kernel_lines()) std::printf("%s\n", line.c_str());
        return 0;
    }
    llm::SessionOptions so;
    std::optional<llm::CompiledGrammar> grammar;
    if (auto code = check_options(o, so, grammar)) return *code;

    struct sigaction sa {};
    sa.sa_handler = on_sigint;
    sigaction(SIGINT, &sa, nullptr);
    return run(o, so, grammar);
}
