#include "storage/base/large_buffer.h"

#include <sys/mman.h>
#include <unistd.h>

#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

extern "C" int mallctl(const char* name, void* old_value, size_t* old_size,
                       void* new_value, size_t new_size) __attribute__((weak));

namespace dagd {
namespace {

// A container's cgroup limit below the machine's memory is the limit;
// "max", a larger one or no file at all is none.
TEST(MemoryLimitTest, TheLowestCgroupLimitBelowPhysicalMemoryCounts) {
  const std::string dir = ::testing::TempDir();
  const std::string v2 = absl::StrCat(dir, "/memory.max");
  const std::string v1 = absl::StrCat(dir, "/memory.limit_in_bytes");
  const std::string missing = absl::StrCat(dir, "/no-such-file");
  std::ofstream(v2) << "max\n";
  std::ofstream(v1) << "9223372036854771712\n";  // v1's "no limit"
  EXPECT_EQ(LowestMemoryLimit(1000, {v2.c_str(), v1.c_str(), missing.c_str()}),
            1000u);
  std::ofstream(v2) << "600\n";
  EXPECT_EQ(LowestMemoryLimit(1000, {v2.c_str(), v1.c_str()}), 600u);
  std::ofstream(v1) << "300\n";
  EXPECT_EQ(LowestMemoryLimit(1000, {v2.c_str(), v1.c_str()}), 300u);
  EXPECT_LE(MemoryLimitBytes(),
            static_cast<uint64_t>(sysconf(_SC_PHYS_PAGES)) *
                static_cast<uint64_t>(sysconf(_SC_PAGESIZE)));
}

TEST(LargeStringTest, IsEmptyWithTheRoomAskedFor) {
  for (size_t capacity : {size_t{0}, size_t{100}, size_t{16} << 20}) {
    std::string buffer = LargeString(capacity);
    EXPECT_TRUE(buffer.empty());
    EXPECT_GE(buffer.capacity(), capacity);
    const char* data = buffer.data();
    buffer.append(capacity, 'x');
    EXPECT_EQ(buffer.data(), data) << "no reallocation up to the capacity";
    EXPECT_EQ(buffer, std::string(capacity, 'x'));
  }
}

// How many of the pages wholly inside [data, data + size) are in memory.
size_t ResidentPages(const void* data, size_t size, size_t* pages) {
  const uintptr_t page = static_cast<uintptr_t>(sysconf(_SC_PAGESIZE));
  const uintptr_t begin =
      (reinterpret_cast<uintptr_t>(data) + page - 1) & ~(page - 1);
  const uintptr_t end =
      (reinterpret_cast<uintptr_t>(data) + size) & ~(page - 1);
  *pages = (end - begin) / page;
  std::vector<unsigned char> resident(*pages);
  if (mincore(reinterpret_cast<void*>(begin), end - begin, resident.data()) !=
      0) {
    return 0;
  }
  size_t count = 0;
  for (unsigned char r : resident) count += r & 1;
  return count;
}

// Under jemalloc (base_tests links it when dagd does), a large buffer freed
// on one thread is the one the next large buffer on another thread gets:
// without the shared arena, each thread would allocate from its own and
// touch fresh memory.
TEST(LargeStringTest, AFreedBufferIsReusedFromAnyThread) {
  std::optional<unsigned> arena = LargeBufferArena();
  if (!arena.has_value()) GTEST_SKIP() << "not running on jemalloc";
  ssize_t decay = 0;
  size_t size = sizeof(decay);
  ASSERT_EQ(mallctl(absl::StrCat("arena.", *arena, ".dirty_decay_ms").c_str(),
                    &decay, &size, nullptr, 0),
            0);
  EXPECT_EQ(decay, kLargeBufferDecayMs);
  constexpr size_t kSize = size_t{64} << 20;
  for (int round = 0; round < 3; ++round) {
    const void* first = nullptr;
    std::thread([&] {
      std::string buffer = LargeString(kSize);
      buffer.append(kSize, 'a');
      first = buffer.data();
    }).join();
    const void* second = nullptr;
    size_t pages = 0;
    size_t resident = 0;
    std::thread([&] {
      std::string buffer = LargeString(kSize);
      second = buffer.data();
      // Memory already touched: no page to fault in and zero.
      resident = ResidentPages(buffer.data(), kSize, &pages);
    }).join();
    EXPECT_EQ(first, second) << "round " << round;
    EXPECT_GT(pages, 0u);
    EXPECT_EQ(resident, pages) << "round " << round;
  }
  EXPECT_EQ(LargeBufferArena(), arena) << "one arena for the process";
}

// As a worker frees and makes them: several results freed, then as many
// made. jemalloc purges an arena whole when the last thread associated
// with it leaves; LargeString's own visits to the arena must not be that
// last thread, or every buffer but the first would be fresh memory.
// (The arena's decay is off meanwhile: jemalloc's background thread also
// returns freed memory now and then, by the decay time, and a test of a
// few milliseconds must not depend on when it wakes.)
TEST(LargeStringTest, BuffersFreedTogetherAreAllReused) {
  std::optional<unsigned> arena = LargeBufferArena();
  if (!arena.has_value()) GTEST_SKIP() << "not running on jemalloc";
  auto set_decay = [&](ssize_t decay) {
    for (const char* kind : {"dirty_decay_ms", "muzzy_decay_ms"}) {
      ASSERT_EQ(mallctl(absl::StrCat("arena.", *arena, ".", kind).c_str(),
                        nullptr, nullptr, &decay, sizeof(decay)),
                0);
    }
  };
  set_decay(-1);
  constexpr size_t kSize = size_t{16} << 20;
  constexpr int kBuffers = 4;
  std::vector<std::string> buffers;
  for (int i = 0; i < kBuffers; ++i) {
    buffers.push_back(LargeString(kSize));
    buffers.back().append(kSize, 'a');
  }
  buffers.clear();
  std::thread([&] {
    for (int i = 0; i < kBuffers; ++i) buffers.push_back(LargeString(kSize));
  }).join();
  for (int i = 0; i < kBuffers; ++i) {
    size_t pages = 0;
    const size_t resident = ResidentPages(buffers[i].data(), kSize, &pages);
    EXPECT_GT(pages, 0u);
    EXPECT_EQ(resident, pages) << "buffer " << i;
  }
  set_decay(kLargeBufferDecayMs);
}

}  // namespace
}  // namespace dagd
