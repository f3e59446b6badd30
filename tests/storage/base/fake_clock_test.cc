#include "tests/testutil/fake_clock.h"

#include <thread>

#include "absl/time/time.h"
#include "gtest/gtest.h"

namespace dagd {
namespace {

TEST(FakeClockTest, StandsStillUntilAdvanced) {
  FakeClock clock(absl::FromUnixMillis(1'700'000'000'123));
  EXPECT_EQ(clock.Now(), absl::FromUnixMillis(1'700'000'000'123));
  EXPECT_EQ(clock.Now(), clock.Now());
  clock.Advance(absl::Milliseconds(1500));
  EXPECT_EQ(UnixMillis(clock.Now()), 1'700'000'001'623);
}

TEST(FakeClockTest, AdvancesSeenFromAnotherThread) {
  FakeClock clock;
  const absl::Time start = clock.Now();
  std::thread advancer([&clock] {
    for (int i = 0; i < 1000; ++i) clock.Advance(absl::Microseconds(1));
  });
  absl::Time last = start;
  for (int i = 0; i < 1000; ++i) {
    const absl::Time now = clock.Now();
    EXPECT_GE(now, last);  // never goes back
    last = now;
  }
  advancer.join();
  EXPECT_EQ(clock.Now() - start, absl::Milliseconds(1));
}

TEST(SystemClockTest, IsTheWallClock) {
  SystemClock clock;
  const absl::Time before = absl::Now();
  const absl::Time now = clock.Now();
  EXPECT_GE(now, before);
  EXPECT_LE(now, absl::Now());
}

}  // namespace
}  // namespace dagd
