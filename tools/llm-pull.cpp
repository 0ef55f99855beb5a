// llm-pull: downloads models by name into the Hugging Face cache without running them.
// usage: llm-pull [-q] [--offline] [--cache-dir DIR] REF...   (REF: hf:owner/repo[:QUANT | /path/file.gguf][@revision])
// Prints each model's local path on stdout; progress and notes go to stderr. Ctrl-C keeps a resumable partial file.
#include <CLI/CLI.hpp>
#include <signal.h>

#include <cstdio>
#include <filesystem>

#include "cli.hpp"
#include "llm/hub.hpp"

namespace {

constexpr const char* kHelp = R"help(Download models from the Hugging Face hub into its cache, without running them.

References:
  hf:owner/repo                 a safetensors folder: config, tokenizer files and every weight shard
                                (on a repository with only GGUF files: its Q4_K_M file, else Q8_0, else the first)
  hf:owner/repo:QUANT           the GGUF file of that quantization, matched case-insensitively as llama.cpp's
                                -hf does (Q4_K_M, q8_0, IQ4_XS, ...); every part of a split GGUF
  hf:owner/repo/path/file.gguf  one GGUF file by its path in the repository
  ...@REVISION                  a branch, tag or commit (default: main), e.g. hf:owner/repo:Q4_K_M@v1.0

Files land in the cache huggingface_hub uses (HF_HUB_CACHE, else $HF_HOME/hub, else ~/.cache/huggingface/hub),
so transformers, huggingface-cli and this engine share downloads. Each file is verified (sha256 for LFS files)
before it appears in the cache; an interrupted download (Ctrl-C, lost connection, full disk) is resumed by
running the same command again. The local path of each model is printed on stdout:
  llm-run -m "$(llm-pull hf:bartowski/SmolLM2-135M-Instruct-GGUF:Q4_K_M)"
(llm-run -m hf:... pulls by itself too.)

Environment: HF_ENDPOINT (a mirror), HF_TOKEN or the token file $HF_HOME/token (private and gated models),
HF_HUB_OFFLINE=1 (use the cache only), HF_HUB_CACHE / HF_HOME (where the cache is).
Exit status: 0 all pulled, 1 an error, 130 interrupted.)help";

void on_sigint(int) { llm::hub::request_cancel(); }

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{kHelp, "llm-pull"};
    std::vector<std::string> refs;
    bool quiet = false, offline = false;
    std::string cache_dir;
    app.add_option("REF", refs, "model references (hf:owner/repo[:QUANT | /path/file.gguf][@revision])")->required();
    app.add_flag("-q,--quiet", quiet, "no progress output (errors still go to stderr)");
    app.add_flag("--offline", offline, "use the cache only, as HF_HUB_OFFLINE=1");
    app.add_option("--cache-dir", cache_dir, "the hub cache folder (default: as huggingface_hub finds it)");
    if (auto code = llm::cli::parse(app, "llm-pull", argc, argv)) return *code;
    std::error_code ec;
    if (!cache_dir.empty() && std::filesystem::exists(cache_dir, ec) && !std::filesystem::is_directory(cache_dir, ec))
        return llm::cli::usage_error("llm-pull", "--cache-dir '" + cache_dir + "' is not a folder");

    // First Ctrl-C: stop cleanly (the partial file stays resumable); a second one kills as usual.
    struct sigaction sa {};
    sa.sa_handler = on_sigint;
    sa.sa_flags = SA_RESETHAND;
    sigaction(SIGINT, &sa, nullptr);
    sigaction(SIGTERM, &sa, nullptr);

    llm::hub::HubEnv env = llm::hub::HubEnv::from_environment();
    if (!cache_dir.empty()) env.cache_dir = cache_dir;
    if (offline) env.offline = true;
    llm::hub::PullOptions opts = llm::hub::PullOptions::console();
    if (quiet) opts.progress = nullptr;

    int status = 0;
    for (const std::string& s : refs) {
        auto ref = llm::hub::parse_model_ref(s);
        if (!ref) {
            status = llm::cli::fail("llm-pull", ref.error_message());
            continue;
        }
        auto r = llm::hub::pull(*ref, env, opts);
        if (!r) {
            llm::cli::fail("llm-pull", r.error_message());
            if (llm::hub::cancel_requested()) return 130;
            status = 1;
            continue;
        }
        uint64_t bytes = 0, size = 0;
        for (const auto& f : r->files) bytes += f.downloaded, size += f.size;
        if (!quiet)
            std::fprintf(stderr, "llm-pull: %s: %zu file%s, %s (%s downloaded) at commit %s\n", ref->to_string().c_str(),
                         r->files.size(), r->files.size() == 1 ? "" : "s", llm::hub::format_bytes(size).c_str(),
                         llm::hub::format_bytes(bytes).c_str(), r->commit.c_str());
        std::printf("%s\n", r->path.c_str());
        std::fflush(stdout);
    }
    return status;
}
