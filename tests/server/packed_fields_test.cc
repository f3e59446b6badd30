#include "server/packed_fields.h"

#include <string>
#include <utility>

#include "gtest/gtest.h"

namespace dagd {
namespace {

TEST(PackedTimeTest, HoldsTimesToTheNanosecondAndBothInfinities) {
  EXPECT_EQ(sizeof(PackedTime), 8u);
  EXPECT_EQ(PackedTime().get(), absl::InfinitePast());
  for (absl::Time t :
       {absl::InfinitePast(), absl::InfiniteFuture(), absl::UnixEpoch(),
        absl::FromUnixNanos(1'733'400'000'123'456'789),
        absl::FromUnixNanos(-5)}) {
    PackedTime packed = t;
    EXPECT_EQ(packed.get(), t);
  }
  // Beyond what 64 bits of nanoseconds hold: the nearer infinity.
  EXPECT_EQ(PackedTime(absl::FromUnixSeconds(int64_t{1} << 40)).get(),
            absl::InfiniteFuture());
  EXPECT_EQ(PackedTime(absl::FromUnixSeconds(-(int64_t{1} << 40))).get(),
            absl::InfinitePast());
}

TEST(RareStringTest, IsEmptyUntilSetAndCopiesItsText) {
  EXPECT_EQ(sizeof(RareString), sizeof(void*));
  RareString s;
  EXPECT_TRUE(s.empty());
  EXPECT_EQ(s.get(), "");
  s = std::string("worker 'w1' was lost");
  EXPECT_FALSE(s.empty());
  RareString copy = s;
  s = "";
  EXPECT_TRUE(s.empty());
  EXPECT_EQ(copy.get(), "worker 'w1' was lost");
  const std::string& view = copy;
  EXPECT_EQ(view, "worker 'w1' was lost");
  RareString moved = std::move(copy);
  EXPECT_EQ(moved.get(), "worker 'w1' was lost");
}

}  // namespace
}  // namespace dagd
