// OpenMP where the build has it (LLM_OPENMP=ON, the default), else one thread: the kernels' `#pragma omp` lines
// are then ignored and these stand-ins make every parallel region a single thread doing all of the work.
// Apple's clang ships no OpenMP (Homebrew's libomp adds it); Linux compilers all do.
#pragma once

#if defined(_OPENMP)
#include <omp.h>
#else
inline int omp_get_num_threads() { return 1; }
inline int omp_get_thread_num() { return 0; }
#endif
