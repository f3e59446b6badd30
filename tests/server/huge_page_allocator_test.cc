#include "server/huge_page_allocator.h"

#include <cstdint>
#include <numeric>
#include <vector>

#include "gtest/gtest.h"

namespace dagd {
namespace {

TEST(HugePageAllocatorTest, ArraysPastTwoMibStartOnAHugePage) {
  // 4 MiB of ints: the kernel can back it with two huge pages only if it
  // starts on a 2 MiB boundary.
  std::vector<int, HugePageAllocator<int>> big(1 << 20);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(big.data()) %
                HugePageAllocator<int>::kHugePage,
            0u);
  std::iota(big.begin(), big.end(), 0);
  EXPECT_EQ(big.back(), (1 << 20) - 1);
  // Growing past the first allocation copies, as with any allocator.
  big.resize(3 << 20, 7);
  EXPECT_EQ(big[(1 << 20) - 1], (1 << 20) - 1);
  EXPECT_EQ(big.back(), 7);
}

TEST(HugePageAllocatorTest, SmallArraysAreAllocatedAsUsual) {
  std::vector<int, HugePageAllocator<int>> small(1000, 3);
  EXPECT_EQ(std::accumulate(small.begin(), small.end(), 0), 3000);
  small.clear();
  small.shrink_to_fit();
  EXPECT_TRUE(small.empty());
}

}  // namespace
}  // namespace dagd
