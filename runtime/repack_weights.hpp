// Load-time repacking of weight matrices for the CPU kernels (x86), every matrix the forward pass multiplies by (the
// layers' and the output head, tied to the token embeddings or not):
// * F32 / F16 / BF16: rows interleaved 16 at a time (kernels/cpu/float_chain.hpp's panels), which lets decode and
//   prompts share one accumulation order at full speed (the batch-invariant default) and saves the GEMM its per-call
//   transposes;
// * Q4_K and Q5_K where the kernels are AVX2's: rows interleaved 8 at a time (kernels/cpu/kquant_x8.hpp), for the
//   decode kernel that reads them (the same bits as the rows' kernels, about twice the throughput per core).
// The result is TensorView::panels. The file's pages of a repacked matrix are dropped from the resident set afterwards
// (they come back only where something reads the rows: exact-mode prompts and float decode, the Vulkan upload, a tied
// embedding's lookups row by row), so the model is not resident twice.
#pragma once
#include <cstddef>
#include <functional>

#include "models/model_loader.hpp"

namespace llm {

// Whether repack_weights would do anything on this CPU (the float GEMM's ISA) and environment: LLM_REPACK=0 turns it
// off (A/B runs against the rows).
bool repack_enabled();
// Whether repack_weights gives a matrix of this type panels on this CPU (what Model::load makes).
bool repacks(DType type);

// Repacks m's matrices as above (threads over panels or groups); returns the bytes of the matrices repacked (their
// rows' nbytes; 0 when not enabled or no matrix has a repacked form here). An allocation that fails leaves that
// matrix on its rows (still correct, only slower).
// done(bytes): called after each matrix with its rows' nbytes (load progress); may be empty.
size_t repack_weights(LoadedModel& m, int n_threads, const std::function<void(size_t)>& done = {});

}  // namespace llm
