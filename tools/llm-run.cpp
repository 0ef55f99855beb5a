// llm-run: run a model from the terminal. This stage: feed token ids and dump logits.
#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "core/system_info.hpp"
#include "llm/llm.hpp"

namespace {

int fail(const std::string& message) {
    std::fprintf(stderr, "llm-run: error: %s\n", message.c_str());
    return 1;
}

llm::Expected<std::vector<int32_t>> parse_token_list(const std::string& text) {
    std::vector<int32_t> ids;
    size_t i = 0;
    while (i < text.size()) {
        size_t end = text.find_first_of(", ", i);
        if (end == std::string::npos) end = text.size();
        if (end > i) {
            const std::string item = text.substr(i, end - i);
            char* stop = nullptr;
            const long v = std::strtol(item.c_str(), &stop, 10);
            if (*stop != '\0' || v < 0 || v > INT32_MAX) return llm::error("--tokens: '{}' is not a token id", item);
            ids.push_back((int32_t)v);
        }
        i = end + 1;
    }
    if (ids.empty()) return llm::error("--tokens: no token ids given");
    return ids;
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"llm-run: run a Llama / Mistral / Phi-3 model (GGUF file or Hugging Face safetensors folder)."};
    std::string model_path, tokens_text, dump_path;
    bool one_by_one = false;
    int n_threads = llm::physical_core_count(), n_ctx = 0;
    std::string kv_type = "f16";
    app.add_option("-m,--model", model_path, "GGUF file or safetensors folder")->required();
    app.add_option("--tokens", tokens_text, "comma-separated token ids to evaluate, e.g. 1,2,3")->required();
    app.add_option("--dump-logits", dump_path,
                   "write logits of every position as float32 little-endian [n_tokens x n_vocab]");
    app.add_flag("--one-by-one", one_by_one, "feed tokens one at a time through the KV cache instead of one batch");
    app.add_option("-t,--threads", n_threads, "worker threads (default: physical cores)")->capture_default_str();
    app.add_option("-c,--ctx", n_ctx, "context length (default: the model's, capped at 4096)");
    app.add_option("--kv-type", kv_type, "KV cache type: f16, bf16, f32 or q8_0")->capture_default_str();
    CLI11_PARSE(app, argc, argv);

    auto tokens = parse_token_list(tokens_text);
    if (!tokens) return fail(tokens.error_message());
    auto kv = llm::dtype_from_name(kv_type);
    if (!kv) return fail("--kv-type: unknown type '" + kv_type + "'");
    if (n_threads <= 0) return fail("--threads must be positive");

    const auto t0 = std::chrono::steady_clock::now();
    auto model = llm::Model::load(model_path);
    if (!model) return fail(model.error_message());
    llm::SessionOptions opts;
    opts.n_threads = n_threads;
    opts.n_ctx = n_ctx > 0 ? n_ctx : 0;
    opts.kv_type = *kv;
    if (opts.n_ctx == 0 && (int)tokens->size() > std::min((*model)->config().n_ctx_train, 4096))
        opts.n_ctx = (int)tokens->size();
    auto session = llm::Session::create(*model, opts);
    if (!session) return fail(session.error_message());
    const auto t1 = std::chrono::steady_clock::now();

    const int n_vocab = (*model)->config().n_vocab;
    std::vector<float> all;
    all.reserve(tokens->size() * n_vocab);
    if (one_by_one) {
        for (int32_t t : *tokens) {
            if (auto s = (*session)->eval({&t, 1}, false); !s) return fail(s.message());
            auto l = (*session)->logits();
            all.insert(all.end(), l.begin(), l.end());
        }
    } else {
        if (auto s = (*session)->eval(*tokens, true); !s) return fail(s.message());
        for (size_t i = 0; i < tokens->size(); ++i) {
            auto l = (*session)->logits((int64_t)i);
            all.insert(all.end(), l.begin(), l.end());
        }
    }
    const auto t2 = std::chrono::steady_clock::now();
    if (!dump_path.empty()) {
        std::ofstream out(dump_path, std::ios::binary);
        out.write(reinterpret_cast<const char*>(all.data()), (std::streamsize)(all.size() * sizeof(float)));
        if (!out) return fail("cannot write " + dump_path);
    }
    auto ms = [](auto a, auto b) { return std::chrono::duration<double, std::milli>(b - a).count(); };
    std::fprintf(stderr, "llm-run: load %.1f ms, %zu tokens in %.1f ms (%s), %d threads\n", ms(t0, t1),
                 tokens->size(), ms(t1, t2), one_by_one ? "one by one" : "one batch", n_threads);
    return 0;
}
