// llm-models: lists the models in the Hugging Face cache, or removes one (`llm-models rm REF`).
// usage: llm-models [--json] [--cache-dir DIR] | llm-models rm REF...
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <ctime>
#include <cstdio>
#include <filesystem>

#include "cli.hpp"
#include "llm/hub.hpp"

namespace {

constexpr const char* kHelp = R"(List the models in the Hugging Face cache (shared with huggingface_hub, transformers and llm-pull),
or remove one.

  llm-models                 one line per model: the reference to run it with (llm-run -m REF), architecture,
                             parameter count, weight type, context length, size on disk and when it was last used
  llm-models rm REF...       remove a model: its snapshot entries, the blobs nothing else uses, and the
                             repository folder once it is empty (REF as listed, e.g. hf:owner/repo:Q4_K_M)

The cache is HF_HUB_CACHE, else $HF_HOME/hub, else ~/.cache/huggingface/hub (or --cache-dir).)";

std::string params(uint64_t n) {
    if (n == 0) return "?";
    if (n >= 1'000'000'000) return fmt::format("{:.1f}B", n / 1e9);
    if (n >= 1'000'000) return fmt::format("{:.1f}M", n / 1e6);
    return fmt::format("{:.1f}K", n / 1e3);
}

std::string when(int64_t t) {
    if (t <= 0) return "?";
    char buf[32];
    std::tm tm {};
    const std::time_t tt = (std::time_t)t;
    localtime_r(&tt, &tm);
    std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M", &tm);
    return buf;
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{kHelp, "llm-models"};
    std::string cache_dir;
    bool json = false;
    std::vector<std::string> rm_refs;
    app.add_option("--cache-dir", cache_dir, "the hub cache folder (default: as huggingface_hub finds it)");
    app.add_flag("--json", json, "print the list as JSON");
    CLI::App* rm = app.add_subcommand("rm", "remove cached models");
    rm->add_option("REF", rm_refs, "model references as listed")->required();
    if (auto code = llm::cli::parse(app, "llm-models", argc, argv)) return *code;
    std::error_code ec;
    if (!cache_dir.empty() && std::filesystem::exists(cache_dir, ec) && !std::filesystem::is_directory(cache_dir, ec))
        return llm::cli::usage_error("llm-models", "--cache-dir '" + cache_dir + "' is not a folder");

    llm::hub::HubEnv env = llm::hub::HubEnv::from_environment();
    const llm::hub::HubCache cache(cache_dir.empty() ? env.cache_dir : cache_dir);

    if (rm->parsed()) {
        int status = 0;
        for (const std::string& s : rm_refs) {
            auto ref = llm::hub::parse_model_ref(s);
            auto removed = ref ? llm::hub::remove_cached_model(cache, *ref) : llm::Expected<std::vector<std::string>>(ref.status());
            if (!removed) {
                status = llm::cli::fail("llm-models", removed.error_message());
                continue;
            }
            std::printf("removed %s (%zu paths)\n", ref->to_string().c_str(), removed->size());
        }
        return status;
    }

    const auto models = llm::hub::list_cached_models(cache);
    if (json) {
        nlohmann::json out = nlohmann::json::array();
        for (const auto& m : models)
            out.push_back({{"ref", m.ref}, {"repo", m.repo}, {"commit", m.commit}, {"revisions", m.revisions},
                           {"path", m.local_path}, {"format", m.format}, {"architecture", m.architecture},
                           {"parameters", m.n_params}, {"weight_type", m.weight_type}, {"context_length", m.n_ctx},
                           {"size_bytes", m.size_bytes}, {"last_used", m.last_used}, {"files", m.files},
                           {"problem", m.problem}});
        std::printf("%s\n", out.dump(2).c_str());
        return 0;
    }
    std::printf("cache: %s\n", cache.root().c_str());
    if (models.empty()) {
        std::printf("no models (pull one with llm-pull hf:owner/repo:QUANT)\n");
    } else {
        size_t w = 3;
        for (const auto& m : models) w = std::max(w, m.ref.size());
        std::printf("%-*s  %-18s %8s  %-8s %8s %10s  %s\n", (int)w, "REF", "ARCH", "PARAMS", "TYPE", "CTX", "SIZE", "LAST USED");
        for (const auto& m : models) {
            std::printf("%-*s  %-18s %8s  %-8s %8s %10s  %s\n", (int)w, m.ref.c_str(),
                        (m.architecture.empty() ? "?" : m.architecture).c_str(), params(m.n_params).c_str(),
                        (m.weight_type.empty() ? "?" : m.weight_type).c_str(),
                        m.n_ctx ? std::to_string(m.n_ctx).c_str() : "?", llm::hub::format_bytes(m.size_bytes).c_str(),
                        when(m.last_used).c_str());
            if (!m.problem.empty()) std::printf("  (%s)\n", m.problem.c_str());
        }
    }
    const auto partial = llm::hub::partial_downloads(cache);
    if (!partial.empty()) {
        std::printf("partial downloads (running the same llm-pull again resumes them):\n");
        for (const auto& p : partial) std::printf("  %s\n", p.c_str());
    }
    return 0;
}
