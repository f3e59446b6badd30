#include <google/protobuf/util/time_util.h>
#include <grpcpp/test/mock_stream.h>

#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "client/dagctl/commands.h"
#include "client/dagctl/exit_code.h"
#include "client/dagctl/graph.h"
#include "dagd/v1/job_service_mock.grpc.pb.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace dagd::dagctl {
namespace {

using ::grpc::testing::MockClientReader;
using ::testing::_;
using ::testing::DoAll;
using ::testing::HasSubstr;
using ::testing::Invoke;
using ::testing::Not;
using ::testing::Return;
using ::testing::SetArgPointee;
using ::testing::StartsWith;

constexpr char kTiny[] =
    R"({"name": "tiny", "tasks": [{"id": "a", "fn": "const"}]})";

v1::JobStatus Job(v1::JobState state) {
  v1::JobStatus status;
  status.set_job_id("j1");
  status.set_state(state);
  status.set_total_tasks(2);
  return status;
}

v1::JobEvent Snapshot(v1::JobState state) {
  v1::JobEvent event;
  *event.mutable_snapshot() = Job(state);
  v1::TaskStateCount* count = event.mutable_snapshot()->add_counts();
  count->set_state(v1::TASK_READY);
  count->set_count(2);
  return event;
}

v1::JobEvent TaskEvent(const std::string& id, v1::TaskState from,
                       v1::TaskState state) {
  v1::JobEvent event;
  event.mutable_task()->set_task_id(id);
  event.mutable_task()->set_previous_state(from);
  event.mutable_task()->set_state(state);
  return event;
}

v1::JobEvent Finished(v1::JobState state) {
  v1::JobEvent event;
  *event.mutable_finished() = Job(state);
  return event;
}

class CommandsTest : public ::testing::Test {
 protected:
  CommandsTest() {
    auto stub = std::make_unique<v1::MockJobServiceStub>();
    stub_ = stub.get();
    client_ = std::make_unique<Client>(std::move(stub));
    io_.out = &out_;
    io_.err = &err_;
    io_.in = &in_;
    io_.now = [] { return absl::FromUnixSeconds(1700000000); };
  }

  int Run(const std::vector<std::string>& args) {
    absl::StatusOr<Invocation> invocation = ParseArgs(args, "host:7700");
    EXPECT_TRUE(invocation.ok()) << invocation.status();
    if (!invocation.ok()) return -1;
    return RunCommand(*invocation, *client_, io_);
  }

  // Makes the next WatchJob stream deliver `events`, then end.
  void ExpectWatch(const std::vector<v1::JobEvent>& events) {
    auto* reader = new MockClientReader<v1::JobEvent>();  // owned by Client
    EXPECT_CALL(*stub_, WatchJobRaw(_, _)).WillOnce(Return(reader));
    auto& read = EXPECT_CALL(*reader, Read(_));
    for (const v1::JobEvent& event : events) {
      read.WillOnce(DoAll(SetArgPointee<0>(event), Return(true)));
    }
    read.WillRepeatedly(Return(false));
    EXPECT_CALL(*reader, Finish()).WillOnce(Return(grpc::Status::OK));
  }

  void ExpectGetJob(const v1::JobStatus& status) {
    EXPECT_CALL(*stub_, GetJob(_, _, _))
        .WillOnce(DoAll(SetArgPointee<2>(status), Return(grpc::Status::OK)));
  }

  v1::MockJobServiceStub* stub_;  // owned by client_
  std::unique_ptr<Client> client_;
  std::ostringstream out_;
  std::ostringstream err_;
  std::istringstream in_;
  Io io_;
};

TEST_F(CommandsTest, SubmitPrintsTheJobIdAlone) {
  in_.str(kTiny);
  v1::SubmitJobResponse response;
  response.set_job_id("j1");
  EXPECT_CALL(*stub_, SubmitJob(_, _, _))
      .WillOnce(
          Invoke([&](grpc::ClientContext*, const v1::SubmitJobRequest& request,
                     v1::SubmitJobResponse* out) {
            EXPECT_EQ(request.job().name(), "tiny");
            EXPECT_EQ(request.request_id(), "r1");
            *out = response;
            return grpc::Status::OK;
          }));
  EXPECT_EQ(Run({"submit", "-", "--request_id=r1"}), kExitOk);
  EXPECT_EQ(out_.str(), "j1\n");
  EXPECT_EQ(err_.str(), "");
}

TEST_F(CommandsTest, SubmitWaitReportsTheOutcomeAndFails) {
  in_.str(kTiny);
  v1::SubmitJobResponse response;
  response.set_job_id("j1");
  EXPECT_CALL(*stub_, SubmitJob(_, _, _))
      .WillOnce(DoAll(SetArgPointee<2>(response), Return(grpc::Status::OK)));
  ExpectWatch({Snapshot(v1::JOB_RUNNING), Finished(v1::JOB_FAILED)});
  EXPECT_EQ(Run({"submit", "-", "--wait"}), kExitJobFailed);
  EXPECT_THAT(out_.str(), StartsWith("j1\njob j1 FAILED: "));
}

TEST_F(CommandsTest, SubmitOfAMalformedJobIsAUsageErrorWithoutAnRpc) {
  in_.str("{\"name\": }");
  EXPECT_CALL(*stub_, SubmitJob(_, _, _)).Times(0);
  EXPECT_EQ(Run({"submit", "-"}), kExitUsage);
  EXPECT_EQ(err_.str(),
            "dagctl: <stdin>: malformed JSON: line 1, column 10: expected a "
            "value, found '}'\n");
  EXPECT_EQ(Run({"submit", "/no/such/file.json"}), kExitUsage);
  EXPECT_THAT(err_.str(), HasSubstr("/no/such/file.json"));
}

TEST_F(CommandsTest, ServerRejectionPassesTheMessageOn) {
  in_.str(kTiny);
  EXPECT_CALL(*stub_, SubmitJob(_, _, _))
      .WillOnce(
          Return(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                              "task \"sum\": input \"c\" does not exist")));
  EXPECT_EQ(Run({"submit", "-"}), kExitUsage);
  EXPECT_EQ(err_.str(), "dagctl: task \"sum\": input \"c\" does not exist\n");
  EXPECT_EQ(out_.str(), "");
}

TEST_F(CommandsTest, StatusExitCodeFollowsTheJobState) {
  ExpectGetJob(Job(v1::JOB_SUCCEEDED));
  EXPECT_EQ(Run({"status", "j1"}), kExitOk);
  EXPECT_THAT(out_.str(), HasSubstr("state      SUCCEEDED\n"));
  ExpectGetJob(Job(v1::JOB_CANCELLED));
  EXPECT_EQ(Run({"status", "j1"}), kExitJobFailed);
  ExpectGetJob(Job(v1::JOB_RUNNING));
  EXPECT_EQ(Run({"status", "j1"}), kExitOk);
}

TEST_F(CommandsTest, StatusJsonIsTheProtoMapping) {
  ExpectGetJob(Job(v1::JOB_FAILED));
  EXPECT_EQ(Run({"status", "j1", "-o", "json"}), kExitJobFailed);
  EXPECT_THAT(out_.str(), StartsWith("{\"jobId\":\"j1\""));
  EXPECT_THAT(out_.str(), HasSubstr("\"state\":\"JOB_FAILED\""));
}

TEST_F(CommandsTest, UnknownJobIsAUsageError) {
  EXPECT_CALL(*stub_, GetJob(_, _, _))
      .WillOnce(
          Return(grpc::Status(grpc::StatusCode::NOT_FOUND, "no job \"j9\"")));
  EXPECT_EQ(Run({"status", "j9"}), kExitUsage);
  EXPECT_EQ(err_.str(), "dagctl: no job \"j9\"\n");
}

TEST_F(CommandsTest, UnreachableServerNamesTheAddress) {
  EXPECT_CALL(*stub_, ListWorkers(_, _, _))
      .WillOnce(Return(
          grpc::Status(grpc::StatusCode::UNAVAILABLE, "failed to connect")));
  EXPECT_EQ(Run({"workers"}), kExitUnreachable);
  EXPECT_THAT(err_.str(), HasSubstr("dagctl: cannot reach dagd at host:7700 "
                                    "(failed to connect)"));
}

TEST_F(CommandsTest, WatchPrintsALinePerChangeWhenNotATerminal) {
  ExpectWatch({Snapshot(v1::JOB_PENDING),
               TaskEvent("a", v1::TASK_READY, v1::TASK_ASSIGNED),
               TaskEvent("a", v1::TASK_ASSIGNED, v1::TASK_RUNNING),
               TaskEvent("a", v1::TASK_RUNNING, v1::TASK_SUCCEEDED),
               Finished(v1::JOB_SUCCEEDED)});
  EXPECT_EQ(Run({"watch", "j1"}), kExitOk);
  EXPECT_EQ(out_.str(),
            "PENDING  0/2 done  0 running  0 failed  0ms\n"
            "RUNNING  0/2 done  1 running  0 failed  0ms\n"
            "RUNNING  1/2 done  0 running  0 failed  0ms\n"
            "job j1 SUCCEEDED: 0/2 tasks done in 0ms\n");
}

TEST_F(CommandsTest, WatchRedrawsAProgressBarOnATerminal) {
  io_.out_is_terminal = true;
  // A fake clock a second further on at each reading: the watch starts at
  // 0s, the snapshot comes at 1s and the task event at 2s.
  absl::Time now = absl::FromUnixSeconds(1700000000);
  io_.now = [&now] {
    const absl::Time reading = now;
    now += absl::Seconds(1);
    return reading;
  };
  v1::JobEvent snapshot = Snapshot(v1::JOB_RUNNING);
  *snapshot.mutable_snapshot()->mutable_started_at() =
      google::protobuf::util::TimeUtil::SecondsToTimestamp(1700000000);
  ExpectWatch({snapshot, TaskEvent("a", v1::TASK_RUNNING, v1::TASK_FAILED),
               Finished(v1::JOB_FAILED)});
  EXPECT_EQ(Run({"watch", "j1"}), kExitJobFailed);
  // ETA: one task done in the 2s since the watch began, one left.
  EXPECT_EQ(out_.str(),
            "\r[--------------------] 0% 0/2 done  0 running  0 failed  "
            "elapsed 1.0s  ETA -\033[K"
            "\r[##########----------] 50% 1/2 done  0 running  1 failed  "
            "elapsed 2.0s  ETA 2.0s\033[K\n"
            "job j1 FAILED: 0/2 tasks done in 0ms\n");
}

TEST_F(CommandsTest, WatchJsonPrintsEachEvent) {
  ExpectWatch({Snapshot(v1::JOB_RUNNING), Finished(v1::JOB_CANCELLED)});
  EXPECT_EQ(Run({"watch", "j1", "--output=json"}), kExitJobFailed);
  std::istringstream lines(out_.str());
  std::string first, second, rest;
  std::getline(lines, first);
  std::getline(lines, second);
  EXPECT_THAT(first, StartsWith("{\"snapshot\":"));
  EXPECT_THAT(second, StartsWith("{\"finished\":"));
  EXPECT_FALSE(std::getline(lines, rest));
}

TEST_F(CommandsTest, CancelSaysWhatHappened) {
  v1::CancelJobResponse response;
  response.set_state(v1::JOB_SUCCEEDED);
  EXPECT_CALL(*stub_, CancelJob(_, _, _))
      .WillOnce(DoAll(SetArgPointee<2>(response), Return(grpc::Status::OK)));
  EXPECT_EQ(Run({"cancel", "j1"}), kExitOk);
  EXPECT_EQ(out_.str(),
            "job j1 had already finished (SUCCEEDED); nothing changed\n");
}

TEST_F(CommandsTest, DeleteSaysWhatHappened) {
  EXPECT_CALL(*stub_, DeleteJob(_, _, _))
      .WillOnce(
          Invoke([](grpc::ClientContext*, const v1::DeleteJobRequest& request,
                    v1::DeleteJobResponse*) {
            EXPECT_EQ(request.job_id(), "j1");
            return grpc::Status::OK;
          }));
  EXPECT_EQ(Run({"delete", "j1"}), kExitOk);
  EXPECT_EQ(out_.str(), "deleted job j1\n");
  EXPECT_EQ(err_.str(), "");
}

TEST_F(CommandsTest, DeleteJsonPrintsTheEmptyResponse) {
  EXPECT_CALL(*stub_, DeleteJob(_, _, _)).WillOnce(Return(grpc::Status::OK));
  EXPECT_EQ(Run({"delete", "j1", "-o", "json"}), kExitOk);
  EXPECT_EQ(out_.str(), "{}\n");
}

TEST_F(CommandsTest, DeleteOfAnUnfinishedOrUnknownJobIsAUsageError) {
  EXPECT_CALL(*stub_, DeleteJob(_, _, _))
      .WillOnce(Return(grpc::Status(
          grpc::StatusCode::FAILED_PRECONDITION,
          "job 'j1' is RUNNING: only a finished job can be deleted; cancel "
          "it first (dagctl cancel j1)")))
      .WillOnce(
          Return(grpc::Status(grpc::StatusCode::NOT_FOUND, "no job 'j9'")));
  EXPECT_EQ(Run({"delete", "j1"}), kExitUsage);
  EXPECT_EQ(err_.str(),
            "dagctl: job 'j1' is RUNNING: only a finished job can be "
            "deleted; cancel it first (dagctl cancel j1)\n");
  EXPECT_EQ(out_.str(), "");
  err_.str("");
  EXPECT_EQ(Run({"delete", "j9"}), kExitUsage);
  EXPECT_EQ(err_.str(), "dagctl: no job 'j9'\n");
}

TEST_F(CommandsTest, ResultPrintsTheBytesExactlyAsTheyStreamIn) {
  auto* reader = new MockClientReader<v1::ResultChunk>();  // owned by dagctl
  v1::ResultChunk first, second;
  first.set_data(std::string("5237", 4));
  first.set_size_bytes(8);
  second.set_data(std::string("76\0\xff", 4));
  EXPECT_CALL(*stub_, ReadResultRaw(_, _))
      .WillOnce(Invoke(
          [&](grpc::ClientContext*, const v1::GetResultRequest& request) {
            EXPECT_EQ(request.job_id(), "j1");
            EXPECT_EQ(request.task_id(), "root");
            return reader;
          }));
  EXPECT_CALL(*reader, Read(_))
      .WillOnce(DoAll(SetArgPointee<0>(first), Return(true)))
      .WillOnce(DoAll(SetArgPointee<0>(second), Return(true)))
      .WillOnce(Return(false));
  EXPECT_CALL(*reader, Finish()).WillOnce(Return(grpc::Status::OK));
  EXPECT_EQ(Run({"result", "j1", "root"}), kExitOk);
  EXPECT_EQ(out_.str(), std::string("523776\0\xff", 8));
}

TEST_F(CommandsTest, ResultThatFailsItsChecksumExitsWithAnError) {
  auto* reader = new MockClientReader<v1::ResultChunk>();
  v1::ResultChunk chunk;
  chunk.set_data("42");
  EXPECT_CALL(*stub_, ReadResultRaw(_, _)).WillOnce(Return(reader));
  EXPECT_CALL(*reader, Read(_))
      .WillOnce(DoAll(SetArgPointee<0>(chunk), Return(true)))
      .WillOnce(Return(false));
  EXPECT_CALL(*reader, Finish())
      .WillOnce(Return(grpc::Status(grpc::StatusCode::DATA_LOSS,
                                    "does not match its CRC-32C")));
  EXPECT_NE(Run({"result", "j1", "root"}), kExitOk);
  EXPECT_THAT(err_.str(), HasSubstr("CRC-32C"));
}

// A stream that ends short of the size its first chunk announced is not
// the result, though the call ended well.
TEST_F(CommandsTest, AResultStreamShortOfItsSizeExitsWithAnError) {
  auto* reader = new MockClientReader<v1::ResultChunk>();
  v1::ResultChunk chunk;
  chunk.set_data("42");
  chunk.set_size_bytes(5);
  EXPECT_CALL(*stub_, ReadResultRaw(_, _)).WillOnce(Return(reader));
  EXPECT_CALL(*reader, Read(_))
      .WillOnce(DoAll(SetArgPointee<0>(chunk), Return(true)))
      .WillOnce(Return(false));
  EXPECT_CALL(*reader, Finish()).WillOnce(Return(grpc::Status::OK));
  EXPECT_NE(Run({"result", "j1", "root"}), kExitOk);
  EXPECT_THAT(err_.str(),
              HasSubstr("the result of task 'root' of job j1 is 5 bytes, but "
                        "2 came before the stream ended"));
}

TEST_F(CommandsTest, ResultFromADagdWithoutReadResultUsesGetResult) {
  auto* reader = new MockClientReader<v1::ResultChunk>();
  EXPECT_CALL(*stub_, ReadResultRaw(_, _)).WillOnce(Return(reader));
  EXPECT_CALL(*reader, Read(_)).WillOnce(Return(false));
  EXPECT_CALL(*reader, Finish())
      .WillOnce(Return(grpc::Status(grpc::StatusCode::UNIMPLEMENTED, "")));
  v1::GetResultResponse response;
  response.set_data("older");
  EXPECT_CALL(*stub_, GetResult(_, _, _))
      .WillOnce(DoAll(SetArgPointee<2>(response), Return(grpc::Status::OK)));
  EXPECT_EQ(Run({"result", "j1", "root"}), kExitOk);
  EXPECT_EQ(out_.str(), "older");
}

TEST_F(CommandsTest, ResultAsJsonIsOneMessage) {
  v1::GetResultResponse response;
  response.set_data("7");
  response.set_content_type("application/json");
  EXPECT_CALL(*stub_, GetResult(_, _, _))
      .WillOnce(DoAll(SetArgPointee<2>(response), Return(grpc::Status::OK)));
  EXPECT_EQ(Run({"-o", "json", "result", "j1", "root"}), kExitOk);
  EXPECT_EQ(out_.str(),
            "{\"data\":\"Nw==\",\"contentType\":\"application/json\"}\n");
}

TEST_F(CommandsTest, JobsFollowsPagesWithAll) {
  v1::ListJobsResponse first, second;
  *first.add_jobs() = Job(v1::JOB_SUCCEEDED);
  first.set_next_page_token("p2");
  *second.add_jobs() = Job(v1::JOB_RUNNING);
  second.mutable_jobs(0)->set_job_id("j0");
  EXPECT_CALL(*stub_, ListJobs(_, _, _))
      .WillOnce(DoAll(SetArgPointee<2>(first), Return(grpc::Status::OK)))
      .WillOnce(
          Invoke([&](grpc::ClientContext*, const v1::ListJobsRequest& request,
                     v1::ListJobsResponse* out) {
            EXPECT_EQ(request.page_token(), "p2");
            EXPECT_EQ(request.page_size(), 1);
            *out = second;
            return grpc::Status::OK;
          }));
  EXPECT_EQ(Run({"jobs", "--all", "--page_size=1"}), kExitOk);
  EXPECT_EQ(out_.str(),
            "ID  NAME  STATE      DONE  SUBMITTED\n"
            "j1  -     SUCCEEDED  0/2   -\n"
            "j0  -     RUNNING    0/2   -\n");
  EXPECT_EQ(err_.str(), "");
}

TEST_F(CommandsTest, JobsShowsHowToGetTheNextPage) {
  v1::ListJobsResponse page;
  page.set_next_page_token("p2");
  EXPECT_CALL(*stub_, ListJobs(_, _, _))
      .WillOnce(DoAll(SetArgPointee<2>(page), Return(grpc::Status::OK)));
  EXPECT_EQ(Run({"jobs"}), kExitOk);
  EXPECT_THAT(err_.str(), HasSubstr("dagctl jobs --page_token=p2"));
}

TEST_F(CommandsTest, TasksAndWorkers) {
  v1::ListTasksResponse tasks;
  tasks.add_tasks()->set_task_id("a");
  EXPECT_CALL(*stub_, ListTasks(_, _, _))
      .WillOnce(DoAll(SetArgPointee<2>(tasks), Return(grpc::Status::OK)));
  EXPECT_EQ(Run({"tasks", "j1"}), kExitOk);
  EXPECT_EQ(out_.str(), "a  UNKNOWN\n");
  out_.str("");
  EXPECT_CALL(*stub_, ListWorkers(_, _, _)).WillOnce(Return(grpc::Status::OK));
  EXPECT_EQ(Run({"workers"}), kExitOk);
  EXPECT_EQ(out_.str(),
            "ID  NAME  SLOTS  POOL  LABELS  RESOURCES  FUNCTIONS\n");
}

TEST_F(CommandsTest, GraphPrintsDot) {
  v1::ListTasksResponse tasks;
  v1::TaskStatus* a = tasks.add_tasks();
  a->set_task_id("a");
  a->set_fn("const");
  a->set_state(v1::TASK_SUCCEEDED);
  v1::TaskStatus* sum = tasks.add_tasks();
  sum->set_task_id("sum");
  sum->set_fn("add");
  sum->set_state(v1::TASK_RUNNING);
  sum->add_inputs("a");
  EXPECT_CALL(*stub_, ListTasks(_, _, _))
      .WillOnce(
          Invoke([&](grpc::ClientContext*, const v1::ListTasksRequest& request,
                     v1::ListTasksResponse* out) {
            EXPECT_EQ(request.job_id(), "j1");
            *out = tasks;
            return grpc::Status::OK;
          }));
  EXPECT_EQ(Run({"graph", "j1"}), kExitOk);
  EXPECT_THAT(out_.str(), StartsWith("digraph \"j1\" {\n"));
  EXPECT_THAT(out_.str(), HasSubstr("  \"a\" -> \"sum\";\n"));
  EXPECT_THAT(out_.str(), HasSubstr("fillcolor=lightblue"));
  EXPECT_EQ(err_.str(), "");
}

TEST_F(CommandsTest, GraphOfALargeJobWarnsOnStderrButPrintsIt) {
  v1::ListTasksResponse tasks;
  for (int i = 0; i <= kLargeGraphTasks; ++i) {
    tasks.add_tasks()->set_task_id(absl::StrCat("t", i));
  }
  EXPECT_CALL(*stub_, ListTasks(_, _, _))
      .WillOnce(DoAll(SetArgPointee<2>(tasks), Return(grpc::Status::OK)));
  EXPECT_EQ(Run({"graph", "j1"}), kExitOk);
  EXPECT_THAT(out_.str(),
              HasSubstr(absl::StrCat("\"t", kLargeGraphTasks, "\" [label=")));
  EXPECT_THAT(err_.str(), HasSubstr("has 5001 tasks; dot may take minutes"));
}

TEST_F(CommandsTest, GraphOfAnUnknownJobIsAUsageError) {
  EXPECT_CALL(*stub_, ListTasks(_, _, _))
      .WillOnce(
          Return(grpc::Status(grpc::StatusCode::NOT_FOUND, "no job \"j9\"")));
  EXPECT_EQ(Run({"graph", "j9"}), kExitUsage);
  EXPECT_EQ(err_.str(), "dagctl: no job \"j9\"\n");
  EXPECT_EQ(out_.str(), "");
}

// A reader that delivers `events`, then ends with `end`.
MockClientReader<v1::JobEvent>* Stream(const std::vector<v1::JobEvent>& events,
                                       grpc::Status end) {
  auto* reader = new MockClientReader<v1::JobEvent>();  // owned by Client
  auto& read = EXPECT_CALL(*reader, Read(_));
  for (const v1::JobEvent& event : events) {
    read.WillOnce(DoAll(SetArgPointee<0>(event), Return(true)));
  }
  read.WillRepeatedly(Return(false));
  EXPECT_CALL(*reader, Finish()).WillOnce(Return(end));
  return reader;
}

// dagctl with the Client it gets in main (reconnecting), on a clock that
// only the pauses between tries move.
class ReconnectingCommandsTest : public CommandsTest {
 protected:
  ReconnectingCommandsTest() {
    auto stub = std::make_unique<v1::MockJobServiceStub>();
    stub_ = stub.get();
    ClientOptions options;
    options.now = [this] { return now_; };
    options.sleep = [this](absl::Duration d) { now_ += d; };
    client_ = std::make_unique<Client>(std::move(stub), options);
    io_.new_request_id = [] { return std::string("dagctl-abc"); };
  }

  absl::Time now_ = absl::FromUnixSeconds(1700000000);
};

const grpc::Status kSocketClosed(grpc::StatusCode::UNAVAILABLE,
                                 "Socket closed");

TEST_F(ReconnectingCommandsTest, WatchSaysWhenItLosesDagdAndWhenItIsBack) {
  v1::JobEvent later = Snapshot(v1::JOB_RUNNING);
  later.mutable_snapshot()->mutable_counts(0)->set_state(v1::TASK_SUCCEEDED);
  EXPECT_CALL(*stub_, WatchJobRaw(_, _))
      .WillOnce(Return(Stream({Snapshot(v1::JOB_RUNNING)}, kSocketClosed)))
      .WillOnce(Return(Stream({later, Finished(v1::JOB_SUCCEEDED)},
                              grpc::Status::CANCELLED)));
  EXPECT_CALL(*stub_, GetJob(_, _, _))
      .WillOnce(Invoke([this](grpc::ClientContext*, const v1::GetJobRequest&,
                              v1::JobStatus*) {
        now_ += absl::Milliseconds(2300);  // dagd came back after 2.3s
        return grpc::Status::OK;
      }));
  EXPECT_EQ(Run({"watch", "j1"}), kExitOk);
  EXPECT_EQ(err_.str(),
            "dagctl: lost dagd at host:7700 (Socket closed); reconnecting for "
            "up to 1m (--reconnect_timeout)\n"
            "dagctl: reconnected to dagd at host:7700 after 2.3s\n");
  // Counts from the new snapshot: the job's, not a guess.
  EXPECT_EQ(out_.str(),
            "RUNNING  0/2 done  0 running  0 failed  0ms\n"
            "RUNNING  2/2 done  0 running  0 failed  0ms\n"
            "job j1 SUCCEEDED: 0/2 tasks done in 0ms\n");
}

TEST_F(ReconnectingCommandsTest, WatchThatGivesUpExitsThreeNamingTheFlag) {
  EXPECT_CALL(*stub_, WatchJobRaw(_, _))
      .WillOnce(Return(Stream({Snapshot(v1::JOB_RUNNING)}, kSocketClosed)));
  EXPECT_CALL(*stub_, GetJob(_, _, _))
      .WillRepeatedly(Return(
          grpc::Status(grpc::StatusCode::UNAVAILABLE, "failed to connect")));
  // (main() passes --reconnect_timeout to the Client; here it is 1m.)
  EXPECT_EQ(Run({"watch", "j1"}), kExitUnreachable);
  EXPECT_THAT(err_.str(),
              HasSubstr("dagctl: cannot reach dagd at host:7700 (connection "
                        "lost: Socket closed; none again within 1m); set "
                        "--server or DAGD_SERVER to its address, or "
                        "--reconnect_timeout to wait longer\n"));
}

TEST_F(ReconnectingCommandsTest, SubmitSendsItsOwnRequestIdAgainAfterALoss) {
  in_.str(kTiny);
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
            response->set_job_id("j1");
            response->set_existing(true);  // the lost try's own job
            return grpc::Status::OK;
          }));
  EXPECT_EQ(Run({"submit", "-"}), kExitOk);
  EXPECT_THAT(ids, ::testing::ElementsAre("dagctl-abc", "dagctl-abc"));
  EXPECT_EQ(out_.str(), "j1\n");
  EXPECT_THAT(err_.str(),
              HasSubstr("(Socket closed); sending the job again with request "
                        "id dagctl-abc for up to 30s (--timeout)\n"));
  EXPECT_THAT(err_.str(), Not(HasSubstr("already submitted")));
}

TEST_F(ReconnectingCommandsTest, SubmitThatGivesUpSaysHowToFindTheJob) {
  in_.str(kTiny);
  EXPECT_CALL(*stub_, SubmitJob(_, _, _)).WillRepeatedly(Return(kSocketClosed));
  EXPECT_EQ(Run({"submit", "-", "--request_id=mine"}), kExitUnreachable);
  EXPECT_THAT(err_.str(), HasSubstr("submit again with --request_id=mine\n"));
}

}  // namespace
}  // namespace dagd::dagctl
