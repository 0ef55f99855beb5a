// Tokenizer::from_hf_folder: tokenizer.json (BPE model: byte-level or SentencePiece-style with byte fallback),
// else tokenizer.model (SentencePiece protobuf), else the fixtures' tokenizer_vocab.json; tokenizer_config.json
// and generation_config.json add bos/eos/add_bos/add_eos/clean-up flags and the chat template.
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "tokenizer/pretokenizer.hpp"
#include "tokenizer/sentencepiece_model.hpp"
#include "tokenizer/tokenizer.hpp"

namespace llm {

using nlohmann::json;
namespace fs = std::filesystem;

namespace {

Expected<json> parse_json(const std::string& text, const std::string& name) {
    json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded()) return error("{}: invalid JSON", name);
    return j;
}

// A token given as "text" or {"content": "text"}.
std::string token_content(const json& v) {
    if (v.is_string()) return v.get<std::string>();
    if (v.is_object() && v.contains("content") && v["content"].is_string()) return v["content"].get<std::string>();
    return {};
}

std::string type_of(const json& v) { return v.is_object() && v.contains("type") ? v["type"].get<std::string>() : ""; }

// Escapes a literal string for PCRE2 (\Q...\E cannot hold "\E").
std::string regex_quote(const std::string& s) {
    std::string o;
    for (char c : s) {
        if (std::string_view("\\^$.|?*+()[]{}-/#&~ ").find(c) != std::string_view::npos) o += '\\';
        o += c;
    }
    return o;
}

// Flattens Sequence pre-tokenizers/normalizers/decoders into a list.
void flatten(const json& v, const char* list_key, std::vector<json>& out) {
    if (v.is_null()) return;
    if (type_of(v) == "Sequence" && v.contains(list_key)) {
        for (const auto& x : v[list_key]) flatten(x, list_key, out);
    } else {
        out.push_back(v);
    }
}

Status load_tokenizer_json(const json& tj, const std::string& src, VocabSpec& s) {
    const json& model = tj.at("model");
    const std::string mtype = model.value("type", std::string("BPE"));
    if (mtype != "BPE") return error("{}: unsupported tokenizer model type '{}' (supported: BPE)", src, mtype);
    if (model.contains("continuing_subword_prefix") && !model["continuing_subword_prefix"].is_null() &&
        !model["continuing_subword_prefix"].get<std::string>().empty())
        return error("{}: BPE continuing_subword_prefix is not supported", src);
    if (model.contains("end_of_word_suffix") && !model["end_of_word_suffix"].is_null() &&
        !model["end_of_word_suffix"].get<std::string>().empty())
        return error("{}: BPE end_of_word_suffix is not supported", src);

    // Vocabulary (+ added tokens, which may extend it).
    const json& vocab = model.at("vocab");
    int64_t max_id = -1;
    // Ids must be JSON integers: converting 1.8e19 (a float) to int64 is undefined (found by fuzz_tokenizer_files).
    for (const auto& [text, id] : vocab.items()) {
        if (!id.is_number_integer()) return error("{}: token id of '{}' is not an integer: {}", src, text, id.dump());
        max_id = std::max<int64_t>(max_id, id.get<int64_t>());
    }
    const json added = tj.contains("added_tokens") ? tj["added_tokens"] : json::array();
    for (const auto& a : added) {
        const json& id = a.at("id");
        if (!id.is_number_integer()) return error("{}: added token id is not an integer: {}", src, id.dump());
        max_id = std::max<int64_t>(max_id, id.get<int64_t>());
    }
    if (max_id < 0) return error("{}: empty vocabulary", src);
    if (max_id > 10'000'000) return error("{}: token id {} out of range", src, max_id);
    // Ids are dense in real files; a few entries claiming id 9,999,999 would make 10 million placeholder tokens.
    const int64_t n_entries = (int64_t)vocab.size() + (int64_t)added.size();
    if (max_id >= 2 * n_entries + 1024)
        return error("{}: token id {} with only {} vocabulary entries (ids must be dense)", src, max_id, n_entries);
    const size_t n = static_cast<size_t>(max_id + 1);
    s.tokens.assign(n, std::string());
    s.attrs.assign(n, kAttrUnused);
    for (const auto& [text, id] : vocab.items()) {
        const int64_t i = id.get<int64_t>();
        if (i < 0) return error("{}: negative token id for '{}'", src, text);
        s.tokens[i] = text;
        s.attrs[i] = kAttrNormal;
    }
    for (size_t i = 0; i < n; ++i)
        if (s.tokens[i].empty()) s.tokens[i] = "[UNUSED_" + std::to_string(i) + "]";
    s.byte_fallback = model.value("byte_fallback", false);
    s.ignore_merges = model.value("ignore_merges", false);

    // Merges: "a b" strings (older files) or [a, b] pairs.
    if (model.contains("merges")) {
        for (const auto& m : model["merges"]) {
            if (m.is_string()) {
                const std::string t = m.get<std::string>();
                const size_t pos = t.find(' ', 1);
                if (pos == std::string::npos) return error("{}: bad merge '{}'", src, t);
                s.merges.emplace_back(t.substr(0, pos), t.substr(pos + 1));
            } else if (m.is_array() && m.size() == 2) {
                s.merges.emplace_back(m[0].get<std::string>(), m[1].get<std::string>());
            } else {
                return error("{}: bad merge entry {}", src, m.dump());
            }
        }
    }

    // Pre-tokenizer and normalizer decide the kind.
    std::vector<json> pres, norms;
    if (tj.contains("pre_tokenizer")) flatten(tj["pre_tokenizer"], "pretokenizers", pres);
    if (tj.contains("normalizer")) flatten(tj["normalizer"], "normalizers", norms);
    bool byte_level = false, metaspace = false;
    for (const auto& p : pres) byte_level |= type_of(p) == "ByteLevel";
    for (const auto& p : pres) metaspace |= type_of(p) == "Metaspace";
    if (tj.contains("decoder")) {
        std::vector<json> decs;
        flatten(tj["decoder"], "decoders", decs);
        for (const auto& d : decs) byte_level |= type_of(d) == "ByteLevel";
    }

    if (byte_level) {
        s.kind = VocabKind::ByteBpe;
        s.add_space_prefix = false;
        for (const auto& p : pres) {
            const std::string t = type_of(p);
            if (t == "ByteLevel") {
                if (p.value("use_regex", true)) s.pre_regexes.push_back(kGpt2Regex);
                s.byte_level_prefix_space = p.value("add_prefix_space", false);
            } else if (t == "Digits") {
                s.pre_regexes.push_back(p.value("individual_digits", false) ? R"(\p{N})" : R"(\p{N}+)");
            } else if (t == "Split") {
                if (p.value("behavior", std::string()) != "Isolated" || p.value("invert", false))
                    return error("{}: Split pre-tokenizer with behavior '{}'{} is not supported (only Isolated)", src,
                                 p.value("behavior", std::string()), p.value("invert", false) ? " inverted" : "");
                const json& pat = p.at("pattern");
                if (pat.contains("Regex")) s.pre_regexes.push_back(pat["Regex"].get<std::string>());
                else if (pat.contains("String")) s.pre_regexes.push_back(regex_quote(pat["String"].get<std::string>()));
                else return error("{}: Split pre-tokenizer without a pattern", src);
            } else {
                return error("{}: unsupported pre-tokenizer '{}'", src, t);
            }
        }
        for (const auto& nm : norms) {
            const std::string t = type_of(nm);
            if (t != "NFC") return error("{}: unsupported normalizer '{}' for a byte-level BPE tokenizer", src, t);
            s.normalize_nfc = true;
        }
        s.pre = "tokenizer.json";
    } else {
        // SentencePiece-style BPE (Llama 2, Mistral, Phi-3 tokenizer.json): ▁ for spaces, byte fallback.
        s.kind = VocabKind::Spm;
        s.add_space_prefix = false;
        bool replaces_space = false;
        for (const auto& nm : norms) {
            const std::string t = type_of(nm);
            if (t == "Prepend" && nm.value("prepend", std::string()) == "\xE2\x96\x81") s.add_space_prefix = true;
            else if (t == "Replace" && nm.contains("pattern") && nm["pattern"].value("String", std::string()) == " ")
                replaces_space = true;
            else if (t == "NFC") s.normalize_nfc = true;
            else return error("{}: unsupported normalizer '{}'", src, t.empty() ? nm.dump() : t);
        }
        for (const auto& p : pres) {
            if (type_of(p) != "Metaspace") return error("{}: unsupported pre-tokenizer '{}'", src, type_of(p));
            const std::string scheme = p.value("prepend_scheme", p.value("add_prefix_space", true) ? "always" : "never");
            s.add_space_prefix = scheme != "never";
            s.spm_prefix_first_only = scheme == "first";
            s.spm_prefix_skip_if_present = true;
            s.spm_split_on_space = p.value("split", true);
            replaces_space = true;
        }
        if (!replaces_space && !metaspace)
            return error("{}: BPE tokenizer is neither byte-level nor SentencePiece-style (no ▁ normalizer)", src);
        for (size_t i = 0; i < n; ++i) {
            const std::string& t = s.tokens[i];
            if (s.byte_fallback && t.size() == 6 && t.rfind("<0x", 0) == 0 && t[5] == '>') s.attrs[i] = kAttrByte;
        }
    }
    if (model.contains("unk_token") && model["unk_token"].is_string()) {
        const auto& u = model["unk_token"].get_ref<const std::string&>();
        if (vocab.contains(u)) s.unk_id = vocab[u].get<int32_t>();
    }

    for (const auto& a : added) {
        const int64_t id = a.at("id").get<int64_t>();
        if (id < 0) return error("{}: negative added token id {}", src, id);
        s.tokens[id] = a.at("content").get<std::string>();
        uint32_t attr = a.value("special", false) ? kAttrControl : kAttrUserDefined;
        if (a.value("lstrip", false)) attr |= kAttrLstrip;
        if (a.value("rstrip", false)) attr |= kAttrRstrip;
        if (s.unk_id == id) attr = kAttrUnknown;
        s.attrs[id] = attr;
    }

    // A TemplateProcessing post-processor that starts with a special token means "add BOS".
    std::vector<json> posts;
    if (tj.contains("post_processor")) flatten(tj["post_processor"], "processors", posts);
    for (const auto& pp : posts) {
        if (type_of(pp) != "TemplateProcessing" || !pp.contains("single")) continue;
        const json& single = pp["single"];
        const auto special_id = [&](const json& e) -> int32_t {
            const std::string t = e["SpecialToken"].value("id", std::string());
            return vocab.contains(t) ? vocab[t].get<int32_t>() : -1;
        };
        if (single.is_array() && !single.empty() && single[0].contains("SpecialToken")) {
            s.add_bos = true;
            if (s.bos_id < 0) s.bos_id = special_id(single[0]);
        }
        if (single.is_array() && single.size() > 1 && single.back().contains("SpecialToken")) {
            s.add_eos = true;
            if (s.eos_id < 0) s.eos_id = special_id(single.back());
        }
    }
    return Status::ok();
}

// The fixtures' hf/tokenizer_vocab.json: {"tokens": [...], "scores": [...], "types": [...], bos_id, ...}.
Status load_fixture_vocab(const json& j, const std::string& src, VocabSpec& s) {
    s.kind = VocabKind::Spm;
    s.tokens = j.at("tokens").get<std::vector<std::string>>();
    if (j.contains("scores")) s.scores = j["scores"].get<std::vector<float>>();
    if (j.contains("types"))
        for (int64_t t : j["types"].get<std::vector<int64_t>>()) s.attrs.push_back(token_type_to_attr(t));
    s.add_bos = j.value("add_bos", true);
    s.add_space_prefix = j.value("add_space_prefix", true);
    s.byte_fallback = j.value("byte_fallback", true);
    s.bos_id = j.value("bos_id", 1);
    s.eos_id = j.value("eos_id", 2);
    s.unk_id = j.value("unk_id", 0);
    return Status::ok();
}

}  // namespace

Expected<std::unique_ptr<Tokenizer>> Tokenizer::from_hf_folder(const std::string& dir) {
    HfFiles files;
    files.dir = dir;
    const fs::path root(dir);
    std::error_code ec;
    auto read = [&](const char* name, std::optional<std::string>& out) -> Status {
        if (!fs::exists(root / name, ec)) return {};
        std::ifstream f(root / name, std::ios::binary);
        if (!f) return error("{}: cannot open", (root / name).string());
        std::stringstream ss;
        ss << f.rdbuf();
        out = ss.str();
        return {};
    };
    LLM_TRY(read("tokenizer_config.json", files.tokenizer_config_json));
    // The first vocabulary file present is the one used: the others are not read.
    LLM_TRY(read("tokenizer.json", files.tokenizer_json));
    if (!files.tokenizer_json) LLM_TRY(read("tokenizer.model", files.tokenizer_model));
    if (!files.tokenizer_json && !files.tokenizer_model) LLM_TRY(read("tokenizer_vocab.json", files.tokenizer_vocab_json));
    LLM_TRY(read("chat_template.jinja", files.chat_template_jinja));
    LLM_TRY(read("generation_config.json", files.generation_config_json));
    LLM_TRY(read("config.json", files.config_json));
    return from_hf_files(files);
}

Expected<std::unique_ptr<Tokenizer>> Tokenizer::from_hf_files(const HfFiles& files) {
    const std::string& dir = files.dir;
    VocabSpec s;
    s.source = dir;
    try {
        const fs::path root(dir);
        json config = json::object();
        if (files.tokenizer_config_json) {
            auto c = parse_json(*files.tokenizer_config_json, (root / "tokenizer_config.json").string());
            if (!c) return c.status();
            if (c->is_object()) config = std::move(*c);
        }
        if (files.tokenizer_json) {
            const std::string src = (root / "tokenizer.json").string();
            auto tj = parse_json(*files.tokenizer_json, src);
            if (!tj) return tj.status();
            s.source = src;
            LLM_TRY(load_tokenizer_json(*tj, src, s));
        } else if (files.tokenizer_model) {
            s.source = (root / "tokenizer.model").string();
            LLM_TRY(parse_sentencepiece_model(*files.tokenizer_model, s.source, s));
        } else if (files.tokenizer_vocab_json) {
            s.source = (root / "tokenizer_vocab.json").string();
            auto j = parse_json(*files.tokenizer_vocab_json, s.source);
            if (!j) return j.status();
            LLM_TRY(load_fixture_vocab(*j, s.source, s));
        } else {
            return error("{}: no tokenizer.json, tokenizer.model or tokenizer_vocab.json", dir);
        }
        // tokenizer_config.json overrides.
        const auto id_of = [&](const std::string& text) -> int32_t {
            for (size_t i = 0; i < s.tokens.size(); ++i)
                if (s.tokens[i] == text) return static_cast<int32_t>(i);
            return -1;
        };
        if (config.contains("bos_token")) {
            const std::string t = token_content(config["bos_token"]);
            s.bos_id = t.empty() ? -1 : id_of(t);
        }
        if (config.contains("eos_token")) {
            const std::string t = token_content(config["eos_token"]);
            if (!t.empty() && id_of(t) >= 0) s.eos_id = id_of(t);
        }
        if (config.contains("unk_token")) {
            const std::string t = token_content(config["unk_token"]);
            if (!t.empty() && id_of(t) >= 0) s.unk_id = id_of(t);
        }
        if (config.contains("pad_token")) {
            const std::string t = token_content(config["pad_token"]);
            if (!t.empty()) s.pad_id = id_of(t);
        }
        if (config.contains("add_bos_token") && config["add_bos_token"].is_boolean()) s.add_bos = config["add_bos_token"];
        if (config.contains("add_eos_token") && config["add_eos_token"].is_boolean()) s.add_eos = config["add_eos_token"];
        if (config.contains("clean_up_tokenization_spaces") && config["clean_up_tokenization_spaces"].is_boolean())
            s.clean_spaces = config["clean_up_tokenization_spaces"];
        if (config.contains("chat_template")) {
            const json& ct = config["chat_template"];
            if (ct.is_string()) {
                s.chat_template = ct.get<std::string>();
            } else if (ct.is_array()) {  // [{"name": "default", "template": "..."}, ...]
                for (const auto& e : ct)
                    if (e.value("name", std::string()) == "default") s.chat_template = e.value("template", std::string());
            }
        }
        if (s.chat_template.empty() && files.chat_template_jinja) s.chat_template = *files.chat_template_jinja;
        if (files.generation_config_json) {
            auto g = parse_json(*files.generation_config_json, (root / "generation_config.json").string());
            if (g && g->contains("eos_token_id")) {
                const json& e = (*g)["eos_token_id"];
                if (e.is_number_integer()) s.extra_eog_ids.push_back(e.get<int32_t>());
                else if (e.is_array())
                    for (const auto& x : e)
                        if (x.is_number_integer()) s.extra_eog_ids.push_back(x.get<int32_t>());
            }
        }
        if (files.config_json) {
            auto c = parse_json(*files.config_json, (root / "config.json").string());
            if (c && c->contains("_name_or_path") && (*c)["_name_or_path"].is_string())
                s.model_name = (*c)["_name_or_path"].get<std::string>();
        }
    } catch (const std::exception& e) {
        return error("{}: malformed tokenizer files: {}", s.source, e.what());
    }
    return from_spec(std::move(s));
}

}  // namespace llm
