// The models llm-serve can serve, by id and alias: loaded on first use on a loader thread (requests for other
// models go on meanwhile), kept loaded while memory (a byte budget) and a count limit allow, and the least
// recently used idle one unloaded to make room. A model with requests running (leases held) is never unloaded.
#pragma once
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "server/backend.hpp"

namespace llm::server {

struct ModelSpec {
    std::string id;                    // the name requests use (and /v1/models lists)
    std::string source;                // what the loader loads: a path or an hf: reference
    std::vector<std::string> aliases;  // more names for it
    int64_t est_bytes = 0;             // memory it is expected to take once loaded (before the first load)
    int64_t created = 0;               // unix seconds, for /v1/models
};

struct RegistryLimits {
    int64_t mem_budget = 0;  // bytes of loaded models at most (0: no limit)
    int max_loaded = 0;      // models loaded at once at most (0: no limit)
};

// What /v1/models and /metrics say about one model.
struct ModelStatus {
    ModelSpec spec;
    std::string state;  // "loaded", "loading" (queued or loading), "unloaded"
    int64_t bytes = 0;  // while loaded
    int active = 0;     // leases held (requests running or about to)
    int waiting = 0;    // requests waiting for its load
    int64_t loads = 0, unloads = 0, load_failures = 0;
    std::string last_error;
};

class ModelRegistry;

// Held by a request from before its prompt is rendered until its engine request ends: its model stays loaded.
class ModelLease {
public:
    ModelLease(ModelRegistry* r, size_t index) : registry_(r), index_(index) {}
    ~ModelLease();
    ModelLease(const ModelLease&) = delete;
    ModelLease& operator=(const ModelLease&) = delete;

private:
    ModelRegistry* registry_;
    size_t index_;
};

struct AcquiredModel {
    std::shared_ptr<Backend> backend;
    // Must not hold the backend: it may be released on the engine's thread (in on_done's closure), where the
    // last reference to the backend would destroy the engine from inside itself.
    std::shared_ptr<ModelLease> lease;
};

class ModelRegistry {
public:
    // Loads one model (on the loader thread); the Backend's info().bytes is what it takes once loaded.
    using Loader = std::function<Expected<std::shared_ptr<Backend>>(const ModelSpec&)>;

    ModelRegistry(RegistryLimits limits, Loader loader);
    // Stops the loader and unloads every model (engines end pending requests as cancelled). Leases must not
    // outlive the registry, except those released while its models are destroyed here.
    ~ModelRegistry();

    // The first model added is the default. Add every model before serving (resolve and acquire read the
    // list without a lock; it does not change once requests come).
    void add(ModelSpec spec);
    // A model that is loaded already (never unloaded while it is the only way to have it: no loader).
    void add_loaded(ModelSpec spec, std::shared_ptr<Backend> backend);

    // The model a request's `model` names (id or alias); "" and unknown names give the default unless
    // `strict`, where an unknown name gives -1.
    int resolve(const std::string& name, bool strict) const;
    // The model, loaded: at once when it is, else after the loader thread loaded it (this call waits). An
    // error names the model and why its load failed; the next acquire tries again.
    Expected<AcquiredModel> acquire(size_t index);

    std::vector<ModelStatus> list() const;
    size_t size() const { return entries_.size(); }
    const ModelSpec& spec(size_t index) const { return entries_[index].spec; }
    // The loaded engines' statistics, summed.
    EngineStats stats() const;
    // Per-model series with a `model` label (Prometheus text) and the budget gauges.
    void render_metrics(std::string& out) const;
    int64_t loaded_bytes() const;

private:
    friend class ModelLease;
    enum class State { Unloaded, Queued, Loading, Loaded };
    struct Entry {
        ModelSpec spec;
        State state = State::Unloaded;
        std::shared_ptr<Backend> backend;
        int64_t bytes = 0;
        int active = 0, waiters = 0;
        int64_t attempts = 0;  // finished load attempts: a waiter whose attempt ended without a load fails
        int64_t loads = 0, unloads = 0, failures = 0;
        std::string last_error;
        std::chrono::steady_clock::time_point last_used{};
        uint64_t queued_order = 0;
    };

    void release(size_t index);
    void loader_loop();
    // Unloads LRU idle models until `incoming` fits (entries_.size(): until the loaded ones fit); false when it
    // cannot yet (busy models fill the budget).
    // The unloaded backends go to `freed`, destroyed by the caller outside the lock.
    bool make_room(std::unique_lock<std::mutex>& lock, size_t incoming, std::vector<std::shared_ptr<Backend>>& freed);
    bool fits(size_t incoming) const;

    RegistryLimits limits_;
    Loader loader_;
    std::vector<Entry> entries_;
    mutable std::mutex mu_;
    std::condition_variable cv_;
    uint64_t queue_counter_ = 0;
    bool stopping_ = false;
    std::thread loader_thread_;
};

}  // namespace llm::server
