#include "core/system_info.hpp"

#include <sched.h>
#include <sys/resource.h>

#include <fstream>
#include <set>
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

}  // namespace llm
