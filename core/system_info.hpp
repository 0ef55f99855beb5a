// Facts about the host used for defaults and limits: physical core count, peak RSS, memory available.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "llm/system.hpp"

namespace llm {

// physical_core_count, peak_rss_bytes, available_memory_bytes: include/llm/system.hpp.

// The same from given texts (for tests): /proc/meminfo, the cgroup limit and usage files ("max" or empty =
// no limit).
int64_t available_memory_from(std::string_view meminfo, std::string_view cgroup_limit,
                              std::string_view cgroup_usage);

}  // namespace llm
