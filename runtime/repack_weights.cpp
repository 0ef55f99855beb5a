#include "runtime/repack_weights.hpp"

#include <sys/mman.h>

#include <cstdlib>
#include <memory>
#include <new>
#include <vector>

#include "core/mapped_file.hpp"
#include "kernels/cpu/float_chain.hpp"
#include "kernels/cpu/kquant_x8.hpp"
#include "kernels/cpu/matmul.hpp"
#include "models/layer_tensors.hpp"

namespace llm {

bool repack_enabled() {
    static const bool off = [] {
        const char* e = std::getenv("LLM_REPACK");
        return e && e[0] == '0';
    }();
    return !off && cpu::float_chain_supports(best_isa(), DType::F16);
}

bool repacks(DType type) {
    const Isa isa = best_isa();
    return repack_enabled() && (cpu::float_chain_supports(isa, type) || cpu::kquant_x8_supported(isa, type));
}

size_t repack_weights(LoadedModel& m, int n_threads, const std::function<void(size_t)>& done) {
    if (!repack_enabled()) return 0;
    ModelWeights& w = m.weights;
    std::vector<TensorView*> mats;
    if (w.output.valid()) mats.push_back(&w.output);
    for_each_layer_matrix(w.layers, [&](TensorView& v, const LayerTensor&, int) { mats.push_back(&v); });
    size_t repacked = 0;
    for (TensorView* v : mats) {
        if (v->panels || !repacks(v->type) || v->n_rows() != v->ne[1]) continue;
        const bool x8 = cpu::kquant_x8_supported(best_isa(), v->type);
        const size_t bytes = ((x8 ? cpu::kquant_x8_bytes(*v) : cpu::float_panels_bytes(*v)) + 63) / 64 * 64;
        // 2 MiB aligned so transparent huge pages can back it: a fraction of the page faults of 4 KiB pages.
        const size_t huge = (size_t)2 << 20;
        const bool big = bytes >= huge;
        void* mem = std::aligned_alloc(big ? huge : 64, big ? (bytes + huge - 1) / huge * huge : bytes);
        if (!mem) continue;
        if (big) madvise(mem, (bytes + huge - 1) / huge * huge, MADV_HUGEPAGE);
        std::shared_ptr<void> buf(mem, std::free);
        if (x8) cpu::kquant_x8_pack(*v, mem, n_threads);
        else cpu::float_panels_pack(*v, mem, n_threads);
        v->panels = mem;
        w.owners.push_back(buf);
        repacked += v->nbytes;
        // The rows' pages leave the resident set; tied token embeddings come back row by row as tokens are looked up.
        release_mapped_pages(v->data, v->nbytes);
        if (done) done(v->nbytes);
    }
    return repacked;
}

}  // namespace llm
