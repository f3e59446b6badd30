#include "server/unread_watch.h"

#include <chrono>

#include "gtest/gtest.h"

namespace dagd {
namespace {

using std::chrono::seconds;

class UnreadWatchTest : public ::testing::Test {
 protected:
  UnreadWatch watch_{seconds(2)};
  const UnreadWatch::Clock::time_point t0_{};
};

TEST_F(UnreadWatchTest, AWorkerThatReadsAllItWasSentIsNeverDeaf) {
  for (int i = 0; i < 100; ++i) {
    EXPECT_FALSE(watch_.Deaf(i, i, t0_ + seconds(i)));
  }
}

TEST_F(UnreadWatchTest, AWorkerThatReadsWithinTheBoundIsNotDeaf) {
  // Always behind by what came since its last heartbeat, but each message
  // is read by the next one.
  for (int i = 0; i < 100; ++i) {
    EXPECT_FALSE(watch_.Deaf(10 * i, 10 * i + 5, t0_ + seconds(i)));
  }
}

TEST_F(UnreadWatchTest, AMessageLeftUnreadPastTheBoundMakesItDeaf) {
  EXPECT_FALSE(watch_.Deaf(1, 3, t0_));  // 2 unread, marked now
  EXPECT_FALSE(watch_.Deaf(2, 3, t0_ + seconds(1)));
  EXPECT_FALSE(watch_.Deaf(2, 3, t0_ + seconds(2)));  // at the bound
  EXPECT_TRUE(watch_.Deaf(2, 3, t0_ + seconds(3)));
}

TEST_F(UnreadWatchTest, ReadingTheMarkedMessagesStartsTheClockAgain) {
  EXPECT_FALSE(watch_.Deaf(0, 2, t0_));
  // Read by 1 s; two more came since: marked from then.
  EXPECT_FALSE(watch_.Deaf(2, 4, t0_ + seconds(1)));
  EXPECT_FALSE(watch_.Deaf(3, 4, t0_ + seconds(3)));
  EXPECT_TRUE(watch_.Deaf(3, 4, t0_ + seconds(4)));
}

TEST_F(UnreadWatchTest, NothingWrittenIsNothingUnread) {
  // No message ever sent (a worker that never read even Registered would
  // be marked as soon as Registered is written).
  EXPECT_FALSE(watch_.Deaf(0, 0, t0_));
  EXPECT_FALSE(watch_.Deaf(0, 0, t0_ + seconds(60)));
}

}  // namespace
}  // namespace dagd
