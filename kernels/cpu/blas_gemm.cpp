// The OpenBLAS path for float weights (see blas_gemm.hpp for the design).
#include "kernels/cpu/blas_gemm.hpp"

#include <algorithm>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <string>
#include <vector>

#include "core/cpu_features.hpp"
#include "core/openmp.hpp"

#if LLM_HAVE_OPENBLAS
#include <cblas.h>
#endif

namespace llm::cpu {
namespace {

[[noreturn]] void die(const char* what, const std::string& detail) {
    std::fprintf(stderr, "llm blas: %s%s\n", what, detail.c_str());
    std::abort();
}

// LLM_BLAS: unset or 1 = the measured default threshold, 0 = never, N >= 2 = from N tokens.
int64_t env_min_tokens() {
    static const int64_t v = [] {
        const char* e = std::getenv("LLM_BLAS");
        if (!e || !*e) return (int64_t)-1;
        const long n = std::atol(e);
        if (n == 0) return (int64_t)INT64_MAX;
        return n >= 2 ? (int64_t)n : (int64_t)-1;
    }();
    return v;
}

#if LLM_HAVE_OPENBLAS
// The converted panel of the calling thread, reused across calls (bounded: one panel).
float* panel_buffer(size_t n) {
    thread_local std::vector<float> buf;
    if (buf.size() < n) buf.resize(n);
    return buf.data();
}

// OpenBLAS runs single-threaded inside each of our OpenMP threads: set once, before the first call.
void init_openblas() {
    static std::once_flag once;
    std::call_once(once, [] { openblas_set_num_threads(1); });
}
#endif

}  // namespace

bool blas_available() {
#if LLM_HAVE_OPENBLAS
    return true;
#else
    return false;
#endif
}

bool blas_supports(DType type) {
    return blas_available() && (type == DType::F32 || type == DType::F16 || type == DType::BF16);
}

int64_t blas_min_tokens(Isa isa, DType type) {
    if (isa == Isa::Scalar || !blas_supports(type)) return INT64_MAX;
    const int64_t forced = env_min_tokens();
    if (forced > 0) return forced;
    // Crossovers against the vec_dot path (Zen 4, one thread, TinyLlama shapes, CPU time; OpenBLAS 0.3.21's
    // Haswell kernels for AVX2, its Cooperlake ones natively). Per call the path costs a fixed ~0.35 ns per
    // weight (conversion + packing; ~0.8 ns with the Cooperlake kernels), amortized over the tokens, then runs
    // at ~100 (Haswell) / ~90 (Cooperlake) GFLOP/s per core against the vec_dot kernels' 25-50. AVX2: F32 and
    // BF16 win from ~6 tokens (x1.3 at 8), F16 from ~14 (x1.0-1.2 at 16). AVX-512: F32 from ~12, F16 from ~20;
    // BF16 against vdpbf16ps (bf16-rounded activations, ~60 GFLOP/s per core) only from ~64.
    // NEON: not measured (no ARM machine here); the AVX2 crossovers, whose vec_dot kernels are of the same width.
    if (isa == Isa::Avx2 || isa_is_arm(isa)) return type == DType::F16 ? 16 : 8;
    if (type == DType::BF16 && cpu_features().avx512_bf16) return 64;
    return type == DType::F32 ? 16 : 24;
}

int64_t blas_panel_rows(int64_t n_out) {
    // Every panel call repacks all of x inside sgemm, so wide panels amortize that (Zen 4, one thread, 512
    // tokens, F16 2048 x 2048: 77 GFLOP/s at 16 rows, 88 at 32, 97 at 64, 101 at 128, 102 at 256; n_in = 5632:
    // 88 at 64 rows, 95 at 256, 103 at 512), while >= 8 panels per matrix keep 2, 4 or 8 threads balanced.
    return std::clamp<int64_t>(n_out / 8 / 16 * 16, 64, 256);
}

void blas_matmul(const TensorView& w, const float* x, int64_t n_tokens, float* y, int n_threads) {
    if (!blas_supports(w.type)) die("no OpenBLAS path for weight type ", std::string(dtype_name(w.type)));
#if LLM_HAVE_OPENBLAS
    const int64_t n_in = w.ne[0], n_out = w.ne[1];
    if (n_tokens <= 0 || n_out <= 0) return;
    if (n_in > INT_MAX || n_out > INT_MAX || n_tokens > INT_MAX) die("matrix too large for cblas: ", w.name);
    init_openblas();
    const int64_t P = blas_panel_rows(n_out);
    const int64_t n_panels = (n_out + P - 1) / P;
    const DType type = w.type;
    const auto to_f32 = cpu_features().neon ? blas_to_f32_neon : blas_to_f32_avx2;
    auto panel = [&](int64_t p) {
        const int64_t r0 = p * P, rows = std::min(P, n_out - r0);
        const float* wp;
        if (type == DType::F32) {
            wp = reinterpret_cast<const float*>(w.row(r0));
        } else {
            float* buf = panel_buffer((size_t)(P * n_in));
            to_f32(type, w.row(r0), buf, rows * n_in);
            wp = buf;
        }
        // y[t][r0 + j] = sum_i x[t][i] * wp[j][i]: row-major x (n_tokens x n_in) times wp^T (n_in x rows).
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)n_tokens, (int)rows, (int)n_in, 1.0f, x,
                    (int)n_in, wp, (int)n_in, 0.0f, y + r0, (int)n_out);
    };
    const int nt = (int)std::min<int64_t>(std::max(n_threads, 1), n_panels);
    if (nt <= 1) {
        for (int64_t p = 0; p < n_panels; ++p) panel(p);
        return;
    }
#pragma omp parallel for num_threads(nt) schedule(static)
    for (int64_t p = 0; p < n_panels; ++p) panel(p);
#else
    (void)x, (void)n_tokens, (void)y, (void)n_threads;
#endif
}

}  // namespace llm::cpu
