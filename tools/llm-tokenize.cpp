// llm-tokenize: text -> token ids (or ids -> text with --decode) with a model's tokenizer.
// usage: llm-tokenize [-m MODEL(.gguf | HF folder | hf:ref)] [--no-bos] [--special] [--pieces] [--decode] [-f FILE | -p TEXT]
// Reads stdin unless -f/-p is given (bytes are taken as they are: a trailing newline is part of the text).
#include <CLI/CLI.hpp>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

#include "cli.hpp"
#include "llm/hub.hpp"
#include "llm/system.hpp"
#include "llm/tokenizer.hpp"

namespace {

int fail(const std::string& msg) { return llm::cli::fail("llm-tokenize", msg); }

// Piece with control characters escaped so each token stays on one line.
std::string escape(const std::string& s) {
    std::string o;
    const bool valid = llm::is_valid_utf8(s);  // a lone byte of a multi-byte character is shown as \xNN
    for (unsigned char c : s) {
        if (c == '\n') o += "\\n";
        else if (c == '\t') o += "\\t";
        else if (c == '\r') o += "\\r";
        else if (c == '\\') o += "\\\\";
        else if (c < 0x20 || c == 0x7F || (c >= 0x80 && !valid)) o += fmt::format("\\x{:02x}", c);
        else o += static_cast<char>(c);
    }
    return o;
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"Tokenize text (or detokenize ids) with a model's tokenizer"};
    std::string model, file, prompt;
    bool no_bos = false, special = false, pieces = false, decode = false;
    app.add_option("-m,--model", model,
                   "GGUF file, Hugging Face folder or hf: reference (default: as llm-run: $LLM_MODEL, else the cached "
                   "SmolLM2)");
    CLI::Option* file_opt = app.add_option("-f,--file", file, "read the input from FILE instead of stdin");
    app.add_option("-p,--prompt", prompt, "tokenize this text instead of reading stdin")->excludes(file_opt);
    app.add_flag("--no-bos", no_bos, "do not add BOS/EOS even if the model asks for them");
    app.add_flag("--special", special, "parse special-token text such as <|im_start|> into its token");
    CLI::Option* pieces_opt = app.add_flag("--pieces", pieces, "also print each token's piece, one per line after the ids");
    app.add_flag("--decode", decode, "read token ids and print the text")->excludes(pieces_opt);
    if (auto code = llm::cli::parse(app, "llm-tokenize", argc, argv)) return *code;
    if (model.empty()) {
        auto def = llm::find_default_model();
        if (!def) return fail("no model given and no default model found: pass -m MODEL or run scripts/fetch-smollm2.sh");
        model = *def;
    }
    auto resolved = llm::hub::resolve_model_path(model);  // hf:owner/repo[:QUANT] as llm-run takes it
    if (!resolved) return fail(resolved.error_message());
    model = *resolved;

    auto t = llm::Tokenizer::from_file(model);  // a GGUF file (vocabulary-only will do) or an HF folder
    if (!t) return fail(t.error_message());
    std::unique_ptr<llm::Tokenizer> tok = std::move(*t);

    std::string input;
    if (!prompt.empty()) {
        input = prompt;
    } else {
        std::stringstream ss;
        if (!file.empty()) {
            std::ifstream in(file, std::ios::binary);
            if (!in) return fail(fmt::format("{}: cannot open", file));
            ss << in.rdbuf();
        } else {
            ss << std::cin.rdbuf();
        }
        input = ss.str();
    }

    if (decode) {
        std::vector<int32_t> ids;
        std::string word;
        for (char& c : input)
            if (c == ',' || c == '[' || c == ']') c = ' ';
        std::istringstream in(input);
        while (in >> word) {
            char* end = nullptr;
            const long v = std::strtol(word.c_str(), &end, 10);
            if (*end != '\0' || v < 0 || v >= tok->n_vocab())
                return fail(fmt::format("bad token id '{}' (n_vocab = {})", word, tok->n_vocab()));
            ids.push_back(static_cast<int32_t>(v));
        }
        const std::string text = tok->decode(ids, /*remove_special=*/no_bos, /*unparse_special=*/special);
        std::fwrite(text.data(), 1, text.size(), stdout);
        std::fputc('\n', stdout);
        return 0;
    }

    const auto ids = tok->encode(input, !no_bos, special);
    std::string line;
    for (size_t i = 0; i < ids.size(); ++i) line += (i ? " " : "") + std::to_string(ids[i]);
    std::printf("%s\n", line.c_str());
    if (pieces)
        for (const int32_t id : ids) std::printf("%d\t%s\n", id, escape(tok->token_to_piece(id)).c_str());
    return 0;
}
