#include "worker/task_executor.h"

#include <map>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/worker/fake_coordinator.h"
#include "tests/worker/fakes.h"
#include "worker/builtins.h"
#include "worker/json_util.h"

namespace dagd {
namespace {

constexpr absl::Duration kWait = absl::Seconds(30);

class TaskExecutorTest : public testing::Test {
 protected:
  TaskExecutorTest() { EXPECT_TRUE(RegisterBuiltins(&registry_).ok()); }

  FunctionRegistry registry_;
  FakeClock clock_;
  RecordingReporter reporter_;
};

TEST_F(TaskExecutorTest, RunsABatchOfAssignments) {
  TaskExecutor executor(2, &registry_, &clock_, &reporter_);
  v1::CoordinatorBatch batch;
  *batch.add_assignments() = Assign(0, "const", R"({"value": 1})");
  *batch.add_assignments() = Assign(1, "const", R"({"value": 2})");
  executor.Handle(batch);
  ASSERT_TRUE(reporter_.WaitForResults(2, kWait));
  for (const v1::TaskResult& result : reporter_.results()) {
    EXPECT_TRUE(result.ok()) << result.error();
  }
}

TEST_F(TaskExecutorTest, UnknownFunctionIsAnsweredAtOnce) {
  TaskExecutor executor(1, &registry_, &clock_, &reporter_);
  v1::CoordinatorBatch batch;
  *batch.add_assignments() = Assign(0, "missing", "null");
  executor.Handle(batch);
  // Reported synchronously, without a pool thread.
  ASSERT_EQ(reporter_.results().size(), 1u);
  EXPECT_TRUE(reporter_.results()[0].permanent());
}

TEST_F(TaskExecutorTest, CancelReachesTheRunningAttempt) {
  TaskExecutor executor(1, &registry_, &clock_, &reporter_);
  v1::CoordinatorBatch assign;
  *assign.add_assignments() = Assign(0, "sleep", R"({"ms": 3600000})");
  // A duplicate of the same attempt must not run twice.
  *assign.add_assignments() = Assign(0, "sleep", R"({"ms": 3600000})");
  executor.Handle(assign);
  EXPECT_EQ(executor.busy_slots(), 1u);
  v1::CoordinatorBatch cancel;
  *cancel.add_cancels() = assign.assignments(0).task();
  executor.Handle(cancel);
  ASSERT_TRUE(reporter_.WaitForResults(1, kWait));
  EXPECT_EQ(reporter_.results()[0].error(), "cancelled by the coordinator");
  EXPECT_FALSE(reporter_.WaitForResults(2, absl::ZeroDuration()));
}

TEST_F(TaskExecutorTest, DestructionCancelsRunningAttempts) {
  {
    TaskExecutor executor(1, &registry_, &clock_, &reporter_);
    v1::CoordinatorBatch batch;
    *batch.add_assignments() = Assign(0, "sleep", R"({"ms": 3600000})");
    executor.Handle(batch);
  }
  ASSERT_EQ(reporter_.results().size(), 1u);
  EXPECT_THAT(reporter_.results()[0].error(),
              testing::HasSubstr("shutting down"));
}

TEST_F(TaskExecutorTest, TellsTheObserverAboutSlotsAndAttempts) {
  RecordingObserver observer;
  {
    TaskExecutor executor(2, &registry_, &clock_, &reporter_, &observer);
    v1::CoordinatorBatch batch;
    *batch.add_assignments() = Assign(0, "const", R"({"value": 1})");
    *batch.add_assignments() = Assign(1, "missing", "null");
    executor.Handle(batch);
    ASSERT_TRUE(reporter_.WaitForResults(2, kWait));
    ASSERT_TRUE(executor.WaitUntilIdle(kWait));
  }
  EXPECT_EQ(observer.busy(), 0);
  std::vector<RecordingObserver::Finished> finished = observer.finished();
  ASSERT_EQ(finished.size(), 2u);
  std::map<std::string, bool> ok_by_fn;
  for (const auto& attempt : finished) ok_by_fn[attempt.fn] = attempt.ok;
  EXPECT_EQ(ok_by_fn,
            (std::map<std::string, bool>{{"const", true}, {"missing", false}}));
}

TEST_F(TaskExecutorTest, StopAcceptingDropsNewAssignmentsButRunsAcceptedOnes) {
  TaskExecutor executor(1, &registry_, &clock_, &reporter_);
  v1::CoordinatorBatch first;
  *first.add_assignments() = Assign(0, "sleep", R"({"ms": 3600000})");
  EXPECT_EQ(executor.Handle(first), 0u);
  executor.StopAccepting();
  v1::CoordinatorBatch late;
  *late.add_assignments() = Assign(1, "const", R"({"value": 1})");
  *late.add_assignments() = Assign(2, "missing", "null");
  EXPECT_EQ(executor.Handle(late), 2u);
  EXPECT_EQ(executor.attempts(), 1u);
  EXPECT_FALSE(executor.WaitUntilIdle(absl::ZeroDuration()));
  // Cancels still reach accepted attempts.
  v1::CoordinatorBatch cancel;
  *cancel.add_cancels() = first.assignments(0).task();
  EXPECT_EQ(executor.Handle(cancel), 0u);
  ASSERT_TRUE(executor.WaitUntilIdle(kWait));
  ASSERT_EQ(reporter_.results().size(), 1u);
  EXPECT_EQ(reporter_.results()[0].task().task_index(), 0u);
}

}  // namespace
}  // namespace dagd
