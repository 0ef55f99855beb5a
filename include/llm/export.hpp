// LLM_API marks what libllm.so exports: the library is compiled with hidden visibility, so only declarations
// of include/llm/ carrying this macro are visible to programs linking the shared library.
#pragma once

#if defined(_WIN32)
#define LLM_API
#else
#define LLM_API __attribute__((visibility("default")))
#endif
