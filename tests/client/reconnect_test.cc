#include "client/reconnect.h"

#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace dagd {
namespace {

using ::testing::ElementsAre;
using Kind = ConnectionChange::Kind;

// An Outage on a clock that only its pauses move.
class OutageTest : public ::testing::Test {
 protected:
  Outage Make(absl::Duration budget,
              absl::Time deadline = absl::InfiniteFuture()) {
    return Outage(
        budget, deadline, [this] { return now_; },
        [this](absl::Duration d) {
          pauses_.push_back(d);
          now_ += d;
        },
        [this](const ConnectionChange& change) { changes_.push_back(change); });
  }

  absl::Time now_ = absl::FromUnixSeconds(1000);
  std::vector<absl::Duration> pauses_;
  std::vector<ConnectionChange> changes_;
};

TEST_F(OutageTest, EachOutageIsReportedOnceWhenLostAndOnceWhenRegained) {
  Outage outage = Make(absl::Seconds(60));
  outage.Reached();  // no outage yet: nothing to say
  EXPECT_TRUE(changes_.empty());
  outage.Lost(absl::UnavailableError("Socket closed"));
  EXPECT_TRUE(outage.lost());
  outage.Lost(absl::DeadlineExceededError("Deadline Exceeded"));
  ASSERT_TRUE(outage.Pause());
  outage.Reached();
  EXPECT_FALSE(outage.lost());
  EXPECT_EQ(outage.give_up_at(), absl::InfiniteFuture());
  ASSERT_EQ(changes_.size(), 2u);
  EXPECT_EQ(changes_[0].kind, Kind::kLost);
  EXPECT_EQ(changes_[0].cause.message(), "Socket closed");
  EXPECT_TRUE(changes_[0].was_connected);
  EXPECT_EQ(changes_[0].retry_for, absl::Seconds(60));
  EXPECT_EQ(changes_[1].kind, Kind::kRegained);
  EXPECT_EQ(changes_[1].outage, absl::Milliseconds(100));

  // The next outage starts its pauses and its budget afresh.
  outage.Lost(absl::UnavailableError("Socket closed"));
  EXPECT_EQ(outage.give_up_at(), now_ + absl::Seconds(60));
  ASSERT_TRUE(outage.Pause());
  EXPECT_THAT(pauses_,
              ElementsAre(absl::Milliseconds(100), absl::Milliseconds(100)));
  EXPECT_EQ(changes_.size(), 3u);
}

TEST_F(OutageTest, TheCallsDeadlineCutsAnOutageShort) {
  Outage outage = Make(absl::Seconds(60), now_ + absl::Seconds(5));
  outage.Lost(absl::UnavailableError("failed to connect"));
  EXPECT_EQ(outage.give_up_at(), now_ + absl::Seconds(5));
  EXPECT_FALSE(changes_[0].was_connected);
  EXPECT_EQ(changes_[0].retry_for, absl::Seconds(5));
  while (outage.Pause()) {
  }
  EXPECT_EQ(now_, absl::FromUnixSeconds(1005));  // never paused past it
  // The call's own deadline (Watch: past watch_timeout, DEADLINE_EXCEEDED).
  EXPECT_EQ(outage.GiveUp(),
            absl::DeadlineExceededError("the deadline passed while dagd could "
                                        "not be reached: failed to connect"));
}

// A call bounded by its deadline alone (a submission) that never reached
// dagd ends UNAVAILABLE, as it always has.
TEST_F(OutageTest, ACallWithoutABudgetOfItsOwnGivesUpUnavailable) {
  Outage outage = Make(absl::InfiniteDuration(), now_ + absl::Seconds(5));
  outage.Lost(absl::UnavailableError("failed to connect"));
  while (outage.Pause()) {
  }
  EXPECT_EQ(outage.GiveUp().code(), absl::StatusCode::kUnavailable);
}

// A watch dagd refuses each time (RESOURCE_EXHAUSTED: read too slowly,
// too many reads waiting) ends saying so, not as a lost connection.
TEST_F(OutageTest, RefusedToTheEndGivesUpResourceExhausted) {
  Outage outage = Make(absl::Seconds(2));
  outage.Reached();
  outage.Lost(absl::ResourceExhaustedError("too many reads waiting"));
  while (outage.Pause()) {
    outage.Lost(absl::ResourceExhaustedError("too many reads waiting"));
  }
  EXPECT_EQ(outage.GiveUp(),
            absl::ResourceExhaustedError(
                "dagd refused again and again for 2s: too many reads waiting"));
  // One unreachable at any time is a lost connection, whatever came first
  // or last.
  for (const bool refused_last : {false, true}) {
    Outage down = Make(absl::Seconds(2));
    down.Reached();
    down.Lost(absl::ResourceExhaustedError("too many reads waiting"));
    down.Lost(absl::UnavailableError("failed to connect"));
    while (down.Pause()) {
      down.Lost(refused_last ? absl::ResourceExhaustedError("refused")
                             : absl::UnavailableError("failed to connect"));
    }
    EXPECT_EQ(down.GiveUp().code(), absl::StatusCode::kUnavailable);
  }
}

TEST_F(OutageTest, AZeroBudgetGivesUpAtOnceWithTheCauseItself) {
  Outage outage = Make(absl::ZeroDuration());
  const absl::Status cause = absl::UnavailableError("Socket closed");
  outage.Lost(cause);
  EXPECT_FALSE(outage.Pause());
  EXPECT_EQ(outage.GiveUp(), cause);
  EXPECT_TRUE(changes_.empty());  // no retry promised, none announced
  EXPECT_TRUE(pauses_.empty());
}

TEST(IsConnectionLossTest, OnlyUnavailable) {
  EXPECT_TRUE(IsConnectionLoss(absl::UnavailableError("Socket closed")));
  EXPECT_FALSE(IsConnectionLoss(absl::NotFoundError("no job")));
  EXPECT_FALSE(IsConnectionLoss(absl::DeadlineExceededError("late")));
  EXPECT_FALSE(IsConnectionLoss(absl::OkStatus()));
}

}  // namespace
}  // namespace dagd
