#include "worker/thread_pool.h"

#include <atomic>

#include "absl/synchronization/blocking_counter.h"
#include "absl/synchronization/notification.h"
#include "gtest/gtest.h"

namespace dagd {
namespace {

TEST(ThreadPoolTest, RunsEveryClosure) {
  std::atomic<int> runs{0};
  {
    ThreadPool pool(2);
    for (int i = 0; i < 100; ++i) pool.Schedule([&] { ++runs; });
  }
  EXPECT_EQ(runs.load(), 100);
}

TEST(ThreadPoolTest, RunsAsManyClosuresAtOnceAsThreads) {
  ThreadPool pool(3);
  absl::BlockingCounter started(3);
  absl::Notification release;
  for (int i = 0; i < 3; ++i) {
    pool.Schedule([&] {
      started.DecrementCount();
      release.WaitForNotification();
    });
  }
  started.Wait();  // would hang if fewer than 3 ran concurrently
  release.Notify();
}

}  // namespace
}  // namespace dagd
