// Load-time repacking of float matrices for the CPU kernels: on x86 every F32 / F16 / BF16 matrix the forward pass
// multiplies by (the layers' and the output head, tied to the token embeddings or not) gets its rows interleaved 16 at
// a time (kernels/cpu/float_chain.hpp's panels, TensorView::panels), which lets decode and prompts share one
// accumulation order at full speed (the batch-invariant default) and saves the GEMM its per-call transposes. The
// file's pages of a repacked matrix are dropped from the resident set afterwards (they come back only where something
// reads the rows: exact-mode decode, the Vulkan upload, a tied embedding's lookups row by row), so the model is not
// resident twice.
#pragma once
#include <cstddef>
#include <functional>

#include "models/model_loader.hpp"

namespace llm {

// Whether repack_float_weights would do anything on this CPU (the float GEMM's ISA) and environment: LLM_REPACK=0
// turns it off (A/B runs against the rows).
bool float_repack_enabled();

// Repacks m's float matrices as above (threads over panels); returns the bytes of the matrices repacked (their
// rows' nbytes; 0 when not enabled or nothing is float). An allocation that fails leaves that matrix on its rows
// (still correct, only slower).
// done(bytes): called after each matrix with its rows' nbytes (load progress); may be empty.
size_t repack_float_weights(LoadedModel& m, int n_threads, const std::function<void(size_t)>& done = {});

}  // namespace llm
