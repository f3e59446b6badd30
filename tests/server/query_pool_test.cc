#include "server/query_pool.h"

#include <atomic>
#include <memory>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace dagd {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

constexpr absl::Duration kQueryWait = absl::Seconds(30);

// What queries were told, in the order they were run or refused.
class Outcomes {
 public:
  QueryPool::Query Record(int id, absl::Notification* hold = nullptr) {
    return [this, id, hold](const absl::Status& refused) {
      if (refused.ok() && hold != nullptr) {
        hold->WaitForNotificationWithTimeout(kQueryWait);
      }
      absl::MutexLock lock(&mu_);
      done_.push_back({id, refused.code()});
    };
  }
  std::vector<std::pair<int, absl::StatusCode>> Wait(size_t n) {
    absl::MutexLock lock(&mu_);
    auto enough = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return done_.size() >= n;
    };
    mu_.AwaitWithTimeout(absl::Condition(&enough), kQueryWait);
    return done_;
  }

 private:
  absl::Mutex mu_;
  std::vector<std::pair<int, absl::StatusCode>> done_ ABSL_GUARDED_BY(mu_);
};

// Each test declares its pool after what its queries use: the pool's
// destructor joins the threads that may still be in a query.
TEST(QueryPoolTest, RunsQueriesOffTheCallingThreadInOrder) {
  const std::thread::id caller = std::this_thread::get_id();
  std::atomic<bool> on_caller{false};
  Outcomes outcomes;
  QueryPool pool({/*threads=*/1, /*max_queued=*/10});
  pool.Post([&](const absl::Status&) {
    on_caller = std::this_thread::get_id() == caller;
  });
  for (int i = 1; i <= 3; ++i) pool.Post(outcomes.Record(i));
  EXPECT_THAT(outcomes.Wait(3),
              ElementsAre(std::pair(1, absl::StatusCode::kOk),
                          std::pair(2, absl::StatusCode::kOk),
                          std::pair(3, absl::StatusCode::kOk)));
  EXPECT_FALSE(on_caller);
}

// Slow queries on every thread do not keep a later one from its turn on
// the next free thread, and the threads run at once.
TEST(QueryPoolTest, RunsAsManyQueriesAtOnceAsItHasThreads) {
  absl::Notification both_running;
  std::atomic<int> running{0};
  absl::Notification release;
  QueryPool pool({/*threads=*/2, /*max_queued=*/10});
  for (int i = 0; i < 2; ++i) {
    pool.Post([&](const absl::Status&) {
      if (++running == 2) both_running.Notify();
      release.WaitForNotificationWithTimeout(kQueryWait);
    });
  }
  EXPECT_TRUE(both_running.WaitForNotificationWithTimeout(kQueryWait));
  release.Notify();
}

TEST(QueryPoolTest, RefusesAQueryWhenTheQueueIsFull) {
  absl::Notification started, release;
  Outcomes outcomes;
  QueryPool pool({/*threads=*/1, /*max_queued=*/2});
  pool.Post([&](const absl::Status&) {
    started.Notify();
    release.WaitForNotificationWithTimeout(kQueryWait);
  });
  ASSERT_TRUE(started.WaitForNotificationWithTimeout(kQueryWait));
  pool.Post(outcomes.Record(1));
  pool.Post(outcomes.Record(2));
  EXPECT_EQ(pool.queued(), 2u);
  // Refused at once, on this thread, before the queued ones ran.
  absl::Status refused;
  pool.Post([&refused](const absl::Status& s) { refused = s; });
  EXPECT_EQ(refused.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(refused.message(), HasSubstr("try again"));
  release.Notify();
  EXPECT_THAT(outcomes.Wait(2),
              ElementsAre(std::pair(1, absl::StatusCode::kOk),
                          std::pair(2, absl::StatusCode::kOk)));
}

TEST(QueryPoolTest, StopWaitsForRunningQueriesAndRefusesTheRest) {
  absl::Notification started, release;
  Outcomes outcomes;
  QueryPool pool({/*threads=*/1, /*max_queued=*/2});
  pool.Post([&](const absl::Status& refused) {
    started.Notify();
    release.WaitForNotificationWithTimeout(kQueryWait);
    outcomes.Record(0)(refused);
  });
  ASSERT_TRUE(started.WaitForNotificationWithTimeout(kQueryWait));
  pool.Post(outcomes.Record(1));
  pool.Post(outcomes.Record(2));
  std::thread stopper([&] { pool.Stop(); });
  // The queue is full: a probe is refused at once, RESOURCE_EXHAUSTED until
  // Stop has begun, UNAVAILABLE from then on.
  absl::Status probe;
  do {
    std::this_thread::yield();
    pool.Post([&probe](const absl::Status& s) { probe = s; });
  } while (probe.code() == absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(probe.code(), absl::StatusCode::kUnavailable);
  release.Notify();
  stopper.join();
  // The running one finished; the queued ones were told dagd is stopping.
  EXPECT_THAT(outcomes.Wait(3),
              ElementsAre(std::pair(0, absl::StatusCode::kOk),
                          std::pair(1, absl::StatusCode::kUnavailable),
                          std::pair(2, absl::StatusCode::kUnavailable)));
  absl::Status late;
  pool.Post([&late](const absl::Status& s) { late = s; });
  EXPECT_EQ(late.code(), absl::StatusCode::kUnavailable);
  pool.Stop();  // idempotent
}

}  // namespace
}  // namespace dagd
