// Controlling jobs on a real dagd: cancelling, idempotent submission, and a
// task no worker can run.
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "tests/integration/integration_env.h"

namespace dagd::testing {
namespace {

using ::testing::HasSubstr;

class JobControlTest : public SharedDagdTest<JobControlTest> {
 public:
  static std::vector<std::string> Flags() {
    return {"--local_workers=1", "--local_worker_slots=2"};
  }
  static size_t Workers() { return 1; }
};

TEST_F(JobControlTest, CancelStopsARunningJobOnceOnly) {
  const std::string job = R"json({
    "name": "long",
    "tasks": [
      {"id": "nap", "fn": "sleep", "args": {"ms": 600000}},
      {"id": "next", "fn": "add", "inputs": ["nap"]}
    ]
  })json";
  CommandResult submit = dagd_->RunDagctl({"submit", "-"}, job);
  ASSERT_EQ(submit.exit_code, 0) << submit.ToString();
  const std::string job_id = FirstLine(submit.out);
  Client& client = dagd_->client();
  ASSERT_EQ(WaitForTaskState(client, job_id, "nap", v1::TASK_RUNNING),
            absl::OkStatus());

  CommandResult cancel = dagd_->RunDagctl({"cancel", job_id});
  ASSERT_EQ(cancel.exit_code, 0) << cancel.ToString();
  EXPECT_THAT(cancel.out, HasSubstr(absl::StrCat("cancelled job ", job_id)));

  ASSERT_EQ(WaitForJobState(client, job_id, v1::JOB_CANCELLED),
            absl::OkStatus());
  CommandResult status = dagd_->RunDagctl({"status", job_id});
  EXPECT_EQ(status.exit_code, 1) << status.ToString();
  EXPECT_THAT(status.out, HasSubstr("CANCELLED"));
  absl::StatusOr<v1::ListTasksResponse> tasks = client.ListTasks(job_id);
  ASSERT_TRUE(tasks.ok()) << tasks.status();
  const std::map<std::string, v1::TaskState> expected = {
      {"nap", v1::TASK_CANCELLED}, {"next", v1::TASK_CANCELLED}};
  EXPECT_EQ(TaskStates(*tasks), expected);

  // The sleep was stopped on the worker: its slots are free again.
  EXPECT_EQ(PollUntil(
                [&] {
                  auto workers = client.ListWorkers();
                  return workers.ok() && workers->workers_size() == 1 &&
                         workers->workers(0).busy_slots() == 0;
                },
                absl::Seconds(20), "the worker's slots to be free"),
            absl::OkStatus());

  absl::StatusOr<v1::JobStatus> job_before = client.Get(job_id);
  ASSERT_TRUE(job_before.ok()) << job_before.status();
  absl::StatusOr<v1::ListTasksResponse> before = client.ListTasks(job_id);
  ASSERT_TRUE(before.ok()) << before.status();

  CommandResult again = dagd_->RunDagctl({"cancel", job_id});
  EXPECT_EQ(again.exit_code, 0) << again.ToString();
  EXPECT_THAT(again.out, HasSubstr("had already finished (CANCELLED)"));
  absl::StatusOr<v1::CancelJobResponse> response = client.Cancel(job_id);
  ASSERT_TRUE(response.ok()) << response.status();
  EXPECT_FALSE(response->cancelled());
  EXPECT_EQ(response->state(), v1::JOB_CANCELLED);

  absl::StatusOr<v1::JobStatus> job_after = client.Get(job_id);
  ASSERT_TRUE(job_after.ok()) << job_after.status();
  EXPECT_EQ(job_after->DebugString(), job_before->DebugString());
  absl::StatusOr<v1::ListTasksResponse> after = client.ListTasks(job_id);
  ASSERT_TRUE(after.ok()) << after.status();
  EXPECT_EQ(after->DebugString(), before->DebugString());
}

TEST_F(JobControlTest, SameRequestIdReturnsTheSameJob) {
  const std::string job = R"json({
    "name": "once",
    "tasks": [{"id": "a", "fn": "const", "args": {"value": 7}}]
  })json";
  CommandResult first =
      dagd_->RunDagctl({"submit", "-", "--request_id=req-42"}, job);
  ASSERT_EQ(first.exit_code, 0) << first.ToString();
  CommandResult second =
      dagd_->RunDagctl({"submit", "-", "--request_id=req-42"}, job);
  ASSERT_EQ(second.exit_code, 0) << second.ToString();
  const std::string job_id = FirstLine(first.out);
  EXPECT_FALSE(job_id.empty());
  EXPECT_EQ(FirstLine(second.out), job_id);
  EXPECT_THAT(second.err, HasSubstr("already submitted"));

  absl::StatusOr<v1::ListJobsResponse> jobs = dagd_->client().ListJobs();
  ASSERT_TRUE(jobs.ok()) << jobs.status();
  int with_request_id = 0;
  for (const v1::JobStatus& status : jobs->jobs()) {
    if (status.request_id() == "req-42") ++with_request_id;
  }
  EXPECT_EQ(with_request_id, 1);

  // A different request id is a different job.
  CommandResult third =
      dagd_->RunDagctl({"submit", "-", "--request_id=req-43"}, job);
  ASSERT_EQ(third.exit_code, 0) << third.ToString();
  EXPECT_NE(FirstLine(third.out), job_id);
}

TEST_F(JobControlTest, StatusSaysNoWorkerOffersTheFunction) {
  const std::string job = R"json({
    "name": "orphan",
    "tasks": [
      {"id": "a", "fn": "const", "args": {"value": 1}},
      {"id": "lost", "fn": "nosuchfn", "inputs": ["a"]}
    ]
  })json";
  CommandResult submit = dagd_->RunDagctl({"submit", "-"}, job);
  ASSERT_EQ(submit.exit_code, 0) << submit.ToString();
  const std::string job_id = FirstLine(submit.out);
  Client& client = dagd_->client();
  ASSERT_EQ(WaitForTaskState(client, job_id, "lost", v1::TASK_READY),
            absl::OkStatus());

  CommandResult status = dagd_->RunDagctl({"status", job_id});
  EXPECT_EQ(status.exit_code, 0) << status.ToString();
  EXPECT_THAT(status.out, HasSubstr("no worker offers 'nosuchfn'"));
  EXPECT_THAT(status.out, HasSubstr("lost"));

  absl::StatusOr<v1::TaskStatus> task = client.Task(job_id, "lost");
  ASSERT_TRUE(task.ok()) << task.status();
  EXPECT_EQ(task->waiting_reason(), "no worker offers 'nosuchfn'");

  absl::StatusOr<v1::CancelJobResponse> cancel = client.Cancel(job_id);
  ASSERT_TRUE(cancel.ok()) << cancel.status();
  EXPECT_TRUE(cancel->cancelled());
}

TEST_F(JobControlTest, ListJobsPagesNewestFirst) {
  std::vector<std::string> ids;
  for (int i = 0; i < 3; ++i) {
    CommandResult submit = dagd_->RunDagctl(
        {"submit", "-"}, R"({"tasks": [{"id": "a", "fn": "const"}]})");
    ASSERT_EQ(submit.exit_code, 0) << submit.ToString();
    ids.push_back(FirstLine(submit.out));
  }
  absl::StatusOr<v1::ListJobsResponse> first = dagd_->client().ListJobs(2);
  ASSERT_TRUE(first.ok()) << first.status();
  ASSERT_EQ(first->jobs_size(), 2);
  EXPECT_EQ(first->jobs(0).job_id(), ids[2]);
  EXPECT_EQ(first->jobs(1).job_id(), ids[1]);
  ASSERT_FALSE(first->next_page_token().empty());
  absl::StatusOr<v1::ListJobsResponse> second =
      dagd_->client().ListJobs(2, first->next_page_token());
  ASSERT_TRUE(second.ok()) << second.status();
  ASSERT_GE(second->jobs_size(), 1);
  EXPECT_EQ(second->jobs(0).job_id(), ids[0]);
}

}  // namespace
}  // namespace dagd::testing
