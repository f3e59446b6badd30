// What operators and platforms see of a running dagd: gRPC health checking
// and Prometheus metrics.
#include <unistd.h>

#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "grpcpp/grpcpp.h"
#include "health.grpc.pb.h"
#include "tests/integration/integration_env.h"

namespace dagd::testing {
namespace {

using ::testing::HasSubstr;

class ObservabilityTest : public ::testing::Test {
 protected:
  void SetUp() override {
    metrics_port_ = FreePort();
    dagd_ =
        StartDagd({"--local_workers=2", "--local_worker_slots=2",
                   absl::StrCat("--metrics_listen=127.0.0.1:", metrics_port_)});
    ASSERT_NE(dagd_, nullptr);
    ASSERT_EQ(dagd_->WaitForWorkers(2), absl::OkStatus());
  }
  void TearDown() override {
    if (dagd_ != nullptr) {
      EXPECT_EQ(dagd_->Stop(), absl::OkStatus());
    }
  }

  // Polls /metrics until it has `line`.
  absl::Status WaitForMetric(const std::string& line) {
    return PollUntil(
        [&] {
          return HttpGet(metrics_port_, "/metrics").find(line) !=
                 std::string::npos;
        },
        absl::Seconds(20), line);
  }

  int metrics_port_ = 0;
  std::unique_ptr<DagdProcess> dagd_;
};

TEST_F(ObservabilityTest, HealthCheckSaysServing) {
  auto channel =
      grpc::CreateChannel(dagd_->address(), grpc::InsecureChannelCredentials());
  auto stub = grpc::health::v1::Health::NewStub(channel);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() +
                       std::chrono::seconds(10));
  grpc::health::v1::HealthCheckRequest request;
  grpc::health::v1::HealthCheckResponse response;
  grpc::Status status = stub->Check(&context, request, &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(response.status(), grpc::health::v1::HealthCheckResponse::SERVING);
}

TEST_F(ObservabilityTest, MetricsCountJobsTasksAndWorkers) {
  ASSERT_EQ(WaitForMetric("dagd_workers_connected 2"), absl::OkStatus());
  CommandResult submit =
      dagd_->RunDagctl({"submit", ExamplePath("tiny.json"), "--wait"});
  ASSERT_EQ(submit.exit_code, 0) << submit.ToString();
  EXPECT_EQ(WaitForMetric("dagd_jobs_submitted_total 1"), absl::OkStatus());
  // submit --wait watched the job to its end. The client cancels the stream
  // once it has the end, so the call may finish OK or CANCELLED.
  EXPECT_EQ(WaitForMetric("method=\"WatchJob\"} 1"), absl::OkStatus());
  EXPECT_EQ(WaitForMetric("dagd_jobs_finished_total{state=\"succeeded\"} 1"),
            absl::OkStatus());
  const std::string page = HttpGet(metrics_port_, "/metrics");
  EXPECT_THAT(page, HasSubstr("dagd_jobs{state=\"running\"} 0"));
  EXPECT_THAT(page, HasSubstr("dagd_tasks{state=\"ready\"} 0"));
  EXPECT_THAT(page, HasSubstr("dagd_worker_slots{kind=\"total\"} 4"));
  EXPECT_THAT(page,
              HasSubstr("dagd_tasks_finished_total{state=\"succeeded\"} 3"));
  EXPECT_THAT(page, HasSubstr("dagd_task_run_seconds_count{fn=\"add\"} 1"));
  EXPECT_THAT(page, HasSubstr("dagd_task_queue_wait_seconds_count 3"));
  EXPECT_THAT(page, HasSubstr("dagd_worker_registrations_total 2"));
  EXPECT_THAT(
      page,
      HasSubstr(
          "dagd_grpc_requests_total{code=\"OK\",method=\"SubmitJob\"} 1"));
}

TEST_F(ObservabilityTest, HealthzIsOkWhileServing) {
  EXPECT_THAT(HttpGet(metrics_port_, "/healthz"),
              ::testing::StartsWith("HTTP/1.1 200"));
}

// While dagd stops it is unhealthy on both channels. A local "worker" that
// ignores SIGTERM holds dagd in its stop (it waits 5 s for local workers
// before SIGKILL), so the stopping state can be observed.
TEST(StoppingHealthTest, StoppingDagdIsNotServing) {
  absl::StatusOr<std::unique_ptr<TempDir>> dir = TempDir::Create();
  ASSERT_TRUE(dir.ok()) << dir.status();
  const StubbornWorker stubborn = StubbornWorker::Write((*dir)->path());
  const int metrics_port = FreePort();
  std::unique_ptr<DagdProcess> dagd = StartDagd(
      {"--local_workers=1", absl::StrCat("--worker_binary=", stubborn.binary),
       absl::StrCat("--metrics_listen=127.0.0.1:", metrics_port)});
  ASSERT_NE(dagd, nullptr);
  auto channel =
      grpc::CreateChannel(dagd->address(), grpc::InsecureChannelCredentials());
  auto stub = grpc::health::v1::Health::NewStub(channel);
  auto check = [&] {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() +
                         std::chrono::seconds(2));
    grpc::health::v1::HealthCheckResponse response;
    grpc::Status status = stub->Check(
        &context, grpc::health::v1::HealthCheckRequest(), &response);
    return status.ok() ? response.status()
                       : grpc::health::v1::HealthCheckResponse::UNKNOWN;
  };
  ASSERT_EQ(check(), grpc::health::v1::HealthCheckResponse::SERVING);
  ASSERT_THAT(HttpGet(metrics_port, "/healthz"),
              ::testing::StartsWith("HTTP/1.1 200"));
  ASSERT_EQ(stubborn.WaitForTrap(), absl::OkStatus());

  dagd->Signal(SIGTERM);
  EXPECT_EQ(
      PollUntil(
          [&] {
            return HttpGet(metrics_port, "/healthz").rfind("HTTP/1.1 503", 0) ==
                   0;
          },
          absl::Seconds(4), "/healthz to answer 503"),
      absl::OkStatus());
  EXPECT_EQ(check(), grpc::health::v1::HealthCheckResponse::NOT_SERVING);
  stub.reset();  // an open channel would hold dagd's gRPC shutdown
  channel.reset();
  EXPECT_EQ(dagd->Stop(), absl::OkStatus());
}

// SIGTERM drains a worker (its running task may take --drain_timeout, here
// the default 60 s); a second signal stops it at once, still exiting 0.
TEST(WorkerSignalTest, SecondSignalStopsADrainingWorkerAtOnce) {
  std::unique_ptr<DagdProcess> dagd = StartDagd({});
  ASSERT_NE(dagd, nullptr);
  const int metrics_port = FreePort();
  absl::StatusOr<Subprocess*> worker = dagd->StartWorker(
      {"--slots=1", absl::StrCat("--metrics_listen=127.0.0.1:", metrics_port)});
  ASSERT_TRUE(worker.ok()) << worker.status();
  ASSERT_EQ(dagd->WaitForWorkers(1), absl::OkStatus());
  CommandResult submit = dagd->RunDagctl(
      {"submit", "-"},
      R"({"tasks": [{"id": "nap", "fn": "sleep", "args": {"ms": 600000}}]})");
  ASSERT_EQ(submit.exit_code, 0) << submit.ToString();
  ASSERT_EQ(WaitForTaskState(dagd->client(), FirstLine(submit.out), "nap",
                             v1::TASK_RUNNING),
            absl::OkStatus());

  (*worker)->Kill(SIGTERM);
  // Draining shows as 503; only then is the second signal a second one.
  ASSERT_EQ(
      PollUntil(
          [&] {
            return HttpGet(metrics_port, "/healthz").rfind("HTTP/1.1 503", 0) ==
                   0;
          },
          absl::Seconds(10), "the worker to drain"),
      absl::OkStatus());
  (*worker)->Kill(SIGTERM);
  absl::StatusOr<ExitStatus> exit = (*worker)->Wait(absl::Seconds(20));
  ASSERT_TRUE(exit.ok()) << "the worker still drains after a second signal";
  EXPECT_TRUE(exit->ok()) << exit->ToString();
  EXPECT_EQ(dagd->Stop(), absl::OkStatus());
}

TEST(LogFormatTest, JsonLogsAreOneObjectPerLine) {
  std::unique_ptr<DagdProcess> dagd =
      StartDagd({"--local_workers=0", "--log_format=json"});
  ASSERT_NE(dagd, nullptr);
  CommandResult submit = dagd->RunDagctl({"submit", ExamplePath("tiny.json")});
  ASSERT_EQ(submit.exit_code, 0) << submit.ToString();
  const std::string job_id = FirstLine(submit.out);
  ASSERT_EQ(
      dagd->WaitForLog("job accepted", "the job's log line", absl::Seconds(20)),
      absl::OkStatus());
  ASSERT_EQ(dagd->Stop(), absl::OkStatus());
  int lines = 0;
  bool saw_job = false;
  const std::vector<std::string> log_lines = absl::StrSplit(dagd->Log(), '\n');
  for (const std::string& line : log_lines) {
    if (line.empty()) continue;
    ++lines;
    EXPECT_THAT(line, ::testing::StartsWith("{\"ts\":\""));
    EXPECT_THAT(line, ::testing::EndsWith("}"));
    EXPECT_THAT(line, HasSubstr("\"level\":\""));
    EXPECT_THAT(line, HasSubstr("\"msg\":\""));
    if (line.find(absl::StrCat("\"job\":\"", job_id, "\"")) !=
        std::string::npos) {
      saw_job = true;
    }
  }
  EXPECT_GT(lines, 2);
  EXPECT_TRUE(saw_job);
}

TEST(LogFormatTest, UnknownFormatIsRefused) {
  DagdOptions options;
  options.binaries = BuiltBinaries();
  options.flags = {"--log_format=xml"};
  options.start_timeout = absl::Seconds(10);
  absl::StatusOr<std::unique_ptr<DagdProcess>> dagd =
      DagdProcess::Start(std::move(options));
  ASSERT_FALSE(dagd.ok());
  EXPECT_THAT(dagd.status().message(), HasSubstr("--log_format"));
}

}  // namespace
}  // namespace dagd::testing
