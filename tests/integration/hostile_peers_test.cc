// Peers that misbehave on purpose or by neglect: a worker claiming
// billions of slots, a worker that heartbeats but never reads, watchers
// that never read, HTTP clients that never finish a request. dagd bounds what
// each can take.
#include <atomic>
#include <cmath>
#include <memory>
#include <string>
#include <thread>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "client/client.h"
#include "dagd/v1/job_service.grpc.pb.h"
#include "dagd/v1/worker_service.grpc.pb.h"
#include "grpcpp/grpcpp.h"
#include "storage/flow_control.h"
#include "tests/integration/integration_env.h"
#include "tests/testutil/http_get.h"

namespace dagd {
namespace {

using testing::PollUntil;

// A WorkerService stream spoken by hand, on a channel with dagd-worker's
// flow control (a fixed window: what dagd can send it unread is bounded
// whatever gRPC's probes would have made of it).
struct RawWorker {
  explicit RawWorker(const std::string& address)
      : stub(v1::WorkerService::NewStub(Channel(address))),
        stream(stub->Connect(&context)) {}

  static std::shared_ptr<grpc::Channel> Channel(const std::string& address) {
    grpc::ChannelArguments args;
    SetFlowControl(args);
    return grpc::CreateCustomChannel(address,
                                     grpc::InsecureChannelCredentials(), args);
  }

  bool Register(uint32_t slots, const std::string& name = "raw",
                int functions = 1) {
    v1::Register reg;
    reg.set_name(name);
    reg.set_slots(slots);
    reg.add_functions("const");
    for (int i = 1; i < functions; ++i) {
      reg.add_functions(absl::StrCat("fn", i));
    }
    return Register(std::move(reg));
  }
  bool Register(v1::Register reg) {
    v1::WorkerMessage message;
    *message.mutable_register_() = std::move(reg);
    return stream->Write(message);
  }

  // Reads until the stream ends; its status.
  grpc::Status End() {
    v1::CoordinatorMessage message;
    while (stream->Read(&message)) {
    }
    return stream->Finish();
  }
  bool Heartbeat() {
    v1::WorkerMessage message;
    message.mutable_heartbeat();
    return stream->Write(message);
  }

  std::unique_ptr<v1::WorkerService::Stub> stub;
  grpc::ClientContext context;
  std::unique_ptr<
      grpc::ClientReaderWriter<v1::WorkerMessage, v1::CoordinatorMessage>>
      stream;
};

absl::StatusOr<v1::ListWorkersResponse> Workers(testing::DagdProcess& dagd) {
  return dagd.client().ListWorkers();
}

// Tasks of `const` whose args are `pad` bytes: what a worker is sent for
// them takes room.
v1::JobSpec PaddedJob(int tasks, size_t pad) {
  v1::JobSpec job;
  for (int i = 0; i < tasks; ++i) {
    v1::TaskSpec* task = job.add_tasks();
    task->set_id(absl::StrCat("t", i));
    task->set_fn("const");
    (*task->mutable_args()->mutable_struct_value()->mutable_fields())["value"]
        .set_string_value(std::string(pad, 'x'));
  }
  return job;
}

TEST(HostilePeersTest, AWorkerGetsNoMoreSlotsThanTheOperatorAllows) {
  std::unique_ptr<testing::DagdProcess> dagd =
      testing::StartDagd({"--max_worker_slots=16"});
  ASSERT_NE(dagd, nullptr);
  RawWorker greedy(dagd->address());
  ASSERT_TRUE(greedy.Register(4'000'000'000u));
  ASSERT_EQ(dagd->WaitForWorkers(1), absl::OkStatus());
  absl::StatusOr<v1::ListWorkersResponse> workers = Workers(*dagd);
  ASSERT_TRUE(workers.ok());
  EXPECT_EQ(workers->workers(0).slots(), 16u);
  EXPECT_THAT(dagd->Log(), ::testing::HasSubstr("asked for 4000000000 slots"));
}

// A peer that was never given an attempt reports its success (job and task
// numbers are easy to guess): the report is dropped, the real attempt goes
// on, and the consumer runs on the real output.
TEST(HostilePeersTest, AForgedResultForAnAttemptNeverGivenIsDropped) {
  std::unique_ptr<testing::DagdProcess> dagd =
      testing::StartDagd({"--local_workers=1", "--local_worker_slots=2"});
  ASSERT_NE(dagd, nullptr);
  ASSERT_EQ(dagd->WaitForWorkers(1), absl::OkStatus());
  absl::StatusOr<std::string> job_id = testing::SubmitJob(dagd->client(), R"({
    "tasks": [
      {"id": "c", "fn": "const", "args": {"value": 41}},
      {"id": "a", "fn": "sleep", "inputs": ["c"], "args": {"ms": 1500}},
      {"id": "b", "fn": "add", "inputs": ["a"], "args": {"value": 1}}]})");
  ASSERT_TRUE(job_id.ok()) << job_id.status();
  ASSERT_EQ(
      testing::WaitForTaskState(dagd->client(), *job_id, "a", v1::TASK_RUNNING),
      absl::OkStatus());
  RawWorker forger(dagd->address());
  ASSERT_TRUE(forger.Register(0));
  v1::WorkerMessage message;
  v1::TaskResult* forged = message.mutable_batch()->add_results();
  forged->mutable_task()->set_job_id(*job_id);
  forged->mutable_task()->set_task_index(1);
  forged->mutable_task()->set_attempt(1);
  forged->set_ok(true);
  forged->mutable_output()->set_data("666");
  forged->mutable_output()->set_content_type("application/json");
  forged->set_report_order(1);
  ASSERT_TRUE(forger.stream->Write(message));

  absl::StatusOr<v1::JobStatus> done = dagd->client().Wait(*job_id);
  ASSERT_TRUE(done.ok()) << done.status();
  EXPECT_EQ(done->state(), v1::JOB_SUCCEEDED);
  absl::StatusOr<v1::GetResultResponse> b = dagd->client().Result(*job_id, "b");
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_EQ(b->data(), "42");
  absl::StatusOr<v1::TaskStatus> a = dagd->client().Task(*job_id, "a");
  ASSERT_TRUE(a.ok());
  ASSERT_EQ(a->attempts_size(), 1);
  EXPECT_EQ(a->attempts(0).worker(), "local-1");
  EXPECT_EQ(a->attempts(0).error(), "");
}

// Names end up in logs, metrics and dagctl's output: a registration with
// control characters, or thousands of function names, is refused.
TEST(HostilePeersTest, RegistrationsWithForgedOrEndlessNamesAreRefused) {
  std::unique_ptr<testing::DagdProcess> dagd = testing::StartDagd({});
  ASSERT_NE(dagd, nullptr);
  RawWorker forging(dagd->address());
  ASSERT_TRUE(forging.Register(1, "w\n2026-12-04T00:00:00Z dagd: all is well"));
  grpc::Status refused = forging.End();
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(refused.error_message(), ::testing::HasSubstr("name 'w\\n2026"));
  RawWorker endless(dagd->address());
  ASSERT_TRUE(endless.Register(1, "endless", 5000));
  refused = endless.End();
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(refused.error_message(),
              ::testing::HasSubstr("at most 1024 functions, not 5000"));
  absl::StatusOr<v1::ListWorkersResponse> workers = Workers(*dagd);
  ASSERT_TRUE(workers.ok());
  EXPECT_EQ(workers->workers_size(), 0);
  // The log holds no forged line.
  EXPECT_THAT(dagd->Log(), ::testing::Not(::testing::HasSubstr(
                               "\n2026-12-04T00:00:00Z dagd: all is well")));
}

// A capacity that is not a number would pass every check of whether a task
// fits; a negative one would make no sense of what is free.
TEST(HostilePeersTest, RegistrationsWithCapacitiesThatAreNoAmountsAreRefused) {
  std::unique_ptr<testing::DagdProcess> dagd = testing::StartDagd({});
  ASSERT_NE(dagd, nullptr);
  for (const auto& [resource, amount, shown] :
       std::vector<std::tuple<std::string, double, std::string>>{
           {"gpu", std::nan(""), "'gpu' is nan"},
           {"memory_mb", -1, "'memory_mb' is -1"},
           {"tpu", HUGE_VAL, "'tpu' is inf"}}) {
    RawWorker worker(dagd->address());
    v1::Register reg;
    reg.set_name("odd");
    reg.set_slots(1);
    reg.add_functions("const");
    (*reg.mutable_resources())[resource] = amount;
    ASSERT_TRUE(worker.Register(std::move(reg)));
    grpc::Status refused = worker.End();
    EXPECT_EQ(refused.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_THAT(refused.error_message(),
                ::testing::HasSubstr("the worker's resource " + shown))
        << refused.error_message();
  }
  absl::StatusOr<v1::ListWorkersResponse> workers = Workers(*dagd);
  ASSERT_TRUE(workers.ok());
  EXPECT_EQ(workers->workers_size(), 0);
}

// A second Register on a stream changes nothing: the worker stays as it
// first registered, and dagd's log says what was ignored.
TEST(HostilePeersTest, ASecondRegisterOnAStreamIsIgnoredAndNamed) {
  std::unique_ptr<testing::DagdProcess> dagd = testing::StartDagd({});
  ASSERT_NE(dagd, nullptr);
  RawWorker worker(dagd->address());
  ASSERT_TRUE(worker.Register(2, "first"));
  ASSERT_EQ(dagd->WaitForWorkers(1), absl::OkStatus());
  ASSERT_TRUE(worker.Register(64, "second"));
  ASSERT_EQ(
      dagd->WaitForLog("sent a second Register on its "
                       "stream; ignored",
                       "dagd to log the second Register", absl::Seconds(10)),
      absl::OkStatus());
  absl::StatusOr<v1::ListWorkersResponse> workers = Workers(*dagd);
  ASSERT_TRUE(workers.ok());
  ASSERT_EQ(workers->workers_size(), 1);
  EXPECT_EQ(workers->workers(0).name(), "first");
  EXPECT_EQ(workers->workers(0).slots(), 2u);
}

TEST(HostilePeersTest, RegistrationsPastTheWorkerLimitAreRefused) {
  std::unique_ptr<testing::DagdProcess> dagd =
      testing::StartDagd({"--max_workers=2"});
  ASSERT_NE(dagd, nullptr);
  RawWorker first(dagd->address()), second(dagd->address());
  ASSERT_TRUE(first.Register(1, "first"));
  ASSERT_TRUE(second.Register(1, "second"));
  ASSERT_EQ(dagd->WaitForWorkers(2), absl::OkStatus());
  RawWorker third(dagd->address());
  ASSERT_TRUE(third.Register(1, "third"));
  grpc::Status refused = third.End();
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_THAT(refused.error_message(), ::testing::HasSubstr("--max_workers"));
  absl::StatusOr<v1::ListWorkersResponse> workers = Workers(*dagd);
  ASSERT_TRUE(workers.ok());
  EXPECT_EQ(workers->workers_size(), 2);
}

// A worker process reconnecting while dagd still has its older stream
// (half open) replaces that stream, limit or no limit: it was refused
// until the old stream timed out.
TEST(HostilePeersTest, AProcessReconnectingAtTheWorkerLimitReplacesItself) {
  std::unique_ptr<testing::DagdProcess> dagd =
      testing::StartDagd({"--max_workers=1"});
  ASSERT_NE(dagd, nullptr);
  v1::Register reg;
  reg.set_name("again");
  reg.set_slots(1);
  reg.add_functions("const");
  reg.set_instance("instance-1");
  reg.set_data_address("127.0.0.1:1");
  RawWorker old_stream(dagd->address());
  ASSERT_TRUE(old_stream.Register(reg));
  ASSERT_EQ(dagd->WaitForWorkers(1), absl::OkStatus());
  RawWorker new_stream(dagd->address());
  ASSERT_TRUE(new_stream.Register(reg));
  // The old stream is the one dropped.
  ASSERT_EQ(
      dagd->WaitForLog("its older stream is dropped",
                       "dagd to drop the older stream", absl::Seconds(10)),
      absl::OkStatus());
  grpc::Status dropped = old_stream.End();
  EXPECT_EQ(dropped.error_code(), grpc::StatusCode::FAILED_PRECONDITION)
      << dropped.error_message();
  absl::StatusOr<v1::ListWorkersResponse> workers = Workers(*dagd);
  ASSERT_TRUE(workers.ok());
  ASSERT_EQ(workers->workers_size(), 1);
  // Another process is still refused.
  RawWorker other(dagd->address());
  ASSERT_TRUE(other.Register(1, "other"));
  EXPECT_EQ(other.End().error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
}

// Each GetResult holds its whole result in dagd's memory (20 concurrent
// calls of a 100 MB result took dagd from 410 MB to 3.2 GB): past
// kMaxGetResults in flight, calls are refused and told to stream instead.
TEST(HostilePeersTest, ConcurrentGetResultsAreBounded) {
  std::unique_ptr<testing::DagdProcess> dagd =
      testing::StartDagd({"--local_workers=1", "--local_worker_slots=2"});
  ASSERT_NE(dagd, nullptr);
  ASSERT_EQ(dagd->WaitForWorkers(1), absl::OkStatus());
  absl::StatusOr<std::string> job_id =
      testing::SubmitJob(dagd->client(),
                         R"({"tasks": [{"id": "big", "fn": "bytes",
                     "args": {"size": 20000000, "seed": 1}}]})");
  ASSERT_TRUE(job_id.ok()) << job_id.status();
  absl::StatusOr<v1::JobStatus> done = dagd->client().Wait(*job_id);
  ASSERT_TRUE(done.ok() && done->state() == v1::JOB_SUCCEEDED);

  constexpr int kCalls = 24;
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(-1);
  auto stub = v1::JobService::NewStub(grpc::CreateCustomChannel(
      dagd->address(), grpc::InsecureChannelCredentials(), args));
  grpc::CompletionQueue queue;
  std::vector<std::unique_ptr<grpc::ClientContext>> contexts;
  std::vector<v1::GetResultResponse> responses(kCalls);
  std::vector<grpc::Status> statuses(kCalls);
  v1::GetResultRequest request;
  request.set_job_id(*job_id);
  request.set_task_id("big");
  std::vector<
      std::unique_ptr<grpc::ClientAsyncResponseReader<v1::GetResultResponse>>>
      calls;
  for (int i = 0; i < kCalls; ++i) {
    contexts.push_back(std::make_unique<grpc::ClientContext>());
    calls.push_back(
        stub->AsyncGetResult(contexts.back().get(), request, &queue));
    calls.back()->Finish(&responses[i], &statuses[i],
                         reinterpret_cast<void*>(static_cast<intptr_t>(i)));
  }
  int ok = 0;
  int refused = 0;
  for (int i = 0; i < kCalls; ++i) {
    void* tag = nullptr;
    bool more = false;
    ASSERT_TRUE(queue.Next(&tag, &more));
    const auto index = reinterpret_cast<intptr_t>(tag);
    const grpc::Status& status = statuses[index];
    if (status.ok()) {
      ++ok;
      EXPECT_EQ(responses[index].data().size(), 20000000u);
    } else {
      EXPECT_EQ(status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED)
          << status.error_message();
      EXPECT_THAT(status.error_message(), ::testing::HasSubstr("ReadResult"));
      ++refused;
    }
  }
  EXPECT_GE(ok, 1);
  EXPECT_GE(refused, 1) << "all " << kCalls << " calls were answered at once";
  // Once they are answered, GetResult serves again.
  absl::StatusOr<v1::GetResultResponse> again =
      dagd->client().Result(*job_id, "big");
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->data().size(), 20000000u);
}

// A worker of `slots` slots that heartbeats and never reads its stream
// (counting its reads in its heartbeats, or not) is dropped, and its tasks
// run elsewhere.
void ExpectDeafWorkerDropped(uint32_t slots, bool counts_reads) {
  std::unique_ptr<testing::DagdProcess> dagd =
      testing::StartDagd({"--worker_timeout=2s", "--heartbeat_interval=200ms"});
  ASSERT_NE(dagd, nullptr);
  RawWorker deaf(dagd->address());
  v1::Register reg;
  reg.set_name("raw");
  reg.set_slots(slots);
  reg.add_functions("const");
  reg.set_counts_reads(counts_reads);
  ASSERT_TRUE(deaf.Register(std::move(reg)));
  // It heartbeats all along, from the moment it registers: submitting the
  // 25.6 MB job below alone took longer than --worker_timeout on a loaded
  // machine, and a worker silent that long is dropped for that instead.
  std::atomic<bool> beating{true};
  std::atomic<bool> ended{false};  // a heartbeat could not be written
  std::thread heart([&] {
    while (beating.load()) {
      if (!deaf.Heartbeat()) {
        ended = true;
        return;
      }
      absl::SleepFor(absl::Milliseconds(200));
    }
  });
  absl::Cleanup stop_beating = [&] {
    beating = false;
    heart.join();
  };
  ASSERT_EQ(dagd->WaitForWorkers(1), absl::OkStatus());
  // 64 KiB per assignment, one per slot.
  absl::StatusOr<std::string> job_id =
      dagd->client().Submit(PaddedJob(400, 64 << 10));
  ASSERT_TRUE(job_id.ok()) << job_id.status();
  // It stays alive by its heartbeats, and is dropped all the same.
  ASSERT_EQ(PollUntil(
                [&] {
                  absl::StatusOr<v1::ListWorkersResponse> workers =
                      Workers(*dagd);
                  return workers.ok() && workers->workers_size() == 0;
                },
                absl::Seconds(20), "the deaf worker to be dropped",
                absl::Milliseconds(200)),
            absl::OkStatus())
      << dagd->Log();
  EXPECT_THAT(dagd->Log(), ::testing::HasSubstr("has not read its stream"));
  // Its stream ends, though the write dagd had in flight was never read
  // (dagd cancels the call; waiting for that write held the stream, and
  // under --worker_ca its certificate's name, as long as the connection
  // stayed up).
  EXPECT_EQ(
      PollUntil([&] { return ended.load(); }, absl::Seconds(10),
                "the deaf worker's stream to end", absl::Milliseconds(100)),
      absl::OkStatus());
  // Its tasks run on a worker that reads.
  ASSERT_TRUE(dagd->StartWorker().ok());
  absl::StatusOr<v1::JobStatus> done = dagd->client().Wait(*job_id);
  ASSERT_TRUE(done.ok()) << done.status();
  EXPECT_EQ(done->state(), v1::JOB_SUCCEEDED);
}

// Its heartbeats say it read nothing: 1 MiB of assignments left unread is
// enough (they were dropped only when they filled the stream's window).
TEST(HostilePeersTest, AWorkerThatHeartbeatsButNeverReadsIsDropped) {
  ExpectDeafWorkerDropped(16, /*counts_reads=*/true);
}

// An older worker's heartbeats say nothing of its reads: it is dropped once
// a write to it waits, when what it leaves unread (25 MiB) is more than the
// stream's window (8 MiB, and gRPC's 1 MiB past it) takes.
TEST(HostilePeersTest, AWorkerThatCountsNoReadsIsDroppedWhenAWriteWaits) {
  ExpectDeafWorkerDropped(400, /*counts_reads=*/false);
}

TEST(HostilePeersTest, AWatcherThatNeverReadsIsClosedNotBuffered) {
  std::unique_ptr<testing::DagdProcess> dagd =
      testing::StartDagd({"--local_workers=1", "--local_worker_slots=8"});
  ASSERT_NE(dagd, nullptr);
  ASSERT_EQ(dagd->WaitForWorkers(1), absl::OkStatus());
  // Each event names its task: long ids make the events take room.
  v1::JobSpec job;
  for (int i = 0; i < 20'000; ++i) {
    v1::TaskSpec* task = job.add_tasks();
    task->set_id(absl::StrCat(std::string(400, 'k'), i));
    task->set_fn("const");
  }
  absl::StatusOr<std::string> job_id = dagd->client().Submit(job);
  ASSERT_TRUE(job_id.ok()) << job_id.status();
  auto stub = v1::JobService::NewStub(
      grpc::CreateChannel(dagd->address(), grpc::InsecureChannelCredentials()));
  std::vector<std::unique_ptr<grpc::ClientContext>> contexts;
  std::vector<std::unique_ptr<grpc::ClientReader<v1::JobEvent>>> watchers;
  v1::WatchJobRequest request;
  request.set_job_id(*job_id);
  for (int i = 0; i < 4; ++i) {
    contexts.push_back(std::make_unique<grpc::ClientContext>());
    watchers.push_back(stub->WatchJob(contexts.back().get(), request));
  }
  absl::StatusOr<v1::JobStatus> done = dagd->client().Wait(*job_id);
  ASSERT_TRUE(done.ok()) << done.status();
  EXPECT_EQ(done->state(), v1::JOB_SUCCEEDED);
  // Read now: each watcher gets what was sent before dagd gave up on it,
  // then RESOURCE_EXHAUSTED, not the whole 20,000 tasks' events.
  for (auto& watcher : watchers) {
    v1::JobEvent event;
    int events = 0;
    while (watcher->Read(&event)) ++events;
    grpc::Status status = watcher->Finish();
    EXPECT_EQ(status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED)
        << status.error_message() << " after " << events << " events";
    EXPECT_LT(events, 20'000 * 3);
  }
  // dagd serves on.
  EXPECT_TRUE(dagd->client().Get(*job_id).ok());
}

// The port dagd logged after `prefix` ("... on port N"), once it did.
int LoggedPort(testing::DagdProcess& dagd, const std::string& prefix) {
  int port = 0;
  EXPECT_EQ(PollUntil(
                [&] {
                  const std::string log = dagd.Log();
                  const size_t at = log.find(prefix);
                  return at != std::string::npos &&
                         absl::SimpleAtoi(
                             log.substr(at + prefix.size(),
                                        log.find_first_not_of(
                                            "0123456789", at + prefix.size()) -
                                            at - prefix.size()),
                             &port);
                },
                absl::Seconds(20), prefix),
            absl::OkStatus());
  return port;
}

// Row 10: clients that connect to the HTTP port and never finish a request
// hold its threads, and /healthz there times out, so an orchestrator would
// restart a healthy dagd. --healthz_listen answers whatever they do.
TEST(HostilePeersTest, SlowHttpClientsCannotStarveTheHealthListener) {
  std::unique_ptr<testing::DagdProcess> dagd =
      testing::StartDagd({"--healthz_listen=127.0.0.1:0"});
  ASSERT_NE(dagd, nullptr);
  const int http = LoggedPort(*dagd, "metrics and /healthz on port ");
  const int health = LoggedPort(*dagd, "/healthz alone on port ");
  ASSERT_GT(http, 0);
  ASSERT_GT(health, 0);
  std::vector<int> slow;
  for (int i = 0; i < 100; ++i) {
    for (int port : {http, health}) {
      const int fd = socket(AF_INET, SOCK_STREAM, 0);
      sockaddr_in address{};
      address.sin_family = AF_INET;
      address.sin_port = htons(static_cast<uint16_t>(port));
      address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address));
      send(fd, "GET /hea", 8, MSG_NOSIGNAL);
      slow.push_back(fd);
    }
  }
  for (int probe = 0; probe < 5; ++probe) {
    EXPECT_EQ(HttpGet(health, "/healthz").code, 200) << "probe " << probe;
  }
  for (int fd : slow) close(fd);
}

}  // namespace
}  // namespace dagd
