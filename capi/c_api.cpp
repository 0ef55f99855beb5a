// The C API: thin wrappers over llm::Model / llm::Session that turn Status into codes and messages.
#include "llm/llm.h"

#include <climits>
#include <cstring>

#include "capi/c_api_util.hpp"
#include "llm/llm.hpp"
#include "capi/c_api_util.hpp"
#include "runtime/model_access.hpp"  // model_config()
#include "tokenizer/tokenizer.hpp"

struct llm_session {
    std::unique_ptr<llm::Session> session;
};

using llm::c_api::report;

extern "C" {

const char* llm_status_name(llm_status status) {
    if (status < LLM_OK || status > LLM_ERR_CANCELLED) return "unknown";
    return llm::status_code_name(static_cast<llm::StatusCode>(status));
}

llm_status llm_model_load(const char* path, llm_model** out, char* err, size_t err_size) {
    if (!path || !out) return report(LLM_ERR_INVALID_ARGUMENT, "llm_model_load: null argument", err, err_size);
    *out = nullptr;
    try {
        auto m = llm::Model::load(path);
        if (!m) return report(m.status(), err, err_size);
        *out = new llm_model{std::move(*m)};
        return LLM_OK;
    } catch (const std::exception& e) {
        return report(LLM_ERR_INTERNAL, e.what(), err, err_size);
    }
}

void llm_model_free(llm_model* model) { delete model; }
int32_t llm_model_n_vocab(const llm_model* model) { return model ? model_config(*model->model).n_vocab : 0; }
int32_t llm_model_n_ctx_train(const llm_model* model) { return model ? model_config(*model->model).n_ctx_train : 0; }

llm_session_params llm_session_default_params(void) { return llm_session_params{0, 0, 512, LLM_KV_F16, LLM_NUMERICS_INVARIANT}; }

llm_status llm_session_create(llm_model* model, const llm_session_params* params, llm_session** out, char* err,
                              size_t err_size) {
    if (!model || !out) return report(LLM_ERR_INVALID_ARGUMENT, "llm_session_create: null argument", err, err_size);
    *out = nullptr;
    llm::SessionOptions o;
    const llm_session_params p = params ? *params : llm_session_default_params();
    o.n_ctx = p.n_ctx, o.n_threads = p.n_threads, o.n_batch = p.n_batch;
    const auto kv = llm::c_api::kv_type(p.kv_type);
    if (!kv) return report(LLM_ERR_INVALID_ARGUMENT, "llm_session_create: unknown kv_type", err, err_size);
    const auto numerics = llm::c_api::numerics(p.numerics);
    if (!numerics) return report(LLM_ERR_INVALID_ARGUMENT, "llm_session_create: unknown numerics", err, err_size);
    o.kv_type = *kv, o.numerics = *numerics;
    try {
        auto s = llm::Session::create(model->model, o);
        if (!s) return report(s.status(), err, err_size);
        *out = new llm_session{std::move(*s)};
        return LLM_OK;
    } catch (const std::exception& e) {
        return report(LLM_ERR_INTERNAL, e.what(), err, err_size);
    }
}

void llm_session_free(llm_session* session) { delete session; }

llm_status llm_session_eval(llm_session* session, const int32_t* tokens, size_t n_tokens, bool all_logits,
                            char* err, size_t err_size) {
    if (!session || (!tokens && n_tokens))
        return report(LLM_ERR_INVALID_ARGUMENT, "llm_session_eval: null argument", err, err_size);
    llm::Session& s = *session->session;
    try {
        llm::Status st = s.eval({tokens, n_tokens}, all_logits);
        if (!st) return report(st, err, err_size);
        return LLM_OK;
    } catch (const std::exception& e) {
        return report(LLM_ERR_INTERNAL, e.what(), err, err_size);
    }
}

const float* llm_session_logits(const llm_session* session, int64_t i) {
    if (!session || session->session->n_past() == 0) return nullptr;
    return session->session->logits_or_null(i);
}

int64_t llm_session_n_past(const llm_session* session) { return session ? session->session->n_past() : 0; }

llm_status llm_session_truncate(llm_session* session, int64_t n) {
    if (!session || n < 0 || n > session->session->n_past()) return LLM_ERR_INVALID_ARGUMENT;
    session->session->truncate(n);
    return LLM_OK;
}

int32_t llm_tokenize(const llm_model* model, const char* text, size_t len, bool add_special, bool parse_special,
                     int32_t* out, int32_t capacity) {
    if (!model || !model->model->tokenizer() || (!text && len)) return INT32_MIN;
    const auto ids = model->model->tokenizer()->encode({text ? text : "", len}, add_special, parse_special);
    if ((int64_t)ids.size() > capacity || !out) return -(int32_t)ids.size();
    std::memcpy(out, ids.data(), ids.size() * sizeof(int32_t));
    return (int32_t)ids.size();
}

int32_t llm_token_to_piece(const llm_model* model, int32_t token, char* out, int32_t capacity) {
    if (!model || !model->model->tokenizer()) return INT32_MIN;
    const std::string piece = model->model->tokenizer()->token_to_piece(token);
    if ((int64_t)piece.size() > capacity || !out) return -(int32_t)piece.size();
    std::memcpy(out, piece.data(), piece.size());
    return (int32_t)piece.size();
}

bool llm_token_is_end_of_generation(const llm_model* model, int32_t token) {
    return model && model->model->tokenizer() && model->model->tokenizer()->is_end_of_generation(token);
}

}  // extern "C"
