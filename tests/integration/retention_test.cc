// Removing finished jobs from a real dagd: the DeleteJob RPC, `dagctl
// delete`, and the --retention sweep.
#include <memory>
#include <string>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "tests/integration/integration_env.h"

namespace dagd::testing {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;

constexpr char kTiny[] = R"json({"name": "tiny", "tasks": [
  {"id": "a", "fn": "const", "args": {"value": 1}},
  {"id": "b", "fn": "add", "inputs": ["a"], "args": {"value": 2}}]})json";

// A job that waits for ever: no worker offers its function.
constexpr char kStuck[] = R"json({"name": "stuck", "tasks": [
  {"id": "w", "fn": "no_worker_offers_this"}]})json";

// 7 for "j7"; 0 for what is not a job id.
uint64_t JobNumber(const std::string& job_id) {
  uint64_t n = 0;
  if (job_id.empty() || !absl::SimpleAtoi(job_id.substr(1), &n)) return 0;
  return n;
}

v1::JobSpec Spec(absl::string_view json) {
  absl::StatusOr<v1::JobSpec> spec = ParseJobSpecJson(json);
  EXPECT_TRUE(spec.ok()) << spec.status();
  return spec.ok() ? *std::move(spec) : v1::JobSpec();
}

class DeleteJobTest : public SharedDagdTest<DeleteJobTest> {
 public:
  static std::vector<std::string> Flags() { return {"--local_workers=1"}; }
  static size_t Workers() { return 1; }
};

TEST_F(DeleteJobTest, AFinishedJobIsGoneAndItsRequestIdFree) {
  Client& client = dagd_->client();
  absl::StatusOr<v1::SubmitJobResponse> first =
      client.SubmitAndWait(Spec(kTiny), "nightly-report");
  ASSERT_TRUE(first.ok()) << first.status();
  ASSERT_EQ(first->final_status().state(), v1::JOB_SUCCEEDED);
  const std::string job_id = first->job_id();
  ASSERT_EQ(client.Result(job_id, "b")->data(), "3");

  ASSERT_EQ(client.DeleteJob(job_id), absl::OkStatus());
  EXPECT_EQ(client.Get(job_id).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(client.Result(job_id, "b").status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(client.ListTasks(job_id).status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(client.Task(job_id, "a").status().code(),
            absl::StatusCode::kNotFound);
  absl::StatusOr<v1::ListJobsResponse> jobs = client.ListJobs(1000);
  ASSERT_TRUE(jobs.ok()) << jobs.status();
  for (const v1::JobStatus& job : jobs->jobs()) {
    EXPECT_NE(job.job_id(), job_id);
  }
  const absl::Status again = client.DeleteJob(job_id);
  EXPECT_EQ(again.code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(again.message(), HasSubstr(job_id));

  // The request id now makes a new job, under a new id.
  absl::StatusOr<v1::SubmitJobResponse> second =
      client.SubmitAndWait(Spec(kTiny), "nightly-report");
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_FALSE(second->existing());
  EXPECT_NE(second->job_id(), job_id);
  EXPECT_EQ(second->final_status().state(), v1::JOB_SUCCEEDED);
}

// A result streamed while its job is deleted ends NOT_FOUND saying so,
// not with the DATA_LOSS of a chunk gone missing mid-stream.
TEST_F(DeleteJobTest, AResultReadWhileItsJobIsDeletedEndsNotFound) {
  Client& client = dagd_->client();
  absl::StatusOr<v1::SubmitJobResponse> done = client.SubmitAndWait(Spec(
      R"json({"tasks": [{"id": "big", "fn": "bytes",
                         "args": {"size": 67108864}}]})json"));
  ASSERT_TRUE(done.ok()) << done.status();
  ASSERT_EQ(done->final_status().state(), v1::JOB_SUCCEEDED);
  const std::string job_id = done->job_id();
  // Copied from its worker into dagd's store: read from there, chunk by
  // chunk.
  ASSERT_EQ(PollUntil(
                [&] {
                  absl::StatusOr<v1::TaskStatus> task =
                      client.Task(job_id, "big");
                  return task.ok() && task->result().location() == "stored";
                },
                absl::Seconds(30), "the output to be stored"),
            absl::OkStatus());
  std::unique_ptr<Client> deleter = Client::Connect(dagd_->address());
  int chunks = 0;
  const absl::Status read =
      client.ReadResult(job_id, "big", [&](const v1::ResultChunk&) {
        if (++chunks == 1) return deleter->DeleteJob(job_id);
        return absl::OkStatus();
      });
  EXPECT_EQ(read.code(), absl::StatusCode::kNotFound) << read;
  EXPECT_THAT(read.message(),
              HasSubstr(absl::StrCat("job ", job_id,
                                     " was deleted while its result was "
                                     "read")));
  EXPECT_LT(chunks, 64) << "read whole before the deletion took";
}

TEST_F(DeleteJobTest, AnUnfinishedJobMustBeCancelledFirst) {
  Client& client = dagd_->client();
  absl::StatusOr<std::string> job_id = client.Submit(Spec(kStuck));
  ASSERT_TRUE(job_id.ok()) << job_id.status();

  CommandResult refused = dagd_->RunDagctl({"delete", *job_id});
  EXPECT_EQ(refused.exit_code, 2) << refused.ToString();
  EXPECT_THAT(refused.err,
              AllOf(HasSubstr(absl::StrCat("job '", *job_id, "' is ")),
                    HasSubstr("cancel it first")));
  EXPECT_EQ(client.DeleteJob(*job_id).code(),
            absl::StatusCode::kFailedPrecondition);
  ASSERT_TRUE(client.Get(*job_id).ok());

  ASSERT_TRUE(client.Cancel(*job_id).ok());
  ASSERT_EQ(WaitForJobState(client, *job_id, v1::JOB_CANCELLED),
            absl::OkStatus());
  CommandResult deleted = dagd_->RunDagctl({"delete", *job_id});
  EXPECT_EQ(deleted.exit_code, 0) << deleted.ToString();
  EXPECT_EQ(deleted.out, absl::StrCat("deleted job ", *job_id, "\n"));
  EXPECT_EQ(client.Get(*job_id).status().code(), absl::StatusCode::kNotFound);

  CommandResult unknown = dagd_->RunDagctl({"delete", *job_id});
  EXPECT_EQ(unknown.exit_code, 2) << unknown.ToString();
  EXPECT_THAT(unknown.err, HasSubstr(absl::StrCat("no job '", *job_id, "'")));
}

// --retention=2s: a finished job disappears by itself; an unfinished older
// one stays; the deleted job's id is not handed out again after a restart.
TEST(RetentionTest, FinishedJobsDisappearAfterTheRetention) {
  absl::StatusOr<std::unique_ptr<TempDir>> data = TempDir::Create("dagd-db-");
  ASSERT_TRUE(data.ok()) << data.status();
  const std::string data_dir = (*data)->path() + "/db";
  const int metrics_port = FreePort();
  std::unique_ptr<DagdProcess> dagd =
      StartDagd({"--local_workers=1", "--retention=2s",
                 absl::StrCat("--metrics_listen=127.0.0.1:", metrics_port)},
                data_dir);
  ASSERT_NE(dagd, nullptr);
  ASSERT_EQ(dagd->WaitForWorkers(1), absl::OkStatus());
  Client& client = dagd->client();
  absl::StatusOr<std::string> stuck = client.Submit(Spec(kStuck));
  ASSERT_TRUE(stuck.ok()) << stuck.status();
  absl::StatusOr<v1::SubmitJobResponse> done =
      client.SubmitAndWait(Spec(kTiny), "r1");
  ASSERT_TRUE(done.ok()) << done.status();
  const std::string job_id = done->job_id();

  EXPECT_EQ(PollUntil(
                [&] {
                  return client.Get(job_id).status().code() ==
                         absl::StatusCode::kNotFound;
                },
                absl::Seconds(120), "the finished job to be deleted",
                absl::Milliseconds(100)),
            absl::OkStatus());
  EXPECT_EQ(client.Result(job_id, "b").status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_TRUE(client.Get(*stuck).ok());
  EXPECT_EQ(PollUntil(
                [&] {
                  return HttpGet(metrics_port, "/metrics")
                             .find("dagd_jobs_deleted_total 1") !=
                         std::string::npos;
                },
                absl::Seconds(20), "dagd_jobs_deleted_total 1"),
            absl::OkStatus());
  EXPECT_THAT(dagd->Log(), HasSubstr("(--retention)"));
  ASSERT_EQ(dagd->Stop(), absl::OkStatus());
  std::unique_ptr<DagdProcess> restarted =
      StartDagd({"--retention=2s"}, data_dir);
  ASSERT_NE(restarted, nullptr);
  absl::StatusOr<std::string> next = restarted->client().Submit(Spec(kStuck));
  ASSERT_TRUE(next.ok()) << next.status();
  EXPECT_GT(JobNumber(*next), JobNumber(job_id));
  EXPECT_TRUE(restarted->client().Get(*stuck).ok());
  EXPECT_EQ(restarted->Stop(), absl::OkStatus());
}

}  // namespace
}  // namespace dagd::testing
