// SubmitJob with `wait`: one call that answers with the job's final status,
// for success, failure and a resubmission with the same request_id, and an
// answer that survives dagd being killed right after it.
#include <signal.h>

#include <memory>
#include <string>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "tests/integration/integration_env.h"

namespace dagd::testing {
namespace {

class SubmitWaitTest : public SharedDagdTest<SubmitWaitTest> {
 public:
  static std::vector<std::string> Flags() {
    return {"--local_workers=1", "--local_worker_slots=2"};
  }
  static size_t Workers() { return 1; }
};

absl::StatusOr<v1::JobSpec> Spec(absl::string_view json) {
  return ParseJobSpecJson(json);
}

TEST_F(SubmitWaitTest, AnswersWithTheFinalStatusOfASucceededJob) {
  absl::StatusOr<v1::JobSpec> spec = Spec(R"({"tasks": [
      {"id": "a", "fn": "const", "args": {"value": 2}},
      {"id": "b", "fn": "sleep", "args": {"ms": 200}, "inputs": ["a"]}]})");
  ASSERT_TRUE(spec.ok()) << spec.status();
  Client& client = dagd_->client();
  absl::StatusOr<v1::SubmitJobResponse> done = client.SubmitAndWait(*spec);
  ASSERT_TRUE(done.ok()) << done.status();
  EXPECT_FALSE(done->job_id().empty());
  EXPECT_EQ(done->final_status().job_id(), done->job_id());
  EXPECT_EQ(done->final_status().state(), v1::JOB_SUCCEEDED);
  EXPECT_TRUE(done->final_status().has_finished_at());
  absl::StatusOr<v1::GetResultResponse> b = client.Result(done->job_id(), "b");
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_EQ(b->data(), "2");
}

TEST_F(SubmitWaitTest, AnswersWithTheFinalStatusOfAFailedJob) {
  absl::StatusOr<v1::JobSpec> spec =
      Spec(R"({"tasks": [{"id": "bad", "fn": "fail"}]})");
  ASSERT_TRUE(spec.ok()) << spec.status();
  absl::StatusOr<v1::SubmitJobResponse> done =
      dagd_->client().SubmitAndWait(*spec);
  ASSERT_TRUE(done.ok()) << done.status();
  EXPECT_EQ(done->final_status().state(), v1::JOB_FAILED);
  ASSERT_EQ(done->final_status().failures_size(), 1);
  EXPECT_EQ(done->final_status().failures(0).task_id(), "bad");
}

TEST_F(SubmitWaitTest, ResubmissionWaitsForTheOriginalJob) {
  absl::StatusOr<v1::JobSpec> spec =
      Spec(R"({"tasks": [{"id": "nap", "fn": "sleep", "args": {"ms": 300}}]})");
  ASSERT_TRUE(spec.ok()) << spec.status();
  Client& client = dagd_->client();
  absl::StatusOr<std::string> first = client.Submit(*spec, "wait-req-1");
  ASSERT_TRUE(first.ok()) << first.status();
  absl::StatusOr<v1::SubmitJobResponse> again =
      client.SubmitAndWait(*spec, "wait-req-1");
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_TRUE(again->existing());
  EXPECT_EQ(again->job_id(), *first);
  EXPECT_EQ(again->final_status().state(), v1::JOB_SUCCEEDED);
}

TEST(SubmitWaitDurabilityTest, AnsweredJobSurvivesAKillRightAfter) {
  absl::StatusOr<std::unique_ptr<TempDir>> data = TempDir::Create("dagd-db-");
  ASSERT_TRUE(data.ok()) << data.status();
  const std::string data_dir = (*data)->path() + "/db";
  absl::StatusOr<v1::JobSpec> spec =
      Spec(R"({"tasks": [{"id": "a", "fn": "const", "args": {"value": 5}}]})");
  ASSERT_TRUE(spec.ok()) << spec.status();
  std::string job_id;
  {
    std::unique_ptr<DagdProcess> dagd =
        StartDagd({"--local_workers=1"}, data_dir);
    ASSERT_NE(dagd, nullptr);
    ASSERT_EQ(dagd->WaitForWorkers(1), absl::OkStatus());
    absl::StatusOr<v1::SubmitJobResponse> done =
        dagd->client().SubmitAndWait(*spec);
    ASSERT_TRUE(done.ok()) << done.status();
    ASSERT_EQ(done->final_status().state(), v1::JOB_SUCCEEDED);
    job_id = done->job_id();
    dagd->Signal(SIGKILL);
  }
  std::unique_ptr<DagdProcess> again = StartDagd({}, data_dir);
  ASSERT_NE(again, nullptr);
  absl::StatusOr<v1::JobStatus> status = again->client().Get(job_id);
  ASSERT_TRUE(status.ok()) << status.status();
  EXPECT_EQ(status->state(), v1::JOB_SUCCEEDED);
  absl::StatusOr<v1::GetResultResponse> a = again->client().Result(job_id, "a");
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(a->data(), "5");
}

// The value of the counter `name` on dagd's /metrics at `port`, or -1.
double CounterValue(int port, const std::string& name) {
  const std::string page = HttpGet(port, "/metrics");
  for (absl::string_view line : absl::StrSplit(page, '\n')) {
    if (!absl::ConsumePrefix(&line, name + " ")) continue;
    double value = 0;
    if (absl::SimpleAtod(line, &value)) return value;
  }
  return -1;
}

TEST(SubmitWaitSyncTest, WaitingSubmissionCostsOneFsyncInsteadOfTwo) {
  const int metrics_port = FreePort();
  // No periodic syncs: every fsync counted is one an answer waited for.
  std::unique_ptr<DagdProcess> dagd =
      StartDagd({"--local_workers=1", "--sync_interval=1h",
                 absl::StrCat("--metrics_listen=127.0.0.1:", metrics_port)});
  ASSERT_NE(dagd, nullptr);
  ASSERT_EQ(dagd->WaitForWorkers(1), absl::OkStatus());
  absl::StatusOr<v1::JobSpec> spec =
      Spec(R"({"tasks": [{"id": "a", "fn": "const", "args": {"value": 1}}]})");
  ASSERT_TRUE(spec.ok()) << spec.status();
  Client& client = dagd->client();
  const std::string syncs = "dagd_store_syncs_total";
  auto reaches = [&](double expected) {
    // The counter moves at the end of the turn that answered: poll for it,
    // and a count past `expected` never matches.
    return PollUntil(
        [&] { return CounterValue(metrics_port, syncs) == expected; },
        absl::Seconds(5),
        absl::StrCat(syncs, " to be ", expected, " (it is ",
                     CounterValue(metrics_port, syncs), ")"));
  };
  // The run's first job also reserves job numbers (an fsync every 64
  // jobs): out of the count.
  absl::StatusOr<v1::SubmitJobResponse> first = client.SubmitAndWait(*spec);
  ASSERT_TRUE(first.ok()) << first.status();
  // Answered by a later turn of the scheduler's: the turns that answered
  // the job have counted their fsyncs by then.
  ASSERT_TRUE(client.ListWorkers().ok());
  const double before = CounterValue(metrics_port, syncs);
  ASSERT_GE(before, 0);

  absl::StatusOr<v1::SubmitJobResponse> waited = client.SubmitAndWait(*spec);
  ASSERT_TRUE(waited.ok()) << waited.status();
  EXPECT_EQ(reaches(before + 1), absl::OkStatus());

  absl::StatusOr<std::string> submitted = client.Submit(*spec);
  ASSERT_TRUE(submitted.ok()) << submitted.status();
  ASSERT_TRUE(client.Wait(*submitted).ok());
  EXPECT_EQ(reaches(before + 3), absl::OkStatus());
}

// A SubmitAndWait that gives up (its watch_timeout passed) cancels its
// call, and dagd ends that wait then, answering it CANCELLED, rather than
// keep it (a watcher of the job, the call's state) until the job ends:
// callers retrying a long job with short deadlines grew dagd without
// bound.
TEST(SubmitWaitCancelTest, AWaitTheCallerGaveUpEndsOnDagd) {
  const int metrics_port = FreePort();
  std::unique_ptr<DagdProcess> dagd =
      StartDagd({absl::StrCat("--metrics_listen=127.0.0.1:", metrics_port)});
  ASSERT_NE(dagd, nullptr);
  // No worker offers "never": the job does not end.
  absl::StatusOr<v1::JobSpec> spec =
      Spec(R"({"tasks": [{"id": "a", "fn": "never"}]})");
  ASSERT_TRUE(spec.ok()) << spec.status();
  ClientOptions options;
  options.watch_timeout = absl::Milliseconds(500);
  std::unique_ptr<Client> client = Client::Connect(dagd->address(), options);
  const std::string cancelled =
      R"(dagd_grpc_requests_total{code="CANCELLED",method="SubmitJob"})";
  for (int i = 0; i < 2; ++i) {  // the first makes the job, then a retry
    absl::StatusOr<v1::SubmitJobResponse> gave_up =
        client->SubmitAndWait(*spec, "never-ends");
    EXPECT_EQ(gave_up.status().code(), absl::StatusCode::kDeadlineExceeded)
        << gave_up.status();
    EXPECT_EQ(
        PollUntil(
            [&] { return CounterValue(metrics_port, cancelled) == i + 1; },
            absl::Seconds(10),
            absl::StrCat("dagd to end wait ", i + 1, " (",
                         CounterValue(metrics_port, cancelled), ")")),
        absl::OkStatus());
  }
  absl::StatusOr<v1::ListJobsResponse> jobs = dagd->client().ListJobs();
  ASSERT_TRUE(jobs.ok()) << jobs.status();
  ASSERT_EQ(jobs->jobs_size(), 1);
  EXPECT_EQ(jobs->jobs(0).state(), v1::JOB_PENDING) << "the job runs on";
}

}  // namespace
}  // namespace dagd::testing
