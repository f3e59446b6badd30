#include "client/dagctl/exit_code.h"
#include "client/dagctl/format.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace dagd::dagctl {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

constexpr int64_t kT0 = 1700000000;  // 2023-11-14 22:13:20Z

google::protobuf::Timestamp At(int64_t seconds, int32_t nanos = 0) {
  google::protobuf::Timestamp t;
  t.set_seconds(seconds);
  t.set_nanos(nanos);
  return t;
}

void AddCount(v1::JobStatus* status, v1::TaskState state, uint32_t count) {
  v1::TaskStateCount* c = status->add_counts();
  c->set_state(state);
  c->set_count(count);
}

v1::JobStatus FailedJob() {
  v1::JobStatus status;
  status.set_job_id("j1");
  status.set_name("tiny");
  status.set_state(v1::JOB_FAILED);
  status.set_total_tasks(3);
  AddCount(&status, v1::TASK_SUCCEEDED, 1);
  AddCount(&status, v1::TASK_FAILED, 1);
  AddCount(&status, v1::TASK_UPSTREAM_FAILED, 1);
  *status.mutable_submitted_at() = At(kT0);
  *status.mutable_started_at() = At(kT0 + 1);
  *status.mutable_finished_at() = At(kT0 + 3, 500000000);
  v1::TaskNote* failure = status.add_failures();
  failure->set_task_id("b");
  failure->set_text("this task fails on purpose");
  return status;
}

TEST(ExitCodeTest, StatusCodes) {
  EXPECT_EQ(ExitCodeForStatus(absl::OkStatus()), kExitOk);
  EXPECT_EQ(ExitCodeForStatus(absl::InvalidArgumentError("")), kExitUsage);
  EXPECT_EQ(ExitCodeForStatus(absl::NotFoundError("")), kExitUsage);
  EXPECT_EQ(ExitCodeForStatus(absl::FailedPreconditionError("")), kExitUsage);
  EXPECT_EQ(ExitCodeForStatus(absl::UnavailableError("")), kExitUnreachable);
  EXPECT_EQ(ExitCodeForStatus(absl::DeadlineExceededError("")),
            kExitUnreachable);
  EXPECT_EQ(ExitCodeForStatus(absl::InternalError("")), kExitServerError);
  EXPECT_EQ(kExitOk, 0);
  EXPECT_EQ(kExitJobFailed, 1);
  EXPECT_EQ(kExitUsage, 2);
  EXPECT_EQ(kExitUnreachable, 3);
}

TEST(ExitCodeTest, JobStates) {
  EXPECT_EQ(ExitCodeForJobState(v1::JOB_SUCCEEDED), kExitOk);
  EXPECT_EQ(ExitCodeForJobState(v1::JOB_RUNNING), kExitOk);
  EXPECT_EQ(ExitCodeForJobState(v1::JOB_PENDING), kExitOk);
  EXPECT_EQ(ExitCodeForJobState(v1::JOB_FAILED), kExitJobFailed);
  EXPECT_EQ(ExitCodeForJobState(v1::JOB_CANCELLED), kExitJobFailed);
}

TEST(FormatTest, StateNames) {
  EXPECT_EQ(JobStateName(v1::JOB_SUCCEEDED), "SUCCEEDED");
  EXPECT_EQ(JobStateName(v1::JOB_STATE_UNSPECIFIED), "UNKNOWN");
  EXPECT_EQ(TaskStateName(v1::TASK_UPSTREAM_FAILED), "UPSTREAM_FAILED");
  EXPECT_EQ(TaskStateName(static_cast<v1::TaskState>(42)), "STATE_42");
}

TEST(FormatTest, TimesAndDurations) {
  EXPECT_EQ(FormatTimestamp(At(kT0)), "2023-11-14 22:13:20Z");
  EXPECT_EQ(FormatTimestamp(google::protobuf::Timestamp()), "-");
  EXPECT_EQ(FormatElapsed(absl::Milliseconds(850)), "850ms");
  EXPECT_EQ(FormatElapsed(absl::Milliseconds(12345)), "12.3s");
  EXPECT_EQ(FormatElapsed(absl::Seconds(125)), "2m5s");
  EXPECT_EQ(FormatElapsed(absl::Minutes(62)), "1h2m");
  EXPECT_EQ(FormatElapsed(-absl::Seconds(1)), "0ms");
}

TEST(FormatTest, ElapsedRunsFromStartToFinishOrNow) {
  const absl::Time now = absl::FromUnixSeconds(kT0 + 100);
  v1::JobStatus status = FailedJob();
  EXPECT_EQ(JobElapsed(status, now), absl::Milliseconds(2500));
  status.clear_finished_at();
  EXPECT_EQ(JobElapsed(status, now), absl::Seconds(99));
  status.clear_started_at();
  EXPECT_EQ(JobElapsed(status, now), absl::Seconds(100));
  EXPECT_EQ(JobElapsed(v1::JobStatus(), now), absl::ZeroDuration());
}

TEST(FormatTest, JobStatusShowsCountsTimesAndFailures) {
  v1::JobStatus status = FailedJob();
  v1::TaskNote* waiting = status.add_waiting();
  waiting->set_task_id("gpu");
  waiting->set_text("no worker offers fn \"train\"");
  const std::string text = FormatJobStatus(status, absl::UnixEpoch());
  EXPECT_EQ(text,
            "job        j1 (tiny)\n"
            "state      FAILED\n"
            "tasks      3/3 done\n"
            "counts     SUCCEEDED 1, FAILED 1, UPSTREAM_FAILED 1\n"
            "priority   0\n"
            "submitted  2023-11-14 22:13:20Z\n"
            "started    2023-11-14 22:13:21Z\n"
            "finished   2023-11-14 22:13:23Z\n"
            "elapsed    2.5s\n"
            "failed tasks:\n"
            "  b: this task fails on purpose\n"
            "waiting tasks:\n"
            "  gpu: no worker offers fn \"train\"\n");
}

TEST(FormatTest, ProgressLine) {
  Progress p;
  p.state = v1::JOB_RUNNING;
  p.total = 2047;
  p.done = 1200;
  p.running = 4;
  EXPECT_EQ(FormatProgress(p, absl::Milliseconds(12300)),
            "RUNNING  1200/2047 done  4 running  0 failed  12.3s");
}

Progress BarProgress(uint32_t done, uint32_t total, uint32_t running = 0,
                     uint32_t failed = 0) {
  Progress p;
  p.state = v1::JOB_RUNNING;
  p.done = done;
  p.total = total;
  p.running = running;
  p.failed = failed;
  return p;
}

TEST(FormatTest, ProgressBar) {
  EXPECT_EQ(
      FormatProgressBar(BarProgress(920, 2047, 12, 1), absl::Milliseconds(3200),
                        absl::Milliseconds(3920)),
      "[#########-----------] 45% 920/2047 done  12 running  1 failed  "
      "elapsed 3.2s  ETA 3.9s");
  EXPECT_EQ(FormatProgressBar(BarProgress(0, 2047, 2), absl::Milliseconds(850),
                              std::nullopt),
            "[--------------------] 0% 0/2047 done  2 running  0 failed  "
            "elapsed 850ms  ETA -");
  EXPECT_EQ(FormatProgressBar(BarProgress(3, 3), absl::Seconds(125),
                              absl::ZeroDuration()),
            "[####################] 100% 3/3 done  0 running  0 failed  "
            "elapsed 2m5s  ETA 0ms");
}

TEST(FormatTest, ProgressBarIsFullOnlyWhenEveryTaskIsDone) {
  // 1999/2000 rounds to 100%, but a task is still to run.
  EXPECT_THAT(FormatProgressBar(BarProgress(1999, 2000), absl::Seconds(1),
                                absl::Milliseconds(1)),
              StartsWith("[###################-] 99% 1999/2000 done"));
  // One of many done shows some progress.
  EXPECT_THAT(
      FormatProgressBar(BarProgress(1, 2000), absl::Seconds(1), std::nullopt),
      StartsWith("[#-------------------] 1% 1/2000 done"));
  // No total yet (no snapshot) is an empty bar, not a division by zero.
  EXPECT_THAT(
      FormatProgressBar(BarProgress(0, 0), absl::Seconds(1), std::nullopt),
      StartsWith("[--------------------] 0% 0/0 done"));
  EXPECT_THAT(FormatProgressBar(BarProgress(1, 2), absl::Seconds(1),
                                std::nullopt, /*bar_width=*/4),
              StartsWith("[##--] 50% "));
  EXPECT_THAT(FormatProgressBar(BarProgress(1, 2), absl::Seconds(1),
                                std::nullopt, /*bar_width=*/1),
              StartsWith("[-] 50% "));
}

TEST(FormatTest, Outcome) {
  EXPECT_EQ(FormatOutcome(FailedJob(), absl::UnixEpoch()),
            "job j1 FAILED: 3/3 tasks done in 2.5s\n"
            "failed tasks:\n"
            "  b: this task fails on purpose\n");
}

TEST(FormatTest, OutcomeAndStatusSayWhyTheJobFailed) {
  v1::JobStatus job = FailedJob();
  job.clear_failures();
  job.set_error("deadline of 5s passed with 1 task unfinished");
  EXPECT_EQ(FormatOutcome(job, absl::UnixEpoch()),
            "job j1 FAILED: 3/3 tasks done in 2.5s\n"
            "deadline of 5s passed with 1 task unfinished\n");
  EXPECT_THAT(FormatJobStatus(job, absl::UnixEpoch()),
              HasSubstr("deadline of 5s passed with 1 task unfinished"));
}

// A task's error is what its program wrote: escape sequences would clear
// the screen or set the title, and a line break would start a line that
// reads as dagctl's own.
TEST(FormatTest, TaskTextCannotDriveTheTerminalOrForgeALine) {
  const std::string evil =
      "boom\x1b[2J\x1b]0;pwned\x07\rback\nfake-line: SUCCEEDED\x7f";
  v1::JobStatus job = FailedJob();
  job.set_error(evil);
  job.mutable_failures(0)->set_text(evil);
  v1::ListTasksResponse tasks;
  v1::TaskStatus* task = tasks.add_tasks();
  task->set_task_id("t");
  task->set_error(evil);
  task->set_waiting_reason(evil);
  task->add_attempts()->set_error(evil);
  for (const std::string& out :
       {FormatOutcome(job, absl::UnixEpoch()),
        FormatJobStatus(job, absl::UnixEpoch()), FormatTasks(tasks)}) {
    for (char c : out) {
      const auto u = static_cast<unsigned char>(c);
      EXPECT_TRUE((u >= 0x20 && u != 0x7f) || c == '\n') << int{u} << out;
    }
    EXPECT_THAT(out, HasSubstr("\\x1b[2J"));
    EXPECT_THAT(out, Not(HasSubstr("\nfake-line")));
  }
  EXPECT_EQ(Shown("a\nb\tc", "  "), "a\n  b\tc");
}

TEST(FormatTest, Cancel) {
  v1::CancelJobResponse response;
  response.set_cancelled(true);
  response.set_state(v1::JOB_CANCELLED);
  EXPECT_EQ(FormatCancel("j1", response), "cancelled job j1\n");
  response.set_cancelled(false);
  response.set_state(v1::JOB_SUCCEEDED);
  EXPECT_EQ(FormatCancel("j1", response),
            "job j1 had already finished (SUCCEEDED); nothing changed\n");
}

TEST(FormatTest, JobsTable) {
  v1::JobStatus job = FailedJob();
  v1::JobStatus unnamed;
  unnamed.set_job_id("j22");
  unnamed.set_state(v1::JOB_PENDING);
  unnamed.set_total_tasks(2047);
  EXPECT_EQ(FormatJobsTable({job, unnamed}),
            "ID   NAME  STATE    DONE    SUBMITTED\n"
            "j1   tiny  FAILED   3/3     2023-11-14 22:13:20Z\n"
            "j22  -     PENDING  0/2047  -\n");
}

TEST(FormatTest, WorkersTable) {
  v1::ListWorkersResponse response;
  v1::WorkerInfo* worker = response.add_workers();
  worker->set_worker_id("w1");
  worker->set_name("laptop");
  worker->set_slots(4);
  worker->set_busy_slots(1);
  worker->set_pool("default");
  worker->add_functions("const");
  worker->add_functions("add");
  (*worker->mutable_labels())["zone"] = "a";
  (*worker->mutable_labels())["disk"] = "ssd";
  (*worker->mutable_resources())["gpu"] = 2;
  (*worker->mutable_free_resources())["gpu"] = 1.5;
  v1::WorkerInfo* plain = response.add_workers();
  plain->set_worker_id("w2");
  plain->set_slots(1);
  plain->set_pool("default");
  EXPECT_EQ(
      FormatWorkersTable(response),
      "ID  NAME    SLOTS  POOL     LABELS           RESOURCES  FUNCTIONS\n"
      "w1  laptop  1/4    default  disk=ssd,zone=a  gpu=0.5/2  const,add\n"
      "w2  -       0/1    default  -                -          -\n");
}

// RUNTIMES appears once a worker reports its runtimes (Register.runtimes),
// before FUNCTIONS; a worker that reports none shows "-".
TEST(FormatTest, WorkersTableShowsRuntimes) {
  v1::ListWorkersResponse response;
  v1::WorkerInfo* worker = response.add_workers();
  worker->set_worker_id("w1");
  worker->set_name("laptop");
  worker->set_slots(2);
  worker->set_pool("default");
  worker->add_runtimes("builtin");
  worker->add_runtimes("plugin");
  worker->add_runtimes("exec");
  worker->add_functions("add");
  worker->add_functions("exec");
  v1::WorkerInfo* lambda = response.add_workers();
  lambda->set_worker_id("w2");
  lambda->set_name("lambda");
  lambda->set_slots(100);
  lambda->set_pool("lambda");
  EXPECT_EQ(
      FormatWorkersTable(response),
      "ID  NAME    SLOTS  POOL     LABELS  RESOURCES  RUNTIMES             "
      "FUNCTIONS\n"
      "w1  laptop  0/2    default  -       -          builtin,plugin,exec  "
      "add,exec\n"
      "w2  lambda  0/100  lambda   -       -          -                    "
      "-\n");
}

// What a worker holds appears once some worker serves its results
// (--data_listen); the Lambda dispatcher holds nothing and shows "-".
TEST(FormatTest, WorkersTableShowsHeldSpilledSentAndFetchedBytes) {
  v1::ListWorkersResponse response;
  v1::WorkerInfo* worker = response.add_workers();
  worker->set_worker_id("w1");
  worker->set_slots(2);
  worker->set_data_address("10.0.0.5:7070");
  worker->set_held_bytes(300 << 20);
  worker->set_spilled_bytes(uint64_t{3} << 30);
  worker->set_sent_bytes(512);
  worker->set_fetched_bytes(1536);
  v1::WorkerInfo* lambda = response.add_workers();
  lambda->set_worker_id("w2");
  lambda->set_slots(100);
  worker->set_draining(true);
  const std::string table = FormatWorkersTable(response);
  // A draining worker says so by its slots.
  EXPECT_THAT(table, HasSubstr("0/2 draining"));
  EXPECT_THAT(table, HasSubstr("HELD/SPILLED/SENT/FETCHED"));
  EXPECT_THAT(table, HasSubstr("300 MiB/3.0 GiB/512 B/1.5 KiB"));
  EXPECT_EQ(FormatBytes(0), "0 B");
  EXPECT_EQ(FormatBytes(10 << 10), "10 KiB");
}

TEST(FormatTest, TasksShowWaitingReasonsAndAttempts) {
  v1::ListTasksResponse response;
  v1::TaskStatus* waiting = response.add_tasks();
  waiting->set_task_id("gpu");
  waiting->set_state(v1::TASK_READY);
  waiting->set_fn("train");
  waiting->set_waiting_reason("no worker offers fn \"train\"");
  v1::TaskStatus* failed = response.add_tasks();
  failed->set_task_id("b");
  failed->set_state(v1::TASK_FAILED);
  failed->set_fn("fail");
  failed->set_error("boom");
  v1::Attempt* attempt = failed->add_attempts();
  attempt->set_number(1);
  attempt->set_worker("w1");
  *attempt->mutable_started_at() = At(kT0);
  *attempt->mutable_finished_at() = At(kT0 + 1);
  attempt->set_error("boom");
  EXPECT_EQ(FormatTasks(response),
            "gpu  READY  train\n"
            "    waiting: no worker offers fn \"train\"\n"
            "b  FAILED  fail\n"
            "    attempt 1  worker w1  started 2023-11-14 22:13:20.000Z  "
            "finished 2023-11-14 22:13:21.000Z  error: boom\n");
}

TEST(FormatTest, EachAttemptSaysWhyItWentWhereItDid) {
  v1::ListTasksResponse response;
  v1::TaskStatus* task = response.add_tasks();
  task->set_task_id("b");
  task->set_state(v1::TASK_RUNNING);
  v1::Attempt* attempt = task->add_attempts();
  attempt->set_number(1);
  attempt->set_worker("w1-2");
  attempt->set_placement("placed on w1-2: holds 2 of 2 inputs");
  EXPECT_THAT(FormatTasks(response),
              HasSubstr("    attempt 1  worker w1-2  started -  finished -\n"
                        "      placed on w1-2: holds 2 of 2 inputs\n"));
}

TEST(FormatTest, TaskErrorWithoutAnAttemptIsShown) {
  v1::ListTasksResponse response;
  v1::TaskStatus* task = response.add_tasks();
  task->set_task_id("c");
  task->set_state(v1::TASK_FAILED);
  task->set_error("input b is gone");
  EXPECT_THAT(FormatTasks(response), HasSubstr("    error: input b is gone\n"));
}

TEST(FormatTest, JsonIsOneLineWithDefaults) {
  v1::CancelJobResponse response;
  response.set_state(v1::JOB_SUCCEEDED);
  const std::string json = ToJson(response);
  EXPECT_EQ(json, R"({"state":"JOB_SUCCEEDED","cancelled":false})");
  EXPECT_THAT(ToJson(FailedJob()), Not(HasSubstr("\n")));
}

}  // namespace
}  // namespace dagd::dagctl
