// FetchBudget: tasks take what their fetched inputs need, wait for room
// beside the others', run alone when theirs alone is over the limit, and
// stop waiting when cancelled.
#include "worker/fetch_budget.h"

#include <atomic>
#include <thread>
#include <utility>

#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"

namespace dagd {
namespace {

constexpr absl::Duration kWait = absl::Seconds(30);

// Waits until `budget` counts `n` waits.
bool WaitForWaits(const FetchBudget& budget, uint64_t n) {
  const absl::Time give_up = absl::Now() + kWait;
  while (budget.waits() < n && absl::Now() < give_up) {
    absl::SleepFor(absl::Milliseconds(1));
  }
  return budget.waits() >= n;
}

TEST(FetchBudgetTest, WhatFitsIsTakenAtOnceAndGivenBack) {
  FetchBudget budget(100);
  {
    ASSERT_TRUE(budget.Acquire(60, nullptr));
    FetchBudget::Lease first(&budget, 60);
    ASSERT_TRUE(budget.Acquire(40, nullptr));
    FetchBudget::Lease second(&budget, 40);
    EXPECT_EQ(budget.taken(), 100u);
    FetchBudget::Lease moved = std::move(first);  // still held, once
    EXPECT_EQ(budget.taken(), 100u);
  }
  EXPECT_EQ(budget.taken(), 0u);
  EXPECT_EQ(budget.waits(), 0u);
}

TEST(FetchBudgetTest, ATaskOverWhatIsLeftWaitsUntilAnotherGivesBack) {
  FetchBudget budget(100);
  ASSERT_TRUE(budget.Acquire(60, nullptr));
  absl::Notification taken;
  std::thread second([&] {
    if (budget.Acquire(50, nullptr)) taken.Notify();
  });
  ASSERT_TRUE(WaitForWaits(budget, 1));
  EXPECT_FALSE(taken.HasBeenNotified());
  budget.Release(60);
  EXPECT_TRUE(taken.WaitForNotificationWithTimeout(kWait));
  second.join();
  EXPECT_EQ(budget.taken(), 50u);
}

// Inputs larger than the whole budget would otherwise wait for good.
TEST(FetchBudgetTest, ATaskOverTheWholeLimitRunsAlone) {
  FetchBudget budget(100);
  ASSERT_TRUE(budget.Acquire(500, nullptr));
  EXPECT_EQ(budget.taken(), 500u);
  absl::Notification taken;
  std::thread second([&] {
    if (budget.Acquire(1, nullptr)) taken.Notify();
  });
  ASSERT_TRUE(WaitForWaits(budget, 1));
  budget.Release(500);
  EXPECT_TRUE(taken.WaitForNotificationWithTimeout(kWait));
  second.join();
}

TEST(FetchBudgetTest, AWaitingTaskThatIsCancelledTakesNothing) {
  FetchBudget budget(100);
  ASSERT_TRUE(budget.Acquire(60, nullptr));
  CancellationToken token;
  bool result = true;
  std::thread second([&] { result = budget.Acquire(50, &token); });
  ASSERT_TRUE(WaitForWaits(budget, 1));
  token.Cancel(CancelReason::kTimeout);
  second.join();
  EXPECT_FALSE(result);
  EXPECT_EQ(budget.taken(), 60u);
  CancellationToken cancelled;
  cancelled.Cancel(CancelReason::kCoordinator);
  EXPECT_FALSE(budget.Acquire(10, &cancelled));
  EXPECT_EQ(budget.taken(), 60u);
}

// Another waiter's cancel does not end this one's wait.
TEST(FetchBudgetTest, OneWaiterCancelledLeavesTheOthersWaiting) {
  FetchBudget budget(100);
  ASSERT_TRUE(budget.Acquire(60, nullptr));
  CancellationToken mine, theirs;
  bool got_mine = false, got_theirs = true;
  std::thread first([&] { got_mine = budget.Acquire(50, &mine); });
  ASSERT_TRUE(WaitForWaits(budget, 1));
  std::thread second([&] { got_theirs = budget.Acquire(50, &theirs); });
  ASSERT_TRUE(WaitForWaits(budget, 2));
  theirs.Cancel(CancelReason::kTimeout);
  second.join();
  EXPECT_FALSE(got_theirs);
  EXPECT_EQ(budget.taken(), 60u) << "the other waiter gave up";
  budget.Release(60);
  first.join();
  EXPECT_TRUE(got_mine);
  EXPECT_EQ(budget.taken(), 50u);
}

// Turns go in the order tasks came: a small task that would fit waits
// behind a large one that came first.
TEST(FetchBudgetTest, TasksTakeTheirTurnsInTheOrderTheyCame) {
  FetchBudget budget(100);
  ASSERT_TRUE(budget.Acquire(60, nullptr));
  std::atomic<bool> large_taken{false};
  std::thread large([&] {
    ASSERT_TRUE(budget.Acquire(90, nullptr));
    large_taken = true;
  });
  ASSERT_TRUE(WaitForWaits(budget, 1));
  std::atomic<bool> small_taken{false};
  std::thread small([&] {
    ASSERT_TRUE(budget.Acquire(10, nullptr));  // would fit beside the 60
    small_taken = true;
  });
  ASSERT_TRUE(WaitForWaits(budget, 2));
  EXPECT_FALSE(small_taken);
  budget.Release(60);
  large.join();
  EXPECT_TRUE(large_taken);
  small.join();
  EXPECT_EQ(budget.taken(), 100u);
}

TEST(FetchBudgetTest, NoLimitTakesNothingAndNeverWaits) {
  FetchBudget budget(0);
  EXPECT_TRUE(budget.Acquire(1ull << 40, nullptr));
  EXPECT_TRUE(budget.Acquire(1ull << 40, nullptr));
  EXPECT_EQ(budget.taken(), 0u);
}

}  // namespace
}  // namespace dagd
