/* The README's C example: load a model, tokenize a prompt, greedy decoding over the logits (C API only).
 * tests/install/run.sh builds it against the installed package (find_package(llm) and pkg-config). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "llm/llm.h"

int main(int argc, char** argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: %s MODEL PROMPT [N]\n", argv[0]);
        return 2;
    }
    char err[512];
    llm_model* model = NULL;
    llm_status st = llm_model_load(argv[1], &model, err, sizeof err);
    if (st != LLM_OK) { /* the code says what kind of failure; the message names the file and the problem */
        fprintf(stderr, "error (%s): %s\n", llm_status_name(st), err);
        return 1;
    }
    llm_session_params sp = llm_session_default_params();
    sp.n_ctx = 256;
    llm_session* session = NULL;
    if ((st = llm_session_create(model, &sp, &session, err, sizeof err)) != LLM_OK) {
        fprintf(stderr, "error (%s): %s\n", llm_status_name(st), err);
        llm_model_free(model);
        return 1;
    }
    int32_t ids[256];
    const int32_t n_prompt = llm_tokenize(model, argv[2], strlen(argv[2]), true, false, ids, 256);
    if (n_prompt <= 0) {
        fprintf(stderr, "error: cannot tokenize the prompt (%d)\n", n_prompt);
        return 1;
    }
    const int n_new = argc > 3 ? atoi(argv[3]) : 16;
    const int32_t n_vocab = llm_model_n_vocab(model);
    printf("prompt:");
    for (int32_t i = 0; i < n_prompt; ++i) printf(" %d", ids[i]);
    printf("\ngenerated:");
    const int32_t* next = ids;
    size_t n_next = (size_t)n_prompt;
    int32_t token = 0;
    for (int i = 0; i < n_new; ++i) {
        if ((st = llm_session_eval(session, next, n_next, false, err, sizeof err)) != LLM_OK) {
            fprintf(stderr, "\nerror (%s): %s\n", llm_status_name(st), err);
            return 1;
        }
        const float* logits = llm_session_logits(session, -1);
        token = 0; /* greedy: the highest logit, the lowest id on ties */
        for (int32_t v = 1; v < n_vocab; ++v)
            if (logits[v] > logits[token]) token = v;
        printf(" %d", token);
        next = &token, n_next = 1;
    }
    printf("\n");
    llm_session_free(session);
    llm_model_free(model);
    return 0;
}
