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

typedef enum llm_status {
    LLM_OK = 0,
    LLM_ERR_INVALID_ARGUMENT = 1, /* a null pointer, a bad option value, an out-of-range token id */
    LLM_ERR_LOAD = 2,             /* the model file or folder could not be read or is invalid */
    LLM_ERR_CONTEXT_FULL = 3,     /* the tokens do not fit in the session's context */
    LLM_ERR_NO_TOKENIZER = 4,     /* the model files carry no usable tokenizer */
    LLM_ERR_INTERNAL = 5
} llm_status;

typedef enum llm_kv_type { LLM_KV_F16 = 0, LLM_KV_F32 = 1, LLM_KV_Q8_0 = 2, LLM_KV_BF16 = 3 } llm_kv_type;

/* CPU kernel arithmetic (the README's numerics table): llama.cpp's, our fastest, or batch-invariant. */
typedef enum llm_numerics { LLM_NUMERICS_EXACT = 0, LLM_NUMERICS_FAST = 1, LLM_NUMERICS_INVARIANT = 2 } llm_numerics;

typedef struct llm_session_params {
    int32_t n_ctx;     /* 0 = the model's training context, capped at 4096 */
    int32_t n_threads; /* 0 = physical cores */
    int32_t n_batch;   /* tokens per forward pass for long prompts */
    llm_kv_type kv_type;
    llm_numerics numerics; /* default LLM_NUMERICS_EXACT */
} llm_session_params;

/* Every function taking err/err_size writes a one-line message there on failure (truncated to fit). */
llm_status llm_model_load(const char* path, llm_model** out, char* err, size_t err_size);
void llm_model_free(llm_model* model);
int32_t llm_model_n_vocab(const llm_model* model);
int32_t llm_model_n_ctx_train(const llm_model* model);

llm_session_params llm_session_default_params(void);
llm_status llm_session_create(llm_model* model, const llm_session_params* params, llm_session** out, char* err,
                              size_t err_size);
void llm_session_free(llm_session* session);
/* Appends tokens to the history and runs them; all_logits keeps every position's logits. */
llm_status llm_session_eval(llm_session* session, const int32_t* tokens, size_t n_tokens, bool all_logits,
                            char* err, size_t err_size);
/* Logits (n_vocab floats) of token i of the last eval, i = -1 for its last token; NULL if out of range. */
const float* llm_session_logits(const llm_session* session, int64_t i);
int64_t llm_session_n_past(const llm_session* session);
/* Forgets the history after the first n tokens (n <= n_past). */
llm_status llm_session_truncate(llm_session* session, int64_t n);

/* Tokenizes text (len bytes). Returns the number of ids; if it exceeds capacity, nothing is written and the
 * negated required count is returned. Returns INT32_MIN when the model has no tokenizer. */
int32_t llm_tokenize(const llm_model* model, const char* text, size_t len, bool add_special, bool parse_special,
                     int32_t* out, int32_t capacity);
/* Writes the text of one token (not NUL-terminated); returns its length, or the negated required length if
 * capacity is too small, or INT32_MIN without a tokenizer. */
int32_t llm_token_to_piece(const llm_model* model, int32_t token, char* out, int32_t capacity);
bool llm_token_is_end_of_generation(const llm_model* model, int32_t token);

#ifdef __cplusplus
}
#endif

#endif /* LLM_LLM_H */
