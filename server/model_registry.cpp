// ModelRegistry: see model_registry.hpp. One mutex guards every entry; loads run on the loader thread outside
// it, so requests for loaded models never wait for a load.
#include "server/model_registry.hpp"

#include <fmt/format.h>

namespace llm::server {

ModelLease::~ModelLease() { registry_->release(index_); }

ModelRegistry::ModelRegistry(RegistryLimits limits, Loader loader) : limits_(limits), loader_(std::move(loader)) {
    if (loader_) loader_thread_ = std::thread([this] { loader_loop(); });
}

ModelRegistry::~ModelRegistry() {
    {
        std::lock_guard lock(mu_);
        stopping_ = true;
        cv_.notify_all();
    }
    if (loader_thread_.joinable()) loader_thread_.join();
    std::vector<std::shared_ptr<Backend>> backends;
    {
        std::lock_guard lock(mu_);
        for (Entry& e : entries_) backends.push_back(std::move(e.backend));
    }
    backends.clear();  // outside the lock: engines end their requests, whose leases release here
}

void ModelRegistry::add(ModelSpec spec) {
    Entry e;
    e.spec = std::move(spec);
    std::lock_guard lock(mu_);  // the loader thread reads entries_ already
    entries_.push_back(std::move(e));
}

void ModelRegistry::add_loaded(ModelSpec spec, std::shared_ptr<Backend> backend) {
    Entry e;
    e.spec = std::move(spec);
    e.bytes = backend->info().bytes;
    e.backend = std::move(backend);
    e.state = State::Loaded;
    e.loads = 1;
    e.last_used = std::chrono::steady_clock::now();
    std::lock_guard lock(mu_);
    entries_.push_back(std::move(e));
}

int ModelRegistry::resolve(const std::string& name, bool strict) const {
    if (entries_.empty()) return -1;
    if (name.empty()) return 0;
    for (size_t i = 0; i < entries_.size(); ++i) {
        if (entries_[i].spec.id == name) return (int)i;
        for (const std::string& a : entries_[i].spec.aliases)
            if (a == name) return (int)i;
    }
    return strict ? -1 : 0;
}

Expected<AcquiredModel> ModelRegistry::acquire(size_t index) {
    std::unique_lock lock(mu_);
    Entry& e = entries_[index];
    if (e.state != State::Loaded) {
        if (!loader_) return error("model '{}' is not loaded and this server cannot load it", e.spec.id);
        if (e.state == State::Unloaded) {
            e.state = State::Queued;
            e.queued_order = ++queue_counter_;
            cv_.notify_all();
        }
        // The attempt in progress (or queued) is the one this request waits for; the waiter count keeps the
        // model from being unloaded between its load and this thread waking up.
        const int64_t attempt = e.attempts;
        ++e.waiters;
        cv_.wait(lock, [&] { return stopping_ || e.state == State::Loaded || e.attempts != attempt; });
        --e.waiters;
        if (stopping_) return error("the server is stopping");
        if (e.state != State::Loaded) return error("model '{}' failed to load: {}", e.spec.id, e.last_error);
    }
    ++e.active;
    e.last_used = std::chrono::steady_clock::now();
    return AcquiredModel{e.backend, std::make_shared<ModelLease>(this, index)};
}

void ModelRegistry::release(size_t index) {
    std::lock_guard lock(mu_);
    Entry& e = entries_[index];
    --e.active;
    e.last_used = std::chrono::steady_clock::now();
    cv_.notify_all();  // the loader may be waiting for an idle model to unload
}

bool ModelRegistry::fits(size_t incoming) const {
    int loaded = 0;
    int64_t bytes = 0;
    for (const Entry& e : entries_)
        if (e.state == State::Loaded) ++loaded, bytes += e.bytes;
    const bool adding = incoming < entries_.size();
    const int64_t more = adding ? entries_[incoming].spec.est_bytes : 0;
    if (limits_.max_loaded > 0 && loaded + (adding ? 1 : 0) > limits_.max_loaded) return false;
    if (limits_.mem_budget > 0 && loaded > (adding ? 0 : 1) && bytes + more > limits_.mem_budget) return false;
    return true;  // alone, a model larger than the budget still loads (else it could never be served)
}

bool ModelRegistry::make_room(std::unique_lock<std::mutex>&, size_t incoming, std::vector<std::shared_ptr<Backend>>& freed) {
    while (!fits(incoming)) {
        Entry* lru = nullptr;
        for (Entry& e : entries_)
            if (e.state == State::Loaded && e.active == 0 && e.waiters == 0 && (!lru || e.last_used < lru->last_used)) lru = &e;
        if (!lru) return false;
        freed.push_back(std::move(lru->backend));
        lru->state = State::Unloaded;
        lru->bytes = 0;
        ++lru->unloads;
    }
    return true;
}

void ModelRegistry::loader_loop() {
    std::unique_lock lock(mu_);
    while (!stopping_) {
        // The model queued first; it waits (queued) while busy models leave no room for it.
        size_t next = entries_.size();
        for (size_t i = 0; i < entries_.size(); ++i)
            if (entries_[i].state == State::Queued && (next == entries_.size() || entries_[i].queued_order < entries_[next].queued_order))
                next = i;
        std::vector<std::shared_ptr<Backend>> freed;
        if (next == entries_.size() || !make_room(lock, next, freed)) {
            if (!freed.empty()) {  // destroyed outside the lock, then everything is looked at again
                lock.unlock();
                freed.clear();
                lock.lock();
                continue;
            }
            cv_.wait(lock);  // a queued model or a released lease wakes it
            continue;
        }
        Entry& e = entries_[next];
        e.state = State::Loading;
        const ModelSpec spec = e.spec;
        lock.unlock();
        freed.clear();  // unloaded engines stop here, outside the lock
        Expected<std::shared_ptr<Backend>> loaded = loader_(spec);
        lock.lock();
        ++e.attempts;
        if (loaded) {
            e.backend = std::move(*loaded);
            e.bytes = e.backend->info().bytes > 0 ? e.backend->info().bytes : spec.est_bytes;
            e.spec.est_bytes = e.bytes;  // the next load of it is expected to take as much
            e.state = State::Loaded;
            e.last_used = std::chrono::steady_clock::now();
            ++e.loads;
            // The estimate was low (a first load): the others make room now that the real size is known (the
            // new model has waiters, so it is not the one unloaded).
            std::vector<std::shared_ptr<Backend>> trimmed;
            make_room(lock, entries_.size(), trimmed);
            if (!trimmed.empty()) {
                cv_.notify_all();
                lock.unlock();
                trimmed.clear();
                lock.lock();
            }
        } else {
            e.state = State::Unloaded;
            e.last_error = loaded.error_message();
            ++e.failures;
        }
        cv_.notify_all();
    }
}

std::vector<ModelStatus> ModelRegistry::list() const {
    std::lock_guard lock(mu_);
    std::vector<ModelStatus> out;
    for (const Entry& e : entries_) {
        ModelStatus s;
        s.spec = e.spec;
        s.state = e.state == State::Loaded ? "loaded" : e.state == State::Unloaded ? "unloaded" : "loading";
        s.bytes = e.state == State::Loaded ? e.bytes : 0;
        s.active = e.active;
        s.waiting = e.waiters;
        s.loads = e.loads, s.unloads = e.unloads, s.load_failures = e.failures;
        s.last_error = e.last_error;
        out.push_back(std::move(s));
    }
    return out;
}

int64_t ModelRegistry::loaded_bytes() const {
    std::lock_guard lock(mu_);
    int64_t bytes = 0;
    for (const Entry& e : entries_)
        if (e.state == State::Loaded) bytes += e.bytes;
    return bytes;
}

EngineStats ModelRegistry::stats() const {
    std::vector<std::shared_ptr<Backend>> loaded;
    {
        std::lock_guard lock(mu_);
        for (const Entry& e : entries_)
            if (e.backend) loaded.push_back(e.backend);
    }
    EngineStats sum;
    for (const auto& b : loaded) {
        const EngineStats s = b->stats();
        sum.running += s.running, sum.waiting += s.waiting;
        sum.kv_blocks_used += s.kv_blocks_used, sum.kv_blocks_total += s.kv_blocks_total;
        sum.block_tokens = s.block_tokens;
        sum.prefix_lookups += s.prefix_lookups, sum.prefix_hits += s.prefix_hits;
        sum.prefix_hit_tokens += s.prefix_hit_tokens, sum.prefix_evictions += s.prefix_evictions;
        sum.preemptions += s.preemptions, sum.cancellations += s.cancellations;
        sum.prompt_tokens += s.prompt_tokens, sum.generated_tokens += s.generated_tokens;
        sum.requests_done += s.requests_done;
        sum.steps += s.steps, sum.step_tokens += s.step_tokens, sum.step_sequences += s.step_sequences;
        sum.max_step_sequences = std::max(sum.max_step_sequences, s.max_step_sequences);
    }
    return sum;
}

void ModelRegistry::render_metrics(std::string& out) const {
    const std::vector<ModelStatus> models = list();
    auto series = [&](const char* name, const char* type, const char* help, auto value) {
        out += fmt::format("# HELP {} {}\n# TYPE {} {}\n", name, help, name, type);
        for (const ModelStatus& m : models) out += fmt::format("{}{{model=\"{}\"}} {}\n", name, m.spec.id, value(m));
    };
    series("llm_model_loaded", "gauge", "1 while the model is loaded, else 0.", [](const ModelStatus& m) { return m.state == "loaded" ? 1 : 0; });
    series("llm_model_bytes", "gauge", "Memory the loaded model takes (weights + KV pool), 0 when unloaded.",
           [](const ModelStatus& m) { return m.bytes; });
    series("llm_model_active_requests", "gauge", "Requests holding the model loaded.", [](const ModelStatus& m) { return m.active; });
    series("llm_model_waiting_requests", "gauge", "Requests waiting for the model to load.", [](const ModelStatus& m) { return m.waiting; });
    series("llm_model_loads_total", "counter", "Loads of the model.", [](const ModelStatus& m) { return m.loads; });
    series("llm_model_unloads_total", "counter", "Unloads of the model (least recently used, to make room).",
           [](const ModelStatus& m) { return m.unloads; });
    series("llm_model_load_failures_total", "counter", "Failed loads of the model.", [](const ModelStatus& m) { return m.load_failures; });
    int64_t bytes = 0;
    for (const ModelStatus& m : models) bytes += m.bytes;
    out += fmt::format("# HELP llm_models_loaded_bytes Memory of every loaded model.\n# TYPE llm_models_loaded_bytes gauge\n"
                       "llm_models_loaded_bytes {}\n", bytes);
    out += fmt::format("# HELP llm_models_budget_bytes The memory budget for loaded models (0: none).\n"
                       "# TYPE llm_models_budget_bytes gauge\nllm_models_budget_bytes {}\n", limits_.mem_budget);
}

}  // namespace llm::server
