#include "worker/task_executor.h"

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/synchronization/notification.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/worker/fake_coordinator.h"
#include "tests/worker/fakes.h"
#include "tests/worker/test_runtimes.h"
#include "worker/builtins.h"
#include "worker/json_util.h"

namespace dagd {
namespace {

constexpr absl::Duration kWait = absl::Seconds(30);

class TaskExecutorTest : public testing::Test {
 protected:
  TaskExecutorTest() { EXPECT_TRUE(RegisterBuiltins(&registry_).ok()); }

  FunctionRegistry registry_;
  TaskRuntimes runtimes_ = BuiltinRuntimes(&registry_);
  FakeClock clock_;
  RecordingReporter reporter_;
};

TEST_F(TaskExecutorTest, RunsABatchOfAssignments) {
  TaskExecutor executor(2, &runtimes_, &clock_, &reporter_);
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
  TaskExecutor executor(1, &runtimes_, &clock_, &reporter_);
  v1::CoordinatorBatch batch;
  *batch.add_assignments() = Assign(0, "missing", "null");
  executor.Handle(batch);
  // Reported synchronously, without a pool thread.
  ASSERT_EQ(reporter_.results().size(), 1u);
  EXPECT_TRUE(reporter_.results()[0].permanent());
}

TEST_F(TaskExecutorTest, CancelReachesTheRunningAttempt) {
  TaskExecutor executor(1, &runtimes_, &clock_, &reporter_);
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
    TaskExecutor executor(1, &runtimes_, &clock_, &reporter_);
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
    TaskExecutor executor(2, &runtimes_, &clock_, &reporter_, &observer);
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

// Dropped ones are reported not started (TaskResult.not_started), so dagd
// runs them elsewhere at once; they waited for the worker's stream to end.
TEST_F(TaskExecutorTest, StopAcceptingDropsNewAssignmentsButRunsAcceptedOnes) {
  TaskExecutor executor(1, &runtimes_, &clock_, &reporter_);
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
  const std::vector<v1::TaskResult> results = reporter_.results();
  ASSERT_EQ(results.size(), 3u);
  for (int i : {0, 1}) {
    EXPECT_EQ(results[i].task().task_index(), i + 1u);
    EXPECT_TRUE(results[i].not_started());
    EXPECT_FALSE(results[i].ok());
    EXPECT_EQ(results[i].error(), "not started: this worker drains");
  }
  EXPECT_EQ(results[2].task().task_index(), 0u);
  EXPECT_FALSE(results[2].not_started()) << "it ran, and was cancelled";
}

// Grant ahead: followers that run on their predecessor's slot.
class GrantAheadTest : public TaskExecutorTest {
 protected:
  GrantAheadTest() {
    // Blocks until the test opens the gate.
    EXPECT_TRUE(registry_
                    .Register("gate",
                              [this](TaskContext&) -> absl::StatusOr<Payload> {
                                gate_.WaitForNotification();
                                return Payload{"1", kJsonContentType};
                              })
                    .ok());
    // Outputs how many slots the executor counts busy while it runs.
    EXPECT_TRUE(registry_
                    .Register("busy_slots",
                              [this](TaskContext&) -> absl::StatusOr<Payload> {
                                return JsonTextPayload(
                                    std::to_string(executor_->busy_slots()));
                              })
                    .ok());
  }
  ~GrantAheadTest() override { OpenGate(); }

  TaskExecutor& Start(int slots) {
    executor_ = std::make_unique<TaskExecutor>(slots, &runtimes_, &clock_,
                                               &reporter_, &observer_);
    return *executor_;
  }
  void OpenGate() {
    if (!gate_.HasBeenNotified()) gate_.Notify();
  }

  // `follower`, made to run after `predecessor` with its output as input 0.
  static v1::Assignment After(const v1::Assignment& predecessor,
                              v1::Assignment follower) {
    *follower.mutable_after() = predecessor.task();
    follower.add_inputs();
    follower.add_local_input_positions(0);
    return follower;
  }
  static double Number(const v1::TaskResult& result) {
    auto value = ParseJson(result.output().data());
    EXPECT_TRUE(value.ok()) << value.status();
    return value.ok() ? value->number_value() : -1;
  }
  std::vector<uint32_t> ResultIndexes() {
    std::vector<uint32_t> indexes;
    for (const auto& result : reporter_.results()) {
      indexes.push_back(result.task().task_index());
    }
    return indexes;
  }
  std::vector<uint32_t> StartedIndexes() {
    std::vector<uint32_t> indexes;
    for (const auto& started : reporter_.started()) {
      indexes.push_back(started.task().task_index());
    }
    return indexes;
  }

  absl::Notification gate_;
  RecordingObserver observer_;
  std::unique_ptr<TaskExecutor> executor_;
};

TEST_F(GrantAheadTest, ChainRunsInOrderOnOneSlotPassingOutputsOn) {
  // One slot: a follower that waited for a slot of its own would deadlock.
  TaskExecutor& executor = Start(1);
  v1::CoordinatorBatch batch;
  *batch.add_assignments() = Assign(0, "const", R"({"value": 1})");
  *batch.add_assignments() =
      After(batch.assignments(0), Assign(1, "add", R"({"value": 1})"));
  *batch.add_assignments() =
      After(batch.assignments(1), Assign(2, "add", R"({"value": 1})"));
  EXPECT_EQ(executor.Handle(batch), 0u);
  ASSERT_TRUE(executor.WaitUntilIdle(kWait));
  EXPECT_EQ(executor.attempts(), 0u);
  EXPECT_EQ(StartedIndexes(), (std::vector<uint32_t>{0, 1, 2}));
  ASSERT_EQ(ResultIndexes(), (std::vector<uint32_t>{0, 1, 2}));
  std::vector<v1::TaskResult> results = reporter_.results();
  for (const auto& result : results) EXPECT_TRUE(result.ok()) << result.error();
  EXPECT_EQ(Number(results[2]), Number(results[0]) + 2);
  EXPECT_EQ(observer_.max_busy(), 1);
  EXPECT_EQ(observer_.busy(), 0);
  EXPECT_EQ(observer_.finished().size(), 3u);
}

TEST_F(GrantAheadTest, FollowerHoldsItsPredecessorsSlotWhileItRuns) {
  TaskExecutor& executor = Start(2);
  v1::CoordinatorBatch batch;
  *batch.add_assignments() = Assign(0, "const", R"({"value": 1})");
  *batch.add_assignments() =
      After(batch.assignments(0), Assign(1, "busy_slots", "null"));
  executor.Handle(batch);
  ASSERT_TRUE(executor.WaitUntilIdle(kWait));
  ASSERT_EQ(ResultIndexes(), (std::vector<uint32_t>{0, 1}));
  EXPECT_EQ(Number(reporter_.results()[1]), 1);
  EXPECT_EQ(executor.busy_slots(), 0u);
}

TEST_F(GrantAheadTest, FollowerOfAFailedAttemptIsDroppedWithItsChain) {
  TaskExecutor& executor = Start(1);
  v1::CoordinatorBatch batch;
  *batch.add_assignments() = Assign(0, "fail", "null");
  *batch.add_assignments() =
      After(batch.assignments(0), Assign(1, "const", "1"));
  *batch.add_assignments() =
      After(batch.assignments(1), Assign(2, "const", "1"));
  executor.Handle(batch);
  ASSERT_TRUE(executor.WaitUntilIdle(kWait));
  EXPECT_EQ(StartedIndexes(), (std::vector<uint32_t>{0}));
  EXPECT_EQ(ResultIndexes(), (std::vector<uint32_t>{0}));
  EXPECT_EQ(observer_.busy(), 0);
}

TEST_F(GrantAheadTest,
       FollowerCancelledBeforeItsPredecessorEndsIsReportedNotRun) {
  TaskExecutor& executor = Start(1);
  v1::CoordinatorBatch batch;
  *batch.add_assignments() = Assign(0, "gate", "null");
  *batch.add_assignments() =
      After(batch.assignments(0), Assign(1, "const", "1"));
  *batch.add_assignments() =
      After(batch.assignments(1), Assign(2, "const", "1"));
  executor.Handle(batch);
  EXPECT_EQ(executor.attempts(), 3u);
  v1::CoordinatorBatch cancel;
  *cancel.add_cancels() = batch.assignments(1).task();
  executor.Handle(cancel);
  OpenGate();
  ASSERT_TRUE(executor.WaitUntilIdle(kWait));
  // The predecessor succeeded, so the coordinator may already count the
  // slot as the follower's: the follower is reported, as cancelled, without
  // running its function; the chain after it is dropped.
  ASSERT_EQ(ResultIndexes(), (std::vector<uint32_t>{0, 1}));
  EXPECT_TRUE(reporter_.results()[0].ok());
  EXPECT_FALSE(reporter_.results()[1].ok());
  EXPECT_THAT(reporter_.results()[1].error(), testing::HasSubstr("cancel"));
}

TEST_F(GrantAheadTest, OutputGoesToTheGivenInputPosition) {
  TaskExecutor& executor = Start(1);
  v1::CoordinatorBatch batch;
  *batch.add_assignments() = Assign(0, "const", R"({"value": 10})");
  // "add" fails on an input that is not a number, such as an empty one.
  v1::Assignment follower = Assign(1, "add", "{}");
  *follower.mutable_after() = batch.assignments(0).task();
  follower.add_inputs();  // sent empty: the predecessor's output goes here
  v1::Payload* five = follower.add_inputs();
  five->set_data("5");
  five->set_content_type(kJsonContentType);
  follower.add_local_input_positions(0);
  *batch.add_assignments() = follower;
  executor.Handle(batch);
  ASSERT_TRUE(executor.WaitUntilIdle(kWait));
  ASSERT_EQ(ResultIndexes(), (std::vector<uint32_t>{0, 1}));
  const v1::TaskResult result = reporter_.results()[1];
  ASSERT_TRUE(result.ok()) << result.error();
  EXPECT_EQ(Number(result), 15);
}

TEST_F(GrantAheadTest, FollowerOfAnUnknownPredecessorIsDropped) {
  TaskExecutor& executor = Start(1);
  v1::CoordinatorBatch batch;
  *batch.add_assignments() =
      After(Assign(0, "const", "1"), Assign(1, "const", "1"));
  EXPECT_EQ(executor.Handle(batch), 0u);
  EXPECT_EQ(executor.attempts(), 0u);
  EXPECT_TRUE(executor.WaitUntilIdle(absl::ZeroDuration()));
  EXPECT_TRUE(reporter_.results().empty());
}

TEST_F(GrantAheadTest, SecondFollowerOfAnAttemptIsDropped) {
  TaskExecutor& executor = Start(2);
  v1::CoordinatorBatch batch;
  *batch.add_assignments() = Assign(0, "gate", "null");
  *batch.add_assignments() =
      After(batch.assignments(0), Assign(1, "const", "1"));
  *batch.add_assignments() =
      After(batch.assignments(0), Assign(2, "const", "1"));
  executor.Handle(batch);
  EXPECT_EQ(executor.attempts(), 2u);
  OpenGate();
  ASSERT_TRUE(executor.WaitUntilIdle(kWait));
  EXPECT_EQ(ResultIndexes(), (std::vector<uint32_t>{0, 1}));
}

TEST_F(GrantAheadTest, FollowerOfAnAttemptFromAnEarlierBatchRuns) {
  TaskExecutor& executor = Start(1);
  v1::CoordinatorBatch first;
  *first.add_assignments() = Assign(0, "gate", "null");
  executor.Handle(first);
  v1::CoordinatorBatch second;
  *second.add_assignments() =
      After(first.assignments(0), Assign(1, "add", R"({"value": 1})"));
  executor.Handle(second);
  OpenGate();
  ASSERT_TRUE(executor.WaitUntilIdle(kWait));
  ASSERT_EQ(ResultIndexes(), (std::vector<uint32_t>{0, 1}));
  EXPECT_EQ(Number(reporter_.results()[1]), 2);
}

TEST_F(GrantAheadTest, CancelAllDropsWaitingFollowers) {
  TaskExecutor& executor = Start(1);
  v1::CoordinatorBatch batch;
  *batch.add_assignments() = Assign(0, "sleep", R"({"ms": 3600000})");
  *batch.add_assignments() =
      After(batch.assignments(0), Assign(1, "const", "1"));
  executor.Handle(batch);
  executor.CancelAll(CancelReason::kShutdown);
  ASSERT_TRUE(executor.WaitUntilIdle(kWait));
  ASSERT_EQ(ResultIndexes(), (std::vector<uint32_t>{0}));
  EXPECT_THAT(reporter_.results()[0].error(),
              testing::HasSubstr("shutting down"));
}

TEST_F(GrantAheadTest, RegisterListsHeadsAndDropsWaitingFollowers) {
  TaskExecutor& executor = Start(1);
  v1::CoordinatorBatch batch;
  *batch.add_assignments() = Assign(0, "gate", "null");
  *batch.add_assignments() =
      After(batch.assignments(0), Assign(1, "const", "1"));
  *batch.add_assignments() =
      After(batch.assignments(1), Assign(2, "const", "1"));
  executor.Handle(batch);
  ASSERT_EQ(executor.attempts(), 3u);
  std::vector<v1::TaskRef> listed = executor.AttemptsForRegister();
  ASSERT_EQ(listed.size(), 1u);
  EXPECT_EQ(listed[0].task_index(), 0u);
  // The head runs to its end; what was behind it does not run here.
  OpenGate();
  ASSERT_TRUE(executor.WaitUntilIdle(kWait));
  EXPECT_EQ(ResultIndexes(), (std::vector<uint32_t>{0}));
  EXPECT_EQ(observer_.busy(), 0);
}

TEST_F(GrantAheadTest, AcceptedChainRunsOnAfterStopAccepting) {
  TaskExecutor& executor = Start(1);
  v1::CoordinatorBatch batch;
  *batch.add_assignments() = Assign(0, "gate", "null");
  *batch.add_assignments() =
      After(batch.assignments(0), Assign(1, "const", "1"));
  executor.Handle(batch);
  executor.StopAccepting();
  OpenGate();
  ASSERT_TRUE(executor.WaitUntilIdle(kWait));
  EXPECT_EQ(ResultIndexes(), (std::vector<uint32_t>{0, 1}));
}

TEST_F(GrantAheadTest, LongChainCompletes) {
  TaskExecutor& executor = Start(1);
  constexpr uint32_t kLength = 64;
  v1::CoordinatorBatch batch;
  *batch.add_assignments() = Assign(0, "const", R"({"value": 0})");
  for (uint32_t i = 1; i < kLength; ++i) {
    *batch.add_assignments() =
        After(batch.assignments(i - 1), Assign(i, "add", R"({"value": 1})"));
  }
  executor.Handle(batch);
  ASSERT_TRUE(executor.WaitUntilIdle(kWait));
  ASSERT_EQ(reporter_.results().size(), kLength);
  EXPECT_EQ(Number(reporter_.results().back()), kLength - 1);
}

}  // namespace
}  // namespace dagd
