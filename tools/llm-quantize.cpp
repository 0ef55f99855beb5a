// llm-quantize: GGUF file or Hugging Face safetensors folder -> GGUF of a llama.cpp file type (Q4_K_M, Q8_0, ...).
// Thin: parses arguments and calls llm::quantize_model (quantize/quantize_model.hpp); progress goes to stderr.
#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <string>

#include <filesystem>

#include "cli.hpp"
#include "llm/llm.hpp"
#include "llm/quantize.hpp"

int main(int argc, char** argv) {
    CLI::App app{"Quantize a model to GGUF with llama.cpp's file types and per-tensor rules (no imatrix).\n"
                 "IN is a .gguf file, a Hugging Face folder (config.json + *.safetensors) or a .safetensors file."};
    std::string in, out, type_name;
    bool pure = false, allow_requantize = false, quiet = false;
    int n_threads = 0;
    app.add_option("IN", in, "input model")->required();
    app.add_option("OUT", out, "output .gguf path")->required();
    std::string types_help = "output file type:";
    for (const llm::FileTypeInfo& f : llm::file_types()) types_help += " " + std::string(f.name);
    types_help += " (Q4_K, Q5_K, Q3_K: aliases of the _M mixes, as in llama-quantize)";
    app.add_option("TYPE", type_name, types_help)->required();
    app.add_flag("--pure", pure, "the base type for every quantizable tensor (no per-tensor mix)");
    app.add_flag("--allow-requantize", allow_requantize, "accept already-quantized input tensors");
    app.add_option("-t,--threads", n_threads, "threads (default: physical cores)");
    app.add_flag("-q,--quiet", quiet, "no per-tensor progress lines");
    if (auto code = llm::cli::parse(app, "llm-quantize", argc, argv)) return *code;

    auto ftype = llm::file_type_from_name(type_name);
    if (!ftype) return llm::cli::usage_error("llm-quantize", "unknown type '" + type_name + "' (see --help)");
    if (n_threads < 0 || n_threads > llm::kMaxThreads)
        return llm::cli::usage_error("llm-quantize", fmt::format("--threads must be in [0, {}] (0 = physical cores), got {}",
                                                                 llm::kMaxThreads, n_threads));
    // Writing over the input would truncate the file the reader has mapped (SIGBUS, or a corrupt result).
    std::error_code ec;
    if (std::filesystem::equivalent(in, out, ec))
        return llm::cli::usage_error("llm-quantize", "OUT is the input file '" + in + "': choose another path");
    if (std::filesystem::is_directory(out, ec))
        return llm::cli::usage_error("llm-quantize", "OUT '" + out + "' is a folder: give a .gguf file path");
    const std::filesystem::path out_dir = std::filesystem::path(out).parent_path();
    if (!out_dir.empty() && !std::filesystem::is_directory(out_dir, ec))
        return llm::cli::usage_error("llm-quantize", "OUT '" + out + "': no folder '" + out_dir.string() + "'");
    llm::QuantizeOptions opts;
    opts.ftype = *ftype;
    opts.pure = pure;
    opts.allow_requantize = allow_requantize;
    opts.n_threads = n_threads;
    opts.log = [quiet](const std::string& line) {
        if (!quiet || line.rfind("warning", 0) == 0) std::fprintf(stderr, "%s\n", line.c_str());
    };
    const auto t0 = std::chrono::steady_clock::now();
    auto res = llm::quantize_model(in, out, opts);
    if (!res) {
        return llm::cli::fail("llm-quantize", res.error_message());
    }
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::fprintf(stderr, "llm-quantize: %s -> %s (%s): %d tensors, %d quantized, %d fallbacks, %.1f -> %.1f MiB in %.1f s\n",
                 in.c_str(), out.c_str(), std::string(llm::file_type_info(*ftype).name).c_str(), res->n_tensors,
                 res->n_quantized, res->n_fallback, res->in_bytes / 1048576.0, res->out_bytes / 1048576.0, s);
    return 0;
}
