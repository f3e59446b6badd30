#include "storage/base/large_buffer.h"

#include "gtest/gtest.h"

namespace dagd {
namespace {

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

}  // namespace
}  // namespace dagd
