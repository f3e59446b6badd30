// The data plane on real processes: a large output stays on the worker
// that made it and moves to its consumer's worker without passing through
// dagd; a result lost with its worker (kill -9) is made again.
#include <algorithm>
#include <csignal>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/integration/integration_env.h"

namespace dagd::testing {
namespace {

using ::testing::HasSubstr;

// Until task `task`'s output is recorded as copied into dagd's store.
absl::Status WaitUntilStored(Client& client, const std::string& job_id,
                             const std::string& task) {
  return PollUntil(
      [&] {
        absl::StatusOr<v1::TaskStatus> status = client.Task(job_id, task);
        return status.ok() && status->result().location() == "stored";
      },
      absl::Seconds(30), "the output to be stored");
}

class DataPlaneTest : public ::testing::Test {
 protected:
  void SetUp() override {
    metrics_port_ = FreePort();
    absl::StatusOr<std::unique_ptr<TempDir>> dir = TempDir::Create();
    ASSERT_TRUE(dir.ok()) << dir.status();
    log_dir_ = std::move(*dir);
    dagd_ =
        StartDagd({absl::StrCat("--metrics_listen=127.0.0.1:", metrics_port_),
                   "--recovery_grace=0s", "--heartbeat_interval=1s"});
    ASSERT_NE(dagd_, nullptr);
  }
  void TearDown() override {
    if (dagd_ != nullptr) dagd_->Stop().IgnoreError();
  }

  // A worker of pool `pool` serving its results on a port of its own.
  Subprocess* StartPoolWorker(const std::string& pool) {
    absl::StatusOr<Subprocess*> worker = dagd_->StartWorker(
        {"--pool=" + pool, "--slots=2", "--allow_exec",
         "--data_listen=127.0.0.1:0", "--object_memory=64M"});
    EXPECT_TRUE(worker.ok()) << worker.status();
    return worker.ok() ? *worker : nullptr;
  }

  // dagd_result_bytes_received_total, from dagd's /metrics.
  double ResultBytesReceived() {
    const std::string page = HttpGet(metrics_port_, "/metrics");
    const std::string name = "\ndagd_result_bytes_received_total ";
    const size_t at = page.find(name);
    double value = -1;
    if (at == std::string::npos) return value;
    const size_t end = page.find('\n', at + 1);
    EXPECT_TRUE(absl::SimpleAtod(
        page.substr(at + name.size(), end - at - name.size()), &value));
    return value;
  }

  int metrics_port_ = 0;
  std::unique_ptr<TempDir> log_dir_;  // where exec tasks log their runs
  std::unique_ptr<DagdProcess> dagd_;
};

TEST_F(DataPlaneTest, ALargeOutputMovesWorkerToWorkerNotThroughDagd) {
  ASSERT_NE(StartPoolWorker("a"), nullptr);
  ASSERT_NE(StartPoolWorker("b"), nullptr);
  ASSERT_EQ(dagd_->WaitForWorkers(2), absl::OkStatus());
  // 300 MB made on pool a, consumed on pool b: its size and checksum come
  // back small, the bytes never through dagd.
  const std::string job = R"json({"tasks": [
    {"id": "big", "fn": "exec", "executor": "pool:a", "args": {"argv": [
      "/bin/sh", "-c",
      "head -c 300000000 /dev/urandom > \"$DAGD_OUTPUT\""]}},
    {"id": "sum", "fn": "exec", "executor": "pool:b", "inputs": ["big"],
     "args": {"argv": ["/bin/sh", "-c",
      "wc -c < \"$DAGD_INPUT_0\" | tr -d ' \\n'; printf ' '; cksum < \"$DAGD_INPUT_0\" | cut -d' ' -f1"]}},
    {"id": "out", "fn": "exec", "executor": "pool:b", "args": {"argv": [
      "/bin/sh", "-c", "head -c 1000000 /dev/zero | tr '\\0' y"]}},
    {"id": "check", "fn": "exec", "executor": "pool:a", "inputs": ["big"],
     "args": {"argv": ["/bin/sh", "-c",
      "cksum < \"$DAGD_INPUT_0\" | cut -d' ' -f1"]}}
  ]})json";
  CommandResult submit =
      dagd_->RunDagctl({"submit", "-", "--wait"}, job, absl::Minutes(3));
  ASSERT_EQ(submit.exit_code, 0) << submit.ToString();
  const std::string job_id = FirstLine(submit.out);
  CommandResult sum = dagd_->RunDagctl({"result", job_id, "sum"});
  ASSERT_EQ(sum.exit_code, 0) << sum.ToString();
  CommandResult check = dagd_->RunDagctl({"result", job_id, "check"});
  ASSERT_EQ(check.exit_code, 0) << check.ToString();
  // The consumer on the other worker read exactly what was made.
  EXPECT_EQ(sum.out, "300000000 " + check.out);
  const double received = ResultBytesReceived();
  EXPECT_GE(received, 0);
  EXPECT_LT(received, 1 << 20);
  // An output is copied from its worker into dagd's store, and read from
  // there (or from its worker until then).
  EXPECT_EQ(WaitUntilStored(dagd_->client(), job_id, "out"), absl::OkStatus());
  CommandResult out = dagd_->RunDagctl({"result", job_id, "out"});
  ASSERT_EQ(out.exit_code, 0) << out.ToString();
  EXPECT_EQ(out.out, std::string(1000000, 'y'));
  CommandResult tasks = dagd_->RunDagctl({"tasks", job_id});
  EXPECT_THAT(tasks.out, HasSubstr("placed on"));
  // The intermediate was freed once consumed and the output once copied
  // into dagd's store: the workers hold nothing (their heartbeats say).
  uint64_t held = 0;
  EXPECT_EQ(PollUntil(
                [&] {
                  absl::StatusOr<v1::ListWorkersResponse> workers =
                      dagd_->client().ListWorkers();
                  if (!workers.ok()) return false;
                  held = 0;
                  for (const v1::WorkerInfo& w : workers->workers()) {
                    held += w.held_bytes() + w.spilled_bytes();
                  }
                  return held == 0;
                },
                absl::Seconds(30), "the workers to hold nothing"),
            absl::OkStatus())
      << held << " bytes still held";
  // Each of the four tasks finished once: the output's status, stored
  // again when it was copied, is not a second finish.
  EXPECT_THAT(HttpGet(metrics_port_, "/metrics"),
              HasSubstr("dagd_tasks_finished_total{state=\"succeeded\"} 4\n"));
}

TEST_F(DataPlaneTest, AResultLostWithItsWorkerIsMadeAgain) {
  Subprocess* holder = StartPoolWorker("a");
  ASSERT_NE(holder, nullptr);
  ASSERT_EQ(dagd_->WaitForWorkers(1), absl::OkStatus());
  // The producer appends to a log on every run; the consumer's pool has
  // no worker until the producer's worker is killed.
  const std::string log = log_dir_->path() + "/runs";
  const std::string job = absl::StrCat(
      R"json({"tasks": [
    {"id": "p", "fn": "exec", "args": {"argv": ["/bin/sh", "-c",
      "echo run >> )json",
      log,
      R"json(; head -c 200000 /dev/zero | tr '\\0' x > \"$DAGD_OUTPUT\""]}},
    {"id": "q", "fn": "exec", "executor": "pool:b", "inputs": ["p"],
     "args": {"argv": ["/bin/sh", "-c", "wc -c < \"$DAGD_INPUT_0\" | tr -d ' \\n'"]}}
  ]})json");
  CommandResult submit = dagd_->RunDagctl({"submit", "-"}, job);
  ASSERT_EQ(submit.exit_code, 0) << submit.ToString();
  const std::string job_id = FirstLine(submit.out);
  ASSERT_EQ(WaitForTaskState(dagd_->client(), job_id, "p", v1::TASK_SUCCEEDED),
            absl::OkStatus());
  holder->Kill(SIGKILL);  // p's result is gone with it
  ASSERT_NE(StartPoolWorker("b"), nullptr);
  CommandResult wait =
      dagd_->RunDagctl({"watch", job_id}, "", absl::Minutes(2));
  EXPECT_EQ(wait.exit_code, 0) << wait.ToString();
  CommandResult q = dagd_->RunDagctl({"result", job_id, "q"});
  ASSERT_EQ(q.exit_code, 0) << q.ToString();
  EXPECT_EQ(q.out, "200000");
  EXPECT_EQ(ReadFileOrEmpty(log), "run\nrun\n") << "the producer ran twice";
}

// A job's output outlives its worker: copied into dagd's store, also when
// dagd restarted before it could copy it (the worker's registration with
// the output it holds brings the copy about), and kept across restarts.
TEST(DataPlaneOutputTest, AnOutputOutlivesItsWorkerAndRestartsOfDagd) {
  absl::StatusOr<std::unique_ptr<TempDir>> dir = TempDir::Create();
  ASSERT_TRUE(dir.ok()) << dir.status();
  const std::string data_dir = (*dir)->path() + "/db";
  const std::string listen = absl::StrCat("--listen=127.0.0.1:", FreePort());
  // The first dagd copies nothing.
  std::unique_ptr<DagdProcess> first = StartDagd(
      {listen, "--recovery_grace=0s", "--max_stored_result_bytes=0"}, data_dir);
  ASSERT_NE(first, nullptr);
  // Belongs to `first` (kept to the end) but outlives its dagd.
  absl::StatusOr<Subprocess*> worker = first->StartWorker(
      {"--slots=1", "--allow_exec", "--data_listen=127.0.0.1:0"});
  ASSERT_TRUE(worker.ok()) << worker.status();
  ASSERT_EQ(first->WaitForWorkers(1), absl::OkStatus());
  CommandResult submit = first->RunDagctl(
      {"submit", "-", "--wait"},
      R"json({"tasks": [{"id": "out", "fn": "exec", "args": {"argv": [
        "/bin/sh", "-c", "head -c 3000000 /dev/zero | tr '\\0' z"]}}]})json");
  ASSERT_EQ(submit.exit_code, 0) << submit.ToString();
  const std::string job_id = FirstLine(submit.out);
  absl::StatusOr<v1::TaskStatus> task = first->client().Task(job_id, "out");
  ASSERT_TRUE(task.ok()) << task.status();
  EXPECT_THAT(task->result().location(), HasSubstr("held by worker"));
  first->Signal(SIGKILL);
  ASSERT_EQ(first->WaitForExit(), absl::OkStatus());

  std::unique_ptr<DagdProcess> second =
      StartDagd({listen, "--recovery_grace=0s"}, data_dir);
  ASSERT_NE(second, nullptr);
  EXPECT_EQ(WaitUntilStored(second->client(), job_id, "out"), absl::OkStatus());
  (*worker)->Kill(SIGKILL);
  CommandResult out = second->RunDagctl({"result", job_id, "out"});
  ASSERT_EQ(out.exit_code, 0) << out.ToString();
  EXPECT_TRUE(out.out == std::string(3000000, 'z'))
      << out.out.size() << " bytes";
  second->Signal(SIGKILL);
  second.reset();

  std::unique_ptr<DagdProcess> third = StartDagd({}, data_dir);
  ASSERT_NE(third, nullptr);
  out = third->RunDagctl({"result", job_id, "out"});
  ASSERT_EQ(out.exit_code, 0) << out.ToString();
  EXPECT_TRUE(out.out == std::string(3000000, 'z'))
      << out.out.size() << " bytes";
  // Deleting the job deletes the stored copy with it.
  CommandResult deleted = third->RunDagctl({"delete", job_id});
  EXPECT_EQ(deleted.exit_code, 0) << deleted.ToString();
  out = third->RunDagctl({"result", job_id, "out"});
  EXPECT_NE(out.exit_code, 0) << out.ToString();
}

// What used to abort dagd (and again on every restart): one large output
// with a wide fan-out of consumers built a message to a worker of every
// consumer's copy of it. Now consumers get references, each message to a
// worker stays under 4 MiB, and everything stays up.
TEST(DataPlaneFanOutTest, ALargeOutputWithEightyConsumersEndsRight) {
  absl::StatusOr<std::unique_ptr<TempDir>> dir = TempDir::Create();
  ASSERT_TRUE(dir.ok()) << dir.status();
  const std::string data_dir = (*dir)->path() + "/db";
  std::unique_ptr<DagdProcess> dagd =
      StartDagd({"--recovery_grace=0s"}, data_dir);
  ASSERT_NE(dagd, nullptr);
  for (int i = 0; i < 2; ++i) {
    ASSERT_TRUE(dagd->StartWorker({"--slots=4", "--allow_exec",
                                   "--data_listen=127.0.0.1:0"})
                    .ok());
  }
  ASSERT_EQ(dagd->WaitForWorkers(2), absl::OkStatus());
  std::string job = R"json({"tasks": [
    {"id": "big", "fn": "exec", "args": {"argv": ["/bin/sh", "-c",
      "head -c 30000000 /dev/zero > \"$DAGD_OUTPUT\""]}})json";
  constexpr int kConsumers = 80;
  for (int i = 0; i < kConsumers; ++i) {
    absl::StrAppend(
        &job, R"json(, {"id": "c)json", i,
        R"json(", "fn": "exec", "inputs": ["big"], "args": {"argv": [
      "/bin/sh", "-c", "wc -c < \"$DAGD_INPUT_0\" | tr -d ' \n'"]}})json");
  }
  absl::StrAppend(&job, "]}");
  CommandResult submit =
      dagd->RunDagctl({"submit", "-", "--wait"}, job, absl::Minutes(3));
  ASSERT_EQ(submit.exit_code, 0) << submit.ToString();
  const std::string job_id = FirstLine(submit.out);
  for (int i = 0; i < kConsumers; i += 13) {
    CommandResult c = dagd->RunDagctl({"result", job_id, absl::StrCat("c", i)});
    ASSERT_EQ(c.exit_code, 0) << c.ToString();
    EXPECT_EQ(c.out, "30000000") << "c" << i;
  }
  // Both workers are still registered, and dagd still serves.
  CommandResult workers = dagd->RunDagctl({"workers"});
  ASSERT_EQ(workers.exit_code, 0) << workers.ToString();
  EXPECT_EQ(std::count(workers.out.begin(), workers.out.end(), '\n'), 3)
      << workers.out;  // a header and two workers
  // A restart on the same data directory is clean and serves the job.
  ASSERT_EQ(dagd->Stop(), absl::OkStatus());
  dagd.reset();
  std::unique_ptr<DagdProcess> again = StartDagd({}, data_dir);
  ASSERT_NE(again, nullptr);
  CommandResult status = again->RunDagctl({"status", job_id});
  ASSERT_EQ(status.exit_code, 0) << status.ToString();
  EXPECT_THAT(status.out, HasSubstr("SUCCEEDED"));
  CommandResult last =
      again->RunDagctl({"result", job_id, absl::StrCat("c", kConsumers - 1)});
  EXPECT_EQ(last.out, "30000000") << last.ToString();
  EXPECT_EQ(again->Stop(), absl::OkStatus());
}

// A worker told to stop (SIGTERM) drains: dagd ends its stream only once
// the outputs it holds are copied into dagd's store, so they outlive it.
// Before, the stream ended at once and the worker exited, its data port
// with it, while the copies queued behind the first were still to start:
// those outputs were gone.
TEST_F(DataPlaneTest, ADrainedWorkersOutputsAreCopiedBeforeItLeaves) {
  absl::StatusOr<Subprocess*> drainer =
      dagd_->StartWorker({"--slots=8", "--allow_exec",
                          "--data_listen=127.0.0.1:0", "--object_memory=64M"});
  ASSERT_TRUE(drainer.ok()) << drainer.status();
  ASSERT_EQ(dagd_->WaitForWorkers(1), absl::OkStatus());
  const std::string gate = log_dir_->path() + "/gate";
  // Eight outputs of 20 MB, made once the gate exists: their results reach
  // dagd right before the drained worker closes its side of the stream.
  constexpr int kTasks = 8;
  std::string tasks;
  for (int i = 0; i < kTasks; ++i) {
    absl::StrAppend(
        &tasks, i == 0 ? "" : ",", R"json({"id": "big)json", i,
        R"json(", "fn": "exec", "args": {"argv": ["/bin/sh", "-c",
        "while [ ! -e ')json",
        gate,
        R"json(' ]; do sleep 0.05; done; head -c 20000000 /dev/zero | tr '\\0' z > \"$DAGD_OUTPUT\""]}})json");
  }
  absl::StatusOr<std::string> job_id =
      SubmitJob(dagd_->client(), absl::StrCat(R"({"tasks": [)", tasks, "]}"));
  ASSERT_TRUE(job_id.ok()) << job_id.status();
  for (int i = 0; i < kTasks; ++i) {
    ASSERT_EQ(WaitForTaskState(dagd_->client(), *job_id, absl::StrCat("big", i),
                               v1::TASK_RUNNING),
              absl::OkStatus());
  }
  (*drainer)->Kill(SIGTERM);
  ASSERT_EQ(PollUntil(
                [&] {
                  return absl::StrContains((*drainer)->Stderr(),
                                           "draining: taking no new tasks");
                },
                absl::Seconds(30), "the worker to drain"),
            absl::OkStatus());
  ASSERT_EQ(WriteFile(gate, ""), absl::OkStatus());
  absl::StatusOr<ExitStatus> exit = (*drainer)->Wait(absl::Seconds(60));
  ASSERT_TRUE(exit.ok()) << "the draining worker did not exit";
  EXPECT_TRUE(exit->ok()) << exit->ToString() << "\n" << (*drainer)->Stderr();
  EXPECT_THAT((*drainer)->Stderr(), HasSubstr("drained"));
  // It is gone; its outputs are not.
  for (int i = 0; i < kTasks; ++i) {
    const std::string id = absl::StrCat("big", i);
    absl::StatusOr<v1::TaskStatus> big = dagd_->client().Task(*job_id, id);
    ASSERT_TRUE(big.ok()) << big.status();
    EXPECT_EQ(big->state(), v1::TASK_SUCCEEDED) << id;
    EXPECT_EQ(big->result().location(), "stored") << id << "\n" << dagd_->Log();
  }
  CommandResult out = dagd_->RunDagctl({"result", *job_id, "big7"});
  ASSERT_EQ(out.exit_code, 0) << out.ToString();
  EXPECT_EQ(out.out.size(), 20000000u);
  EXPECT_EQ(out.out.find_first_not_of('z'), std::string::npos);
}

}  // namespace
}  // namespace dagd::testing
