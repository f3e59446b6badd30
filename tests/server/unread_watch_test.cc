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

// dagd held the stream's reads back for a while (its reads paused): the
// heartbeats read next are old, and their counts say nothing of what was
// written meanwhile. Reset forgets the mark, so a worker that was reading
// all along is not judged deaf by those stale counts; the clock starts
// again from the next heartbeat.
TEST_F(UnreadWatchTest, AfterAResetTheClockStartsAgain) {
  EXPECT_FALSE(watch_.Deaf(0, 2, t0_));  // marked at t0
  watch_.Reset();
  // A stale heartbeat, read 5 s later: without the reset, 5 s past a
  // mark of 2 s.
  EXPECT_FALSE(watch_.Deaf(0, 2, t0_ + seconds(5)));  // marked again here
  EXPECT_FALSE(watch_.Deaf(1, 2, t0_ + seconds(7)));
  EXPECT_TRUE(watch_.Deaf(1, 2, t0_ + seconds(8)));
}

}  // namespace
}  // namespace dagd
