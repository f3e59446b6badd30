// How a real dagd schedules, retries and gives up tasks, checked from the
// attempts it records and the processes the workers leave behind: job
// priority across jobs, retry backoff with jitter, per-attempt timeouts that
// kill an `exec` process group, cancellation that leaves no process
// running, UPSTREAM_FAILED descendants with and without continue_on_failure,
// and a task that survives its worker being SIGKILLed.
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/types.h>
#include <unistd.h>

#include <algorithm>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "client/proto_time.h"
#include "tests/integration/integration_env.h"

namespace dagd::testing {
namespace {

using ::testing::HasSubstr;

// A dagd with one local worker of 4 slots, for the tests that do not need a
// worker set of their own.
class SchedulingTest : public SharedDagdTest<SchedulingTest> {
 public:
  static std::vector<std::string> Flags() {
    return {"--local_workers=1", "--local_worker_slots=4"};
  }
  static size_t Workers() { return 1; }
};

absl::Time StartedAt(const v1::Attempt& attempt) {
  return FromProtoTimestamp(attempt.started_at());
}
absl::Time FinishedAt(const v1::Attempt& attempt) {
  return FromProtoTimestamp(attempt.finished_at());
}
absl::Time AssignedAt(const v1::Attempt& attempt) {
  return FromProtoTimestamp(attempt.assigned_at());
}

// True once `pid` does not exist any more: it ended and its parent reaped
// it. A zombie still exists.
bool ProcessGone(pid_t pid) { return kill(pid, 0) == -1 && errno == ESRCH; }

// The state letter of /proc/PID/stat ('R', 'S', 'Z', ...), or 0 when it
// cannot be read. A plain read(2): the process may end while we read, and
// libstdc++'s filebuf throws on that read error.
char ProcessState(pid_t pid) {
  const std::string path = absl::StrCat("/proc/", pid, "/stat");
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  char buffer[4096];
  const ssize_t n = read(fd, buffer, sizeof(buffer));
  close(fd);
  // The comm field may hold spaces and parentheses: the state follows the
  // last ')'.
  const std::string stat(buffer, n > 0 ? n : 0);
  const size_t paren = stat.rfind(')');
  if (paren == std::string::npos || paren + 2 >= stat.size()) return 0;
  return stat[paren + 2];
}

// True once `pid` no longer runs: gone, or a zombie. An orphan's zombie
// belongs to PID 1, which in a container may never reap it.
bool ProcessNotRunning(pid_t pid) {
  if (ProcessGone(pid)) return true;
  const char state = ProcessState(pid);
  return state == 0 || state == 'Z' || state == 'X';
}

// What the `exec` attempts of RecordPidsArgv recorded: each attempt's
// program (the leader of its process group) and the child it left in the
// background.
struct RecordedPids {
  std::vector<pid_t> leaders;
  std::vector<pid_t> children;
};

// argv of an `exec` that starts `sleep 30` in the background, records its
// pid as "child PID" and its own as "leader PID" in `pid_file`, and then
// becomes `sleep 30` itself: only a kill ends it before 30 s.
std::string RecordPidsArgv(const std::string& pid_file) {
  return absl::StrCat(R"(["/bin/sh", "-c", "sleep 30 & echo child $! >> )",
                      pid_file, R"(; echo leader $$ >> )", pid_file,
                      R"(; exec sleep 30"])");
}

RecordedPids ReadPids(const std::string& pid_file) {
  RecordedPids pids;
  for (absl::string_view line :
       absl::StrSplit(ReadFileOrEmpty(pid_file), '\n', absl::SkipEmpty())) {
    std::vector<absl::string_view> fields = absl::StrSplit(line, ' ');
    pid_t pid = 0;
    if (fields.size() != 2 || !absl::SimpleAtoi(fields[1], &pid)) continue;
    if (fields[0] == "leader") pids.leaders.push_back(pid);
    if (fields[0] == "child") pids.children.push_back(pid);
  }
  return pids;
}

// True when no recorded process runs: every leader was reaped by the
// worker, and every background child is gone or a zombie.
bool NoRecordedProcessRuns(const RecordedPids& pids) {
  return std::all_of(pids.leaders.begin(), pids.leaders.end(), ProcessGone) &&
         std::all_of(pids.children.begin(), pids.children.end(),
                     ProcessNotRunning);
}

std::string Describe(const RecordedPids& pids) {
  return absl::StrCat("leaders [", absl::StrJoin(pids.leaders, ", "),
                      "], background children [",
                      absl::StrJoin(pids.children, ", "), "]");
}

TEST_F(SchedulingTest,
       HigherPriorityJobRunsAllItsTasksBeforeAnEarlierLowerPriorityJob) {
  // One slot, held by a blocker while both jobs queue up behind it.
  std::unique_ptr<DagdProcess> dagd =
      StartDagd({"--local_workers=1", "--local_worker_slots=1"});
  ASSERT_NE(dagd, nullptr);
  ASSERT_EQ(dagd->WaitForWorkers(1), absl::OkStatus());
  Client& client = dagd->client();

  absl::StatusOr<std::string> blocker = SubmitJob(client, R"json({
    "name": "blocker",
    "tasks": [{"id": "block", "fn": "sleep", "args": {"ms": 1500}}]
  })json");
  ASSERT_TRUE(blocker.ok()) << blocker.status();
  ASSERT_EQ(WaitForTaskState(client, *blocker, "block", v1::TASK_RUNNING),
            absl::OkStatus());

  auto job_of_naps = [](absl::string_view name, int priority) {
    std::vector<std::string> tasks;
    for (int i = 0; i < 4; ++i) {
      tasks.push_back(absl::StrCat(R"({"id": ")", name, i,
                                   R"(", "fn": "sleep", "args": {"ms": 50}})"));
    }
    return absl::StrCat(R"({"name": ")", name, R"(", "priority": )", priority,
                        R"(, "tasks": [)", absl::StrJoin(tasks, ", "), "]}");
  };
  absl::StatusOr<std::string> low = SubmitJob(client, job_of_naps("low", 0));
  ASSERT_TRUE(low.ok()) << low.status();
  absl::StatusOr<std::string> high = SubmitJob(client, job_of_naps("high", 10));
  ASSERT_TRUE(high.ok()) << high.status();

  for (const std::string& job_id : {*blocker, *low, *high}) {
    ASSERT_EQ(WaitForJobState(client, job_id, v1::JOB_SUCCEEDED),
              absl::OkStatus());
  }

  // The premise: both jobs were waiting when the slot came free.
  absl::StatusOr<v1::JobStatus> high_status = client.Get(*high);
  ASSERT_TRUE(high_status.ok()) << high_status.status();
  absl::StatusOr<v1::TaskStatus> block = client.Task(*blocker, "block");
  ASSERT_TRUE(block.ok()) << block.status();
  ASSERT_EQ(block->attempts_size(), 1) << block->DebugString();
  ASSERT_LT(FromProtoTimestamp(high_status->submitted_at()),
            FinishedAt(block->attempts(0)))
      << "the blocker finished before the high-priority job was submitted; "
         "the machine was too slow for this test to check anything";

  auto start_times = [&](const std::string& job_id) {
    std::vector<absl::Time> starts;
    absl::StatusOr<v1::ListTasksResponse> tasks = client.ListTasks(job_id);
    EXPECT_TRUE(tasks.ok()) << tasks.status();
    if (!tasks.ok()) return starts;
    for (const v1::TaskStatus& task : tasks->tasks()) {
      EXPECT_EQ(task.attempts_size(), 1) << task.DebugString();
      if (task.attempts_size() > 0)
        starts.push_back(StartedAt(task.attempts(0)));
    }
    return starts;
  };
  const std::vector<absl::Time> high_starts = start_times(*high);
  const std::vector<absl::Time> low_starts = start_times(*low);
  ASSERT_EQ(high_starts.size(), 4u);
  ASSERT_EQ(low_starts.size(), 4u);
  const absl::Time last_high =
      *std::max_element(high_starts.begin(), high_starts.end());
  const absl::Time first_low =
      *std::min_element(low_starts.begin(), low_starts.end());
  EXPECT_LT(last_high, first_low)
      << "a low-priority task started before a high-priority one; high "
         "starts: "
      << absl::StrJoin(high_starts, ", ", absl::StreamFormatter())
      << "; low starts: "
      << absl::StrJoin(low_starts, ", ", absl::StreamFormatter());
}

TEST_F(SchedulingTest, FlakyTaskSucceedsOnItsThirdAttemptAfterItsBackoffs) {
  Client& client = dagd_->client();
  absl::StatusOr<std::string> job_id = SubmitJob(client, R"json({
    "name": "flaky",
    "tasks": [{"id": "f", "fn": "flaky", "args": {"failures": 2, "value": 42},
               "retry": {"max_attempts": 3, "initial_backoff": "0.4s",
                         "multiplier": 2, "max_backoff": "10s"}}]
  })json");
  ASSERT_TRUE(job_id.ok()) << job_id.status();
  ASSERT_EQ(WaitForJobState(client, *job_id, v1::JOB_SUCCEEDED),
            absl::OkStatus());

  absl::StatusOr<v1::TaskStatus> task = client.Task(*job_id, "f");
  ASSERT_TRUE(task.ok()) << task.status();
  EXPECT_EQ(task->state(), v1::TASK_SUCCEEDED);
  ASSERT_EQ(task->attempts_size(), 3) << task->DebugString();
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(task->attempts(i).number(), static_cast<uint32_t>(i + 1));
  }
  EXPECT_THAT(task->attempts(0).error(), HasSubstr("flaky: attempt 1 fails"));
  EXPECT_THAT(task->attempts(1).error(), HasSubstr("flaky: attempt 2 fails"));
  EXPECT_EQ(task->attempts(2).error(), "");
  absl::StatusOr<v1::GetResultResponse> result = client.Result(*job_id, "f");
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->data(), "42");

  // Before attempt k+1 the task waits min(0.4s * 2^(k-1), 10s) times a
  // jitter factor in [0.5, 1]: 200..400 ms, then 400..800 ms. The upper
  // bound allows 2 s for a slow machine.
  const absl::Duration backoffs[] = {absl::Milliseconds(400),
                                     absl::Milliseconds(800)};
  for (int k = 0; k < 2; ++k) {
    const absl::Duration gap =
        AssignedAt(task->attempts(k + 1)) - FinishedAt(task->attempts(k));
    EXPECT_GE(gap, backoffs[k] / 2) << "before attempt " << k + 2 << "\n"
                                    << task->DebugString();
    EXPECT_LE(gap, backoffs[k] + absl::Seconds(2))
        << "before attempt " << k + 2 << "\n"
        << task->DebugString();
  }
}

TEST_F(SchedulingTest, TimeoutKillsTheExecProcessGroupAndTheTaskIsRetried) {
  absl::StatusOr<std::unique_ptr<TempDir>> dir = TempDir::Create();
  ASSERT_TRUE(dir.ok()) << dir.status();
  const std::string pid_file = (*dir)->path() + "/pids";
  Client& client = dagd_->client();
  absl::StatusOr<std::string> job_id =
      SubmitJob(client, absl::StrCat(R"json({
    "name": "timeout",
    "tasks": [{"id": "slow", "fn": "exec", "timeout": "1s",
               "retry": {"max_attempts": 2, "initial_backoff": "0.1s"},
               "args": {"argv": )json",
                                     RecordPidsArgv(pid_file), "}}]}"));
  ASSERT_TRUE(job_id.ok()) << job_id.status();
  ASSERT_EQ(WaitForJobState(client, *job_id, v1::JOB_FAILED), absl::OkStatus());

  absl::StatusOr<v1::TaskStatus> task = client.Task(*job_id, "slow");
  ASSERT_TRUE(task.ok()) << task.status();
  EXPECT_EQ(task->state(), v1::TASK_FAILED);
  ASSERT_EQ(task->attempts_size(), 2) << task->DebugString();
  for (const v1::Attempt& attempt : task->attempts()) {
    EXPECT_THAT(attempt.error(), HasSubstr("timed out"));
    // Ended by the 1 s timeout, not by `sleep 30` running out.
    const absl::Duration ran = FinishedAt(attempt) - StartedAt(attempt);
    EXPECT_GE(ran, absl::Milliseconds(900)) << attempt.DebugString();
    EXPECT_LT(ran, absl::Seconds(10)) << attempt.DebugString();
  }
  EXPECT_THAT(task->error(), HasSubstr("timed out"));

  const RecordedPids pids = ReadPids(pid_file);
  ASSERT_EQ(pids.leaders.size(), 2u) << Describe(pids);
  ASSERT_EQ(pids.children.size(), 2u) << Describe(pids);
  EXPECT_EQ(PollUntil([&] { return NoRecordedProcessRuns(pids); },
                      absl::Seconds(5), "the timed-out processes to be gone"),
            absl::OkStatus())
      << Describe(pids);
}

TEST_F(SchedulingTest, CancelLeavesNoExecProcessBehind) {
  absl::StatusOr<std::unique_ptr<TempDir>> dir = TempDir::Create();
  ASSERT_TRUE(dir.ok()) << dir.status();
  const std::string pid_file = (*dir)->path() + "/pids";
  Client& client = dagd_->client();
  absl::StatusOr<std::string> job_id =
      SubmitJob(client, absl::StrCat(R"json({
    "name": "cancel-exec",
    "tasks": [{"id": "slow", "fn": "exec", "args": {"argv": )json",
                                     RecordPidsArgv(pid_file), "}}]}"));
  ASSERT_TRUE(job_id.ok()) << job_id.status();
  ASSERT_EQ(WaitForTaskState(client, *job_id, "slow", v1::TASK_RUNNING),
            absl::OkStatus());
  RecordedPids pids;
  ASSERT_EQ(PollUntil(
                [&] {
                  pids = ReadPids(pid_file);
                  return !pids.leaders.empty() && !pids.children.empty();
                },
                absl::Seconds(30), "the exec to record its pids"),
            absl::OkStatus());
  ASSERT_FALSE(ProcessGone(pids.leaders[0])) << Describe(pids);

  absl::StatusOr<v1::CancelJobResponse> cancel = client.Cancel(*job_id);
  ASSERT_TRUE(cancel.ok()) << cancel.status();
  EXPECT_TRUE(cancel->cancelled());
  // The issue's promise: the process is gone within a second of the cancel.
  EXPECT_EQ(
      PollUntil([&] { return NoRecordedProcessRuns(pids); }, absl::Seconds(1),
                "the exec processes to be gone after the cancel"),
      absl::OkStatus())
      << Describe(pids);

  ASSERT_EQ(WaitForJobState(client, *job_id, v1::JOB_CANCELLED),
            absl::OkStatus());
  absl::StatusOr<v1::TaskStatus> task = client.Task(*job_id, "slow");
  ASSERT_TRUE(task.ok()) << task.status();
  EXPECT_EQ(task->state(), v1::TASK_CANCELLED);
}

// A worker killed with -9 cannot stop its exec task: the program goes with
// it (it asked the kernel for SIGKILL at its parent's death).
TEST_F(SchedulingTest, AnExecProgramDiesWithItsKilledWorker) {
  absl::StatusOr<std::unique_ptr<TempDir>> dir = TempDir::Create();
  ASSERT_TRUE(dir.ok()) << dir.status();
  const std::string pid_file = (*dir)->path() + "/pids";
  absl::StatusOr<Subprocess*> worker = dagd_->StartWorker(
      {"--slots=1", "--allow_exec", "--pool=doomed", "--name=doomed"});
  ASSERT_TRUE(worker.ok()) << worker.status();
  ASSERT_TRUE(dagd_->WaitForWorkers(Workers() + 1).ok());
  Client& client = dagd_->client();
  absl::StatusOr<std::string> job_id =
      SubmitJob(client, absl::StrCat(R"json({
    "name": "orphan-exec",
    "tasks": [{"id": "slow", "fn": "exec", "executor": "pool:doomed",
               "args": {"argv": )json",
                                     RecordPidsArgv(pid_file), "}}]}"));
  ASSERT_TRUE(job_id.ok()) << job_id.status();
  RecordedPids pids;
  ASSERT_EQ(PollUntil(
                [&] {
                  pids = ReadPids(pid_file);
                  return !pids.leaders.empty();
                },
                absl::Seconds(30), "the exec to record its pids"),
            absl::OkStatus());
  ASSERT_FALSE(ProcessGone(pids.leaders[0])) << Describe(pids);
  (*worker)->Kill(SIGKILL);
  EXPECT_EQ(PollUntil([&] { return ProcessNotRunning(pids.leaders[0]); },
                      absl::Seconds(10), "the exec program to die"),
            absl::OkStatus())
      << Describe(pids);
  ASSERT_TRUE(client.Cancel(*job_id).ok());
}

TEST_F(SchedulingTest, FailedTaskFailsAllItsDescendantsAndCancelsTheRest) {
  Client& client = dagd_->client();
  // `d` never ends by itself: the job can only finish if it is cancelled.
  absl::StatusOr<std::string> job_id = SubmitJob(client, R"json({
    "name": "fail-fast",
    "tasks": [
      {"id": "a", "fn": "fail", "args": {"message": "a broke"}},
      {"id": "b", "fn": "add", "inputs": ["a"]},
      {"id": "c", "fn": "add", "inputs": ["b"]},
      {"id": "d", "fn": "sleep", "args": {"ms": 600000}}
    ]
  })json");
  ASSERT_TRUE(job_id.ok()) << job_id.status();
  ASSERT_EQ(WaitForJobState(client, *job_id, v1::JOB_FAILED), absl::OkStatus());

  absl::StatusOr<v1::ListTasksResponse> tasks = client.ListTasks(*job_id);
  ASSERT_TRUE(tasks.ok()) << tasks.status();
  const std::map<std::string, v1::TaskState> expected = {
      {"a", v1::TASK_FAILED},
      {"b", v1::TASK_UPSTREAM_FAILED},
      {"c", v1::TASK_UPSTREAM_FAILED},
      {"d", v1::TASK_CANCELLED}};
  EXPECT_EQ(TaskStates(*tasks), expected);
  for (const v1::TaskStatus& task : tasks->tasks()) {
    if (task.task_id() == "a") {
      EXPECT_EQ(task.error(), "a broke");
    }
    if (task.task_id() == "b" || task.task_id() == "c") {
      EXPECT_THAT(task.error(), HasSubstr("'a'")) << task.task_id();
      EXPECT_EQ(task.attempts_size(), 0) << task.DebugString();
    }
  }
}

TEST_F(SchedulingTest, ContinueOnFailureRunsIndependentBranchesToTheEnd) {
  Client& client = dagd_->client();
  // The independent branch is still sleeping when `a` fails, so `y` can
  // only run if the failure does not stop the job.
  absl::StatusOr<std::string> job_id = SubmitJob(client, R"json({
    "name": "continue",
    "continue_on_failure": true,
    "tasks": [
      {"id": "a", "fn": "fail", "args": {"message": "a broke"}},
      {"id": "b", "fn": "add", "inputs": ["a"]},
      {"id": "c", "fn": "add", "inputs": ["b"]},
      {"id": "x", "fn": "const", "args": {"value": 1}},
      {"id": "slow", "fn": "sleep", "inputs": ["x"], "args": {"ms": 1000}},
      {"id": "y", "fn": "add", "inputs": ["slow"], "args": {"value": 10}}
    ]
  })json");
  ASSERT_TRUE(job_id.ok()) << job_id.status();
  ASSERT_EQ(WaitForJobState(client, *job_id, v1::JOB_FAILED), absl::OkStatus());

  absl::StatusOr<v1::ListTasksResponse> tasks = client.ListTasks(*job_id);
  ASSERT_TRUE(tasks.ok()) << tasks.status();
  const std::map<std::string, v1::TaskState> expected = {
      {"a", v1::TASK_FAILED},          {"b", v1::TASK_UPSTREAM_FAILED},
      {"c", v1::TASK_UPSTREAM_FAILED}, {"x", v1::TASK_SUCCEEDED},
      {"slow", v1::TASK_SUCCEEDED},    {"y", v1::TASK_SUCCEEDED}};
  EXPECT_EQ(TaskStates(*tasks), expected);
  absl::StatusOr<v1::GetResultResponse> result = client.Result(*job_id, "y");
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->data(), "11");

  absl::StatusOr<v1::TaskStatus> a = client.Task(*job_id, "a");
  ASSERT_TRUE(a.ok()) << a.status();
  absl::StatusOr<v1::TaskStatus> y = client.Task(*job_id, "y");
  ASSERT_TRUE(y.ok()) << y.status();
  ASSERT_EQ(a->attempts_size(), 1) << a->DebugString();
  ASSERT_EQ(y->attempts_size(), 1) << y->DebugString();
  EXPECT_GT(StartedAt(y->attempts(0)), FinishedAt(a->attempts(0)))
      << "y ran before a failed, so this run shows nothing about "
         "continue_on_failure";
}

TEST_F(SchedulingTest, TaskOfAWorkerKilledMidTaskFinishesOnAnotherWorker) {
  std::unique_ptr<DagdProcess> dagd = StartDagd({"--local_workers=0"});
  ASSERT_NE(dagd, nullptr);
  absl::StatusOr<Subprocess*> worker_a =
      dagd->StartWorker({"--slots=1", "--name=worker-a"});
  ASSERT_TRUE(worker_a.ok()) << worker_a.status();
  ASSERT_EQ(dagd->WaitForWorkers(1), absl::OkStatus());
  Client& client = dagd->client();

  absl::StatusOr<std::string> job_id = SubmitJob(client, R"json({
    "name": "survivor",
    "tasks": [
      {"id": "n", "fn": "const", "args": {"value": 5}},
      {"id": "nap", "fn": "sleep", "inputs": ["n"], "args": {"ms": 2000}},
      {"id": "next", "fn": "add", "inputs": ["nap"], "args": {"value": 1}}
    ]
  })json");
  ASSERT_TRUE(job_id.ok()) << job_id.status();
  ASSERT_EQ(PollUntil(
                [&] {
                  absl::StatusOr<v1::TaskStatus> nap =
                      client.Task(*job_id, "nap");
                  return nap.ok() && nap->state() == v1::TASK_RUNNING &&
                         nap->worker() == "worker-a";
                },
                absl::Seconds(30), "nap to run on worker-a"),
            absl::OkStatus());

  absl::StatusOr<Subprocess*> worker_b =
      dagd->StartWorker({"--slots=1", "--name=worker-b"});
  ASSERT_TRUE(worker_b.ok()) << worker_b.status();
  ASSERT_EQ(dagd->WaitForWorkers(2), absl::OkStatus());
  (*worker_a)->Kill(SIGKILL);
  absl::StatusOr<ExitStatus> exit = (*worker_a)->Wait(absl::Seconds(10));
  ASSERT_TRUE(exit.ok()) << exit.status();
  EXPECT_EQ(exit->signal, SIGKILL) << *exit;

  // --worker_timeout is 30 s: finishing well before shows the loss was seen
  // when the stream closed.
  ASSERT_EQ(
      WaitForJobState(client, *job_id, v1::JOB_SUCCEEDED, absl::Seconds(20)),
      absl::OkStatus());
  absl::StatusOr<v1::TaskStatus> nap = client.Task(*job_id, "nap");
  ASSERT_TRUE(nap.ok()) << nap.status();
  EXPECT_EQ(nap->state(), v1::TASK_SUCCEEDED);
  ASSERT_EQ(nap->attempts_size(), 2) << nap->DebugString();
  EXPECT_EQ(nap->attempts(0).worker(), "worker-a");
  EXPECT_THAT(nap->attempts(0).error(), HasSubstr("was lost"));
  EXPECT_EQ(nap->attempts(1).worker(), "worker-b");
  EXPECT_EQ(nap->attempts(1).error(), "");
  absl::StatusOr<v1::GetResultResponse> result = client.Result(*job_id, "next");
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->data(), "6");
}

}  // namespace
}  // namespace dagd::testing
