/* Compiled as C (not C++) to prove include/llm/llm.h is a valid C header. */
#include "llm/llm.h"

int llm_c_header_check(void) {
    llm_session_params p = llm_session_default_params();
    return p.n_batch > 0 && LLM_OK == 0;
}
