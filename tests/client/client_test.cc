#include "client/client.h"

#include <grpcpp/test/mock_stream.h>

#include <memory>
#include <vector>

#include "absl/status/status.h"
#include "dagd/v1/job_service_mock.grpc.pb.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace dagd {
namespace {

using ::grpc::testing::MockClientReader;
using ::testing::_;
using ::testing::DoAll;
using ::testing::ElementsAre;
using ::testing::Invoke;
using ::testing::Return;
using ::testing::SetArgPointee;

class ClientTest : public ::testing::Test {
 protected:
  ClientTest() {
    auto stub = std::make_unique<v1::MockJobServiceStub>();
    stub_ = stub.get();
    client_ = std::make_unique<Client>(std::move(stub));
  }

  v1::MockJobServiceStub* stub_;  // owned by client_
  std::unique_ptr<Client> client_;
};

v1::JobEvent TaskEvent(const std::string& id, v1::TaskState state) {
  v1::JobEvent event;
  event.mutable_task()->set_task_id(id);
  event.mutable_task()->set_state(state);
  return event;
}

v1::JobEvent Finished(v1::JobState state) {
  v1::JobEvent event;
  event.mutable_finished()->set_job_id("j1");
  event.mutable_finished()->set_state(state);
  return event;
}

TEST_F(ClientTest, SubmitPassesJobAndRequestIdAndReturnsTheId) {
  v1::JobSpec job;
  job.set_name("tiny");
  v1::SubmitJobResponse response;
  response.set_job_id("j1");
  EXPECT_CALL(*stub_, SubmitJob(_, _, _))
      .WillOnce(
          Invoke([&](grpc::ClientContext*, const v1::SubmitJobRequest& request,
                     v1::SubmitJobResponse* out) {
            EXPECT_EQ(request.job().name(), "tiny");
            EXPECT_EQ(request.request_id(), "req-7");
            *out = response;
            return grpc::Status::OK;
          }));
  absl::StatusOr<std::string> id = client_->Submit(job, "req-7");
  ASSERT_TRUE(id.ok()) << id.status();
  EXPECT_EQ(*id, "j1");
}

TEST_F(ClientTest, SubmitAndWaitAsksToWaitWithoutTheUnaryDeadline) {
  v1::JobSpec job;
  job.set_name("tiny");
  EXPECT_CALL(*stub_, SubmitJob(_, _, _))
      .WillOnce(Invoke([&](grpc::ClientContext* context,
                           const v1::SubmitJobRequest& request,
                           v1::SubmitJobResponse* out) {
        EXPECT_TRUE(request.wait());
        EXPECT_EQ(request.request_id(), "req-8");
        // Like Wait: jobs may run for days.
        EXPECT_EQ(context->deadline(),
                  std::chrono::system_clock::time_point::max());
        out->set_job_id("j2");
        out->mutable_final_status()->set_state(v1::JOB_SUCCEEDED);
        return grpc::Status::OK;
      }));
  absl::StatusOr<v1::SubmitJobResponse> done =
      client_->SubmitAndWait(job, "req-8");
  ASSERT_TRUE(done.ok()) << done.status();
  EXPECT_EQ(done->final_status().state(), v1::JOB_SUCCEEDED);
}

TEST_F(ClientTest, UnaryCallsHaveTheDefaultDeadline) {
  EXPECT_CALL(*stub_, GetJob(_, _, _))
      .WillOnce(Invoke([](grpc::ClientContext* context,
                          const v1::GetJobRequest& request, v1::JobStatus*) {
        EXPECT_EQ(request.job_id(), "j1");
        const absl::Duration left =
            absl::FromChrono(context->deadline()) - absl::Now();
        EXPECT_GT(left, absl::Seconds(20));
        EXPECT_LE(left, absl::Seconds(30));
        return grpc::Status::OK;
      }));
  EXPECT_TRUE(client_->Get("j1").ok());
}

TEST_F(ClientTest, ServerErrorsKeepTheirCodeAndMessage) {
  const std::vector<std::pair<grpc::StatusCode, absl::StatusCode>> codes = {
      {grpc::StatusCode::INVALID_ARGUMENT, absl::StatusCode::kInvalidArgument},
      {grpc::StatusCode::NOT_FOUND, absl::StatusCode::kNotFound},
      {grpc::StatusCode::ALREADY_EXISTS, absl::StatusCode::kAlreadyExists},
      {grpc::StatusCode::FAILED_PRECONDITION,
       absl::StatusCode::kFailedPrecondition},
      {grpc::StatusCode::RESOURCE_EXHAUSTED,
       absl::StatusCode::kResourceExhausted},
      {grpc::StatusCode::UNAVAILABLE, absl::StatusCode::kUnavailable},
      {grpc::StatusCode::DEADLINE_EXCEEDED,
       absl::StatusCode::kDeadlineExceeded},
      {grpc::StatusCode::UNAUTHENTICATED, absl::StatusCode::kUnauthenticated},
      {grpc::StatusCode::INTERNAL, absl::StatusCode::kInternal},
      // An unknown code (still inside the enum's range of values, so the
      // cast is defined behaviour).
      {static_cast<grpc::StatusCode>(20), absl::StatusCode::kUnknown},
  };
  for (const auto& [grpc_code, absl_code] : codes) {
    EXPECT_CALL(*stub_, GetTask(_, _, _))
        .WillOnce(Return(grpc::Status(grpc_code, "task \"sum\": boom")));
    absl::StatusOr<v1::TaskStatus> task = client_->Task("j1", "sum");
    EXPECT_EQ(task.status().code(), absl_code);
    EXPECT_EQ(task.status().message(), "task \"sum\": boom");
  }
}

TEST_F(ClientTest, RequestsCarryTheirArguments) {
  EXPECT_CALL(*stub_, ListJobs(_, _, _))
      .WillOnce(
          Invoke([](grpc::ClientContext*, const v1::ListJobsRequest& request,
                    v1::ListJobsResponse* response) {
            EXPECT_EQ(request.page_size(), 10);
            EXPECT_EQ(request.page_token(), "next");
            response->set_next_page_token("after");
            return grpc::Status::OK;
          }));
  EXPECT_CALL(*stub_, GetResult(_, _, _))
      .WillOnce(
          Invoke([](grpc::ClientContext*, const v1::GetResultRequest& request,
                    v1::GetResultResponse* response) {
            EXPECT_EQ(request.job_id(), "j1");
            EXPECT_EQ(request.task_id(), "root");
            response->set_data("523776");
            return grpc::Status::OK;
          }));
  v1::CancelJobResponse cancelled;
  cancelled.set_cancelled(true);
  EXPECT_CALL(*stub_, CancelJob(_, _, _))
      .WillOnce(DoAll(SetArgPointee<2>(cancelled), Return(grpc::Status::OK)));
  EXPECT_CALL(*stub_, ListTasks(_, _, _)).WillOnce(Return(grpc::Status::OK));
  EXPECT_CALL(*stub_, ListWorkers(_, _, _)).WillOnce(Return(grpc::Status::OK));

  EXPECT_EQ(client_->ListJobs(10, "next")->next_page_token(), "after");
  EXPECT_EQ(client_->Result("j1", "root")->data(), "523776");
  EXPECT_TRUE(client_->Cancel("j1")->cancelled());
  EXPECT_TRUE(client_->ListTasks("j1").ok());
  EXPECT_TRUE(client_->ListWorkers().ok());
}

TEST_F(ClientTest, DeleteJobSendsTheIdAndPassesRefusalsOn) {
  EXPECT_CALL(*stub_, DeleteJob(_, _, _))
      .WillOnce(
          Invoke([](grpc::ClientContext*, const v1::DeleteJobRequest& request,
                    v1::DeleteJobResponse*) {
            EXPECT_EQ(request.job_id(), "j1");
            return grpc::Status::OK;
          }))
      .WillOnce(Return(grpc::Status(grpc::StatusCode::FAILED_PRECONDITION,
                                    "job 'j2' is RUNNING")));
  EXPECT_EQ(client_->DeleteJob("j1"), absl::OkStatus());
  const absl::Status running = client_->DeleteJob("j2");
  EXPECT_EQ(running.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(running.message(), "job 'j2' is RUNNING");
}

TEST_F(ClientTest, WatchDeliversEveryEventAndReturnsTheFinalStatus) {
  auto* reader = new MockClientReader<v1::JobEvent>();  // owned by Watch
  v1::JobEvent snapshot;
  snapshot.mutable_snapshot()->set_job_id("j1");
  EXPECT_CALL(*stub_, WatchJobRaw(_, _))
      .WillOnce(Invoke([&](grpc::ClientContext* context,
                           const v1::WatchJobRequest& request) {
        EXPECT_EQ(request.job_id(), "j1");
        EXPECT_FALSE(request.end_only());  // the callback wants task events
        // Watching has no deadline by default: jobs may run for days.
        EXPECT_EQ(context->deadline(),
                  std::chrono::system_clock::time_point::max());
        return reader;
      }));
  EXPECT_CALL(*reader, Read(_))
      .WillOnce(DoAll(SetArgPointee<0>(snapshot), Return(true)))
      .WillOnce(DoAll(SetArgPointee<0>(TaskEvent("a", v1::TASK_SUCCEEDED)),
                      Return(true)))
      .WillOnce(
          DoAll(SetArgPointee<0>(Finished(v1::JOB_SUCCEEDED)), Return(true)));
  EXPECT_CALL(*reader, Finish()).WillOnce(Return(grpc::Status::CANCELLED));

  std::vector<v1::JobEvent::EventCase> seen;
  absl::StatusOr<v1::JobStatus> final_status = client_->Watch(
      "j1",
      [&](const v1::JobEvent& event) { seen.push_back(event.event_case()); });
  ASSERT_TRUE(final_status.ok()) << final_status.status();
  EXPECT_EQ(final_status->state(), v1::JOB_SUCCEEDED);
  EXPECT_THAT(seen, ElementsAre(v1::JobEvent::kSnapshot, v1::JobEvent::kTask,
                                v1::JobEvent::kFinished));
}

TEST_F(ClientTest, WatchPassesOnTheStreamError) {
  auto* reader = new MockClientReader<v1::JobEvent>();
  EXPECT_CALL(*stub_, WatchJobRaw(_, _)).WillOnce(Return(reader));
  EXPECT_CALL(*reader, Read(_)).WillOnce(Return(false));
  EXPECT_CALL(*reader, Finish())
      .WillOnce(
          Return(grpc::Status(grpc::StatusCode::NOT_FOUND, "no job \"j9\"")));
  absl::StatusOr<v1::JobStatus> final_status = client_->Wait("j9");
  EXPECT_EQ(final_status.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(final_status.status().message(), "no job \"j9\"");
}

TEST_F(ClientTest, WaitAsksForTheEndOnly) {
  auto* reader = new MockClientReader<v1::JobEvent>();
  EXPECT_CALL(*stub_, WatchJobRaw(_, _))
      .WillOnce(
          Invoke([&](grpc::ClientContext*, const v1::WatchJobRequest& request) {
            EXPECT_TRUE(request.end_only());
            return reader;
          }));
  EXPECT_CALL(*reader, Read(_))
      .WillOnce(
          DoAll(SetArgPointee<0>(Finished(v1::JOB_SUCCEEDED)), Return(true)));
  EXPECT_CALL(*reader, Finish()).WillOnce(Return(grpc::Status::CANCELLED));
  EXPECT_TRUE(client_->Wait("j1").ok());
}

TEST_F(ClientTest, WatchEndingBeforeFinishedIsUnavailable) {
  auto* reader = new MockClientReader<v1::JobEvent>();
  EXPECT_CALL(*stub_, WatchJobRaw(_, _)).WillOnce(Return(reader));
  EXPECT_CALL(*reader, Read(_))
      .WillOnce(DoAll(SetArgPointee<0>(TaskEvent("a", v1::TASK_RUNNING)),
                      Return(true)))
      .WillOnce(Return(false));
  EXPECT_CALL(*reader, Finish()).WillOnce(Return(grpc::Status::OK));
  EXPECT_EQ(client_->Wait("j1").status().code(),
            absl::StatusCode::kUnavailable);
}

TEST(ClientOptionsTest, WatchTimeoutSetsADeadline) {
  auto stub = std::make_unique<v1::MockJobServiceStub>();
  auto* reader = new MockClientReader<v1::JobEvent>();
  EXPECT_CALL(*stub, WatchJobRaw(_, _))
      .WillOnce(
          Invoke([&](grpc::ClientContext* context, const v1::WatchJobRequest&) {
            EXPECT_LE(absl::FromChrono(context->deadline()) - absl::Now(),
                      absl::Minutes(5));
            return reader;
          }));
  EXPECT_CALL(*reader, Read(_))
      .WillOnce(
          DoAll(SetArgPointee<0>(Finished(v1::JOB_FAILED)), Return(true)));
  EXPECT_CALL(*reader, Finish()).WillOnce(Return(grpc::Status::OK));
  ClientOptions options;
  options.watch_timeout = absl::Minutes(5);
  Client client(std::move(stub), options);
  EXPECT_EQ(client.Wait("j1")->state(), v1::JOB_FAILED);
}

}  // namespace
}  // namespace dagd
