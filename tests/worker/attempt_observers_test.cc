#include "worker/attempt_observers.h"

#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/worker/fakes.h"

namespace dagd {
namespace {

using ::testing::HasSubstr;

v1::Assignment AssignmentOf(const std::string& fn) {
  v1::Assignment assignment;
  assignment.set_fn(fn);
  assignment.set_task_id("sum");
  assignment.mutable_task()->set_job_id("j1");
  assignment.mutable_task()->set_attempt(2);
  return assignment;
}

TEST(ObserverFanOutTest, PassesEveryCallToEachObserver) {
  RecordingObserver a, b;
  ObserverFanOut both({&a, &b});
  both.SlotsTaken(3);
  both.SlotsFreed(1);
  v1::TaskResult ok;
  ok.set_ok(true);
  both.AttemptFinished(AssignmentOf("add"), ok, absl::Seconds(1));
  for (RecordingObserver* observer : {&a, &b}) {
    EXPECT_EQ(observer->busy(), 2);
    ASSERT_EQ(observer->finished().size(), 1u);
    EXPECT_EQ(observer->finished()[0].fn, "add");
  }
}

TEST(FailedAttemptLogTest, LogsFailuresWithJobAndTask) {
  std::vector<LogEntry> entries;
  FailedAttemptLog log([&entries](const LogEntry& e) { entries.push_back(e); });
  v1::TaskResult ok;
  ok.set_ok(true);
  log.AttemptFinished(AssignmentOf("add"), ok, absl::Seconds(1));
  EXPECT_TRUE(entries.empty());
  v1::TaskResult failed;
  failed.set_error("exit status 3");
  failed.set_permanent(true);
  log.AttemptFinished(AssignmentOf("exec"), failed, absl::Milliseconds(1500));
  ASSERT_EQ(entries.size(), 1u);
  EXPECT_EQ(entries[0].level, LogLevel::kWarning);
  EXPECT_EQ(entries[0].job_id, "j1");
  EXPECT_EQ(entries[0].task_id, "sum");
  EXPECT_EQ(
      entries[0].message,
      "attempt 2 of fn 'exec' failed (permanent) after 1.5s: exit status 3");
}

}  // namespace
}  // namespace dagd
