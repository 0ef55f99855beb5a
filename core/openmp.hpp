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

#include <cstdint>

namespace llm {

// The kernels' two-phase parallel loop: prep(i) for i in [0, n_prep) shared out among the threads, then each thread
// runs one contiguous, balanced share [u0, u1) of [0, n_units) (the last share ends at n_units); n_threads <= 1 runs
// inline. The shares depend on the thread count: a caller whose results must not computes each output in one unit.
template <typename Prep, typename Run>
void parallel_prep_then_split(int n_threads, int64_t n_prep, int64_t n_units, Prep&& prep, Run&& run) {
    if (n_threads <= 1) {
        for (int64_t i = 0; i < n_prep; ++i) prep(i);
        run(int64_t{0}, n_units);
        return;
    }
#pragma omp parallel num_threads(n_threads)
    {
#pragma omp for schedule(static)
        for (int64_t i = 0; i < n_prep; ++i) prep(i);
        const int64_t nt = omp_get_num_threads(), it = omp_get_thread_num();
        run(n_units * it / nt, n_units * (it + 1) / nt);
    }
}

}  // namespace llm
