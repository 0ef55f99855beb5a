#include "core/system_info.hpp"

#include <sched.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <utility>

namespace llm {

int physical_core_count() {
    static const int count = [] {
        cpu_set_t set;
        CPU_ZERO(&set);
        int allowed = 0;
        if (sched_getaffinity(0, sizeof(set), &set) == 0) allowed = CPU_COUNT(&set);
        if (allowed <= 0) allowed = (int)std::max(1u, std::thread::hardware_concurrency());
        // Count distinct (physical id, core id) pairs; SMT siblings share one.
        std::ifstream in("/proc/cpuinfo");
        std::set<std::pair<int, int>> cores;
        int phys = 0, logical = 0;
        std::string line;
        while (std::getline(in, line)) {
            auto value = [&] { return std::stoi(line.substr(line.find(':') + 1)); };
            if (line.rfind("processor", 0) == 0) ++logical;
            else if (line.rfind("physical id", 0) == 0) phys = value();
            else if (line.rfind("core id", 0) == 0) cores.insert({phys, value()});
        }
        int physical = cores.empty() ? allowed : (int)cores.size();
        // SMT ratio applied to the affinity mask (containers may restrict CPUs).
        if (logical > 0 && physical < logical) physical = std::max(1, allowed * physical / logical);
        return std::max(1, std::min(physical, allowed));
    }();
    return count;
}

size_t peak_rss_bytes() {
    struct rusage ru {};
    if (getrusage(RUSAGE_SELF, &ru) != 0) return 0;
    return (size_t)ru.ru_maxrss * 1024;
}

namespace {

std::string read_text(const char* path) {
    std::ifstream in(path);
    if (!in) return {};
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

// A non-negative decimal at the start of s (after spaces), or -1 ("max", empty, garbage).
int64_t leading_number(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    if (s.empty() || s.front() < '0' || s.front() > '9') return -1;
    int64_t v = 0;
    for (char ch : s) {
        if (ch < '0' || ch > '9') break;
        if (v > (INT64_MAX - 9) / 10) return INT64_MAX;
        v = v * 10 + (ch - '0');
    }
    return v;
}

// MemAvailable in bytes from /proc/meminfo's text ("MemAvailable:   22052808 kB"), or -1.
int64_t meminfo_available(std::string_view meminfo) {
    const size_t at = meminfo.find("MemAvailable:");
    if (at == std::string_view::npos) return -1;
    const int64_t kib = leading_number(meminfo.substr(at + 13));
    return kib < 0 ? -1 : kib * 1024;
}

}  // namespace

int64_t available_memory_from(std::string_view meminfo, std::string_view cgroup_limit,
                              std::string_view cgroup_usage) {
    int64_t avail = meminfo_available(meminfo);
    const int64_t limit = leading_number(cgroup_limit), usage = leading_number(cgroup_usage);
    // cgroup v1 spells "no limit" as a huge page-rounded number: anything past 2^60 is no limit.
    if (limit >= 0 && limit < (int64_t{1} << 60)) {
        const int64_t left = std::max<int64_t>(0, limit - std::max<int64_t>(usage, 0));
        avail = avail < 0 ? left : std::min(avail, left);
    }
    return std::max<int64_t>(avail, 0);
}

int64_t available_memory_bytes() {
    std::string limit = read_text("/sys/fs/cgroup/memory.max"), usage;
    if (!limit.empty()) {
        usage = read_text("/sys/fs/cgroup/memory.current");
    } else {
        limit = read_text("/sys/fs/cgroup/memory/memory.limit_in_bytes");
        usage = read_text("/sys/fs/cgroup/memory/memory.usage_in_bytes");
    }
    int64_t avail = available_memory_from(read_text("/proc/meminfo"), limit, usage);
    // ulimit -v: the address space left (mmapped weights count here too, unlike in MemAvailable).
    struct rlimit rl {};
    if (getrlimit(RLIMIT_AS, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY) {
        const std::string statm = read_text("/proc/self/statm");  // first field: mapped pages
        const int64_t pages = leading_number(statm);
        const int64_t mapped = pages > 0 ? pages * (int64_t)sysconf(_SC_PAGESIZE) : 0;
        const int64_t left = std::max<int64_t>(0, (int64_t)rl.rlim_cur - mapped);
        avail = avail > 0 ? std::min(avail, left) : left;
    }
    return avail;
}

}  // namespace llm
