// Helpers for the serving-engine tests: model paths, running a set of requests through an engine (all at once
// or staggered) and recording each request's tokens and per-step logits.
#pragma once
#include <gtest/gtest.h>

#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "engine/engine_impl.hpp"
#include "llm/engine.hpp"
#include "llm/llm.hpp"
#include "models/default_model.hpp"
#include "runtime/model_access.hpp"

namespace llm::test {

inline std::string fixture_model(const std::string& name, const std::string& type) {
    return std::string(LLM_FIXTURES_DIR) + "/models/" + name + "/" + name + "." + type + ".gguf";
}

inline std::shared_ptr<const Model> load_or_die(const std::string& path) {
    auto m = Model::load(path);
    EXPECT_TRUE(m) << m.error_message();
    return m ? *m : nullptr;
}

// What one request produced.
struct Outcome {
    std::vector<int32_t> tokens;
    std::vector<std::vector<float>> logits;  // per sampled step
    std::string text, streamed;
    std::vector<TokenEvent> events;
    RequestResult result;
    bool done = false;
};

// Submits reqs[i] at step arrival[i] (0 = before the first step) and steps until all are done.
inline std::vector<Outcome> run_requests(Engine& e, const std::vector<Request>& reqs, std::vector<int> arrival = {},
                                         bool keep_logits = true) {
    if (arrival.empty()) arrival.assign(reqs.size(), 0);
    std::vector<Outcome> out(reqs.size());
    std::map<RequestId, size_t> index;
    engine_set_logits_hook(e, [&](RequestId id, int64_t, std::span<const float> l) {
        if (keep_logits) out[index.at(id)].logits.emplace_back(l.begin(), l.end());
    });
    size_t submitted = 0, step = 0;
    auto submit_due = [&] {
        for (size_t i = 0; i < reqs.size(); ++i) {
            if (arrival[i] != (int)step) continue;
            RequestCallbacks cb;
            cb.on_token = [&out, i](const TokenEvent& ev) {
                out[i].streamed += ev.text;
                out[i].events.push_back(ev);
            };
            cb.on_done = [&out, i](const RequestResult& r) {
                out[i].result = r, out[i].tokens = r.tokens, out[i].text = r.text, out[i].done = true;
            };
            auto id = e.submit(reqs[i], cb);
            EXPECT_TRUE(id) << id.error_message();
            if (id) index[*id] = i;
            ++submitted;
        }
    };
    for (;; ++step) {
        submit_due();
        const bool worked = e.step();
        bool all_done = submitted == reqs.size();
        for (const Outcome& o : out) all_done = all_done && o.done;
        if (all_done) break;
        if (!worked && submitted == reqs.size()) {
            ADD_FAILURE() << "engine idle with requests not done";
            break;
        }
        if (step > 100000) {
            ADD_FAILURE() << "too many steps";
            break;
        }
    }
    engine_set_logits_hook(e, {});
    return out;
}

// n prompts of different lengths (min_len .. min_len + n * stride), token ids from a fixed LCG within [3, n_vocab).
// A request that decodes exactly max_tokens tokens (end-of-generation does not stop it).
inline Request greedy(std::vector<int32_t> prompt, int max_tokens) {
    Request r;
    r.prompt = std::move(prompt);
    r.max_tokens = max_tokens;
    r.stop_at_end_of_generation = false;
    return r;
}

inline std::vector<std::vector<int32_t>> make_prompts(int n, int min_len, int stride, int n_vocab, uint32_t seed = 7) {
    std::vector<std::vector<int32_t>> ps;
    uint32_t x = seed;
    for (int i = 0; i < n; ++i) {
        std::vector<int32_t> p;
        const int len = min_len + ((i * 7) % n) * stride;
        for (int j = 0; j < len; ++j) {
            x = x * 1664525u + 1013904223u;
            p.push_back(3 + (int32_t)((x >> 8) % (uint32_t)(n_vocab - 3)));
        }
        ps.push_back(std::move(p));
    }
    return ps;
}

inline bool bit_equal(const std::vector<float>& a, const std::vector<float>& b) {
    return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

// Expects got to have the same tokens and bit-identical logits at every step as ref.
inline void expect_same(const std::vector<Outcome>& ref, const std::vector<Outcome>& got, const std::string& what) {
    ASSERT_EQ(ref.size(), got.size());
    for (size_t i = 0; i < ref.size(); ++i) {
        EXPECT_EQ(ref[i].tokens, got[i].tokens) << what << ": request " << i;
        ASSERT_EQ(ref[i].logits.size(), got[i].logits.size()) << what << ": request " << i;
        for (size_t s = 0; s < ref[i].logits.size(); ++s)
            if (!bit_equal(ref[i].logits[s], got[i].logits[s])) {
                ADD_FAILURE() << what << ": request " << i << " step " << s << ": logits differ";
                break;
            }
    }
}

}  // namespace llm::test
