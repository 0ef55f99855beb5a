// PCRE2-based pre-tokenizer and the pre-tokenizer name table.
#define PCRE2_CODE_UNIT_WIDTH 8
#include "tokenizer/pretokenizer.hpp"

#include <pcre2.h>

#include "tokenizer/unicode.hpp"

namespace llm {

const char* const kGpt2Regex =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";
static const char* const kLlama3Regex =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
static const char* const kQwen2Regex =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";

Expected<PreTokenizerPreset> pre_tokenizer_preset(const std::string& pre) {
    const auto is = [&](std::initializer_list<const char*> names) {
        for (const char* n : names)
            if (pre == n) return true;
        return false;
    };
    PreTokenizerPreset p;
    if (is({"gpt-2", "phi-2", "jina-es", "jina-de", "gigachat", "jina-v1-en", "jina-v2-es", "jina-v2-de",
            "jina-v2-code", "roberta-bpe", "mpt", "olmo", "jais", "trillion"})) {
        p.regexes = {kGpt2Regex};
    } else if (is({"llama3", "llama-v3", "llama-bpe", "falcon3"})) {
        p.regexes = {kLlama3Regex};
        p.ignore_merges = true;
        p.add_bos = true;
    } else if (is({"dbrx", "smaug-bpe"})) {
        p.regexes = {kLlama3Regex};
    } else if (is({"smollm", "starcoder", "refact", "command-r", "codeshell", "exaone", "minerva-7b"})) {
        // HF: Sequence[Digits(individual_digits=true), ByteLevel(use_regex=true)]
        p.regexes = {R"(\p{N})", kGpt2Regex};
        p.clean_spaces = !is({"smollm", "command-r"});
    } else if (is({"qwen2", "deepseek-r1-qwen", "stablelm2", "megrez", "hunyuan"})) {
        p.regexes = {kQwen2Regex};
        p.clean_spaces = is({"stablelm2", "hunyuan"});
    } else if (is({"falcon"})) {
        p.regexes = {R"([\p{P}\$\+<=>\^~\|`]+)", kGpt2Regex, "[0-9][0-9][0-9]"};
    } else if (is({"poro-chat", "bloom", "gpt3-finnish"})) {
        p.regexes = {R"( ?[^(\s|.,!?…。，、।۔،)]+)"};
        p.clean_spaces = !is({"poro-chat"});
    } else if (is({"default"}) || pre.empty()) {
        // llama.cpp's fallback for BPE vocabs that name no pre-tokenizer.
        p.regexes = {R"([\p{P}\$\+<=>\^~\|]+)", kGpt2Regex, R"(\p{N}+)", "[0-9][0-9][0-9]"};
    } else {
        return error("unsupported pre-tokenizer 'tokenizer.ggml.pre' = '{}' (supported: gpt-2 family, "
                     "llama3/llama-bpe, smollm/starcoder, qwen2, falcon, bloom, default)", pre);
    }
    return p;
}

struct RegexSplitter::Code {
    pcre2_code* code = nullptr;
    bool jit = false;
    ~Code() { pcre2_code_free(code); }
};

Expected<RegexSplitter> RegexSplitter::compile(const std::vector<std::string>& patterns) {
    RegexSplitter s;
    for (const auto& pat : patterns) {
        int err = 0;
        PCRE2_SIZE err_off = 0;
        pcre2_code* code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pat.data()), pat.size(),
                                         PCRE2_UTF | PCRE2_UCP | PCRE2_NO_UTF_CHECK, &err, &err_off, nullptr);
        if (!code) {
            PCRE2_UCHAR msg[256];
            pcre2_get_error_message(err, msg, sizeof(msg));
            return error("pre-tokenizer regex '{}': {} at offset {}", pat, reinterpret_cast<char*>(msg), err_off);
        }
        auto c = std::make_shared<Code>();
        c->code = code;
        c->jit = pcre2_jit_compile(code, PCRE2_JIT_COMPLETE) == 0;
        s.codes_.push_back(std::move(c));
    }
    return s;
}

namespace {
// Per-thread match state: match data sized for our patterns and a JIT stack large enough for long runs.
struct MatchState {
    pcre2_match_data* md = pcre2_match_data_create(8, nullptr);
    pcre2_match_context* mctx = pcre2_match_context_create(nullptr);
    pcre2_jit_stack* stack = pcre2_jit_stack_create(32 * 1024, 4 * 1024 * 1024, nullptr);
    MatchState() { pcre2_jit_stack_assign(mctx, nullptr, stack); }
    ~MatchState() {
        pcre2_jit_stack_free(stack);
        pcre2_match_context_free(mctx);
        pcre2_match_data_free(md);
    }
};
}  // namespace

void RegexSplitter::split(std::string_view text, std::vector<std::pair<uint32_t, uint32_t>>& pieces) const {
    thread_local MatchState st;
    std::vector<std::pair<uint32_t, uint32_t>> cur{{0u, static_cast<uint32_t>(text.size())}}, next;
    if (text.empty()) return;
    for (const auto& c : codes_) {
        next.clear();
        for (const auto& [off, len] : cur) {
            const auto* subject = reinterpret_cast<PCRE2_SPTR>(text.data() + off);
            size_t gap = 0, pos = 0;
            while (pos < len) {
                const int rc = c->jit ? pcre2_jit_match(c->code, subject, len, pos, PCRE2_NO_UTF_CHECK, st.md, st.mctx)
                                      : pcre2_match(c->code, subject, len, pos, PCRE2_NO_UTF_CHECK, st.md, st.mctx);
                if (rc < 0) break;  // no match (or a resource limit): the rest stays one piece
                const PCRE2_SIZE* ov = pcre2_get_ovector_pointer(st.md);
                const size_t ms = ov[0], me = ov[1];
                if (me <= ms) {  // empty match: step over one character, keep the gap open
                    pos = ms + utf8::seq_len(static_cast<uint8_t>(text[off + ms]));
                    continue;
                }
                if (ms > gap) next.emplace_back(off + gap, ms - gap);
                next.emplace_back(off + ms, me - ms);
                gap = pos = me;
            }
            if (gap < len) next.emplace_back(off + gap, len - gap);
        }
        cur.swap(next);
    }
    pieces.insert(pieces.end(), cur.begin(), cur.end());
}

}  // namespace llm
