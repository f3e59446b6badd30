// A dagd stopped with SIGTERM and started again on the same --data_dir
// answers for the jobs of the first one exactly as before.
#include <signal.h>

#include <map>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "google/protobuf/util/message_differencer.h"
#include "storage/write_set.h"
#include "tests/integration/integration_env.h"
#include "tests/testutil/raw_rocksdb.h"

namespace dagd::testing {
namespace {

using ::google::protobuf::util::MessageDifferencer;

// What a client can see of a job.
struct JobView {
  v1::JobStatus status;
  v1::ListTasksResponse tasks;
  std::map<std::string, v1::GetResultResponse> results;  // by task id
};

JobView ViewJob(Client& client, const std::string& job_id) {
  JobView view;
  absl::StatusOr<v1::JobStatus> status = client.Get(job_id);
  EXPECT_TRUE(status.ok()) << status.status();
  if (status.ok()) view.status = *status;
  absl::StatusOr<v1::ListTasksResponse> tasks = client.ListTasks(job_id);
  EXPECT_TRUE(tasks.ok()) << tasks.status();
  if (!tasks.ok()) return view;
  view.tasks = *tasks;
  for (const v1::TaskStatus& task : tasks->tasks()) {
    if (task.state() != v1::TASK_SUCCEEDED) continue;
    absl::StatusOr<v1::GetResultResponse> result =
        client.Result(job_id, task.task_id());
    EXPECT_TRUE(result.ok()) << task.task_id() << ": " << result.status();
    if (result.ok()) view.results[task.task_id()] = *result;
  }
  return view;
}

// Equal protos, with the difference in the failure message.
::testing::AssertionResult SameMessage(const google::protobuf::Message& a,
                                       const google::protobuf::Message& b) {
  MessageDifferencer differencer;
  std::string report;
  differencer.ReportDifferencesToString(&report);
  if (differencer.Compare(a, b)) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << report;
}

TEST(RestartTest, FinishedJobIsTheSameAfterARestart) {
  absl::StatusOr<std::unique_ptr<TempDir>> data = TempDir::Create("dagd-db-");
  ASSERT_TRUE(data.ok()) << data.status();
  const std::string data_dir = (*data)->path() + "/db";

  std::string done_id;
  std::string waiting_id;
  JobView before;
  {
    std::unique_ptr<DagdProcess> first =
        StartDagd({"--local_workers=1", "--local_worker_slots=2"}, data_dir);
    ASSERT_NE(first, nullptr);
    CommandResult submit =
        first->RunDagctl({"submit", ExamplePath("diamond.json"), "--wait"});
    ASSERT_EQ(submit.exit_code, 0) << submit.ToString();
    done_id = FirstLine(submit.out);
    before = ViewJob(first->client(), done_id);
    ASSERT_EQ(before.status.state(), v1::JOB_SUCCEEDED);
    ASSERT_EQ(before.tasks.tasks_size(), 4);
    ASSERT_EQ(before.results.size(), 4u);
    EXPECT_EQ(before.results["d"].data(), "23");  // (10+1) + (10+2)

    // An acknowledged job that cannot run yet must survive too.
    CommandResult waiting = first->RunDagctl(
        {"submit", "-"}, R"({"tasks": [{"id": "w", "fn": "nosuchfn"}]})");
    ASSERT_EQ(waiting.exit_code, 0) << waiting.ToString();
    waiting_id = FirstLine(waiting.out);

    ASSERT_EQ(first->Stop(), absl::OkStatus());
  }

  // No workers now: nothing can run again behind the test's back.
  std::unique_ptr<DagdProcess> second = StartDagd({}, data_dir);
  ASSERT_NE(second, nullptr);
  JobView after = ViewJob(second->client(), done_id);
  EXPECT_TRUE(SameMessage(before.status, after.status));
  EXPECT_TRUE(SameMessage(before.tasks, after.tasks));
  ASSERT_EQ(after.results.size(), before.results.size());
  for (const auto& [task_id, result] : before.results) {
    EXPECT_EQ(after.results[task_id].data(), result.data()) << task_id;
    EXPECT_EQ(after.results[task_id].content_type(), result.content_type())
        << task_id;
  }
  CommandResult result = second->RunDagctl({"result", done_id, "d"});
  EXPECT_EQ(result.exit_code, 0) << result.ToString();
  EXPECT_EQ(result.out, "23");

  absl::StatusOr<v1::TaskStatus> w = second->client().Task(waiting_id, "w");
  ASSERT_TRUE(w.ok()) << w.status();
  EXPECT_EQ(w->state(), v1::TASK_READY);
  absl::StatusOr<v1::ListJobsResponse> jobs = second->client().ListJobs();
  ASSERT_TRUE(jobs.ok()) << jobs.status();
  EXPECT_EQ(jobs->jobs_size(), 2);

  // A new job gets a new id, not one of the first dagd's.
  CommandResult next = second->RunDagctl(
      {"submit", "-"}, R"({"tasks": [{"id": "n", "fn": "nosuchfn"}]})");
  ASSERT_EQ(next.exit_code, 0) << next.ToString();
  EXPECT_NE(FirstLine(next.out), done_id);
  EXPECT_NE(FirstLine(next.out), waiting_id);
  // After a clean stop the numbers go on where they were (after a crash
  // they go on past the block the dagd had reserved).
  EXPECT_EQ(FirstLine(next.out), "j3");

  // SIGINT (Ctrl-C) stops dagd as cleanly as SIGTERM.
  EXPECT_EQ(second->Stop(absl::Seconds(20), SIGINT), absl::OkStatus());
}

// A job submitted with wait is stored in a turn that does not sync: a power
// cut within --sync_interval takes its records, while workers elsewhere go
// on running its tasks. Its number is never handed out again (dagd reserves
// numbers in the store before it gives their jobs' work away), so no later
// job looks like it, by number and seal, to those workers. The cut is
// played by a kill and the job's records taken out of the store.
TEST(RestartTest, AJobNumberWhoseRecordsWereLostIsNotHandedOutAgain) {
  std::unique_ptr<DagdProcess> dagd = StartDagd({});
  ASSERT_NE(dagd, nullptr);
  absl::StatusOr<std::string> kept = SubmitJob(dagd->client(), kAnswerJob);
  absl::StatusOr<std::string> lost = SubmitJob(dagd->client(), kAnswerJob);
  ASSERT_TRUE(kept.ok()) << kept.status();
  ASSERT_TRUE(lost.ok()) << lost.status();
  dagd->Signal(SIGKILL);
  ASSERT_EQ(dagd->WaitForExit(), absl::OkStatus());
  {
    absl::StatusOr<std::unique_ptr<RawRocksDb>> raw =
        RawRocksDb::Open(dagd->data_dir());
    ASSERT_TRUE(raw.ok()) << raw.status();
    const uint64_t seq = SeqFromJobId(*lost).value_or(0);
    const std::string needle = RawRocksDb::SeqKey(seq);
    std::vector<std::pair<std::string, std::string>> keys;
    (*raw)->ForEachKey(
        [&](const std::string& family, const rocksdb::Slice& key) {
          if (key.ToString().find(needle) != std::string::npos) {
            keys.emplace_back(family, key.ToString());
          }
        });
    ASSERT_FALSE(keys.empty());
    for (const auto& [family, key] : keys) {
      ASSERT_EQ((*raw)->Delete(family, key), absl::OkStatus());
    }
  }
  std::unique_ptr<DagdProcess> restarted = StartDagd({}, dagd->data_dir());
  ASSERT_NE(restarted, nullptr);
  EXPECT_TRUE(absl::IsNotFound(restarted->client().Get(*lost).status()));
  absl::StatusOr<std::string> next = SubmitJob(restarted->client(), kAnswerJob);
  ASSERT_TRUE(next.ok()) << next.status();
  EXPECT_NE(*next, *lost);
  EXPECT_NE(*next, *kept);
  EXPECT_EQ(restarted->Stop(), absl::OkStatus());
}

// Local workers end with the dagd that started them and never come back,
// so after a stop by SIGTERM the next start waits out the whole recovery
// grace before it runs the task they had again (README, Guarantees). A
// dagd that took them off the roster as they ended would find the roster
// empty (and whole) and run the task as soon as its new local worker
// registered, well inside the grace.
TEST(RestartTest, LocalWorkersAreWaitedForTheWholeGraceAfterAStop) {
  absl::StatusOr<std::unique_ptr<TempDir>> data = TempDir::Create("dagd-db-");
  ASSERT_TRUE(data.ok()) << data.status();
  const std::string data_dir = (*data)->path() + "/db";
  const absl::Duration grace = absl::Seconds(3);
  // Long enough that the task is still running when the first dagd stops,
  // on a loaded machine too.
  const absl::Duration run = absl::Seconds(5);
  const std::vector<std::string> flags = {
      "--local_workers=1", "--local_worker_slots=1",
      "--recovery_grace=" + absl::FormatDuration(grace)};

  std::string job_id;
  {
    std::unique_ptr<DagdProcess> first = StartDagd(flags, data_dir);
    ASSERT_NE(first, nullptr);
    CommandResult submit = first->RunDagctl(
        {"submit", "-"},
        absl::StrCat(R"({"tasks": [{"id": "t", "fn": "sleep", "args": {"ms": )",
                     absl::ToInt64Milliseconds(run), "}}]}"));
    ASSERT_EQ(submit.exit_code, 0) << submit.ToString();
    job_id = FirstLine(submit.out);
    // Stopped while the local worker runs the task.
    ASSERT_EQ(WaitForTaskState(first->client(), job_id, "t", v1::TASK_RUNNING),
              absl::OkStatus());
    ASSERT_EQ(first->Stop(), absl::OkStatus());
  }

  const absl::Time restarted = absl::Now();
  std::unique_ptr<DagdProcess> second = StartDagd(flags, data_dir);
  ASSERT_NE(second, nullptr);
  absl::StatusOr<v1::TaskStatus> t = second->client().Task(job_id, "t");
  ASSERT_TRUE(t.ok()) << t.status();
  ASSERT_NE(t->state(), v1::TASK_SUCCEEDED)
      << "the task ended before the first dagd stopped; nothing to recover";
  absl::StatusOr<v1::JobStatus> done = second->client().Wait(job_id);
  ASSERT_TRUE(done.ok()) << done.status();
  const absl::Duration took = absl::Now() - restarted;
  EXPECT_EQ(done->state(), v1::JOB_SUCCEEDED) << done->DebugString();
  // The grace counts from the second dagd's first turn, after `restarted`,
  // and the task runs whole after it.
  EXPECT_GE(took, grace + run) << "the task ran again before the grace ended:\n"
                               << second->Log();
  EXPECT_EQ(second->Stop(), absl::OkStatus());
}

}  // namespace
}  // namespace dagd::testing
