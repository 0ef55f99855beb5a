// Small-batch matmul cost per numerics mode: the matrices of one TinyLlama-shape layer (d_model 2048, 256-wide
// K/V, d_ff 5632) times M = 1, 8, 16 activation rows, the shape of a serving step that decodes M sequences at
// once. Prints, per weight type, mode and M, the thread-CPU time of one layer's matmuls (one thread) and
// what it predicts for a 22-layer model's decode step: aggregate tokens/s = M / (22 x layer time), matmuls
// only. Thread CPU time keeps the figures meaningful on a loaded machine (wall time would not). Q4_K / Q5_K matrices
// are interleaved as Model::load does where the kernels read that (AVX2: kernels/cpu/kquant_x8.hpp; LLM_REPACK=0: not).
// usage: matmul_small_m [seconds per case, default 0.3] [types, default q4_0,q4_k,q6_k,q4_1] [M values, default 1,8,16]
#include <ctime>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "core/tensor.hpp"
#include "kernels/cpu/kquant_x8.hpp"
#include "kernels/cpu/matmul.hpp"
#include "kernels/quant/quant.hpp"

namespace {

double cpu_now() {
    timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

struct Matrix {
    std::vector<uint8_t> bytes, panels;
    llm::TensorView view;
};

bool repack(llm::DType type) {
    const char* e = std::getenv("LLM_REPACK");
    return !(e && e[0] == '0') && llm::cpu::kquant_x8_supported(llm::best_isa(), type);
}

Matrix make(llm::DType type, int64_t n_in, int64_t n_out, std::mt19937& rng) {
    Matrix m;
    std::normal_distribution<float> nd(0.0f, 0.02f);
    std::vector<float> row(n_in);
    const size_t rb = llm::row_bytes(type, n_in);
    m.bytes.resize(rb * n_out);
    for (int64_t r = 0; r < n_out; ++r) {
        for (float& v : row) v = nd(rng);
        llm::quantize_row(type, row.data(), m.bytes.data() + r * rb, n_in);
    }
    m.view.name = "bench.weight";
    m.view.type = type;
    m.view.n_dims = 2;
    m.view.ne = {n_in, n_out, 1, 1};
    m.view.data = m.bytes.data();
    m.view.nbytes = m.bytes.size();
    if (repack(type)) {
        m.panels.resize(llm::cpu::kquant_x8_bytes(m.view));
        llm::cpu::kquant_x8_pack(m.view, m.panels.data(), 1);
        m.view.panels = m.panels.data();
    }
    return m;
}

}  // namespace

int main(int argc, char** argv) {
    const double secs = argc > 1 ? std::atof(argv[1]) : 0.3;
    const std::string types = argc > 2 ? argv[2] : "q4_0,q4_k,q6_k,q4_1";
    std::vector<int64_t> ms;
    for (const char* p = argc > 3 ? argv[3] : "1,8,16"; *p;) {
        char* end = nullptr;
        const long m = std::strtol(p, &end, 10);
        if (end == p || m < 1 || m > 64) {
            std::fprintf(stderr, "matmul_small_m: M values must be a comma-separated list of 1..64\n");
            return 1;
        }
        ms.push_back(m);
        p = *end == ',' ? end + 1 : end;
    }
    constexpr int64_t d_model = 2048, kv_dim = 256, d_ff = 5632, n_layers = 22;
    const struct { int64_t n_in, n_out; } shapes[] = {{d_model, d_model}, {d_model, kv_dim}, {d_model, kv_dim},
                                                     {d_model, d_model}, {d_model, d_ff},   {d_model, d_ff},
                                                     {d_ff, d_model}};
    std::printf("isa %s, one thread, thread CPU time; a layer = wq, wk, wv, wo, gate, up, down of TinyLlama\n\n",
                llm::isa_name(llm::best_isa()));
    std::printf("| type | M | mode | kernel | ms per layer | predicted t/s (22 layers, matmuls) | weights GB/s |\n");
    std::printf("| --- | ---: | --- | --- | ---: | ---: | ---: |\n");
    std::mt19937 rng(1);
    size_t start = 0;
    while (start <= types.size()) {
        const size_t comma = types.find(',', start);
        const std::string name = types.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
        start = comma == std::string::npos ? types.size() + 1 : comma + 1;
        auto type = llm::dtype_from_name(name);
        if (!type || !llm::matmul_supports(*type)) {
            std::fprintf(stderr, "matmul_small_m: unknown weight type '%s'\n", name.c_str());
            return 1;
        }
        std::vector<Matrix> layer;
        size_t bytes = 0;
        for (const auto& s : shapes) layer.push_back(make(*type, s.n_in, s.n_out, rng)), bytes += layer.back().bytes.size();
        std::vector<float> x(64 * d_ff), y(64 * d_ff);
        std::normal_distribution<float> nd(0.0f, 1.0f);
        for (float& v : x) v = nd(rng);
        for (int64_t m : ms)
            for (llm::Numerics mode : {llm::Numerics::Exact, llm::Numerics::Fast, llm::Numerics::Invariant}) {
                auto run_layer = [&] {
                    for (const Matrix& w : layer) llm::matmul(w.view, x.data(), m, y.data(), 1, mode);
                };
                run_layer();  // warm up
                long n = 0;
                const double t0 = cpu_now();
                double dt = 0;
                while (dt < secs) run_layer(), ++n, dt = cpu_now() - t0;
                const double per_layer = dt / n;
                std::printf("| %s | %lld | %s | %s | %.2f | %.1f | %.1f |\n", name.c_str(), (long long)m,
                            std::string(llm::numerics_name(mode)).c_str(),
                            llm::matmul_kernel_name(llm::best_isa(), *type, m, mode, layer[0].view.panels != nullptr), per_layer * 1e3,
                            (double)m / (n_layers * per_layer), bytes / per_layer / 1e9);
            }
    }
    return 0;
}
