// release_mapped_pages (core/mapped_file.hpp): the pages of a mapped file leave the resident set and come back with
// the same bytes; memory that is not a live mapping (a heap buffer, an unmapped file's old range) is left alone.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "core/mapped_file.hpp"

namespace llm {
namespace {

// Resident pages of the process (/proc/self/statm's second field).
long resident_pages() {
    std::ifstream f("/proc/self/statm");
    long size = 0, resident = 0;
    f >> size >> resident;
    return resident;
}

std::string write_temp_file(size_t bytes) {
    const std::string path = testing::TempDir() + "mapped_file_test_" + std::to_string(getpid()) + ".bin";
    std::vector<char> data(bytes);
    for (size_t i = 0; i < bytes; ++i) data[i] = (char)(i * 131 + i / 4096);
    std::ofstream(path, std::ios::binary).write(data.data(), (std::streamsize)bytes);
    return path;
}

TEST(MappedFile, ReleasedPagesLeaveMemoryAndComeBackWithTheirBytes) {
    constexpr size_t kBytes = 32 << 20;
    const std::string path = write_temp_file(kBytes);
    auto f = MappedFile::open(path);
    ASSERT_TRUE(f.has_value()) << f.error_message();
    const uint8_t* p = (*f)->data();
    long sum_before = 0;
    for (size_t i = 0; i < kBytes; i += 512) sum_before += p[i];
    const long touched = resident_pages();
    release_mapped_pages(p + 100, kBytes - 200);  // not page-aligned: only the whole pages inside go
    const long released = resident_pages();
    const long page = sysconf(_SC_PAGESIZE);
    EXPECT_GE(touched - released, (long)(kBytes / page) / 2) << "the mapping's pages should leave the resident set";
    long sum_after = 0;
    for (size_t i = 0; i < kBytes; i += 512) sum_after += p[i];
    EXPECT_EQ(sum_before, sum_after);
    for (size_t i = 0; i < kBytes; i += 4093) ASSERT_EQ(p[i], (uint8_t)(char)(i * 131 + i / 4096)) << i;
    std::remove(path.c_str());
}

TEST(MappedFile, OtherMemoryIsLeftAlone) {
    std::vector<uint8_t> heap(8 << 20);
    for (size_t i = 0; i < heap.size(); ++i) heap[i] = (uint8_t)(i * 7 + 1);
    release_mapped_pages(heap.data(), heap.size());
    for (size_t i = 0; i < heap.size(); ++i) ASSERT_EQ(heap[i], (uint8_t)(i * 7 + 1)) << i;

    // A range that only starts inside a mapping is not released either (nothing outside a mapping is touched).
    const std::string path = write_temp_file(1 << 20);
    auto f = MappedFile::open(path);
    ASSERT_TRUE(f.has_value());
    release_mapped_pages((*f)->data(), (2 << 20));
    EXPECT_EQ((*f)->data()[4096], (uint8_t)(char)(4096 * 131 + 1));
    std::remove(path.c_str());
}

}  // namespace
}  // namespace llm
