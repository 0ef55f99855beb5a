/* Public C API of the llm library (opaque handles, status codes; no exception or exit crosses it).
 *
 *   llm_model* model; char err[256];
 *   if (llm_model_load("model.gguf", &model, err, sizeof err) != LLM_OK) { puts(err); return 1; }
 *   llm_session_params sp = llm_session_default_params();
 *   llm_session* s; llm_session_create(model, &sp, &s, err, sizeof err);
 *   int32_t ids[256]; int32_t n = llm_tokenize(model, "Hello", 5, true, false, ids, 256);
 *   llm_session_eval(s, ids, (size_t)n, false, err, sizeof err);
 *   const float* logits = llm_session_logits(s, -1);        // llm_model_n_vocab(model) values
 *   llm_session_free(s); llm_model_free(model);
 */
#ifndef LLM_LLM_H
#define LLM_LLM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct llm_model llm_model;
typedef struct llm_session llm_session;

/* Exported from libllm.so (built with hidden visibility). */
#if defined(_WIN32)
#define LLM_C_API
#else
#define LLM_C_API __attribute__((visibility("default")))
#endif

/* One value per llm::StatusCode (include/llm/status.hpp), equal numbers: the C API passes the library's code on,
 * it never guesses from a message. New codes are appended. */
typedef enum llm_status {
    LLM_OK = 0,
    LLM_ERR_INVALID_ARGUMENT = 1, /* a null pointer, a bad option value, an out-of-range token id */
    LLM_ERR_INVALID_MODEL = 2,    /* the model file or folder is malformed or inconsistent */
    LLM_ERR_LOAD = 2,             /* the former name of LLM_ERR_INVALID_MODEL */
    LLM_ERR_CONTEXT_FULL = 3,     /* the tokens do not fit in the context (or the engine's KV pool) */
    LLM_ERR_NO_TOKENIZER = 4,     /* the model files carry no usable tokenizer */
    LLM_ERR_INTERNAL = 5,         /* a bug; the message says where */
    LLM_ERR_NOT_FOUND = 6,        /* a file, folder or hf: repository that does not exist */
    LLM_ERR_IO = 7,               /* reading or downloading failed */
    LLM_ERR_UNSUPPORTED = 8,      /* an architecture, weight type or feature this build does not support */
    LLM_ERR_OUT_OF_MEMORY = 9,    /* the weights or the KV cache do not fit in the memory available */
    LLM_ERR_CANCELLED = 10        /* stopped on request */
} llm_status;

/* "ok", "invalid_argument", "invalid_model", ... (llm::status_code_name); "unknown" for other values. */
LLM_C_API const char* llm_status_name(llm_status status);

typedef enum llm_kv_type { LLM_KV_F16 = 0, LLM_KV_F32 = 1, LLM_KV_Q8_0 = 2, LLM_KV_BF16 = 3 } llm_kv_type;

/* CPU kernel arithmetic (the README's numerics table): llama.cpp's, our fastest, or batch-invariant. */
typedef enum llm_numerics { LLM_NUMERICS_EXACT = 0, LLM_NUMERICS_FAST = 1, LLM_NUMERICS_INVARIANT = 2 } llm_numerics;

typedef struct llm_session_params {
    int32_t n_ctx;     /* 0 = the model's training context, capped at 4096 */
    int32_t n_threads; /* 0 = physical cores */
    int32_t n_batch;   /* tokens per forward pass for long prompts */
    llm_kv_type kv_type;
    llm_numerics numerics; /* default LLM_NUMERICS_INVARIANT */
} llm_session_params;

/* Every function taking err/err_size writes a one-line message there on failure (truncated to fit). */
LLM_C_API llm_status llm_model_load(const char* path, llm_model** out, char* err, size_t err_size);
LLM_C_API void llm_model_free(llm_model* model);
LLM_C_API int32_t llm_model_n_vocab(const llm_model* model);
LLM_C_API int32_t llm_model_n_ctx_train(const llm_model* model);

LLM_C_API llm_session_params llm_session_default_params(void);
LLM_C_API llm_status llm_session_create(llm_model* model, const llm_session_params* params, llm_session** out, char* err,
                              size_t err_size);
LLM_C_API void llm_session_free(llm_session* session);
/* Appends tokens to the history and runs them; all_logits keeps every position's logits. */
LLM_C_API llm_status llm_session_eval(llm_session* session, const int32_t* tokens, size_t n_tokens, bool all_logits,
                            char* err, size_t err_size);
/* Logits (n_vocab floats) of token i of the last eval, i = -1 for its last token; NULL if out of range. */
LLM_C_API const float* llm_session_logits(const llm_session* session, int64_t i);
LLM_C_API int64_t llm_session_n_past(const llm_session* session);
/* Forgets the history after the first n tokens (n <= n_past). */
LLM_C_API llm_status llm_session_truncate(llm_session* session, int64_t n);

/* Tokenizes text (len bytes). Returns the number of ids; if it exceeds capacity, nothing is written and the
 * negated required count is returned. Returns INT32_MIN when the model has no tokenizer. */
LLM_C_API int32_t llm_tokenize(const llm_model* model, const char* text, size_t len, bool add_special, bool parse_special,
                     int32_t* out, int32_t capacity);
/* Writes the text of one token (not NUL-terminated); returns its length, or the negated required length if
 * capacity is too small, or INT32_MIN without a tokenizer. */
LLM_C_API int32_t llm_token_to_piece(const llm_model* model, int32_t token, char* out, int32_t capacity);
LLM_C_API bool llm_token_is_end_of_generation(const llm_model* model, int32_t token);

/* ---- the serving engine (include/llm/engine.hpp): many requests, one forward pass per step over all ----
 *
 *   llm_engine_params ep = llm_engine_default_params();
 *   llm_engine* e; llm_engine_create(model, &ep, &e, err, sizeof err);
 *   llm_request_params rp = llm_request_default_params(); rp.prompt = ids; rp.n_prompt = n; rp.max_tokens = 64;
 *   llm_request_id id; llm_engine_submit(e, &rp, on_token, on_done, user, &id, err, sizeof err);
 *   llm_engine_run_until_idle(e);            (or llm_engine_start(e): steps on the engine's own thread)
 *   llm_engine_free(e);
 * Callbacks run on the thread that steps the engine; the pointers they get are valid during the call only. */
typedef struct llm_engine llm_engine;
typedef uint64_t llm_request_id;

typedef enum llm_stop_reason {
    LLM_STOP_EOS = 0, LLM_STOP_STRING = 1, LLM_STOP_LENGTH = 2, LLM_STOP_CONTEXT = 3, LLM_STOP_CANCELLED = 4
} llm_stop_reason;

typedef struct llm_engine_params {
    int32_t n_ctx;          /* most tokens per sequence; 0 = the model's training context */
    int64_t kv_pool_tokens; /* KV pool size; 0 = from kv_pool_mib, else from free memory */
    int64_t kv_pool_mib;
    int32_t block_tokens;   /* tokens per KV block (16) */
    llm_kv_type kv_type;
    int32_t n_threads;      /* 0 = physical cores */
    int32_t max_running;    /* sequences per step at most (16) */
    int32_t step_tokens;    /* tokens per forward pass at most (512) */
    llm_numerics numerics;
    bool prefix_cache;
} llm_engine_params;

typedef struct llm_sampling_params {
    float temperature; /* <= 0: greedy */
    int32_t top_k;
    float top_p, min_p, repeat_penalty;
    uint64_t seed;
} llm_sampling_params;

typedef struct llm_request_params {
    const int32_t* prompt;
    size_t n_prompt;
    llm_sampling_params sampling; /* default: greedy */
    int32_t max_tokens;           /* -1: until end of generation or the context is full */
    const char* const* stop;      /* n_stop NUL-terminated stop strings */
    size_t n_stop;
    int32_t top_logprobs;         /* -1: none; 0: the chosen token's logprob; n: also the n best */
    bool stop_at_end_of_generation;
} llm_request_params;

typedef struct llm_token_event {
    llm_request_id id;
    int32_t token;          /* -1: text held back until the end, after the last token */
    const char* text;       /* newly completed UTF-8 text, text_len bytes (not NUL-terminated) */
    size_t text_len;
    float logprob;
    const int32_t* top_tokens; /* n_top best tokens and their logprobs, best first */
    const float* top_logprobs;
    size_t n_top;
} llm_token_event;

typedef struct llm_request_result {
    llm_request_id id;
    llm_status status;        /* LLM_OK, or an error described by error */
    const char* error;
    llm_stop_reason stop_reason;
    const int32_t* tokens;    /* n_tokens generated tokens */
    size_t n_tokens;
    const char* text;         /* everything streamed, NUL-terminated */
    int32_t n_prompt, n_cached, n_preempted;
    double queue_ms, ttft_ms, generate_ms;
} llm_request_result;

typedef struct llm_engine_stats {
    int32_t running, waiting;
    int64_t kv_blocks_used, kv_blocks_total, block_tokens;
    int64_t prefix_lookups, prefix_hits, prefix_hit_tokens, prefix_evictions;
    int64_t preemptions, cancellations, prompt_tokens, generated_tokens, requests_done;
    int64_t steps, step_tokens, step_sequences, max_step_sequences;
} llm_engine_stats;

typedef void (*llm_token_callback)(const llm_token_event* event, void* user);
typedef void (*llm_done_callback)(const llm_request_result* result, void* user);

LLM_C_API llm_engine_params llm_engine_default_params(void);
LLM_C_API llm_status llm_engine_create(llm_model* model, const llm_engine_params* params, llm_engine** out, char* err,
                             size_t err_size);
LLM_C_API void llm_engine_free(llm_engine* engine); /* stops its thread; pending requests end as cancelled */
LLM_C_API llm_request_params llm_request_default_params(void);
/* Queues a request; refused (LLM_ERR_INVALID_ARGUMENT or LLM_ERR_CONTEXT_FULL, with a message) when invalid or
 * when it can never fit. on_done is called exactly once per accepted request. */
LLM_C_API llm_status llm_engine_submit(llm_engine* engine, const llm_request_params* request, llm_token_callback on_token,
                             llm_done_callback on_done, void* user, llm_request_id* out, char* err, size_t err_size);
LLM_C_API void llm_engine_cancel(llm_engine* engine, llm_request_id id); /* any thread; unknown ids are ignored */
LLM_C_API bool llm_engine_step(llm_engine* engine);                       /* false when there was nothing to do */
LLM_C_API void llm_engine_run_until_idle(llm_engine* engine);
LLM_C_API void llm_engine_start(llm_engine* engine); /* steps on the engine's own thread */
LLM_C_API void llm_engine_stop(llm_engine* engine);
LLM_C_API llm_engine_stats llm_engine_get_stats(const llm_engine* engine);

#ifdef __cplusplus
}
#endif

#endif /* LLM_LLM_H */
