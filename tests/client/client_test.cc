#include "client/client.h"

#include <grpcpp/test/mock_stream.h>

#include <memory>
#include <string>
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
using ::testing::HasSubstr;
using ::testing::Invoke;
using ::testing::IsEmpty;
using ::testing::Return;
using ::testing::SetArgPointee;

// One try per call: these tests check what one stream or call does;
// reconnection has tests of its own (ReconnectTest).
ClientOptions OneTry() {
  ClientOptions options;
  options.reconnect_timeout = absl::ZeroDuration();
  return options;
}

class ClientTest : public ::testing::Test {
 protected:
  ClientTest() {
    auto stub = std::make_unique<v1::MockJobServiceStub>();
    stub_ = stub.get();
    client_ = std::make_unique<Client>(std::move(stub), OneTry());
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

TEST_F(ClientTest, ListTasksReadsEveryPage) {
  EXPECT_CALL(*stub_, ListTasks(_, _, _))
      .WillOnce(
          Invoke([](grpc::ClientContext*, const v1::ListTasksRequest& request,
                    v1::ListTasksResponse* response) {
            EXPECT_EQ(request.job_id(), "j1");
            EXPECT_EQ(request.page_size(), Client::kTasksPageSize);
            EXPECT_EQ(request.page_token(), "");
            response->add_tasks()->set_task_id("a");
            response->set_next_page_token("1");
            return grpc::Status::OK;
          }))
      .WillOnce(
          Invoke([](grpc::ClientContext*, const v1::ListTasksRequest& request,
                    v1::ListTasksResponse* response) {
            EXPECT_EQ(request.page_token(), "1");
            response->add_tasks()->set_task_id("b");
            return grpc::Status::OK;
          }));
  absl::StatusOr<v1::ListTasksResponse> tasks = client_->ListTasks("j1");
  ASSERT_TRUE(tasks.ok()) << tasks.status();
  ASSERT_EQ(tasks->tasks_size(), 2);
  EXPECT_EQ(tasks->tasks(0).task_id(), "a");
  EXPECT_EQ(tasks->tasks(1).task_id(), "b");
  EXPECT_TRUE(tasks->next_page_token().empty());
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

// A token gRPC cannot send in a header (a line break read with it) fails
// every call, naming the byte, and sends nothing: gRPC aborted the process.
TEST(ClientOptionsTest, ATokenThatCannotBeSentFailsTheCall) {
  auto stub = std::make_unique<v1::MockJobServiceStub>();
  EXPECT_CALL(*stub, GetJob(_, _, _)).Times(0);
  EXPECT_CALL(*stub, WatchJobRaw(_, _)).Times(0);
  ClientOptions options;
  options.token = "secret\r";
  Client client(std::move(stub), options);
  const absl::Status got = client.Get("j1").status();
  EXPECT_EQ(got.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(got.message(), HasSubstr("0x0d at position 6"));
  EXPECT_EQ(client.Wait("j1").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(CheckToken("a-token_of.dagd+/="), absl::OkStatus());
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

// A client whose clock only the pauses move, with every pause and every
// connection change recorded, so reconnecting is tested without waiting.
class ReconnectTest : public ::testing::Test {
 protected:
  ReconnectTest() { MakeClient(absl::Seconds(60)); }

  void MakeClient(absl::Duration reconnect_timeout) {
    auto stub = std::make_unique<v1::MockJobServiceStub>();
    stub_ = stub.get();
    ClientOptions options;
    options.reconnect_timeout = reconnect_timeout;
    options.now = [this] { return now_; };
    options.sleep = [this](absl::Duration d) {
      pauses_.push_back(d);
      now_ += d;
    };
    client_ = std::make_unique<Client>(std::move(stub), options);
  }

  // The next WatchJob stream delivers `events`, then, `held` later, ends
  // with `end`.
  void ExpectStream(const std::vector<v1::JobEvent>& events, grpc::Status end,
                    absl::Duration held = absl::ZeroDuration()) {
    auto* reader = new MockClientReader<v1::JobEvent>();  // owned by Client
    streams_.push_back(reader);
    auto& read = EXPECT_CALL(*reader, Read(_));
    for (const v1::JobEvent& event : events) {
      read.WillOnce(DoAll(SetArgPointee<0>(event), Return(true)));
    }
    read.WillRepeatedly(Invoke([this, held](v1::JobEvent*) {
      now_ += held;
      return false;
    }));
    EXPECT_CALL(*reader, Finish()).WillOnce(Return(end));
  }
  // Hands out the streams made by ExpectStream, in order.
  void ServeStreams() {
    EXPECT_CALL(*stub_, WatchJobRaw(_, _))
        .Times(static_cast<int>(streams_.size()))
        .WillRepeatedly(Invoke(
            [this](grpc::ClientContext*, const v1::WatchJobRequest& request) {
              EXPECT_EQ(request.job_id(), "j1");
              return streams_.at(served_++);
            }));
  }

  ConnectionCallback Record() {
    return
        [this](const ConnectionChange& change) { changes_.push_back(change); };
  }

  absl::Time now_ = absl::FromUnixSeconds(1700000000);
  std::vector<absl::Duration> pauses_;
  std::vector<ConnectionChange> changes_;
  std::vector<MockClientReader<v1::JobEvent>*> streams_;
  size_t served_ = 0;
  v1::MockJobServiceStub* stub_;  // owned by client_
  std::unique_ptr<Client> client_;
};

const grpc::Status kSocketClosed(grpc::StatusCode::UNAVAILABLE,
                                 "Socket closed");

v1::JobEvent Snapshot(int done) {
  v1::JobEvent event;
  event.mutable_snapshot()->set_job_id("j1");
  event.mutable_snapshot()->set_state(v1::JOB_RUNNING);
  v1::TaskStateCount* count = event.mutable_snapshot()->add_counts();
  count->set_state(v1::TASK_SUCCEEDED);
  count->set_count(done);
  return event;
}

TEST_F(ReconnectTest, WatchGoesOnFromANewSnapshotAfterTheStreamBreaks) {
  ExpectStream({Snapshot(0), TaskEvent("a", v1::TASK_SUCCEEDED)},
               kSocketClosed);
  ExpectStream({Snapshot(2), Finished(v1::JOB_SUCCEEDED)},
               grpc::Status::CANCELLED);
  ServeStreams();
  // dagd is still down for the first probe, back for the second.
  EXPECT_CALL(*stub_, GetJob(_, _, _))
      .WillOnce(Return(grpc::Status(grpc::StatusCode::UNAVAILABLE,
                                    "failed to connect to all addresses")))
      .WillOnce(
          Invoke([this](grpc::ClientContext* context,
                        const v1::GetJobRequest& request, v1::JobStatus*) {
            EXPECT_EQ(request.job_id(), "j1");
            // The probe waits no longer than the outage may last.
            EXPECT_LE(absl::FromChrono(context->deadline()),
                      absl::FromUnixSeconds(1700000000 + 60));
            now_ += absl::Seconds(3);  // it waited for dagd to be back
            return grpc::Status::OK;
          }));

  std::vector<v1::JobEvent::EventCase> seen;
  absl::StatusOr<v1::JobStatus> final_status = client_->Watch(
      "j1",
      [&](const v1::JobEvent& event) { seen.push_back(event.event_case()); },
      Record());
  ASSERT_TRUE(final_status.ok()) << final_status.status();
  EXPECT_EQ(final_status->state(), v1::JOB_SUCCEEDED);
  EXPECT_THAT(seen,
              ElementsAre(v1::JobEvent::kSnapshot, v1::JobEvent::kTask,
                          v1::JobEvent::kSnapshot, v1::JobEvent::kFinished));
  ASSERT_EQ(changes_.size(), 2u);
  EXPECT_EQ(changes_[0].kind, ConnectionChange::Kind::kLost);
  EXPECT_TRUE(changes_[0].was_connected);
  EXPECT_EQ(changes_[0].cause.message(), "Socket closed");
  EXPECT_EQ(changes_[0].retry_for, absl::Seconds(60));
  EXPECT_EQ(changes_[1].kind, ConnectionChange::Kind::kRegained);
  EXPECT_EQ(changes_[1].outage, absl::Milliseconds(3100));
  EXPECT_THAT(pauses_, ElementsAre(kInitialRetryPause));
}

TEST_F(ReconnectTest, WaitRetriesAStreamThatEndsBeforeTheJobDoes) {
  ExpectStream({}, grpc::Status::OK);  // a server that closed the watch
  ExpectStream({Finished(v1::JOB_FAILED)}, grpc::Status::CANCELLED);
  ServeStreams();
  EXPECT_CALL(*stub_, GetJob(_, _, _)).WillOnce(Return(grpc::Status::OK));
  absl::StatusOr<v1::JobStatus> final_status = client_->Wait("j1", Record());
  ASSERT_TRUE(final_status.ok()) << final_status.status();
  EXPECT_EQ(final_status->state(), v1::JOB_FAILED);
  ASSERT_EQ(changes_.size(), 2u);
  EXPECT_FALSE(changes_[0].was_connected);
}

TEST_F(ReconnectTest, PausesDoubleUpToTwoSecondsAndTheWatchGivesUpInTime) {
  MakeClient(absl::Seconds(10));
  ExpectStream({Snapshot(0)}, kSocketClosed);
  ServeStreams();
  EXPECT_CALL(*stub_, GetJob(_, _, _))
      .WillRepeatedly(Return(
          grpc::Status(grpc::StatusCode::UNAVAILABLE, "failed to connect")));
  absl::StatusOr<v1::JobStatus> final_status = client_->Wait("j1", Record());
  EXPECT_EQ(final_status.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(final_status.status().message(),
            "connection lost: Socket closed; none again within 10s");
  EXPECT_THAT(
      pauses_,
      ElementsAre(absl::Milliseconds(100), absl::Milliseconds(200),
                  absl::Milliseconds(400), absl::Milliseconds(800),
                  absl::Milliseconds(1600), absl::Seconds(2), absl::Seconds(2),
                  absl::Seconds(2), absl::Milliseconds(900)));
  ASSERT_EQ(changes_.size(), 1u);  // one loss, never regained
}

// dagd answers GetJob but each new watch breaks before its first event (a
// dagd stopping, a proxy that passes calls but not streams): not a
// reconnection, and the watches are paced and given up on in time, not
// tried back to back with the budget starting over.
TEST_F(ReconnectTest, AnswersWithoutAStreamAreNoReconnection) {
  MakeClient(absl::Seconds(1));
  for (int i = 0; i < 6; ++i) ExpectStream({}, kSocketClosed);
  ServeStreams();
  EXPECT_CALL(*stub_, GetJob(_, _, _)).WillRepeatedly(Return(grpc::Status::OK));
  absl::StatusOr<v1::JobStatus> final_status = client_->Wait("j1", Record());
  EXPECT_EQ(final_status.status().code(), absl::StatusCode::kUnavailable);
  ASSERT_EQ(changes_.size(), 1u);  // lost, never regained
  EXPECT_EQ(changes_[0].kind, ConnectionChange::Kind::kLost);
  EXPECT_THAT(pauses_,
              ElementsAre(absl::Milliseconds(100), absl::Milliseconds(200),
                          absl::Milliseconds(400), absl::Milliseconds(300)));
}

// Each new watch delivers its snapshot and breaks (a proxy that passes
// calls but breaks streams, a dagd stopping): after the first, paced, the
// pauses doubling, not watched again back to back; each snapshot reported
// as a return, each break as a loss with the time the outage has left.
TEST_F(ReconnectTest, StreamsThatBreakAfterTheirSnapshotArePaced) {
  for (int i = 0; i < 4; ++i) ExpectStream({Snapshot(0)}, kSocketClosed);
  ExpectStream({Snapshot(1), Finished(v1::JOB_SUCCEEDED)},
               grpc::Status::CANCELLED);
  ServeStreams();
  EXPECT_CALL(*stub_, GetJob(_, _, _)).WillRepeatedly(Return(grpc::Status::OK));
  absl::StatusOr<v1::JobStatus> final_status = client_->Wait("j1", Record());
  ASSERT_TRUE(final_status.ok()) << final_status.status();
  EXPECT_THAT(pauses_,
              ElementsAre(absl::Milliseconds(100), absl::Milliseconds(200),
                          absl::Milliseconds(400)));
  ASSERT_EQ(changes_.size(), 8u);
  EXPECT_EQ(changes_[4].kind, ConnectionChange::Kind::kLost);
  EXPECT_EQ(changes_[4].retry_for, absl::Seconds(60) - absl::Milliseconds(100));
  EXPECT_EQ(changes_[7].kind, ConnectionChange::Kind::kRegained);
}

// ... and they are given up on when the outage has lasted its budget: a
// snapshot does not start it over.
TEST_F(ReconnectTest, StreamsThatBreakAfterTheirSnapshotAreGivenUpOn) {
  MakeClient(absl::Seconds(1));
  for (int i = 0; i < 6; ++i) ExpectStream({Snapshot(0)}, kSocketClosed);
  ServeStreams();
  EXPECT_CALL(*stub_, GetJob(_, _, _)).WillRepeatedly(Return(grpc::Status::OK));
  absl::StatusOr<v1::JobStatus> final_status = client_->Wait("j1");
  EXPECT_EQ(final_status.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(final_status.status().message(),
            "connection lost: Socket closed; none again within 1s");
  EXPECT_THAT(pauses_,
              ElementsAre(absl::Milliseconds(100), absl::Milliseconds(200),
                          absl::Milliseconds(400), absl::Milliseconds(300)));
}

// A Wait's stream brings its snapshot alone; one that held an hour before
// it broke ended the outage before it: the next loss is a new outage,
// probed at once with its whole budget.
TEST_F(ReconnectTest, AStreamThatHeldEndsTheOutage) {
  ExpectStream({Snapshot(0)}, kSocketClosed);
  ExpectStream({Snapshot(0)}, kSocketClosed, absl::Hours(1));
  ExpectStream({Snapshot(1), Finished(v1::JOB_SUCCEEDED)},
               grpc::Status::CANCELLED);
  ServeStreams();
  EXPECT_CALL(*stub_, GetJob(_, _, _)).WillRepeatedly(Return(grpc::Status::OK));
  absl::StatusOr<v1::JobStatus> final_status = client_->Wait("j1", Record());
  ASSERT_TRUE(final_status.ok()) << final_status.status();
  EXPECT_THAT(pauses_, IsEmpty());
  ASSERT_EQ(changes_.size(), 4u);
  EXPECT_EQ(changes_[2].kind, ConnectionChange::Kind::kLost);
  EXPECT_EQ(changes_[2].retry_for, absl::Seconds(60));
}

// dagd closes a watch whose reader fell 8 MiB behind (RESOURCE_EXHAUSTED):
// the watch goes on from a new snapshot, as after a restart; a stream that
// had delivered task events is watched again without a pause.
TEST_F(ReconnectTest, AWatchDagdClosedForItsSlowReaderGoesOn) {
  ExpectStream({Snapshot(0), TaskEvent("a", v1::TASK_SUCCEEDED)},
               grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED,
                            "the reader fell more than 8388608 bytes behind"));
  ExpectStream({Snapshot(1), Finished(v1::JOB_SUCCEEDED)},
               grpc::Status::CANCELLED);
  ServeStreams();
  EXPECT_CALL(*stub_, GetJob(_, _, _)).WillOnce(Return(grpc::Status::OK));
  std::vector<v1::JobEvent::EventCase> seen;
  absl::StatusOr<v1::JobStatus> final_status = client_->Watch(
      "j1",
      [&](const v1::JobEvent& event) { seen.push_back(event.event_case()); });
  ASSERT_TRUE(final_status.ok()) << final_status.status();
  EXPECT_EQ(final_status->state(), v1::JOB_SUCCEEDED);
  EXPECT_THAT(seen,
              ElementsAre(v1::JobEvent::kSnapshot, v1::JobEvent::kTask,
                          v1::JobEvent::kSnapshot, v1::JobEvent::kFinished));
  EXPECT_THAT(pauses_, IsEmpty());
}

TEST_F(ReconnectTest, AnUnreachableCoordinatorIsGivenUpOnAfterTheTimeout) {
  MakeClient(absl::Seconds(1));
  ExpectStream({}, grpc::Status(grpc::StatusCode::UNAVAILABLE,
                                "failed to connect to all addresses"));
  ServeStreams();
  EXPECT_CALL(*stub_, GetJob(_, _, _))
      .WillOnce(Invoke([this](grpc::ClientContext*, const v1::GetJobRequest&,
                              v1::JobStatus*) {
        now_ += absl::Seconds(1);  // waited for readiness to its deadline
        return grpc::Status(grpc::StatusCode::DEADLINE_EXCEEDED,
                            "Deadline Exceeded");
      }));
  absl::StatusOr<v1::JobStatus> final_status = client_->Wait("j1");
  EXPECT_EQ(final_status.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(final_status.status().message(),
            "no connection within 1s: failed to connect to all addresses");
}

TEST_F(ReconnectTest, AJobTheCoordinatorNoLongerKnowsEndsTheWatch) {
  ExpectStream({Snapshot(0)}, kSocketClosed);
  ServeStreams();
  EXPECT_CALL(*stub_, GetJob(_, _, _))
      .WillOnce(
          Return(grpc::Status(grpc::StatusCode::NOT_FOUND, "no job \"j1\"")));
  absl::StatusOr<v1::JobStatus> final_status = client_->Wait("j1");
  EXPECT_EQ(final_status.status().code(), absl::StatusCode::kNotFound);
}

TEST_F(ReconnectTest, OtherStreamErrorsAreNotRetried) {
  ExpectStream({}, grpc::Status(grpc::StatusCode::PERMISSION_DENIED, "no"));
  ServeStreams();
  EXPECT_CALL(*stub_, GetJob(_, _, _)).Times(0);
  EXPECT_EQ(client_->Wait("j1").status().code(),
            absl::StatusCode::kPermissionDenied);
}

TEST_F(ReconnectTest, ASubmissionIsSentAgainWithTheSameRequestId) {
  std::vector<std::string> ids;
  EXPECT_CALL(*stub_, SubmitJob(_, _, _))
      .WillOnce(
          Invoke([&](grpc::ClientContext*, const v1::SubmitJobRequest& request,
                     v1::SubmitJobResponse*) {
            ids.push_back(request.request_id());
            return kSocketClosed;
          }))
      .WillOnce(
          Invoke([&](grpc::ClientContext*, const v1::SubmitJobRequest& request,
                     v1::SubmitJobResponse* response) {
            ids.push_back(request.request_id());
            response->set_job_id("j4");
            response->set_existing(true);  // the first try had reached dagd
            return grpc::Status::OK;
          }));
  v1::SubmitJobRequest request;
  request.set_request_id("req-1");
  absl::StatusOr<v1::SubmitJobResponse> response =
      client_->SubmitJob(request, Record());
  ASSERT_TRUE(response.ok()) << response.status();
  EXPECT_EQ(response->job_id(), "j4");
  EXPECT_THAT(ids, ElementsAre("req-1", "req-1"));
  ASSERT_EQ(changes_.size(), 2u);
  // The call's own deadline bounds its retries.
  EXPECT_EQ(changes_[0].retry_for, absl::Seconds(30));
}

TEST_F(ReconnectTest, ASubmissionWithoutARequestIdIsSentOnce) {
  EXPECT_CALL(*stub_, SubmitJob(_, _, _)).WillOnce(Return(kSocketClosed));
  v1::SubmitJobRequest request;
  EXPECT_EQ(client_->SubmitJob(request).status().code(),
            absl::StatusCode::kUnavailable);
  EXPECT_TRUE(pauses_.empty());
}

TEST_F(ReconnectTest, SubmitAndWaitFindsItsJobAgainAndWaitsForIt) {
  EXPECT_CALL(*stub_, SubmitJob(_, _, _))
      .WillOnce(
          Invoke([](grpc::ClientContext*, const v1::SubmitJobRequest& request,
                    v1::SubmitJobResponse*) {
            EXPECT_TRUE(request.wait());
            return kSocketClosed;  // dagd died while the job ran
          }))
      .WillOnce(
          Invoke([](grpc::ClientContext*, const v1::SubmitJobRequest& request,
                    v1::SubmitJobResponse* response) {
            EXPECT_FALSE(request.wait());
            EXPECT_EQ(request.request_id(), "req-2");
            response->set_job_id("j1");
            response->set_existing(true);
            return grpc::Status::OK;
          }));
  ExpectStream({Finished(v1::JOB_SUCCEEDED)}, grpc::Status::CANCELLED);
  ServeStreams();
  absl::StatusOr<v1::SubmitJobResponse> done =
      client_->SubmitAndWait(v1::JobSpec(), "req-2", Record());
  ASSERT_TRUE(done.ok()) << done.status();
  EXPECT_EQ(done->job_id(), "j1");
  EXPECT_EQ(done->final_status().state(), v1::JOB_SUCCEEDED);
  ASSERT_EQ(changes_.size(), 2u);
  EXPECT_EQ(changes_[1].kind, ConnectionChange::Kind::kRegained);
}

TEST_F(ReconnectTest, UnaryCallsWaitForTheCoordinatorUntilTheirDeadline) {
  EXPECT_CALL(*stub_, GetJob(_, _, _))
      .WillOnce(Invoke([this](grpc::ClientContext* context,
                              const v1::GetJobRequest&, v1::JobStatus*) {
        EXPECT_EQ(absl::FromChrono(context->deadline()),
                  now_ + absl::Seconds(30));
        return grpc::Status::OK;
      }));
  EXPECT_TRUE(client_->Get("j1").ok());
}

}  // namespace
}  // namespace dagd
