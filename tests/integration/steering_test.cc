// What users steer, on a real dagd with real workers, checked from the
// attempt times dagd records: fair shares between jobs of equal priority,
// exclusive groups, max_parallelism, pools and named resources, job
// deadlines, and Tawazi's example finishing in three task-times.
#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "tests/integration/integration_env.h"

namespace dagd::testing {
namespace {

using ::testing::HasSubstr;

// `n` tasks "PREFIX0".."PREFIXn-1" that sleep `ms`, with `extra` fields.
std::string Naps(int n, const std::string& prefix, int ms,
                 const std::string& extra = "") {
  std::vector<std::string> tasks;
  for (int i = 0; i < n; ++i) {
    tasks.push_back(absl::StrCat(R"({"id": ")", prefix, i,
                                 R"(", "fn": "sleep", "args": {"ms": )", ms,
                                 "}", extra, "}"));
  }
  return absl::StrJoin(tasks, ", ");
}

std::string Describe(const std::vector<RunInterval>& intervals) {
  std::vector<std::string> lines;
  for (const RunInterval& r : intervals) {
    lines.push_back(absl::StrCat(r.job_id, "/", r.task_id, " on ", r.worker,
                                 " ", absl::FormatTime(r.start), " .. ",
                                 absl::FormatTime(r.end)));
  }
  return absl::StrJoin(lines, "\n");
}

std::vector<RunInterval> Intervals(Client& client, const std::string& job) {
  absl::StatusOr<std::vector<RunInterval>> intervals =
      RunIntervals(client, job);
  EXPECT_TRUE(intervals.ok()) << intervals.status();
  return intervals.ok() ? *std::move(intervals) : std::vector<RunInterval>{};
}

class SteeringTest : public SharedDagdTest<SteeringTest> {
 public:
  static std::vector<std::string> Flags() {
    return {"--local_workers=2", "--local_worker_slots=4"};
  }
  static size_t Workers() { return 2; }
};

TEST_F(SteeringTest, SmallJobGetsSlotsWhileABigJobOfEqualPriorityRuns) {
  Client& client = dagd_->client();
  // 8 slots, 400 naps of 50 ms: about 2.5 s of work queued ahead.
  absl::StatusOr<std::string> big = SubmitJob(
      client,
      absl::StrCat(R"({"name": "big", "tasks": [)", Naps(400, "b", 50), "]}"));
  ASSERT_TRUE(big.ok()) << big.status();
  ASSERT_EQ(WaitForTaskState(client, *big, "b0", v1::TASK_SUCCEEDED),
            absl::OkStatus());
  absl::StatusOr<std::string> small = SubmitJob(
      client,
      absl::StrCat(R"({"name": "small", "tasks": [)", Naps(10, "s", 50), "]}"));
  ASSERT_TRUE(small.ok()) << small.status();
  ASSERT_EQ(WaitForJobState(client, *small, v1::JOB_SUCCEEDED),
            absl::OkStatus());
  absl::StatusOr<v1::JobStatus> big_status = client.Get(*big);
  ASSERT_TRUE(big_status.ok()) << big_status.status();
  EXPECT_EQ(big_status->state(), v1::JOB_RUNNING)
      << "the small job finished only after the big one";
  ASSERT_EQ(WaitForJobState(client, *big, v1::JOB_SUCCEEDED), absl::OkStatus());

  // The small job took the next free slots: few of the big job's tasks
  // started between its submission and its first start. Without fair
  // shares it would wait for the big job's ~390 remaining tasks.
  absl::StatusOr<v1::JobStatus> small_status = client.Get(*small);
  ASSERT_TRUE(small_status.ok()) << small_status.status();
  const absl::Time submitted = FromProtoTimestamp(small_status->submitted_at());
  const std::vector<RunInterval> small_runs = Intervals(client, *small);
  ASSERT_EQ(small_runs.size(), 10u);
  absl::Time first_small = absl::InfiniteFuture();
  absl::Time last_small = absl::InfinitePast();
  for (const RunInterval& r : small_runs) {
    first_small = std::min(first_small, r.start);
    last_small = std::max(last_small, r.start);
  }
  int big_before_first = 0;
  int big_during = 0;
  for (const RunInterval& r : Intervals(client, *big)) {
    if (r.start > submitted && r.start < first_small) ++big_before_first;
    if (r.start >= first_small && r.start <= last_small) ++big_during;
  }
  EXPECT_LE(big_before_first, 8)
      << "big-job tasks started after the small job was submitted and "
         "before its first task";
  // While both ran, the slots were shared, not all given to the big job.
  EXPECT_GE(big_during, 1);
  EXPECT_LE(big_during, 30);
}

TEST_F(SteeringTest, ExclusiveGroupMembersNeverOverlap) {
  Client& client = dagd_->client();
  absl::StatusOr<std::string> first = SubmitJob(
      client, absl::StrCat(R"({"tasks": [)",
                           Naps(6, "m", 100, R"(, "exclusiveGroup": "db")"),
                           ", ", Naps(6, "free", 100), "]}"));
  ASSERT_TRUE(first.ok()) << first.status();
  absl::StatusOr<std::string> second = SubmitJob(
      client,
      absl::StrCat(R"({"tasks": [)",
                   Naps(3, "n", 100, R"(, "exclusiveGroup": "db")"), "]}"));
  ASSERT_TRUE(second.ok()) << second.status();
  for (const std::string& job : {*first, *second}) {
    ASSERT_EQ(WaitForJobState(client, job, v1::JOB_SUCCEEDED),
              absl::OkStatus());
  }
  std::vector<RunInterval> members;
  std::vector<RunInterval> free_tasks;
  for (const std::string& job : {*first, *second}) {
    for (RunInterval& r : Intervals(client, job)) {
      (r.task_id[0] == 'f' ? free_tasks : members).push_back(std::move(r));
    }
  }
  ASSERT_EQ(members.size(), 9u);
  EXPECT_EQ(MaxOverlap(members), 1) << Describe(members);
  // The ungrouped tasks were not held back: they ran side by side.
  EXPECT_GT(MaxOverlap(free_tasks), 1) << Describe(free_tasks);
}

TEST_F(SteeringTest, MaxParallelismIsNeverExceeded) {
  Client& client = dagd_->client();
  absl::StatusOr<std::string> job =
      SubmitJob(client, absl::StrCat(R"({"maxParallelism": 3, "tasks": [)",
                                     Naps(12, "t", 100), "]}"));
  ASSERT_TRUE(job.ok()) << job.status();
  ASSERT_EQ(WaitForJobState(client, *job, v1::JOB_SUCCEEDED), absl::OkStatus());
  const std::vector<RunInterval> runs = Intervals(client, *job);
  ASSERT_EQ(runs.size(), 12u);
  // 8 slots were free, the job used 3 of them at most, and did use 3.
  EXPECT_EQ(MaxOverlap(runs), 3) << Describe(runs);
}

TEST_F(SteeringTest, DeadlineCancelsWhatIsLeftAndFailsTheJob) {
  absl::StatusOr<std::string> job = SubmitJob(dagd_->client(), R"({
    "name": "late", "deadline": "1s",
    "tasks": [{"id": "nap", "fn": "sleep", "args": {"ms": 60000}},
              {"id": "next", "fn": "add", "inputs": ["nap"]}]})");
  ASSERT_TRUE(job.ok()) << job.status();
  Client& client = dagd_->client();
  ASSERT_EQ(WaitForJobState(client, *job, v1::JOB_FAILED), absl::OkStatus());
  absl::StatusOr<v1::ListTasksResponse> tasks = client.ListTasks(*job);
  ASSERT_TRUE(tasks.ok()) << tasks.status();
  const std::map<std::string, v1::TaskState> expected = {
      {"nap", v1::TASK_CANCELLED}, {"next", v1::TASK_CANCELLED}};
  EXPECT_EQ(TaskStates(*tasks), expected);
  CommandResult status = dagd_->RunDagctl({"status", *job});
  EXPECT_THAT(status.out,
              HasSubstr("deadline of 1s passed with 2 tasks unfinished"));
  // The sleep was stopped on its worker: every slot is free again.
  EXPECT_EQ(PollUntil(
                [&] {
                  auto workers = client.ListWorkers();
                  if (!workers.ok()) return false;
                  for (const v1::WorkerInfo& w : workers->workers()) {
                    if (w.busy_slots() != 0) return false;
                  }
                  return true;
                },
                absl::Seconds(20), "the workers' slots to be free"),
            absl::OkStatus());
}

TEST(SteeringPlacementTest, PoolsAndNamedResourcesDecideWhereTasksRun) {
  std::unique_ptr<DagdProcess> dagd = StartDagd({"--local_workers=0"});
  ASSERT_NE(dagd, nullptr);
  absl::StatusOr<Subprocess*> gpu = dagd->StartWorker(
      {"--name=gpu-box", "--pool=gpu", "--slots=4", "--resources=gpu=1"});
  ASSERT_TRUE(gpu.ok()) << gpu.status();
  absl::StatusOr<Subprocess*> cpu =
      dagd->StartWorker({"--name=cpu-box", "--slots=4"});
  ASSERT_TRUE(cpu.ok()) << cpu.status();
  ASSERT_EQ(dagd->WaitForWorkers(2), absl::OkStatus());
  Client& client = dagd->client();

  absl::StatusOr<std::string> job = SubmitJob(
      client, absl::StrCat(
                  R"({"tasks": [)",
                  Naps(3, "train", 100,
                       R"(, "executor": "pool:gpu",
                   "resources": {"amounts": {"gpu": 1}})"),
                  ", ", Naps(4, "prep", 100, R"(, "executor": "pool:default")"),
                  R"(, {"id": "huge", "fn": "sleep",
                "resources": {"amounts": {"gpu": 2}}}]})"));
  ASSERT_TRUE(job.ok()) << job.status();
  ASSERT_EQ(WaitForTaskState(client, *job, "prep3", v1::TASK_SUCCEEDED),
            absl::OkStatus());
  ASSERT_EQ(WaitForTaskState(client, *job, "train2", v1::TASK_SUCCEEDED),
            absl::OkStatus());

  std::vector<RunInterval> train;
  for (RunInterval& r : Intervals(client, *job)) {
    if (r.task_id.rfind("train", 0) == 0) {
      EXPECT_EQ(r.worker, "gpu-box") << r.task_id;
      train.push_back(std::move(r));
    } else {
      EXPECT_EQ(r.worker, "cpu-box") << r.task_id;
    }
  }
  // One GPU: the training tasks ran one at a time, though 4 slots were
  // free.
  ASSERT_EQ(train.size(), 3u);
  EXPECT_EQ(MaxOverlap(train), 1) << Describe(train);

  // No worker has 2 GPUs: the task waits, and says why.
  absl::StatusOr<v1::TaskStatus> huge = client.Task(*job, "huge");
  ASSERT_TRUE(huge.ok()) << huge.status();
  EXPECT_EQ(huge->state(), v1::TASK_READY);
  EXPECT_THAT(huge->waiting_reason(), HasSubstr("can ever run it"));
  EXPECT_THAT(huge->waiting_reason(), HasSubstr("gpu=2"));
  CommandResult tasks = dagd->RunDagctl({"tasks", *job});
  EXPECT_THAT(tasks.out, HasSubstr("gpu=2"));
  CommandResult workers = dagd->RunDagctl({"workers"});
  EXPECT_THAT(workers.out, HasSubstr("gpu=0/1"));
  ASSERT_TRUE(client.Cancel(*job).ok());
}

TEST(SteeringTawaziTest, ExampleFinishesInThreeTaskTimesOnTwoSlots) {
  std::unique_ptr<DagdProcess> dagd =
      StartDagd({"--local_workers=1", "--local_worker_slots=2"});
  ASSERT_NE(dagd, nullptr);
  ASSERT_EQ(dagd->WaitForWorkers(1), absl::OkStatus());
  Client& client = dagd->client();
  // A -> {B, C, D}; {C, D} -> E; every task sleeps 300 ms.
  absl::StatusOr<std::string> job = SubmitJob(client, R"({"tasks": [
      {"id": "A", "fn": "sleep", "args": {"ms": 300}},
      {"id": "B", "fn": "sleep", "args": {"ms": 300}, "after": ["A"]},
      {"id": "C", "fn": "sleep", "args": {"ms": 300}, "after": ["A"]},
      {"id": "D", "fn": "sleep", "args": {"ms": 300}, "after": ["A"]},
      {"id": "E", "fn": "sleep", "args": {"ms": 300}, "after": ["C", "D"]}]})");
  ASSERT_TRUE(job.ok()) << job.status();
  ASSERT_EQ(WaitForJobState(client, *job, v1::JOB_SUCCEEDED), absl::OkStatus());
  std::map<std::string, RunInterval> runs;
  for (RunInterval& r : Intervals(client, *job)) runs[r.task_id] = r;
  ASSERT_EQ(runs.size(), 5u);
  // C and D (on the critical path) ran in the second task-time, B in the
  // third beside E: E did not wait for B.
  EXPECT_LT(runs["C"].start, runs["B"].start);
  EXPECT_LT(runs["D"].start, runs["B"].start);
  EXPECT_LT(runs["E"].start, runs["B"].end);
  const absl::Duration makespan =
      std::max(runs["B"].end, runs["E"].end) - runs["A"].start;
  std::cout << "Tawazi example makespan: " << makespan
            << " (3 task-times: 900ms, 4: 1200ms)\n";
  EXPECT_LT(makespan, absl::Milliseconds(1200));
}

}  // namespace
}  // namespace dagd::testing
