// Runs the worker runtime against an in-process fake coordinator on a
// loopback port: a real gRPC round trip, with the fake deciding when the
// stream breaks.
#include "worker/worker_runtime.h"

#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/synchronization/notification.h"
#include "gmock/gmock.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "tests/worker/fakes.h"
#include "worker/builtins.h"
#include "worker/json_util.h"

namespace dagd {
namespace {

using ::testing::Contains;
using ::testing::HasSubstr;

constexpr absl::Duration kWait = absl::Seconds(30);

using ServerStream =
    grpc::ServerReaderWriter<v1::CoordinatorMessage, v1::WorkerMessage>;

// A coordinator that registers workers, records what they send, and lets
// the test send batches and break the stream.
class FakeCoordinator final : public v1::WorkerService::Service {
 public:
  grpc::Status Connect(grpc::ServerContext* context,
                       ServerStream* stream) override {
    v1::WorkerMessage message;
    if (!stream->Read(&message) || !message.has_register_()) {
      return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "no Register");
    }
    int connection = 0;
    {
      absl::MutexLock lock(&mu_);
      if (!accepting_) {
        ++refused_;
        return grpc::Status(grpc::StatusCode::UNAVAILABLE, "not now");
      }
      registers_.push_back(message.register_());
      connection = static_cast<int>(registers_.size());
      v1::CoordinatorMessage reply;
      reply.mutable_registered()->set_worker_id(absl::StrCat("w-", connection));
      reply.mutable_registered()->set_heartbeat_interval_ms(20);
      stream->Write(reply);
      context_ = context;
      stream_ = stream;
    }
    while (stream->Read(&message)) Record(message, connection);
    absl::MutexLock lock(&mu_);
    if (stream_ == stream) {
      stream_ = nullptr;
      context_ = nullptr;
    }
    return grpc::Status::OK;
  }

  bool Send(const v1::CoordinatorBatch& batch) {
    absl::MutexLock lock(&mu_);
    if (stream_ == nullptr) return false;
    v1::CoordinatorMessage message;
    *message.mutable_batch() = batch;
    return stream_->Write(message);
  }

  // Breaks the current stream, as a crashing coordinator or network would.
  void Drop() {
    absl::MutexLock lock(&mu_);
    if (context_ != nullptr) context_->TryCancel();
  }

  void SetAccepting(bool accepting) {
    absl::MutexLock lock(&mu_);
    accepting_ = accepting;
  }

  // Waits until `predicate` (called under the lock) holds.
  template <typename Predicate>
  bool WaitUntil(Predicate predicate) {
    absl::MutexLock lock(&mu_);
    auto check = [&]()
                     ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return predicate(); };
    return mu_.AwaitWithTimeout(absl::Condition(&check), kWait);
  }

  absl::Mutex mu_;
  std::vector<v1::Register> registers_ ABSL_GUARDED_BY(mu_);
  // Each result with the number of the connection it came on (1-based).
  std::vector<std::pair<v1::TaskResult, int>> results_ ABSL_GUARDED_BY(mu_);
  std::vector<v1::TaskStarted> started_ ABSL_GUARDED_BY(mu_);
  int heartbeats_ ABSL_GUARDED_BY(mu_) = 0;
  int refused_ ABSL_GUARDED_BY(mu_) = 0;

 private:
  void Record(const v1::WorkerMessage& message, int connection) {
    absl::MutexLock lock(&mu_);
    if (message.has_heartbeat()) ++heartbeats_;
    for (const auto& started : message.batch().started()) {
      started_.push_back(started);
    }
    for (const auto& result : message.batch().results()) {
      results_.emplace_back(result, connection);
    }
  }

  bool accepting_ ABSL_GUARDED_BY(mu_) = true;
  grpc::ServerContext* context_ ABSL_GUARDED_BY(mu_) = nullptr;
  ServerStream* stream_ ABSL_GUARDED_BY(mu_) = nullptr;
};

v1::Assignment Assign(uint32_t index, const std::string& fn,
                      const std::string& args) {
  v1::Assignment assignment;
  assignment.mutable_task()->set_job_id("job");
  assignment.mutable_task()->set_task_index(index);
  assignment.mutable_task()->set_attempt(1);
  assignment.set_fn(fn);
  *assignment.mutable_args() = *ParseJson(args);
  assignment.set_slots(1);
  return assignment;
}

class WorkerRuntimeTest : public testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(RegisterBuiltins(&registry_).ok());
    // A function that finishes when the test says so.
    ASSERT_TRUE(registry_
                    .Register("gate",
                              [this](TaskContext&) -> absl::StatusOr<Payload> {
                                release_.WaitForNotification();
                                return Payload{"\"opened\"", kJsonContentType};
                              })
                    .ok());
    grpc::ServerBuilder builder;
    int port = 0;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(),
                             &port);
    builder.RegisterService(&coordinator_);
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
    auto channel = grpc::CreateChannel(absl::StrCat("127.0.0.1:", port),
                                       grpc::InsecureChannelCredentials());
    stub_ = v1::WorkerService::NewStub(channel);

    WorkerOptions options;
    options.name = "test-worker";
    options.slots = 2;
    options.pool = "gpu-pool";
    options.labels = {{"zone", "a"}};
    options.resources = {{"gpu", 1}};
    options.initial_backoff = absl::Milliseconds(10);
    options.max_backoff = absl::Milliseconds(50);
    runtime_ = std::make_unique<WorkerRuntime>(
        options, stub_.get(), &registry_, &clock_, [] { return 0.5; },
        [this](const std::string& line) {
          absl::MutexLock lock(&log_mu_);
          log_.push_back(line);
        });
    run_thread_ = std::thread([this] { runtime_->Run(); });
  }

  void TearDown() override {
    if (!release_.HasBeenNotified()) release_.Notify();
    if (runtime_ != nullptr) runtime_->Shutdown();
    if (run_thread_.joinable()) run_thread_.join();
    runtime_.reset();
    if (server_ != nullptr) server_->Shutdown(absl::ToChronoTime(absl::Now()));
  }

  std::vector<std::string> Log() {
    absl::MutexLock lock(&log_mu_);
    return log_;
  }

  FunctionRegistry registry_;
  FakeClock clock_;
  FakeCoordinator coordinator_;
  absl::Notification release_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<v1::WorkerService::Stub> stub_;
  std::unique_ptr<WorkerRuntime> runtime_;
  std::thread run_thread_;
  absl::Mutex log_mu_;
  std::vector<std::string> log_ ABSL_GUARDED_BY(log_mu_);
};

TEST_F(WorkerRuntimeTest, RegistersRunsAndReportsResults) {
  FakeCoordinator& c = coordinator_;
  ASSERT_TRUE(c.WaitUntil([&] { return c.registers_.size() == 1; }));
  {
    absl::MutexLock lock(&c.mu_);
    const v1::Register& hello = c.registers_[0];
    EXPECT_EQ(hello.name(), "test-worker");
    EXPECT_EQ(hello.slots(), 2u);
    EXPECT_EQ(hello.pool(), "gpu-pool");
    EXPECT_EQ(hello.labels().at("zone"), "a");
    EXPECT_EQ(hello.resources().at("gpu"), 1);
    EXPECT_THAT(hello.functions(), Contains("exec"));
    EXPECT_THAT(hello.functions(), Contains("gate"));
  }

  v1::CoordinatorBatch batch;
  v1::Assignment add = Assign(0, "add", R"({"value": 10})");
  add.add_inputs()->set_data("1");
  add.add_inputs()->set_data("2");
  *batch.add_assignments() = add;
  *batch.add_assignments() = Assign(1, "nope", "null");
  ASSERT_TRUE(c.Send(batch));

  ASSERT_TRUE(c.WaitUntil([&] { return c.results_.size() == 2; }));
  absl::MutexLock lock(&c.mu_);
  for (const auto& [result, connection] : c.results_) {
    if (result.task().task_index() == 0) {
      EXPECT_TRUE(result.ok()) << result.error();
      EXPECT_EQ(result.output().data(), "13");
      EXPECT_EQ(result.started_unix_ms(), 1700000000000);
    } else {
      EXPECT_EQ(result.error(), "no function 'nope' on this worker");
      EXPECT_TRUE(result.permanent());
    }
  }
  EXPECT_THAT(Log(), Contains(HasSubstr("registered as worker w-1")));
}

TEST_F(WorkerRuntimeTest, SendsHeartbeats) {
  FakeCoordinator& c = coordinator_;
  EXPECT_TRUE(c.WaitUntil([&] { return c.heartbeats_ >= 2; }));
}

TEST_F(WorkerRuntimeTest, KeepsResultsAcrossAReconnect) {
  FakeCoordinator& c = coordinator_;
  ASSERT_TRUE(c.WaitUntil([&] { return c.registers_.size() == 1; }));
  v1::CoordinatorBatch batch;
  *batch.add_assignments() = Assign(7, "gate", "null");
  ASSERT_TRUE(c.Send(batch));
  ASSERT_TRUE(c.WaitUntil([&] { return c.started_.size() == 1; }));

  // Break the stream and refuse the worker until it has noticed.
  c.SetAccepting(false);
  c.Drop();
  ASSERT_TRUE(c.WaitUntil([&] { return c.refused_ >= 1; }));
  release_.Notify();  // the task finishes while the worker is disconnected
  c.SetAccepting(true);

  ASSERT_TRUE(c.WaitUntil([&] { return !c.results_.empty(); }));
  absl::MutexLock lock(&c.mu_);
  EXPECT_EQ(c.registers_.size(), 2u);
  EXPECT_EQ(c.results_[0].first.task().task_index(), 7u);
  EXPECT_EQ(c.results_[0].first.output().data(), "\"opened\"");
  EXPECT_EQ(c.results_[0].second, 2) << "delivered on the new connection";
  EXPECT_THAT(Log(), Contains(HasSubstr("lost connection")));
  EXPECT_THAT(Log(), Contains(HasSubstr("registered as worker w-2")));
}

TEST_F(WorkerRuntimeTest, CoordinatorCancelStopsTheAttempt) {
  FakeCoordinator& c = coordinator_;
  ASSERT_TRUE(c.WaitUntil([&] { return c.registers_.size() == 1; }));
  v1::CoordinatorBatch batch;
  *batch.add_assignments() = Assign(3, "sleep", R"({"ms": 3600000})");
  ASSERT_TRUE(c.Send(batch));
  ASSERT_TRUE(c.WaitUntil([&] { return c.started_.size() == 1; }));
  v1::CoordinatorBatch cancel;
  *cancel.add_cancels() = batch.assignments(0).task();
  ASSERT_TRUE(c.Send(cancel));
  ASSERT_TRUE(c.WaitUntil([&] { return c.results_.size() == 1; }));
  absl::MutexLock lock(&c.mu_);
  EXPECT_EQ(c.results_[0].first.error(), "cancelled by the coordinator");
}

}  // namespace
}  // namespace dagd
