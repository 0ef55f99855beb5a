// Facts about the host used for defaults: physical core count, peak RSS.
#pragma once
#include <cstddef>

namespace llm {

// Physical cores (not SMT siblings) available to this process; at least 1.
int physical_core_count();
// Peak resident set size of this process in bytes (0 if unknown).
size_t peak_rss_bytes();

}  // namespace llm
