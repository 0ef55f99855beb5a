// Facts about the host used for defaults and limits: physical core count, peak RSS, memory available.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace llm {

// Physical cores (not SMT siblings) available to this process; at least 1.
int physical_core_count();
// Peak resident set size of this process in bytes (0 if unknown).
size_t peak_rss_bytes();

// Bytes this process could still allocate without swapping or being OOM-killed: the smallest of the kernel's
// MemAvailable, the cgroup's limit minus its usage (v2 memory.max / v1 memory.limit_in_bytes) and the
// address-space rlimit minus what is mapped. 0 when none of them can be read (callers then skip the check).
int64_t available_memory_bytes();
// The same from given texts (for tests): /proc/meminfo, the cgroup limit and usage files ("max" or empty =
// no limit).
int64_t available_memory_from(std::string_view meminfo, std::string_view cgroup_limit,
                              std::string_view cgroup_usage);

}  // namespace llm
