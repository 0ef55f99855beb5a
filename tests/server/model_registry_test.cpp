// The model registry with fake backends: names, LRU unloading under a count limit and a byte budget, busy models
// kept, one load for concurrent first uses, load failures reported to every waiter and retried; and the HTTP
// routes over a registry (/v1/models states, routing by `model`, per-model metrics).
#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <thread>

#include "fake_backend.hpp"
#include "served.hpp"
#include "server/model_registry.hpp"

using namespace llm::server;
using namespace llm::server::testing;
using namespace std::chrono_literals;

namespace {

// A loader of FakeBackends named after the spec (bytes = est_bytes), counting loads per id; fail_next makes the
// next load of a model fail, delay slows every load.
struct FakeLoader {
    std::mutex mu;
    std::map<std::string, int> loads;
    std::map<std::string, int> fail_next;
    std::chrono::milliseconds delay{0};
    std::atomic<bool> hold{false};  // loads wait while set
    std::map<std::string, int64_t> actual_bytes;  // what a load really takes (default: the estimate)

    ModelRegistry::Loader fn() {
        return [this](const ModelSpec& s) -> llm::Expected<std::shared_ptr<Backend>> {
            std::this_thread::sleep_for(delay);
            while (hold.load()) std::this_thread::sleep_for(1ms);
            std::lock_guard lock(mu);
            if (fail_next[s.id] > 0) {
                --fail_next[s.id];
                return llm::error("{}: not a GGUF file", s.source);
            }
            ++loads[s.id];
            auto b = std::make_shared<FakeBackend>();
            b->set_id(s.id, actual_bytes.count(s.id) ? actual_bytes[s.id] : s.est_bytes);
            b->set_reply("reply from " + s.id);
            return std::shared_ptr<Backend>(b);
        };
    }
    int count(const std::string& id) {
        std::lock_guard lock(mu);
        return loads[id];
    }
};

std::unique_ptr<ModelRegistry> make(FakeLoader& l, RegistryLimits lim, std::vector<std::string> ids, int64_t bytes = 100) {
    auto r = std::make_unique<ModelRegistry>(lim, l.fn());
    for (const std::string& id : ids) r->add(ModelSpec{id, "/models/" + id + ".gguf", {id + "-alias"}, bytes, 0});
    return r;
}

std::string state(const ModelRegistry& r, size_t i) { return r.list()[i].state; }

void use(ModelRegistry& r, size_t i) {
    auto m = r.acquire(i);
    ASSERT_TRUE(m.has_value()) << m.error_message();
}

}  // namespace

TEST(ModelRegistry, NamesAliasesAndTheDefault) {
    FakeLoader l;
    auto r = make(l, {}, {"a", "b"});
    EXPECT_EQ(r->resolve("b", false), 1);
    EXPECT_EQ(r->resolve("b-alias", true), 1);
    EXPECT_EQ(r->resolve("", true), 0);
    EXPECT_EQ(r->resolve("gpt-4o", false), 0);
    EXPECT_EQ(r->resolve("gpt-4o", true), -1);
}

TEST(ModelRegistry, LeastRecentlyUsedIsUnloadedAtMaxLoaded) {
    FakeLoader l;
    auto r = make(l, {0, 2}, {"a", "b", "c"});
    EXPECT_EQ(state(*r, 0), "unloaded");
    use(*r, 0);
    std::this_thread::sleep_for(2ms);
    use(*r, 1);
    std::this_thread::sleep_for(2ms);
    use(*r, 0);  // a is now the most recently used
    use(*r, 2);  // c needs room: b goes
    EXPECT_EQ(state(*r, 0), "loaded");
    EXPECT_EQ(state(*r, 1), "unloaded");
    EXPECT_EQ(state(*r, 2), "loaded");
    EXPECT_EQ(r->list()[1].unloads, 1);
    use(*r, 1);  // back again: a is now the LRU one
    EXPECT_EQ(state(*r, 0), "unloaded");
    EXPECT_EQ(l.count("b"), 2);
    EXPECT_EQ(l.count("a"), 1);
}

TEST(ModelRegistry, ByteBudgetUnloadsToFit) {
    FakeLoader l;
    auto r = make(l, {250, 0}, {"a", "b", "c"});
    use(*r, 0);
    use(*r, 1);
    EXPECT_EQ(r->loaded_bytes(), 200);
    use(*r, 2);
    EXPECT_EQ(r->loaded_bytes(), 200);
    EXPECT_EQ(state(*r, 0), "unloaded");
    std::string text;
    r->render_metrics(text);
    EXPECT_NE(text.find("llm_model_unloads_total{model=\"a\"} 1\n"), std::string::npos) << text;
    EXPECT_NE(text.find("llm_model_loaded{model=\"c\"} 1\n"), std::string::npos);
    EXPECT_NE(text.find("llm_model_bytes{model=\"a\"} 0\n"), std::string::npos);
    EXPECT_NE(text.find("llm_models_loaded_bytes 200\n"), std::string::npos);
}

TEST(ModelRegistry, ALoadLargerThanEstimatedMakesRoomAfterwards) {
    FakeLoader l;
    l.actual_bytes["b"] = 200;
    auto r = make(l, {250, 0}, {"a", "b"});
    use(*r, 0);
    use(*r, 1);  // expected 100 (fits next to a), took 200: a goes
    EXPECT_EQ(state(*r, 0), "unloaded");
    EXPECT_EQ(r->loaded_bytes(), 200);
    use(*r, 0);  // b's next load is expected to take 200: a fits only once b went
    EXPECT_EQ(state(*r, 1), "unloaded");
}

TEST(ModelRegistry, AModelInUseIsNotUnloadedTheLoadWaits) {
    FakeLoader l;
    auto r = make(l, {0, 1}, {"a", "b"});
    auto a = r->acquire(0);
    ASSERT_TRUE(a.has_value());
    auto b = std::async(std::launch::async, [&] { return r->acquire(1); });
    EXPECT_EQ(b.wait_for(200ms), std::future_status::timeout);  // a is busy: b waits, queued
    EXPECT_EQ(state(*r, 0), "loaded");
    EXPECT_EQ(state(*r, 1), "loading");
    a->lease.reset();  // a's request ended
    auto got = b.get();
    ASSERT_TRUE(got.has_value()) << got.error_message();
    EXPECT_EQ(got->backend->info().id, "b");
    EXPECT_EQ(state(*r, 0), "unloaded");
}

TEST(ModelRegistry, ConcurrentFirstUsesLoadOnce) {
    FakeLoader l;
    l.delay = 100ms;
    auto r = make(l, {}, {"a"});
    std::vector<std::future<llm::Expected<AcquiredModel>>> fs;
    for (int i = 0; i < 8; ++i) fs.push_back(std::async(std::launch::async, [&] { return r->acquire(0); }));
    std::shared_ptr<Backend> first;
    for (auto& f : fs) {
        auto m = f.get();
        ASSERT_TRUE(m.has_value()) << m.error_message();
        if (!first) first = m->backend;
        EXPECT_EQ(m->backend, first);
    }
    EXPECT_EQ(l.count("a"), 1);
    EXPECT_EQ(r->list()[0].active, 0);
}

TEST(ModelRegistry, LoadingOneModelDoesNotBlockAnother) {
    FakeLoader l;
    auto r = make(l, {}, {"a", "b"});
    use(*r, 0);
    l.hold = true;  // b's load does not end until the test says so
    auto b = std::async(std::launch::async, [&] { return r->acquire(1); });
    while (r->list()[1].waiting < 1) std::this_thread::sleep_for(1ms);
    use(*r, 0);  // would hang here if a load blocked the loaded models
    EXPECT_EQ(state(*r, 1), "loading");
    l.hold = false;
    EXPECT_TRUE(b.get().has_value());
}

TEST(ModelRegistry, AFailedLoadErrsEveryWaiterAndTheNextRequestRetries) {
    FakeLoader l;
    l.fail_next["a"] = 1;
    l.hold = true;
    auto r = make(l, {}, {"a"});
    auto f1 = std::async(std::launch::async, [&] { return r->acquire(0); });
    auto f2 = std::async(std::launch::async, [&] { return r->acquire(0); });
    while (r->list()[0].waiting < 2) std::this_thread::sleep_for(1ms);  // both wait for the same attempt
    l.hold = false;
    for (auto* f : {&f1, &f2}) {
        auto m = f->get();
        ASSERT_FALSE(m.has_value());
        EXPECT_EQ(m.error_message(), "model 'a' failed to load: /models/a.gguf: not a GGUF file");
    }
    EXPECT_EQ(state(*r, 0), "unloaded");
    EXPECT_EQ(r->list()[0].load_failures, 1);
    use(*r, 0);
    EXPECT_EQ(state(*r, 0), "loaded");
}

TEST(ModelRegistryHttp, ModelsListedWithStatesRequestsRoutedByName) {
    FakeLoader l;
    auto reg = std::shared_ptr<ModelRegistry>(make(l, {0, 1}, {"a", "b"}));
    ServerOptions o;
    o.strict_models = true;
    Served s(o, false);
    s.server.set_registry(reg);
    auto models = Json::parse(s.get("/v1/models").body);
    ASSERT_EQ(models["data"].size(), 4u);
    EXPECT_EQ(models["data"][0]["id"], "a");
    EXPECT_EQ(models["data"][1]["id"], "a-alias");
    EXPECT_EQ(models["data"][2]["state"], "unloaded");
    EXPECT_EQ(models["data"][2]["loaded"], false);
    auto chat = [&](const std::string& model) {
        return s.post("/v1/chat/completions", R"({"model":")" + model + R"(","messages":[{"role":"user","content":"hi"}]})");
    };
    auto r = chat("b-alias");
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(Json::parse(r.body)["choices"][0]["message"]["content"], "reply from b");
    EXPECT_EQ(Json::parse(s.get("/v1/models/b").body)["state"], "loaded");
    r = chat("a");
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(Json::parse(r.body)["choices"][0]["message"]["content"], "reply from a");
    EXPECT_EQ(Json::parse(s.get("/v1/models/b").body)["state"], "unloaded");
    EXPECT_EQ(chat("nope").status, 404);
    const std::string metrics = s.get("/metrics").body;
    EXPECT_NE(metrics.find("llm_model_unloads_total{model=\"b\"} 1\n"), std::string::npos) << metrics;
    EXPECT_NE(metrics.find("llm_model_loads_total{model=\"a\"} 1\n"), std::string::npos);
}

TEST(ModelRegistryHttp, AFailedLoadIsA503NamingTheModel) {
    FakeLoader l;
    l.fail_next["a"] = 1;
    auto reg = std::shared_ptr<ModelRegistry>(make(l, {}, {"a"}));
    Served s({}, false);
    s.server.set_registry(reg);
    auto r = s.post("/v1/messages", R"({"model":"a","max_tokens":8,"messages":[{"role":"user","content":"hi"}]})");
    EXPECT_EQ(r.status, 503);
    EXPECT_NE(r.body.find("model 'a' failed to load"), std::string::npos) << r.body;
    r = s.post("/v1/messages", R"({"model":"a","max_tokens":8,"messages":[{"role":"user","content":"hi"}]})");
    EXPECT_EQ(r.status, 200) << r.body;
}
