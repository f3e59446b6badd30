#include "server/scheduler.h"

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/json_util.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"
#include "tests/server/scheduler_fixture.h"

namespace dagd {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

TEST_F(SchedulerTest, OnlyTasksWithoutDependenciesStartReady) {
  uint64_t job = Submit(R"({"tasks": [
      {"id": "a", "fn": "const"}, {"id": "b", "fn": "const"},
      {"id": "d", "fn": "add", "inputs": ["b", "c"]},
      {"id": "c", "fn": "add", "inputs": ["a"]}]})");
  AddWorker(kWorker, 8);
  std::vector<v1::Assignment> first = Dispatch(kWorker);
  EXPECT_THAT(Ids(first), ::testing::UnorderedElementsAre("a", "b"));
  Report(kWorker, first[0], true, "1");
  Report(kWorker, first[1], true, "2");
  std::vector<v1::Assignment> second = Dispatch(kWorker);
  ASSERT_THAT(Ids(second), ElementsAre("c"));
  ASSERT_EQ(second[0].inputs_size(), 1);
  Report(kWorker, second[0], true, "10");
  std::vector<v1::Assignment> third = Dispatch(kWorker);
  ASSERT_THAT(Ids(third), ElementsAre("d"));
  auto d_status = scheduler_.TaskStatusOf(job, "d");
  ASSERT_TRUE(d_status.ok());
  EXPECT_THAT(d_status->inputs(), ElementsAre("b", "c"));
  // Inputs arrive in the order the task lists them: b, then c.
  ASSERT_EQ(third[0].inputs_size(), 2);
  EXPECT_EQ(third[0].inputs(1).data(), "10");
  Report(kWorker, third[0], true, "12");
  Dispatch(kWorker);
  EXPECT_FALSE(scheduler_.JobStatusOf(job).has_value());  // finished
  EXPECT_TRUE(last_sync_);
  ASSERT_EQ(last_writes_.job_statuses.size(), 1u);
  EXPECT_EQ(last_writes_.job_statuses[0].second.state(), v1::JOB_SUCCEEDED);
}

// A task's args reach its worker as submitted: dagd passes on their bytes
// without reading them (server/assignment_args.h), and a worker parsing
// the assignment finds them in its args field.
TEST_F(SchedulerTest, ArgsReachTheWorkerAsSubmitted) {
  Submit(R"({"tasks": [
      {"id": "a", "fn": "const",
       "args": {"value": 1.5, "list": [true, null, "s", {"k": []}]}},
      {"id": "b", "fn": "const"}]})");
  AddWorker(kWorker, 8);
  std::vector<v1::Assignment> sent = Dispatch(kWorker);
  ASSERT_THAT(Ids(sent), ::testing::UnorderedElementsAre("a", "b"));
  google::protobuf::Value expected;
  ASSERT_TRUE(
      google::protobuf::util::JsonStringToMessage(
          R"({"value": 1.5, "list": [true, null, "s", {"k": []}]})", &expected)
          .ok());
  for (const v1::Assignment& a : sent) {
    // dagd did not parse them: only the worker does.
    EXPECT_FALSE(a.has_args());
    v1::Assignment on_worker;
    ASSERT_TRUE(on_worker.ParseFromString(a.SerializeAsString()));
    if (a.task_id() == "a") {
      EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(
          on_worker.args(), expected))
          << on_worker.args().DebugString();
    } else {
      EXPECT_FALSE(on_worker.has_args());
    }
  }
}

TEST_F(SchedulerTest, HigherJobPriorityRunsFirst) {
  Submit(R"({"name": "low", "tasks": [{"id": "low", "fn": "const"}]})");
  Submit(R"({"name": "high", "priority": 5,
             "tasks": [{"id": "high", "fn": "const"}]})");
  AddWorker(kWorker, 1);
  EXPECT_THAT(Ids(Dispatch(kWorker)), ElementsAre("high"));
}

TEST_F(SchedulerTest, HigherTaskPriorityRunsFirst) {
  Submit(R"({"tasks": [{"id": "a", "fn": "const"},
                       {"id": "b", "fn": "const", "priority": 3},
                       {"id": "c", "fn": "const", "priority": 1}]})");
  AddWorker(kWorker, 1);
  std::vector<std::string> order;
  for (int i = 0; i < 3; ++i) {
    std::vector<v1::Assignment> sent = Dispatch(kWorker);
    ASSERT_EQ(sent.size(), 1u);
    order.push_back(sent[0].task_id());
    Report(kWorker, sent[0], true);
  }
  EXPECT_THAT(order, ElementsAre("b", "c", "a"));
}

TEST_F(SchedulerTest, CriticalPathFinishesTawazisExampleInThreeUnits) {
  // A -> {B, C, D}; {C, D} -> E. Unit-time tasks on 2 slots: C and D go
  // before B, so E can start at time 2.
  uint64_t job = Submit(R"({"tasks": [
      {"id": "A", "fn": "const"},
      {"id": "B", "fn": "const", "after": ["A"]},
      {"id": "C", "fn": "const", "after": ["A"]},
      {"id": "D", "fn": "const", "after": ["A"]},
      {"id": "E", "fn": "const", "after": ["C", "D"]}]})");
  EXPECT_EQ(UnitTimeMakespan(job, 2), 3);
}

TEST_F(SchedulerTest, SubmissionOrderAloneWouldTakeFourUnits) {
  // The same graph with ranks neutralised by priorities that force B first
  // shows the schedule the ranks avoid.
  uint64_t job = Submit(R"({"tasks": [
      {"id": "A", "fn": "const"},
      {"id": "B", "fn": "const", "after": ["A"], "priority": 1},
      {"id": "C", "fn": "const", "after": ["A"]},
      {"id": "D", "fn": "const", "after": ["A"]},
      {"id": "E", "fn": "const", "after": ["C", "D"]}]})");
  EXPECT_EQ(UnitTimeMakespan(job, 2), 4);
}

TEST_F(SchedulerTest, TaskWaitsWithReasonWhenNoWorkerOffersItsFunction) {
  uint64_t job = Submit(R"({"tasks": [{"id": "x", "fn": "mystery"}]})");
  AddWorker(kWorker, 4);
  EXPECT_TRUE(Dispatch(kWorker).empty());
  std::optional<v1::JobStatus> status = scheduler_.JobStatusOf(job);
  ASSERT_TRUE(status.has_value());
  ASSERT_EQ(status->waiting_size(), 1);
  EXPECT_EQ(status->waiting(0).task_id(), "x");
  EXPECT_EQ(status->waiting(0).text(), "no worker offers 'mystery'");
  // A worker that offers it picks it up.
  AddWorker(kOther, 1, {"mystery"});
  Dispatch(kOther);
  EXPECT_EQ(other_sends_, 0);
  auto task = scheduler_.TaskStatusOf(job, "x");
  ASSERT_TRUE(task.ok());
  EXPECT_EQ(task->state(), v1::TASK_ASSIGNED);
}

TEST_F(SchedulerTest, TaskTooBigForEveryWorkerSaysSo) {
  uint64_t job = Submit(
      R"({"tasks": [{"id": "big", "fn": "const", "resources": {"slots": 8}}]})");
  AddWorker(kWorker, 4);
  EXPECT_TRUE(Dispatch(kWorker).empty());
  auto task = scheduler_.TaskStatusOf(job, "big");
  ASSERT_TRUE(task.ok());
  EXPECT_THAT(task->waiting_reason(), HasSubstr("needs 8 slots"));
}

TEST_F(SchedulerTest, OversizedTaskDoesNotBlockSmallerOnes) {
  uint64_t big = Submit(
      R"({"tasks": [{"id": "big", "fn": "const", "resources": {"slots": 4}}]})");
  Submit(R"({"tasks": [{"id": "small", "fn": "const"}]})");
  AddWorker(kWorker, 2);
  EXPECT_THAT(Ids(Dispatch(kWorker)), ElementsAre("small"));
  // A worker large enough picks the big one up.
  AddWorker(kOther, 4);
  Dispatch(kOther);
  auto task = scheduler_.TaskStatusOf(big, "big");
  ASSERT_TRUE(task.ok());
  EXPECT_EQ(task->state(), v1::TASK_ASSIGNED);
}

TEST_F(SchedulerTest, JobFinishedThisTurnIsStillAnswered) {
  uint64_t job = Submit(R"({"tasks": [{"id": "a", "fn": "const"}]})");
  AddWorker(kWorker, 1);
  std::vector<v1::Assignment> sent = Dispatch(kWorker);
  Report(kWorker, sent[0], true, "42");
  // Before the turn's output is taken, queries still see the finished job.
  std::optional<v1::JobStatus> status = scheduler_.JobStatusOf(job);
  ASSERT_TRUE(status.has_value());
  EXPECT_EQ(status->state(), v1::JOB_SUCCEEDED);
  EXPECT_EQ(scheduler_.ResultOf(job, "a")->data, "42");
  auto cancel = scheduler_.CancelJob(job);
  ASSERT_TRUE(cancel.ok());
  EXPECT_FALSE(cancel->cancelled());
  EXPECT_EQ(cancel->state(), v1::JOB_SUCCEEDED);
}

TEST_F(SchedulerTest, CountsFollowJobsTasksAndSlots) {
  Submit(R"({"tasks": [{"id": "a", "fn": "const"},
                       {"id": "b", "fn": "add", "inputs": ["a"]}]})");
  Submit(R"({"tasks": [{"id": "x", "fn": "nobody"}]})");
  AddWorker(kWorker, 3);
  std::vector<v1::Assignment> sent = Dispatch(kWorker);
  SchedulerCounts counts = scheduler_.Counts();
  EXPECT_EQ(counts.jobs_running, 1u);
  EXPECT_EQ(counts.jobs_pending, 1u);
  EXPECT_EQ(counts.slots_total, 3u);
  EXPECT_EQ(counts.slots_busy, 1u);
  EXPECT_EQ(counts.tasks_by_state[v1::TASK_ASSIGNED], 1u);
  EXPECT_EQ(counts.tasks_by_state[v1::TASK_PENDING], 1u);
  EXPECT_EQ(counts.ready_queue, 1u);  // x: nobody offers its function
  Report(kWorker, sent[0], true);
  Report(kWorker, Dispatch(kWorker).at(0), true);
  Dispatch(kWorker);
  counts = scheduler_.Counts();
  EXPECT_EQ(counts.jobs_running, 0u);
  EXPECT_EQ(counts.jobs_pending, 1u);
  EXPECT_EQ(counts.slots_busy, 0u);
  EXPECT_EQ(counts.tasks_by_state[v1::TASK_SUCCEEDED], 0u);  // job left
  scheduler_.RemoveWorker(kWorker);
  EXPECT_EQ(scheduler_.Counts().slots_total, 0u);
}

TEST_F(SchedulerTest, SlotsLimitConcurrency) {
  Submit(R"({"tasks": [{"id": "a", "fn": "const"}, {"id": "b", "fn": "const"},
                       {"id": "c", "fn": "const"}]})");
  AddWorker(kWorker, 2);
  std::vector<v1::Assignment> first = Dispatch(kWorker);
  EXPECT_EQ(first.size(), 2u);
  EXPECT_TRUE(Dispatch(kWorker).empty());
  Report(kWorker, first[0], true);
  EXPECT_EQ(Dispatch(kWorker).size(), 1u);
}

TEST_F(SchedulerTest, FailureMarksDescendantsAndFailsJob) {
  uint64_t job = Submit(R"({"tasks": [
      {"id": "bad", "fn": "fail"}, {"id": "slow", "fn": "sleep"},
      {"id": "child", "fn": "add", "inputs": ["bad"]},
      {"id": "grandchild", "fn": "add", "inputs": ["child"]}]})");
  AddWorker(kWorker, 2);
  std::vector<v1::Assignment> sent = Dispatch(kWorker);
  ASSERT_EQ(sent.size(), 2u);
  const v1::Assignment& bad = sent[0].task_id() == "bad" ? sent[0] : sent[1];
  Report(kWorker, bad, false, "boom");
  Dispatch(kWorker);
  EXPECT_FALSE(scheduler_.JobStatusOf(job).has_value());
  // The still-running independent task is cancelled on its worker.
  ASSERT_EQ(last_cancels_.size(), 1u);
  const v1::JobStatus& final_status = last_writes_.job_statuses.back().second;
  EXPECT_EQ(final_status.state(), v1::JOB_FAILED);
  ASSERT_EQ(final_status.failures_size(), 1);
  EXPECT_EQ(final_status.failures(0).task_id(), "bad");
  EXPECT_EQ(final_status.failures(0).text(), "boom");
  std::map<std::string, v1::TaskState> states;
  for (const auto& w : last_writes_.task_statuses) {
    states[w.status.task_id()] = w.status.state();
  }
  EXPECT_EQ(states["bad"], v1::TASK_FAILED);
  EXPECT_EQ(states["child"], v1::TASK_UPSTREAM_FAILED);
  EXPECT_EQ(states["grandchild"], v1::TASK_UPSTREAM_FAILED);
  EXPECT_EQ(states["slow"], v1::TASK_CANCELLED);
}

TEST_F(SchedulerTest, ContinueOnFailureRunsIndependentBranches) {
  uint64_t job = Submit(R"({"continueOnFailure": true, "tasks": [
      {"id": "bad", "fn": "fail"}, {"id": "good", "fn": "const"},
      {"id": "child", "fn": "add", "inputs": ["bad"]}]})");
  AddWorker(kWorker, 1);
  std::vector<v1::Assignment> sent = Dispatch(kWorker);
  ASSERT_THAT(Ids(sent), ElementsAre("bad"));
  Report(kWorker, sent[0], false, "boom");
  sent = Dispatch(kWorker);
  ASSERT_THAT(Ids(sent), ElementsAre("good"));
  Report(kWorker, sent[0], true);
  Dispatch(kWorker);
  EXPECT_FALSE(scheduler_.JobStatusOf(job).has_value());
  EXPECT_EQ(last_writes_.job_statuses.back().second.state(), v1::JOB_FAILED);
}

TEST_F(SchedulerTest, RetriesAfterBackoffOnTheClock) {
  uint64_t job = Submit(R"({"tasks": [{"id": "f", "fn": "fail",
      "retry": {"maxAttempts": 3, "initialBackoff": "2s", "multiplier": 3}}]})");
  AddWorker(kWorker, 1);
  random_ = 1.0;  // jitter factor 1.0: the full backoff
  std::vector<v1::Assignment> sent = Dispatch(kWorker);
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0].task().attempt(), 1u);
  Report(kWorker, sent[0], false, "flaky");
  EXPECT_TRUE(Dispatch(kWorker).empty());
  EXPECT_EQ(scheduler_.NextWakeup().value(), clock_.Now() + absl::Seconds(2));
  auto waiting = scheduler_.TaskStatusOf(job, "f");
  ASSERT_TRUE(waiting.ok());
  EXPECT_THAT(waiting->waiting_reason(), HasSubstr("retrying at"));
  clock_.Advance(absl::Milliseconds(1999));
  EXPECT_TRUE(Dispatch(kWorker).empty());
  clock_.Advance(absl::Milliseconds(1));
  sent = Dispatch(kWorker);
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0].task().attempt(), 2u);
  Report(kWorker, sent[0], false, "flaky");
  clock_.Advance(absl::Seconds(5));
  EXPECT_TRUE(Dispatch(kWorker).empty());  // second backoff is 6 s
  clock_.Advance(absl::Seconds(1));
  sent = Dispatch(kWorker);
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0].task().attempt(), 3u);
  Report(kWorker, sent[0], true, "7");
  Dispatch(kWorker);
  EXPECT_EQ(last_writes_.job_statuses.back().second.state(), v1::JOB_SUCCEEDED);
  ASSERT_EQ(last_writes_.task_statuses.size(), 1u);
  EXPECT_EQ(last_writes_.task_statuses[0].status.attempts_size(), 3);
}

TEST_F(SchedulerTest, PermanentFailureIsNotRetried) {
  Submit(
      R"({"tasks": [{"id": "f", "fn": "fail", "retry": {"maxAttempts": 5}}]})");
  AddWorker(kWorker, 1);
  std::vector<v1::Assignment> sent = Dispatch(kWorker);
  Report(kWorker, sent[0], false, "bad input", /*permanent=*/true);
  Dispatch(kWorker);
  EXPECT_EQ(last_writes_.job_statuses.back().second.state(), v1::JOB_FAILED);
}

TEST_F(SchedulerTest, LostWorkerTasksRunAgainAndStaleFailuresAreDropped) {
  uint64_t job = Submit(R"({"tasks": [{"id": "a", "fn": "const"}]})");
  AddWorker(kWorker, 1);
  std::vector<v1::Assignment> first = Dispatch(kWorker);
  ASSERT_EQ(first.size(), 1u);
  scheduler_.RemoveWorker(kWorker);
  AddWorker(kOther, 1);
  std::vector<v1::Assignment> second = Dispatch(kOther);
  ASSERT_EQ(second.size(), 1u);
  EXPECT_EQ(second[0].task().attempt(), 2u);
  // A failure of the lost attempt, reported on a new stream, says nothing
  // while attempt 2 runs.
  Report(kOther, first[0], false, "stale");
  EXPECT_EQ(scheduler_.dropped_reports(), 1u);
  Report(kOther, second[0], true, "fresh");
  Dispatch(kOther);
  ASSERT_EQ(last_writes_.results.size(), 1u);
  EXPECT_EQ(last_writes_.results[0].result.data, "fresh");
  EXPECT_FALSE(scheduler_.JobStatusOf(job).has_value());
  // A duplicate of the winning report is dropped too.
  Report(kOther, second[0], true, "again");
  EXPECT_EQ(scheduler_.dropped_reports(), 2u);
}

TEST_F(SchedulerTest, LostAttemptsDoNotUseUpRetries) {
  Submit(
      R"({"tasks": [{"id": "f", "fn": "fail", "retry": {"maxAttempts": 2}}]})");
  AddWorker(kWorker, 1);
  ASSERT_EQ(Dispatch(kWorker).size(), 1u);
  scheduler_.RemoveWorker(kWorker);  // attempt 1 is lost, not failed
  AddWorker(kOther, 1);
  std::vector<v1::Assignment> sent = Dispatch(kOther);
  ASSERT_EQ(sent.size(), 1u);
  Report(kOther, sent[0], false, "boom");  // the first failure: retried
  Dispatch(kOther);
  EXPECT_TRUE(last_writes_.job_statuses.empty());
  EXPECT_TRUE(scheduler_.NextWakeup().has_value());
}

TEST_F(SchedulerTest, SilentWorkerIsDeclaredLostOnTheClock) {
  Submit(R"({"tasks": [{"id": "a", "fn": "const"}]})");
  AddWorker(kWorker, 1);
  ASSERT_EQ(Dispatch(kWorker).size(), 1u);
  clock_.Advance(absl::Seconds(29));
  scheduler_.OnHeartbeat(kWorker);
  clock_.Advance(absl::Seconds(29));
  scheduler_.Tick();
  EXPECT_TRUE(scheduler_.HasWorker(kWorker));
  clock_.Advance(absl::Seconds(2));
  scheduler_.Tick();
  EXPECT_FALSE(scheduler_.HasWorker(kWorker));
  TurnOutput out = scheduler_.TakeOutput();
  EXPECT_THAT(out.timed_out_workers, ElementsAre(kWorker));
}

TEST_F(SchedulerTest, CancelStopsRunningTasksAndMarksTheRest) {
  uint64_t job = Submit(R"({"tasks": [{"id": "a", "fn": "sleep"},
      {"id": "b", "fn": "add", "inputs": ["a"]}]})");
  AddWorker(kWorker, 1);
  std::vector<v1::Assignment> sent = Dispatch(kWorker);
  ASSERT_EQ(sent.size(), 1u);
  auto cancelled = scheduler_.CancelJob(job);
  ASSERT_TRUE(cancelled.ok());
  EXPECT_TRUE(cancelled->cancelled());
  EXPECT_EQ(cancelled->state(), v1::JOB_CANCELLED);
  Dispatch(kWorker);
  ASSERT_EQ(last_cancels_.size(), 1u);
  EXPECT_EQ(last_cancels_[0].task_index(), 0u);
  EXPECT_TRUE(last_sync_);
  // The worker's slot stays busy until it reports the cancelled attempt
  // ended: the function may still be running there.
  EXPECT_EQ(scheduler_.Counts().slots_busy, 1u);
  Submit(R"({"tasks": [{"id": "x", "fn": "const"}]})");
  EXPECT_TRUE(Dispatch(kWorker).empty());
  // Its late report (even a success) frees the slot and changes nothing
  // else.
  Report(kWorker, sent[0], true);
  EXPECT_EQ(scheduler_.Counts().slots_busy, 0u);
  EXPECT_EQ(Ids(Dispatch(kWorker)), std::vector<std::string>{"x"});
  EXPECT_TRUE(absl::IsNotFound(scheduler_.CancelJob(job).status()));
}

TEST_F(SchedulerTest, WatchedJobsEmitTaskEventsAndTheEnd) {
  uint64_t job = Submit(R"({"tasks": [{"id": "a", "fn": "const"}]})");
  scheduler_.SetWatched(job, Scheduler::Watch::kAllEvents);
  AddWorker(kWorker, 1);
  std::vector<v1::Assignment> sent = Dispatch(kWorker);
  ASSERT_FALSE(last_events_.empty());
  EXPECT_EQ(last_events_.back().second.task().state(), v1::TASK_ASSIGNED);
  EXPECT_EQ(last_events_.back().second.task().previous_state(), v1::TASK_READY);
  Report(kWorker, sent[0], true);
  Dispatch(kWorker);
  ASSERT_GE(last_events_.size(), 2u);
  EXPECT_EQ(last_events_[0].second.task().state(), v1::TASK_SUCCEEDED);
  EXPECT_TRUE(last_events_.back().second.has_finished());
}

TEST_F(SchedulerTest, JobsWatchedForTheEndOnlyEmitOnlyTheEnd) {
  uint64_t job = Submit(R"({"tasks": [{"id": "a", "fn": "const"}]})");
  scheduler_.SetWatched(job, Scheduler::Watch::kEnd);
  AddWorker(kWorker, 1);
  std::vector<v1::Assignment> sent = Dispatch(kWorker);
  EXPECT_TRUE(last_events_.empty());
  Report(kWorker, sent[0], true);
  Dispatch(kWorker);
  ASSERT_EQ(last_events_.size(), 1u);
  EXPECT_TRUE(last_events_[0].second.has_finished());
}

TEST_F(SchedulerTest, PrefersTheWorkerHoldingTheInputs) {
  Submit(R"({"tasks": [{"id": "a", "fn": "const"},
                       {"id": "b", "fn": "add", "inputs": ["a"]}]})");
  AddWorker(kWorker, 1);
  std::vector<v1::Assignment> sent = Dispatch(kWorker);
  ASSERT_EQ(sent.size(), 1u);
  AddWorker(kOther, 4);  // more room, but without a's output
  Report(kWorker, sent[0], true);
  EXPECT_THAT(Ids(Dispatch(kWorker)), ElementsAre("b"));
  EXPECT_EQ(other_sends_, 0);
}

TEST_F(SchedulerTest, RestoredJobKeepsFinishedTasksAndRunsTheRest) {
  v1::JobSpec spec;
  auto parsed = google::protobuf::util::JsonStringToMessage(
      R"({"tasks": [{"id": "a", "fn": "const"}, {"id": "x", "fn": "const"},
                    {"id": "b", "fn": "add", "inputs": ["a", "x"]}]})",
      &spec);
  ASSERT_TRUE(parsed.ok());
  absl::StatusOr<CompiledJob> job = CompileJob(std::move(spec), {});
  ASSERT_TRUE(job.ok());
  v1::JobStatus status;
  status.set_job_id("j9");
  status.set_state(v1::JOB_RUNNING);
  v1::TaskStatus a;
  a.set_task_id("a");
  a.set_state(v1::TASK_SUCCEEDED);
  a.add_attempts()->set_number(1);
  absl::flat_hash_map<uint32_t, StoredResult> results;
  results[0] = StoredResult{"40", "application/json", nullptr};
  scheduler_.RestoreJob(9, *std::move(job), status, {{0, a}},
                        std::move(results));
  AddWorker(kWorker, 4);
  // Workers that outlived the restart get the recovery grace to report.
  EXPECT_TRUE(Dispatch(kWorker).empty());
  ASSERT_EQ(scheduler_.NextWakeup(),
            clock_.Now() + SchedulerOptions().recovery_grace);
  clock_.Advance(SchedulerOptions().recovery_grace);
  std::vector<v1::Assignment> sent = Dispatch(kWorker);
  ASSERT_THAT(Ids(sent), ElementsAre("x"));  // a is not run again
  Report(kWorker, sent[0], true, "2");
  sent = Dispatch(kWorker);
  ASSERT_THAT(Ids(sent), ElementsAre("b"));
  EXPECT_EQ(sent[0].inputs(0).data(), "40");
  EXPECT_EQ(sent[0].inputs(1).data(), "2");
  std::optional<v1::JobStatus> live = scheduler_.JobStatusOf(9);
  ASSERT_TRUE(live.has_value());
  int succeeded = 0;
  for (const auto& c : live->counts()) {
    if (c.state() == v1::TASK_SUCCEEDED) succeeded = c.count();
  }
  EXPECT_EQ(succeeded, 2);
}

}  // namespace
}  // namespace dagd
