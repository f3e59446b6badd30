#include "worker/timer_queue.h"

#include "absl/synchronization/notification.h"
#include "gtest/gtest.h"

namespace dagd {
namespace {

TEST(TimerQueueTest, FiresInDeadlineOrder) {
  TimerQueue timers;
  absl::Mutex mu;
  std::vector<int> order;
  absl::Notification done;
  timers.ScheduleAfter(absl::Milliseconds(30), [&] {
    absl::MutexLock lock(&mu);
    order.push_back(2);
    done.Notify();
  });
  timers.ScheduleAfter(absl::Milliseconds(1), [&] {
    absl::MutexLock lock(&mu);
    order.push_back(1);
  });
  ASSERT_TRUE(done.WaitForNotificationWithTimeout(absl::Seconds(30)));
  absl::MutexLock lock(&mu);
  EXPECT_EQ(order, (std::vector<int>{1, 2}));
}

TEST(TimerQueueTest, CancelledTimerDoesNotFire) {
  TimerQueue timers;
  bool fired = false;
  absl::Notification later;
  auto handle =
      timers.ScheduleAfter(absl::Milliseconds(1), [&] { fired = true; });
  timers.Cancel(handle);
  // A timer due after the cancelled one: once it fires, the first would have.
  timers.ScheduleAfter(absl::Milliseconds(20), [&] { later.Notify(); });
  ASSERT_TRUE(later.WaitForNotificationWithTimeout(absl::Seconds(30)));
  EXPECT_FALSE(fired);
}

TEST(TimerQueueTest, DestructorDropsPendingTimers) {
  bool fired = false;
  {
    TimerQueue timers;
    timers.ScheduleAfter(absl::Hours(1), [&] { fired = true; });
  }
  EXPECT_FALSE(fired);
}

}  // namespace
}  // namespace dagd
