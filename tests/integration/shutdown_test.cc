// SIGTERM, end to end: a worker drains (finishes its running task, hands
// back the rest, exits 0), and dagd stops cleanly (refuses submissions,
// closes worker and watch streams, exits 0) and resumes after a restart on
// the same --data_dir with nothing acknowledged lost.
//
// Tasks that must be running when a signal arrives are `exec` tasks held
// by a gate: they wait for a file the test creates, so nothing depends on
// how fast anything runs.
#include <signal.h>

#include <memory>
#include <string>
#include <thread>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "tests/integration/integration_env.h"

namespace dagd::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

constexpr absl::Duration kLong = absl::Seconds(60);

// An exec task that waits for `gate` to exist, then outputs `output` (a
// shell arithmetic expression; $IN is its first input, if any).
std::string GatedTask(const std::string& id, const std::string& gate,
                      const std::string& output,
                      const std::string& inputs = "") {
  const std::string script =
      absl::StrCat("while [ ! -e '", gate, "' ]; do sleep 0.05; done; ",
                   inputs.empty() ? "" : "IN=$(cat \\\"$DAGD_INPUT_0\\\"); ",
                   "echo $((", output, "))");
  return absl::StrCat(
      R"({"id": ")", id, R"(", "fn": "exec",)",
      inputs.empty() ? "" : absl::StrCat(R"( "inputs": [)", inputs, "],"),
      R"( "args": {"argv": ["/bin/sh", "-c", ")", script, R"("]}})");
}

// Polls `process`'s standard error until it contains `text`.
absl::Status WaitForLog(Subprocess& process, const std::string& text,
                        absl::Duration timeout = kLong) {
  return PollUntil([&] { return absl::StrContains(process.Stderr(), text); },
                   timeout, absl::StrCat("the log to say '", text, "'"));
}

absl::StatusOr<std::string> ResultOf(Client& client, const std::string& job,
                                     const std::string& task) {
  absl::StatusOr<v1::GetResultResponse> result = client.Result(job, task);
  if (!result.ok()) return result.status();
  return std::string(absl::StripAsciiWhitespace(result->data()));
}

// A worker told to stop while it runs a task finishes that task, is given
// nothing more (dagd hears of the drain at once), exits 0, and the jobs
// finish right: the rest on another worker.
TEST(WorkerSigtermTest, DrainFinishesTheRunningTaskAndIsGivenNothingMore) {
  absl::StatusOr<std::unique_ptr<TempDir>> dir = TempDir::Create();
  ASSERT_TRUE(dir.ok()) << dir.status();
  const std::string gate = (*dir)->path() + "/gate";
  // No grants ahead: "next" is placed on its own, after "long" ends.
  std::unique_ptr<DagdProcess> dagd = StartDagd({"--grant_depth=0"});
  ASSERT_NE(dagd, nullptr);
  absl::StatusOr<Subprocess*> drainer = dagd->StartWorker(
      {"--name=drainer", "--slots=2", "--allow_exec", "--drain_timeout=300s"});
  ASSERT_TRUE(drainer.ok()) << drainer.status();
  ASSERT_EQ(dagd->WaitForWorkers(1), absl::OkStatus());

  absl::StatusOr<std::string> first = SubmitJob(
      dagd->client(),
      absl::StrCat(R"({"tasks": [)", GatedTask("long", gate, "7"), ",",
                   R"({"id": "next", "fn": "add", "inputs": ["long"],)",
                   R"( "args": {"value": 1}}]})"));
  ASSERT_TRUE(first.ok()) << first.status();
  ASSERT_EQ(
      WaitForTaskState(dagd->client(), *first, "long", v1::TASK_RUNNING, kLong),
      absl::OkStatus());

  (*drainer)->Kill(SIGTERM);
  ASSERT_EQ(WaitForLog(**drainer, "draining: taking no new tasks"),
            absl::OkStatus());
  // The worker tells dagd at once (a heartbeat), which lists it draining
  // and places nothing more there, its free slot notwithstanding: this job
  // waits for another worker rather than sit unstarted on the drainer
  // until its stream closes.
  ASSERT_EQ(PollUntil(
                [&] {
                  auto workers = dagd->client().ListWorkers();
                  return workers.ok() && workers->workers_size() == 1 &&
                         workers->workers(0).draining();
                },
                kLong, "the drainer listed as draining"),
            absl::OkStatus());
  absl::StatusOr<std::string> second = SubmitJob(
      dagd->client(),
      R"({"tasks": [{"id": "quick", "fn": "const", "args": {"value": 5}}]})");
  ASSERT_TRUE(second.ok()) << second.status();
  ASSERT_EQ(
      WaitForTaskState(dagd->client(), *second, "quick", v1::TASK_READY, kLong),
      absl::OkStatus());
  EXPECT_TRUE((*drainer)->Running()) << "it stopped before its task ended";

  absl::StatusOr<Subprocess*> other =
      dagd->StartWorker({"--name=other", "--slots=2", "--allow_exec"});
  ASSERT_TRUE(other.ok()) << other.status();
  ASSERT_EQ(dagd->WaitForWorkers(2), absl::OkStatus());
  ASSERT_EQ(WriteFile(gate, ""), absl::OkStatus());

  absl::StatusOr<ExitStatus> exit = (*drainer)->Wait(kLong);
  ASSERT_TRUE(exit.ok()) << "the draining worker did not exit";
  EXPECT_TRUE(exit->ok()) << exit->ToString() << "\n" << (*drainer)->Stderr();
  EXPECT_THAT((*drainer)->Stderr(), HasSubstr("drained"));

  ASSERT_EQ(WaitForJobState(dagd->client(), *first, v1::JOB_SUCCEEDED, kLong),
            absl::OkStatus());
  ASSERT_EQ(WaitForJobState(dagd->client(), *second, v1::JOB_SUCCEEDED, kLong),
            absl::OkStatus());
  EXPECT_EQ(ResultOf(dagd->client(), *first, "next").value_or("?"), "8");
  EXPECT_EQ(ResultOf(dagd->client(), *second, "quick").value_or("?"), "5");

  // "long" ran once, to the end, on the draining worker.
  absl::StatusOr<v1::TaskStatus> long_task =
      dagd->client().Task(*first, "long");
  ASSERT_TRUE(long_task.ok()) << long_task.status();
  ASSERT_EQ(long_task->attempts_size(), 1);
  EXPECT_EQ(long_task->attempts(0).worker(), "drainer");
  EXPECT_EQ(long_task->attempts(0).error(), "");
  // What came after the signal ran on the other worker.
  absl::StatusOr<v1::TaskStatus> next = dagd->client().Task(*first, "next");
  ASSERT_TRUE(next.ok()) << next.status();
  EXPECT_EQ(next->worker(), "other");
  absl::StatusOr<v1::TaskStatus> quick = dagd->client().Task(*second, "quick");
  ASSERT_TRUE(quick.ok()) << quick.status();
  EXPECT_EQ(quick->worker(), "other");
  ASSERT_EQ(quick->attempts_size(), 1) << "never placed on the drainer";
  EXPECT_EQ(quick->attempts(0).worker(), "other");
  EXPECT_THAT((*drainer)->Stderr(), Not(HasSubstr("not starting")));
  EXPECT_EQ(dagd->Stop(), absl::OkStatus());
}

// dagd told to stop while a job runs: it refuses submissions, closes watch
// and worker streams, syncs and exits 0; the worker reconnects to the
// restarted dagd (same port, same --data_dir) and the job finishes right.
TEST(DagdSigtermTest, StopsCleanlyAndTheJobResumesAfterARestart) {
  absl::StatusOr<std::unique_ptr<TempDir>> dir = TempDir::Create();
  ASSERT_TRUE(dir.ok()) << dir.status();
  const std::string data_dir = (*dir)->path() + "/db";
  const std::string gate = (*dir)->path() + "/gate";
  // A local "worker" that ignores SIGTERM holds dagd in its stop for the
  // 5 s dagd gives local workers, after it stopped accepting: the window
  // in which a submission must be refused.
  const StubbornWorker stubborn = StubbornWorker::Write((*dir)->path());
  const int port = FreePort();
  const std::string listen = absl::StrCat("--listen=127.0.0.1:", port);
  const int metrics_port = FreePort();

  std::unique_ptr<DagdProcess> first =
      StartDagd({listen, "--local_workers=1",
                 absl::StrCat("--worker_binary=", stubborn.binary),
                 absl::StrCat("--metrics_listen=127.0.0.1:", metrics_port)},
                data_dir);
  ASSERT_NE(first, nullptr);
  ASSERT_EQ(first->port(), port);
  // The worker belongs to `first` (kept to the end) but outlives its dagd.
  absl::StatusOr<Subprocess*> worker =
      first->StartWorker({"--name=survivor", "--slots=2", "--allow_exec"});
  ASSERT_TRUE(worker.ok()) << worker.status();
  ASSERT_EQ(first->WaitForWorkers(1), absl::OkStatus());

  Client& client = first->client();
  absl::StatusOr<v1::SubmitJobResponse> done = [&] {
    absl::StatusOr<v1::JobSpec> spec = ParseJobSpecJson(
        R"({"tasks": [{"id": "c", "fn": "const", "args": {"value": 3}}]})");
    EXPECT_TRUE(spec.ok()) << spec.status();
    return client.SubmitAndWait(*spec);
  }();
  ASSERT_TRUE(done.ok()) << done.status();
  ASSERT_EQ(done->final_status().state(), v1::JOB_SUCCEEDED);
  absl::StatusOr<std::string> running = SubmitJob(
      client,
      absl::StrCat(R"({"tasks": [{"id": "a", "fn": "const", "args": )",
                   R"({"value": 41}}, )",
                   GatedTask("inc", gate, "IN + 1", R"("a")"),
                   R"(, {"id": "sum", "fn": "add", "inputs": ["inc"], )",
                   R"("args": {"value": 100}}]})"));
  ASSERT_TRUE(running.ok()) << running.status();
  absl::StatusOr<std::string> waiting =
      SubmitJob(client, R"({"tasks": [{"id": "w", "fn": "nosuchfn"}]})");
  ASSERT_TRUE(waiting.ok()) << waiting.status();
  ASSERT_EQ(WaitForTaskState(client, *running, "inc", v1::TASK_RUNNING, kLong),
            absl::OkStatus());

  // A watcher of the running job, on its own channel, open before the
  // signal (it has had its snapshot).
  absl::StatusOr<v1::JobStatus> watched = absl::UnknownError("not yet");
  absl::Notification watching;
  std::thread watcher([&, address = first->address()] {
    // No reconnecting: this watcher is here to see the stop itself.
    ClientOptions one_try;
    one_try.reconnect_timeout = absl::ZeroDuration();
    std::unique_ptr<Client> own = Client::Connect(address, one_try);
    watched = own->Watch(*running, [&](const v1::JobEvent&) {
      if (!watching.HasBeenNotified()) watching.Notify();
    });
  });
  // No ASSERT until the watcher is joined: the stop below ends its watch.
  EXPECT_TRUE(watching.WaitForNotificationWithTimeout(kLong));

  ASSERT_EQ(stubborn.WaitForTrap(), absl::OkStatus());
  first->Signal(SIGTERM);
  EXPECT_EQ(PollUntil(
                [&] {
                  return absl::StartsWith(HttpGet(metrics_port, "/healthz"),
                                          "HTTP/1.1 503");
                },
                absl::Seconds(4), "/healthz to answer 503"),
            absl::OkStatus());
  {
    // The stop has begun and the server still answers: refused.
    std::unique_ptr<Client> late = Client::Connect(first->address());
    absl::StatusOr<std::string> refused =
        SubmitJob(*late, R"({"tasks": [{"id": "late", "fn": "const"}]})");
    EXPECT_FALSE(refused.ok()) << "accepted as " << refused.value_or("");
    EXPECT_EQ(refused.status().code(), absl::StatusCode::kUnavailable)
        << refused.status();
    EXPECT_THAT(refused.status().message(), HasSubstr("shutting down"));
  }
  // Watchers and workers are told.
  watcher.join();
  EXPECT_EQ(watched.status().code(), absl::StatusCode::kUnavailable)
      << watched.status();
  ASSERT_EQ(WaitForLog(**worker, "lost connection to"), absl::OkStatus());
  ASSERT_EQ(first->Stop(kLong), absl::OkStatus());
  EXPECT_THAT(first->Log(), HasSubstr("stopped"));
  ASSERT_TRUE((*worker)->Running()) << (*worker)->Stderr();

  // The same port and data: the worker finds the new dagd by itself.
  std::unique_ptr<DagdProcess> second = StartDagd({listen}, data_dir);
  ASSERT_NE(second, nullptr);
  ASSERT_EQ(second->WaitForWorkers(1, kLong), absl::OkStatus());
  Client& again = second->client();

  // Nothing acknowledged was lost; nothing refused was stored.
  absl::StatusOr<v1::ListJobsResponse> jobs = again.ListJobs();
  ASSERT_TRUE(jobs.ok()) << jobs.status();
  EXPECT_EQ(jobs->jobs_size(), 3);
  absl::StatusOr<v1::JobStatus> finished = again.Get(done->job_id());
  ASSERT_TRUE(finished.ok()) << finished.status();
  EXPECT_EQ(finished->state(), v1::JOB_SUCCEEDED);
  EXPECT_EQ(ResultOf(again, done->job_id(), "c").value_or("?"), "3");
  absl::StatusOr<v1::TaskStatus> w = again.Task(*waiting, "w");
  ASSERT_TRUE(w.ok()) << w.status();
  EXPECT_EQ(w->state(), v1::TASK_READY);

  ASSERT_EQ(WriteFile(gate, ""), absl::OkStatus());
  ASSERT_EQ(WaitForJobState(again, *running, v1::JOB_SUCCEEDED, kLong),
            absl::OkStatus());
  EXPECT_EQ(ResultOf(again, *running, "inc").value_or("?"), "42");
  EXPECT_EQ(ResultOf(again, *running, "sum").value_or("?"), "142");
  // What had finished before the stop did not run again.
  absl::StatusOr<v1::TaskStatus> a = again.Task(*running, "a");
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(a->attempts_size(), 1);
  EXPECT_EQ(second->Stop(), absl::OkStatus());
}

}  // namespace
}  // namespace dagd::testing
