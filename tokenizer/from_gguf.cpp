// Tokenizer::from_gguf: reads `tokenizer.ggml.*` (llama.cpp's key names and defaults) into a VocabSpec.
#include "formats/gguf.hpp"
#include "tokenizer/pretokenizer.hpp"
#include "tokenizer/tokenizer.hpp"
#include "tokenizer/unicode.hpp"

#include <sys/stat.h>

namespace llm {

Expected<std::unique_ptr<Tokenizer>> Tokenizer::from_gguf(const GgufFile& f) {
    const std::string& src = f.path().empty() ? std::string("gguf") : f.path();
    VocabSpec s;
    s.source = src;

    auto model = f.get_string("tokenizer.ggml.model");
    if (!model) return model.status();
    if (!model->has_value()) return error("{}: no tokenizer (missing 'tokenizer.ggml.model')", src);
    const std::string& m = **model;
    if (m == "llama") {
        s.kind = VocabKind::Spm;
        s.bos_id = 1, s.eos_id = 2, s.unk_id = 0;
        s.add_bos = true, s.add_space_prefix = true, s.clean_spaces = false;
    } else if (m == "gpt2") {
        s.kind = VocabKind::ByteBpe;
        s.bos_id = 11, s.eos_id = 11;
        s.add_space_prefix = false;
    } else {
        return error("{}: unsupported tokenizer model 'tokenizer.ggml.model' = '{}' (supported: llama, gpt2)", src, m);
    }

    auto tokens = f.get_string_array("tokenizer.ggml.tokens");
    if (!tokens) return tokens.status();
    if (!*tokens) return error("{}: missing 'tokenizer.ggml.tokens'", src);
    s.tokens = **tokens;
    const size_t n = s.tokens.size();

    auto scores = f.get_float_array("tokenizer.ggml.scores");
    if (!scores) return scores.status();
    if (*scores) {
        if ((*scores)->size() != n)
            return error("{}: 'tokenizer.ggml.scores' has {} entries, expected {}", src, (*scores)->size(), n);
        s.scores.assign((*scores)->begin(), (*scores)->end());
    }
    auto types = f.get_int_array("tokenizer.ggml.token_type");
    if (!types) return types.status();
    if (*types) {
        if ((*types)->size() != n)
            return error("{}: 'tokenizer.ggml.token_type' has {} entries, expected {}", src, (*types)->size(), n);
        s.attrs.reserve(n);
        for (int64_t t : **types) s.attrs.push_back(token_type_to_attr(t));
    }

    if (s.kind == VocabKind::ByteBpe) {
        auto merges = f.get_string_array("tokenizer.ggml.merges");
        if (!merges) return merges.status();
        if (!*merges) return error("{}: byte-level BPE vocab without 'tokenizer.ggml.merges'", src);
        s.merges.reserve((*merges)->size());
        for (const std::string& mg : **merges) {
            const size_t pos = mg.find(' ', 1);  // the first piece may itself be a space-like character
            if (pos == std::string::npos) return error("{}: bad merge '{}' (expected 'left right')", src, mg);
            s.merges.emplace_back(mg.substr(0, pos), mg.substr(pos + 1));
        }
        auto pre = f.get_string("tokenizer.ggml.pre");
        if (!pre) return pre.status();
        s.pre = pre->value_or("default");
        auto preset = pre_tokenizer_preset(s.pre);
        if (!preset) return preset.status().with_context(src);
        s.pre_regexes = preset->regexes;
        s.clean_spaces = preset->clean_spaces;
        s.ignore_merges = preset->ignore_merges;
        s.add_bos = preset->add_bos;
    }

    // Special token ids: out-of-range ids are ignored (llama.cpp warns and keeps its default).
    const auto read_id = [&](const char* key, int32_t& id) -> Status {
        auto v = f.get_int(key);
        if (!v) return v.status();
        if (v->has_value() && **v >= 0 && static_cast<uint64_t>(**v) < n) id = static_cast<int32_t>(**v);
        else if (v->has_value() && **v < 0) id = -1;
        if (id >= static_cast<int64_t>(n)) id = -1;
        return Status::ok();
    };
    LLM_TRY(read_id("tokenizer.ggml.bos_token_id", s.bos_id));
    LLM_TRY(read_id("tokenizer.ggml.eos_token_id", s.eos_id));
    LLM_TRY(read_id("tokenizer.ggml.unknown_token_id", s.unk_id));
    LLM_TRY(read_id("tokenizer.ggml.padding_token_id", s.pad_id));
    LLM_TRY(read_id("tokenizer.ggml.eot_token_id", s.eot_id));
    LLM_TRY(read_id("tokenizer.ggml.eom_token_id", s.eom_id));

    const auto read_flag = [&](const char* key, bool& flag) -> Status {
        auto v = f.get_bool(key);
        if (!v) return v.status();
        if (v->has_value()) flag = **v;
        return Status::ok();
    };
    LLM_TRY(read_flag("tokenizer.ggml.add_bos_token", s.add_bos));
    LLM_TRY(read_flag("tokenizer.ggml.add_eos_token", s.add_eos));
    if (s.kind == VocabKind::Spm) LLM_TRY(read_flag("tokenizer.ggml.add_space_prefix", s.add_space_prefix));

    auto tmpl = f.get_string("tokenizer.chat_template");
    if (!tmpl) return tmpl.status();
    s.chat_template = tmpl->value_or("");
    auto name = f.get_string("general.name");
    if (name && name->has_value()) s.model_name = **name;

    return from_spec(std::move(s));
}

Expected<std::unique_ptr<Tokenizer>> Tokenizer::from_file(const std::string& path) {
    struct stat st {};
    if (stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) return from_hf_folder(path);
    auto f = GgufFile::open(path);
    if (!f) return f.status();
    return from_gguf(*f);
}

bool is_valid_utf8(std::string_view s) { return utf8::is_valid(s); }

}  // namespace llm
