// Scheduler-core tests of what users steer: fair shares across jobs, named
// resources, pools and labels, exclusive groups, max_parallelism and job
// deadlines. All on a fake clock.
#include <algorithm>
#include <map>
#include <string>
#include <vector>

#include "tests/server/scheduler_fixture.h"

namespace dagd {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::SizeIs;

std::string ManyTasks(int n, const std::string& prefix,
                      const std::string& extra = "") {
  std::string tasks;
  for (int i = 0; i < n; ++i) {
    absl::StrAppend(&tasks, i == 0 ? "" : ",", R"({"id": ")", prefix, i,
                    R"(", "fn": "sleep")", extra, "}");
  }
  return tasks;
}

// Which job each assignment belongs to, counted.
std::map<std::string, int> PerJob(const std::vector<v1::Assignment>& sent) {
  std::map<std::string, int> count;
  for (const auto& a : sent) ++count[a.task().job_id()];
  return count;
}

TEST_F(SchedulerTest, SmallJobGetsTheNextFreeSlotsWhileABigOneRuns) {
  const uint64_t big =
      Submit(absl::StrCat(R"({"tasks": [)", ManyTasks(1000, "b"), "]}"));
  AddWorker(kWorker, 4);
  std::vector<v1::Assignment> running = Dispatch(kWorker);
  ASSERT_THAT(running, SizeIs(4));
  const uint64_t small =
      Submit(absl::StrCat(R"({"tasks": [)", ManyTasks(10, "s"), "]}"));
  // Two of the big job's tasks end: both freed slots go to the small job,
  // which holds fewer slots, although the big job was first and has 996
  // more tasks ready.
  Report(kWorker, running[0], true);
  Report(kWorker, running[1], true);
  std::vector<v1::Assignment> next = Dispatch(kWorker);
  ASSERT_THAT(next, SizeIs(2));
  EXPECT_EQ(PerJob(next)[JobIdFromSeq(small)], 2);
  // Two more end: now each job holds two slots, and the shares stay even.
  Report(kWorker, running[2], true);
  Report(kWorker, next[0], true);
  std::vector<v1::Assignment> after = Dispatch(kWorker);
  ASSERT_THAT(after, SizeIs(2));
  EXPECT_EQ(PerJob(after)[JobIdFromSeq(big)], 1);
  EXPECT_EQ(PerJob(after)[JobIdFromSeq(small)], 1);
}

TEST_F(SchedulerTest, FairSharesDoNotOverrideJobPriority) {
  Submit(
      absl::StrCat(R"({"priority": 1, "tasks": [)", ManyTasks(10, "h"), "]}"));
  Submit(absl::StrCat(R"({"tasks": [)", ManyTasks(10, "l"), "]}"));
  AddWorker(kWorker, 4);
  for (const auto& a : Dispatch(kWorker)) {
    EXPECT_EQ(a.task_id()[0], 'h') << a.task_id();
  }
}

TEST_F(SchedulerTest, NamedAmountsLimitWhatRunsOnAWorker) {
  WorkerSpec gpu_worker = Worker(kWorker, 8);
  gpu_worker.resources = {{"gpu", 2}, {"memory_mb", 8192}};
  scheduler_.AddWorker(kWorker, std::move(gpu_worker));
  Submit(absl::StrCat(
      R"({"tasks": [)",
      ManyTasks(5, "t", R"(, "resources": {"amounts": {"gpu": 1}})"), "]}"));
  // Eight slots, but two GPUs: two tasks at a time.
  std::vector<v1::Assignment> first = Dispatch(kWorker);
  ASSERT_THAT(first, SizeIs(2));
  auto workers = scheduler_.Workers();
  ASSERT_THAT(workers, SizeIs(1));
  EXPECT_EQ(workers[0].resources().at("gpu"), 2);
  EXPECT_EQ(workers[0].free_resources().at("gpu"), 0);
  EXPECT_THAT(Dispatch(kWorker), IsEmpty());
  Report(kWorker, first[0], true);
  EXPECT_THAT(Dispatch(kWorker), SizeIs(1));
}

TEST_F(SchedulerTest, NearlyEqualAmountsAreNotConfused) {
  WorkerSpec spec = Worker(kWorker, 4);
  spec.resources = {{"memory_mb", 2000003}};
  scheduler_.AddWorker(kWorker, std::move(spec));
  // Together they need 2000004, one more than the worker has.
  Submit(R"({"tasks": [
      {"id": "a", "fn": "sleep", "resources": {"amounts": {"memory_mb": 1000000}}},
      {"id": "b", "fn": "sleep", "resources": {"amounts": {"memory_mb": 1000004}}}]})");
  EXPECT_THAT(Dispatch(kWorker), SizeIs(1));
}

TEST_F(SchedulerTest, IdleWorkerHasItsWholeCapacityAgain) {
  WorkerSpec spec = Worker(kWorker, 8);
  spec.resources = {{"gpu", 1}};
  scheduler_.AddWorker(kWorker, std::move(spec));
  // Taken as 0.1, 0.2, 0.3 and given back as 0.2, 0.3, 0.1, doubles sum to
  // 0.9999999999999999, not 1.
  Submit(R"({"tasks": [
      {"id": "a", "fn": "sleep", "resources": {"amounts": {"gpu": 0.1}}},
      {"id": "b", "fn": "sleep", "resources": {"amounts": {"gpu": 0.2}}},
      {"id": "c", "fn": "sleep", "resources": {"amounts": {"gpu": 0.3}}}]})");
  std::vector<v1::Assignment> sent = Dispatch(kWorker);
  ASSERT_THAT(Ids(sent), ElementsAre("a", "b", "c"));
  Report(kWorker, sent[1], true);
  Report(kWorker, sent[2], true);
  Report(kWorker, sent[0], true);
  Dispatch(kWorker);
  auto workers = scheduler_.Workers();
  ASSERT_THAT(workers, SizeIs(1));
  EXPECT_EQ(workers[0].free_resources().at("gpu"), 1.0);
}

// The count the dashboard's tasks per second come from: attempts that
// ended on the worker, failures included, stale reports not.
TEST_F(SchedulerTest, WorkersCountTheAttemptsTheyEnded) {
  AddWorker(kWorker, 4);
  Submit(R"({"tasks": [{"id": "a", "fn": "sleep"}, {"id": "b", "fn": "sleep"},
                       {"id": "c", "fn": "fail"}]})");
  std::vector<v1::Assignment> sent = Dispatch(kWorker);
  ASSERT_THAT(sent, SizeIs(3));
  Report(kWorker, sent[0], true);
  Report(kWorker, sent[2], false, "boom");
  Report(kWorker, sent[0], true);  // a duplicate
  auto workers = scheduler_.Workers();
  ASSERT_THAT(workers, SizeIs(1));
  EXPECT_EQ(workers[0].tasks_finished(), 2u);
}

TEST_F(SchedulerTest, TaskNeedingAnAmountGoesToTheWorkerThatHasIt) {
  AddWorker(kWorker, 8);  // no gpu
  WorkerSpec gpu_worker = Worker(kOther, 1);
  gpu_worker.resources = {{"gpu", 1}};
  scheduler_.AddWorker(kOther, std::move(gpu_worker));
  Submit(R"({"tasks": [{"id": "train", "fn": "sleep",
                        "resources": {"amounts": {"gpu": 1}}}]})");
  EXPECT_THAT(Dispatch(kWorker), IsEmpty());
  EXPECT_EQ(other_sends_, 1);
}

TEST_F(SchedulerTest, BlockedTaskDoesNotHoldBackOthersOfItsJob) {
  WorkerSpec spec = Worker(kWorker, 4);
  spec.resources = {{"gpu", 1}};
  scheduler_.AddWorker(kWorker, std::move(spec));
  Submit(R"({"tasks": [
      {"id": "g1", "fn": "sleep", "priority": 5,
       "resources": {"amounts": {"gpu": 1}}},
      {"id": "g2", "fn": "sleep", "priority": 5,
       "resources": {"amounts": {"gpu": 1}}},
      {"id": "cpu", "fn": "sleep"}]})");
  // g2 outranks cpu but waits for the one GPU; cpu runs meanwhile.
  EXPECT_THAT(Ids(Dispatch(kWorker)), ElementsAre("g1", "cpu"));
}

TEST_F(SchedulerTest, PoolExecutorRunsOnlyOnThatPool) {
  WorkerSpec batch = Worker(kWorker, 4);
  batch.pool = "batch";
  scheduler_.AddWorker(kWorker, std::move(batch));
  WorkerSpec gpu = Worker(kOther, 4);
  gpu.pool = "gpu";
  scheduler_.AddWorker(kOther, std::move(gpu));
  Submit(R"({"tasks": [
      {"id": "a", "fn": "sleep", "executor": "pool:gpu"},
      {"id": "b", "fn": "sleep", "executor": "pool:gpu"},
      {"id": "c", "fn": "sleep", "executor": "pool:gpu"}]})");
  EXPECT_THAT(Dispatch(kWorker), IsEmpty());
  EXPECT_EQ(other_sends_, 3);
}

TEST_F(SchedulerTest, LabelsRestrictWhereATaskRuns) {
  WorkerSpec east = Worker(kWorker, 4);
  east.labels = {{"zone", "east"}};
  scheduler_.AddWorker(kWorker, std::move(east));
  WorkerSpec west = Worker(kOther, 4);
  west.labels = {{"zone", "west"}, {"disk", "ssd"}};
  scheduler_.AddWorker(kOther, std::move(west));
  Submit(R"({"tasks": [{"id": "w", "fn": "sleep",
                        "resources": {"labels": {"zone": "west"}}}]})");
  EXPECT_THAT(Dispatch(kWorker), IsEmpty());
  EXPECT_EQ(other_sends_, 1);
}

TEST_F(SchedulerTest, TaskNoWorkerCouldEverFitWaitsWithItsNeeds) {
  WorkerSpec spec = Worker(kWorker, 4);
  spec.pool = "batch";
  spec.resources = {{"gpu", 1}};
  scheduler_.AddWorker(kWorker, std::move(spec));
  const uint64_t job = Submit(R"({"tasks": [
      {"id": "huge", "fn": "sleep", "executor": "pool:batch",
       "resources": {"amounts": {"gpu": 4}}},
      {"id": "fine", "fn": "sleep"}]})");
  EXPECT_THAT(Ids(Dispatch(kWorker)), ElementsAre("fine"));
  auto task = scheduler_.TaskStatusOf(job, "huge");
  ASSERT_TRUE(task.ok());
  EXPECT_EQ(task->state(), v1::TASK_READY);
  EXPECT_EQ(task->waiting_reason(),
            "none of the 1 worker offering 'sleep' can ever run it; it needs "
            "pool 'batch', 1 slot, gpu=4");
  std::optional<v1::JobStatus> status = scheduler_.JobStatusOf(job);
  ASSERT_TRUE(status.has_value());
  ASSERT_EQ(status->waiting_size(), 1);
  EXPECT_EQ(status->waiting(0).task_id(), "huge");
  // A worker that has enough registers: the task runs there.
  WorkerSpec big = Worker(kOther, 4);
  big.pool = "batch";
  big.resources = {{"gpu", 8}};
  scheduler_.AddWorker(kOther, std::move(big));
  Dispatch(kWorker);
  EXPECT_EQ(other_sends_, 1);
}

TEST_F(SchedulerTest, ExclusiveGroupRunsOneTaskAtATimeAcrossJobs) {
  const uint64_t first = Submit(R"({"tasks": [
      {"id": "m1", "fn": "sleep", "exclusiveGroup": "db"},
      {"id": "m2", "fn": "sleep", "exclusiveGroup": "db"},
      {"id": "free", "fn": "sleep"}]})");
  Submit(R"({"tasks": [{"id": "m3", "fn": "sleep", "exclusiveGroup": "db"}]})");
  AddWorker(kWorker, 8);
  std::vector<v1::Assignment> sent = Dispatch(kWorker);
  // One member of "db" and the ungrouped task; the other members wait.
  ASSERT_THAT(sent, SizeIs(2));
  auto waiting = scheduler_.TaskStatusOf(first, "m2");
  ASSERT_TRUE(waiting.ok());
  EXPECT_THAT(waiting->waiting_reason(),
              HasSubstr("exclusive group 'db' is held by task 'm1'"));
  int members_done = 0;
  for (int round = 0; round < 3; ++round) {
    std::vector<v1::Assignment> members;
    for (const auto& a : sent) {
      if (a.task_id() != "free") members.push_back(a);
    }
    ASSERT_THAT(members, SizeIs(1)) << "round " << round;
    Report(kWorker, members[0], true);
    ++members_done;
    sent = Dispatch(kWorker);
  }
  EXPECT_EQ(members_done, 3);
  EXPECT_THAT(sent, IsEmpty());
}

TEST_F(SchedulerTest, LostWorkerReleasesItsExclusiveGroup) {
  Submit(R"({"tasks": [
      {"id": "a", "fn": "sleep", "exclusiveGroup": "g"},
      {"id": "b", "fn": "sleep", "exclusiveGroup": "g"}]})");
  AddWorker(kWorker, 2);
  ASSERT_THAT(Dispatch(kWorker), SizeIs(1));
  scheduler_.RemoveWorker(kWorker);
  AddWorker(kOther, 2);
  // The lost task runs again, and still alone.
  Dispatch(kWorker);
  EXPECT_EQ(other_sends_, 1);
}

// When the group is freed, its best waiter (t1) is one no worker can take
// (pool gpu): t2, of another kind, is woken too, and runs on the idle
// worker. It waited for ever, the group free, the job never finishing.
TEST_F(SchedulerTest, AWaiterNoWorkerCanTakeDoesNotParkTheRestOfItsGroup) {
  AddWorker(kWorker, 2);
  const uint64_t job = Submit(R"({"tasks": [
      {"id": "x", "fn": "sleep", "exclusiveGroup": "g"},
      {"id": "t1", "fn": "sleep", "exclusiveGroup": "g", "priority": 10,
       "executor": "pool:gpu"},
      {"id": "t2", "fn": "sleep", "exclusiveGroup": "g"}]})");
  std::vector<v1::Assignment> sent = Dispatch(kWorker);
  ASSERT_THAT(Ids(sent), ElementsAre("x"));
  EXPECT_THAT(Dispatch(kWorker), IsEmpty());
  Report(kWorker, sent[0], true);
  EXPECT_THAT(Ids(Dispatch(kWorker)), ElementsAre("t2"));
  EXPECT_THAT(scheduler_.TaskStatusOf(job, "t1")->waiting_reason(),
              HasSubstr("gpu"));
}

TEST_F(SchedulerTest, CancelledMemberHoldsItsGroupUntilItsWorkerStopsIt) {
  const uint64_t first = Submit(
      R"({"tasks": [{"id": "a", "fn": "sleep", "exclusiveGroup": "g"}]})");
  Submit(R"({"tasks": [{"id": "b", "fn": "sleep", "exclusiveGroup": "g"}]})");
  AddWorker(kWorker, 1);
  AddWorker(kOther, 1);
  std::vector<v1::Assignment> sent = Dispatch(kWorker);
  const bool a_here = !sent.empty();
  const WorkerId a_worker = a_here ? kWorker : kOther;
  ASSERT_TRUE(scheduler_.CancelJob(first).ok());
  // a may still be running on its worker: b waits, on either worker.
  other_sends_ = 0;
  EXPECT_THAT(Dispatch(kWorker), IsEmpty());
  EXPECT_EQ(other_sends_, 0);
  v1::Assignment a;
  *a.mutable_task() = SealedRef(first, 0, 1, a_worker);
  Report(a_worker, a, false, "cancelled by the coordinator");
  Dispatch(kWorker);
  EXPECT_EQ(scheduler_.Counts().slots_busy, 1u);
  EXPECT_EQ(scheduler_.dropped_reports(), 0u);
}

TEST_F(SchedulerTest, MaxParallelismCapsRunningTasksOfTheJob) {
  Submit(absl::StrCat(R"({"maxParallelism": 2, "tasks": [)", ManyTasks(6, "t"),
                      "]}"));
  AddWorker(kWorker, 8);
  std::vector<v1::Assignment> first = Dispatch(kWorker);
  ASSERT_THAT(first, SizeIs(2));
  EXPECT_THAT(Dispatch(kWorker), IsEmpty());
  Report(kWorker, first[0], true);
  EXPECT_THAT(Dispatch(kWorker), SizeIs(1));
  // Another job is not held back by this one's cap.
  Submit(R"({"tasks": [{"id": "other", "fn": "sleep"}]})");
  EXPECT_THAT(Ids(Dispatch(kWorker)), ElementsAre("other"));
}

TEST_F(SchedulerTest, MaxParallelismReasonIsShown) {
  const uint64_t job = Submit(R"({"maxParallelism": 1, "tasks": [
      {"id": "a", "fn": "sleep"}, {"id": "b", "fn": "sleep"}]})");
  AddWorker(kWorker, 4);
  ASSERT_THAT(Dispatch(kWorker), SizeIs(1));
  auto b = scheduler_.TaskStatusOf(job, "b");
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->waiting_reason(),
            "the job is at its max_parallelism (1 tasks running)");
}

TEST_F(SchedulerTest, TimedOutAttemptIsAFailedAttemptAndIsRetried) {
  const uint64_t job = Submit(R"({"tasks": [{"id": "t", "fn": "sleep",
      "timeout": "1.5s", "retry": {"maxAttempts": 2, "initialBackoff": "1s"}}]})");
  AddWorker(kWorker, 1);
  std::vector<v1::Assignment> sent = Dispatch(kWorker);
  ASSERT_THAT(sent, SizeIs(1));
  // The worker enforces the timeout: it is in the assignment.
  EXPECT_EQ(sent[0].timeout_ms(), 1500u);
  clock_.Advance(absl::Milliseconds(1500));
  Report(kWorker, sent[0], false, "timed out after 1500 ms");
  EXPECT_THAT(Dispatch(kWorker), IsEmpty());
  clock_.Advance(absl::Seconds(1));
  sent = Dispatch(kWorker);
  ASSERT_THAT(sent, SizeIs(1));
  EXPECT_EQ(sent[0].task().attempt(), 2u);
  auto task = scheduler_.TaskStatusOf(job, "t");
  ASSERT_TRUE(task.ok());
  ASSERT_EQ(task->attempts_size(), 2);
  EXPECT_EQ(task->attempts(0).error(), "timed out after 1500 ms");
  EXPECT_EQ(task->attempts(0).worker(), "worker-1");
  // The record keeps each attempt's times: the first was assigned at 0 and
  // ended at 1.5 s; the retry was assigned at 2.5 s, when this test next
  // scheduled (its backoff, half of 1 s with this random source, had
  // passed).
  const int64_t assigned0 = task->attempts(0).assigned_at().seconds();
  EXPECT_EQ(task->attempts(0).finished_at().seconds() * 1000 +
                task->attempts(0).finished_at().nanos() / 1000000 -
                assigned0 * 1000,
            1500);
  EXPECT_EQ(task->attempts(1).assigned_at().seconds() - assigned0, 2);
}

TEST_F(SchedulerTest, DeadlineCancelsWhatIsLeftAndFailsTheJob) {
  const uint64_t job = Submit(R"({"deadline": "10s", "tasks": [
      {"id": "done", "fn": "const"},
      {"id": "slow", "fn": "sleep", "after": ["done"]},
      {"id": "next", "fn": "add", "inputs": ["slow"]}]})");
  AddWorker(kWorker, 1);
  Report(kWorker, Dispatch(kWorker).at(0), true);
  ASSERT_THAT(Dispatch(kWorker), SizeIs(1));  // slow runs
  clock_.Advance(absl::Seconds(9));
  Dispatch(kWorker);
  EXPECT_TRUE(scheduler_.JobStatusOf(job).has_value());
  ASSERT_TRUE(scheduler_.NextWakeup().has_value());
  EXPECT_LE(*scheduler_.NextWakeup(), clock_.Now() + absl::Seconds(1));

  clock_.Advance(absl::Seconds(1));
  Dispatch(kWorker);
  // The running task was cancelled on its worker; the job ended FAILED.
  ASSERT_THAT(last_cancels_, SizeIs(1));
  EXPECT_EQ(last_cancels_[0].task_index(), 1u);
  EXPECT_FALSE(scheduler_.JobStatusOf(job).has_value());
  ASSERT_THAT(last_writes_.job_statuses, SizeIs(1));
  const v1::JobStatus& final_status = last_writes_.job_statuses[0].second;
  EXPECT_EQ(final_status.state(), v1::JOB_FAILED);
  EXPECT_EQ(final_status.error(),
            "deadline of 10s passed with 2 tasks unfinished; they were "
            "cancelled");
  std::map<std::string, v1::TaskState> states;
  for (const auto& write : last_writes_.task_statuses) {
    states[write.status.task_id()] = write.status.state();
  }
  EXPECT_EQ(states["slow"], v1::TASK_CANCELLED);
  EXPECT_EQ(states["next"], v1::TASK_CANCELLED);
  // The worker's slot is free for other work once it reports the cancelled
  // attempt ended.
  Submit(R"({"tasks": [{"id": "x", "fn": "const"}]})");
  EXPECT_THAT(Dispatch(kWorker), IsEmpty());
  v1::Assignment slow;
  *slow.mutable_task() = SealedRef(job, 1, 1, kWorker);
  Report(kWorker, slow, false, "cancelled by the coordinator");
  EXPECT_THAT(Dispatch(kWorker), SizeIs(1));
}

TEST_F(SchedulerTest, JobThatFinishesBeforeItsDeadlineSucceeds) {
  const uint64_t job =
      Submit(R"({"deadline": "5s", "tasks": [{"id": "a", "fn": "const"}]})");
  AddWorker(kWorker, 1);
  Report(kWorker, Dispatch(kWorker).at(0), true);
  Dispatch(kWorker);
  EXPECT_FALSE(scheduler_.JobStatusOf(job).has_value());
  EXPECT_EQ(last_writes_.job_statuses.back().second.state(), v1::JOB_SUCCEEDED);
  clock_.Advance(absl::Seconds(10));
  Dispatch(kWorker);  // the deadline firing later changes nothing
  EXPECT_THAT(last_writes_.job_statuses, IsEmpty());
}

}  // namespace
}  // namespace dagd
