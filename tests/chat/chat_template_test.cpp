// Golden test: every real chat template in tests/chat/data/templates renders every conversation of
// tests/chat/data/goldens.json byte-identically to Python jinja2 (made by tests/chat/make_goldens.py),
// and raises exactly where jinja2 raised. Also renders the SmolLM2 GGUF's own template when it is cached.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

#include "tokenizer/chat/chat_template.hpp"

namespace fs = std::filesystem;
using llm::ChatMessage;
using llm::ChatTemplate;
using llm::ChatTemplateOptions;

namespace {

const fs::path kData = fs::path(LLM_SOURCE_DIR) / "tests" / "chat" / "data";

std::string read_file(const fs::path& p) {
    std::ifstream f(p, std::ios::binary);
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
}

nlohmann::json load_goldens() { return nlohmann::json::parse(read_file(kData / "goldens.json")); }

std::vector<ChatMessage> to_messages(const nlohmann::json& j) {
    std::vector<ChatMessage> out;
    for (const auto& m : j) out.push_back({m.at("role").get<std::string>(), m.at("content").get<std::string>()});
    return out;
}

}  // namespace

TEST(ChatTemplateGolden, AllTemplatesMatchJinja2) {
    nlohmann::json g = load_goldens();
    std::map<std::string, ChatTemplate> templates;
    int checked = 0, raised = 0, failures = 0;
    for (const auto& c : g.at("cases")) {
        std::string name = c.at("template");
        auto it = templates.find(name);
        if (it == templates.end()) {
            auto t = ChatTemplate::parse(read_file(kData / "templates" / (name + ".jinja")));
            ASSERT_TRUE(t.has_value()) << name << ": " << t.error_message();
            it = templates.emplace(name, std::move(*t)).first;
        }
        ChatTemplateOptions opt;
        opt.bos_token = c.at("bos_token");
        opt.eos_token = c.at("eos_token");
        opt.add_generation_prompt = c.at("add_generation_prompt");
        const nlohmann::json extra = c.value("extra_vars", nlohmann::json::object());
        for (auto kv = extra.begin(); kv != extra.end(); ++kv) opt.extra_vars.emplace_back(kv.key(), kv.value().get<std::string>());
        auto out = it->second.render(to_messages(c.at("messages")), opt);
        std::string label = name + " / " + c.at("conversation").get<std::string>() +
                            (opt.add_generation_prompt ? " / gen" : " / no-gen");
        ++checked;
        if (c.at("raises").get<bool>()) {
            ++raised;
            if (out.has_value()) {
                ++failures;
                ADD_FAILURE() << label << ": jinja2 raised '" << c.at("error").get<std::string>()
                              << "' but we rendered:\n" << *out;
            } else if (out.error_message().find(c.at("error").get<std::string>()) == std::string::npos) {
                ++failures;
                ADD_FAILURE() << label << ": error differs: ours '" << out.error_message() << "' jinja2 '"
                              << c.at("error").get<std::string>() << "'";
            }
            continue;
        }
        if (!out.has_value()) {
            ++failures;
            ADD_FAILURE() << label << ": render failed: " << out.error_message();
            continue;
        }
        if (*out != c.at("output").get<std::string>()) {
            ++failures;
            ADD_FAILURE() << label << ":\n--- ours ---\n" << *out << "\n--- jinja2 ---\n"
                          << c.at("output").get<std::string>();
        }
    }
    EXPECT_GE(checked, 100);
    EXPECT_GT(raised, 0);
    EXPECT_EQ(failures, 0);
    std::printf("checked %d golden cases (%d expected raises) over %zu templates\n", checked, raised, templates.size());
}

TEST(ChatTemplateGolden, CoversTheRequiredModels) {
    for (const char* name : {"llama2_chat", "mistral_instruct_v0.1", "mistral_instruct_v0.2", "mistral_instruct_v0.3",
                             "phi3_mini_4k_128k", "llama3_instruct", "llama3_1_instruct", "llama3_2_instruct", "chatml",
                             "smollm2_instruct", "zephyr", "gemma3_it", "qwen2_5_instruct", "qwen3"})
        EXPECT_TRUE(fs::exists(kData / "templates" / (std::string(name) + ".jinja"))) << name;
}

// ---- the SmolLM2 GGUF's own template (optional: only when another script fetched the model) ----------
namespace {

// Minimal GGUF metadata scan for one string key; enough to read tokenizer.chat_template without
// depending on the formats library (this test links llm_chat only).
bool gguf_string(const fs::path& path, const std::string& want, std::string& out) {
    std::ifstream f(path, std::ios::binary);
    auto rd = [&](void* p, size_t n) { return static_cast<bool>(f.read(static_cast<char*>(p), static_cast<std::streamsize>(n))); };
    uint32_t magic = 0, version = 0;
    uint64_t n_tensors = 0, n_kv = 0;
    if (!rd(&magic, 4) || magic != 0x46554747 || !rd(&version, 4) || version < 2) return false;
    if (!rd(&n_tensors, 8) || !rd(&n_kv, 8)) return false;
    auto rd_str = [&](std::string& s) {
        uint64_t len = 0;
        if (!rd(&len, 8) || len > (1u << 30)) return false;
        s.resize(len);
        return len == 0 || rd(s.data(), len);
    };
    const size_t scalar_size[] = {1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8};  // by GGUF type id; 8=string 9=array
    std::function<bool(uint32_t)> skip = [&](uint32_t type) -> bool {
        if (type == 8) {
            std::string s;
            return rd_str(s);
        }
        if (type == 9) {
            uint32_t et = 0;
            uint64_t n = 0;
            if (!rd(&et, 4) || !rd(&n, 8)) return false;
            if (et < 13 && et != 8 && et != 9) {
                f.seekg(static_cast<std::streamoff>(n * scalar_size[et]), std::ios::cur);
                return static_cast<bool>(f);
            }
            for (uint64_t k = 0; k < n; ++k)
                if (!skip(et)) return false;
            return true;
        }
        if (type >= 13) return false;
        f.seekg(static_cast<std::streamoff>(scalar_size[type]), std::ios::cur);
        return static_cast<bool>(f);
    };
    for (uint64_t k = 0; k < n_kv; ++k) {
        std::string key;
        uint32_t type = 0;
        if (!rd_str(key) || !rd(&type, 4)) return false;
        if (key == want && type == 8) return rd_str(out);
        if (!skip(type)) return false;
    }
    return false;
}

fs::path find_smollm2_gguf() {
    const char* home = std::getenv("HOME");
    std::vector<fs::path> dirs = {fs::path(home ? home : "/root") / ".cache" / "llm"};
    for (const auto& d : dirs) {
        std::error_code ec;
        if (!fs::exists(d, ec)) continue;
        for (const auto& e : fs::recursive_directory_iterator(d, ec)) {
            std::string n = e.path().filename().string();
            if (e.path().extension() == ".gguf" && n.find("SmolLM2") != std::string::npos) return e.path();
            if (e.path().extension() == ".gguf" && n.find("smollm2") != std::string::npos) return e.path();
        }
    }
    return {};
}

}  // namespace

TEST(ChatTemplateGolden, SmolLM2GgufTemplateMatchesGoldens) {
    fs::path gguf = find_smollm2_gguf();
    if (gguf.empty()) GTEST_SKIP() << "no SmolLM2 GGUF under ~/.cache/llm (scripts/fetch-smollm2.sh fetches it)";
    std::string source;
    ASSERT_TRUE(gguf_string(gguf, "tokenizer.chat_template", source)) << gguf << ": no tokenizer.chat_template";
    auto t = ChatTemplate::parse(source);
    ASSERT_TRUE(t.has_value()) << t.error_message();
    // The GGUF carries the same template as tests/chat/data/templates/smollm2_instruct.jinja; whatever it
    // holds, rendering it must equal jinja2's rendering of that file for every golden conversation.
    EXPECT_EQ(source, read_file(kData / "templates" / "smollm2_instruct.jinja")) << "GGUF template differs from the collected one";
    nlohmann::json g = load_goldens();
    int n = 0;
    for (const auto& c : g.at("cases")) {
        if (c.at("template") != "smollm2_instruct" || c.at("raises").get<bool>()) continue;
        ChatTemplateOptions opt;
        opt.bos_token = c.at("bos_token");
        opt.eos_token = c.at("eos_token");
        opt.add_generation_prompt = c.at("add_generation_prompt");
        auto out = t->render(to_messages(c.at("messages")), opt);
        ASSERT_TRUE(out.has_value()) << out.error_message();
        EXPECT_EQ(*out, c.at("output").get<std::string>()) << c.at("conversation");
        ++n;
    }
    EXPECT_GT(n, 0);
}

// Engine feature snippets (whitespace control, loops, scoping, filters, tests, methods, literals, errors),
// each rendered by jinja2 in make_goldens.py.
TEST(ChatTemplateGolden, FeatureSnippetsMatchJinja2) {
    nlohmann::json g = load_goldens();
    int n = 0;
    for (const auto& c : g.at("snippets")) {
        std::string name = c.at("name");
        auto t = ChatTemplate::parse(c.at("source").get<std::string>());
        ASSERT_TRUE(t.has_value()) << name << ": " << t.error_message();
        ChatTemplateOptions opt;
        opt.bos_token = c.at("bos_token");
        opt.eos_token = c.at("eos_token");
        opt.add_generation_prompt = c.at("add_generation_prompt");
        auto out = t->render(to_messages(c.at("messages")), opt);
        ++n;
        if (c.at("raises").get<bool>()) {
            EXPECT_FALSE(out.has_value()) << name << ": jinja2 raised '" << c.at("error").get<std::string>()
                                          << "' but we rendered: " << *out;
            // Python's wording is matched for template errors (raise_exception, undefined); other
            // Python exceptions (TypeError ...) only have to fail.
            std::string type = c.value("error_type", "");
            if (!out.has_value() && (type == "TemplateError" || type == "UndefinedError")) {
                EXPECT_NE(out.error_message().find(c.at("error").get<std::string>()), std::string::npos)
                    << name << ": ours '" << out.error_message() << "' jinja2 '" << c.at("error").get<std::string>() << "'";
            }
            continue;
        }
        ASSERT_TRUE(out.has_value()) << name << ": " << out.error_message();
        EXPECT_EQ(*out, c.at("output").get<std::string>()) << name;
    }
    EXPECT_GE(n, 25);
}
