// Helpers for comparing engine logits with the fixtures' llama.cpp / numpy references.
#pragma once
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "llm/llm.hpp"

namespace llm::test {

inline std::string fixtures_dir() { return LLM_FIXTURES_DIR; }
inline std::string models_dir() { return fixtures_dir() + "/models"; }

// Aborts with a line naming the file when it is missing (the fixtures live in ../shared/fixtures beside the
// repository; a clone elsewhere has none) instead of nlohmann's "unexpected end of input".
inline nlohmann::json read_json_file(const std::string& path) {
    std::ifstream in(path);
    if (!in) {
        std::fprintf(stderr, "test fixture not found: %s (the tests read ../shared/fixtures beside the repository)\n",
                     path.c_str());
        std::exit(1);
    }
    return nlohmann::json::parse(in);
}

inline const nlohmann::json& manifest() {
    static const nlohmann::json m = read_json_file(models_dir() + "/manifest.json");
    return m;
}

inline std::vector<float> read_f32(const std::string& path) {
    std::ifstream in(path, std::ios::binary | std::ios::ate);
    const size_t n = (size_t)in.tellg() / 4;
    std::vector<float> v(n);
    in.seekg(0);
    in.read(reinterpret_cast<char*>(v.data()), (std::streamsize)(n * 4));
    return v;
}

struct Tolerance {
    double max_abs = 0, rms = 0, min_cosine = 0, argmax_gap = 0;
};

inline Tolerance tolerance_for(const std::string& weight_type) {
    const auto& t = manifest()["tolerances"]["by_weight_type"].at(weight_type);
    return {t["max_abs"].get<double>(), t["rms"].get<double>(), t["min_cosine_per_position"].get<double>(),
            t["argmax_gap_threshold"].get<double>()};
}

struct LogitStats {
    double max_abs = 0, rms = 0, min_cosine = 1;
    int argmax_violations = 0;  // positions where argmax differs although the reference gap >= threshold
};

inline LogitStats compare_logits(const std::vector<float>& got, const std::vector<float>& ref, int n_vocab,
                                 int n_pos, double gap_threshold) {
    LogitStats s;
    double sq = 0;
    for (int p = 0; p < n_pos; ++p) {
        const float* a = got.data() + (size_t)p * n_vocab;
        const float* b = ref.data() + (size_t)p * n_vocab;
        double dot = 0, na = 0, nb = 0;
        int am = 0, bm = 0;
        for (int i = 0; i < n_vocab; ++i) {
            const double d = (double)a[i] - b[i];
            s.max_abs = std::max(s.max_abs, std::abs(d));
            sq += d * d;
            dot += (double)a[i] * b[i], na += (double)a[i] * a[i], nb += (double)b[i] * b[i];
            if (a[i] > a[am]) am = i;
            if (b[i] > b[bm]) bm = i;
        }
        s.min_cosine = std::min(s.min_cosine, dot / std::sqrt(na * nb));
        float second = -INFINITY;
        for (int i = 0; i < n_vocab; ++i)
            if (i != bm) second = std::max(second, b[i]);
        if (am != bm && b[bm] - second >= gap_threshold) ++s.argmax_violations;
    }
    s.rms = std::sqrt(sq / ((double)n_vocab * n_pos));
    return s;
}

inline void expect_within(const LogitStats& s, const Tolerance& t, const std::string& what) {
    std::printf("[fixture] %-44s max_abs %.6f (tol %.4g)  rms %.6f (tol %.4g)  min_cos %.7f (tol %.7f)\n",
                what.c_str(), s.max_abs, t.max_abs, s.rms, t.rms, s.min_cosine, t.min_cosine);
    EXPECT_LE(s.max_abs, t.max_abs) << what;
    EXPECT_LE(s.rms, t.rms) << what;
    EXPECT_GE(s.min_cosine, t.min_cosine) << what;
    EXPECT_EQ(s.argmax_violations, 0) << what;
}

// A session on a fixture model (context 256 unless opts say otherwise); null after a failed expectation.
inline std::unique_ptr<Session> make_session(const std::string& path, SessionOptions opts = {}) {
    auto model = Model::load(path);
    EXPECT_TRUE(model) << (model ? "" : model.error_message());
    if (!model) return nullptr;
    opts.n_ctx = opts.n_ctx ? opts.n_ctx : 256;
    auto s = Session::create(*model, opts);
    EXPECT_TRUE(s) << (s ? "" : s.error_message());
    return s ? std::move(*s) : nullptr;
}

// Logits of every token of one batch eval, concatenated.
inline std::vector<float> run_batch(Session& s, const std::vector<int32_t>& tokens) {
    EXPECT_TRUE(s.eval(tokens, true));
    std::vector<float> out;
    for (size_t i = 0; i < tokens.size(); ++i) {
        auto l = s.logits((int64_t)i);
        out.insert(out.end(), l.begin(), l.end());
    }
    return out;
}

// Logits of each token evaluated alone, concatenated.
inline std::vector<float> run_one_by_one(Session& s, const std::vector<int32_t>& tokens) {
    std::vector<float> out;
    for (int32_t t : tokens) {
        EXPECT_TRUE(s.eval({&t, 1}, false));
        auto l = s.logits();
        out.insert(out.end(), l.begin(), l.end());
    }
    return out;
}

}  // namespace llm::test
