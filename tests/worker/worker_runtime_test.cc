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
#include "prometheus/text_serializer.h"
#include "tests/worker/fake_coordinator.h"
#include "tests/worker/fake_spill_files.h"
#include "tests/worker/fakes.h"
#include "tests/worker/test_runtimes.h"
#include "worker/builtins.h"
#include "worker/data_plane.h"
#include "worker/data_service.h"
#include "worker/json_util.h"
#include "worker/worker_metrics.h"
#include "worker/worker_status.h"

namespace dagd {
namespace {

using ::testing::Contains;
using ::testing::HasSubstr;
using ::testing::Not;

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
    channel_ = grpc::CreateChannel(absl::StrCat("127.0.0.1:", port),
                                   grpc::InsecureChannelCredentials());

    auto data_service = DataService::Start({}, &holder_);
    ASSERT_TRUE(data_service.ok()) << data_service.status();
    data_service_ = *std::move(data_service);
    plane_ = std::make_unique<DataPlane>(
        "instance-1", &holder_, data_service_.get(), &data_client_, &clock_);
    WorkerOptions options;
    options.name = "test-worker";
    options.slots = 2;
    options.pool = "gpu-pool";
    options.labels = {{"zone", "a"}};
    options.resources = {{"gpu", 1}};
    options.initial_backoff = absl::Milliseconds(10);
    options.max_backoff = absl::Milliseconds(50);
    options.drain_timeout = drain_timeout_;
    options.drain_close_grace = drain_close_grace_;
    status_.AddListener(
        [this](const WorkerState& state) { metrics_.StatusChanged(state); });
    runtime_ = std::make_unique<WorkerRuntime>(
        options, [this] { return v1::WorkerService::NewStub(channel_); },
        &runtimes_, &clock_, [] { return 0.5; },
        [this](const LogEntry& entry) {
          absl::MutexLock lock(&log_mu_);
          log_.push_back(entry.message);
        },
        &status_, &metrics_, /*make_store=*/nullptr, plane_.get());
    run_thread_ = std::thread([this] {
      runtime_->Run();
      run_returned_.Notify();
    });
  }

  void TearDown() override {
    coordinator_.HoldClose(false);
    if (!release_.HasBeenNotified()) release_.Notify();
    if (runtime_ != nullptr) runtime_->Shutdown();
    if (run_thread_.joinable()) run_thread_.join();
    runtime_.reset();
    data_service_.reset();
    if (server_ != nullptr) server_->Shutdown(absl::ToChronoTime(absl::Now()));
  }

  std::vector<std::string> Log() {
    absl::MutexLock lock(&log_mu_);
    return log_;
  }

  std::string MetricsText() {
    return prometheus::TextSerializer().Serialize(
        metrics_.registry()->Collect());
  }

  // Sends one assignment of `fn` and waits until the worker started it.
  void StartTask(uint32_t index, const std::string& fn,
                 const std::string& args) {
    FakeCoordinator& c = coordinator_;
    size_t started = 0;
    {
      absl::MutexLock lock(&c.mu_);
      started = c.started_.size();
    }
    v1::CoordinatorBatch batch;
    *batch.add_assignments() = Assign(index, fn, args);
    ASSERT_TRUE(c.Send(batch));
    ASSERT_TRUE(c.WaitUntil([&] { return c.started_.size() > started; }));
  }

  // Task 7 (a gate) running, then a drain on its own thread (joined by the
  // caller); returns once the drain waits for the task (past its check
  // that the worker is connected: a stream broken before that check stops
  // the worker at once).
  std::thread DrainWhileTask7Runs() {
    FakeCoordinator& c = coordinator_;
    EXPECT_TRUE(c.WaitUntil([&] { return c.registers_.size() == 1; }));
    StartTask(7, "gate", "null");
    // The listener stays with status_: what it notifies must too.
    status_.AddListener([this](const WorkerState& state) {
      if (state.draining && !draining_.HasBeenNotified()) draining_.Notify();
    });
    std::thread drainer([this] { runtime_->Drain(); });
    EXPECT_TRUE(draining_.WaitForNotificationWithTimeout(kWait));
    const absl::Time deadline = absl::Now() + kWait;
    while (absl::Now() < deadline && !testing::Matches(Contains(HasSubstr(
                                         "draining: taking no new")))(Log())) {
      absl::SleepFor(absl::Milliseconds(5));
    }
    return drainer;
  }

  absl::Duration drain_timeout_ = kWait;  // set before SetUp to change
  absl::Duration drain_close_grace_ = absl::Seconds(5);
  FunctionRegistry registry_;
  TaskRuntimes runtimes_ = BuiltinRuntimes(&registry_);
  absl::Notification draining_;  // before status_, whose listeners see it
  WorkerStatus status_;
  WorkerMetrics metrics_{2, {}};
  FakeClock clock_;
  FakeCoordinator coordinator_;
  ObjectHolder holder_{64 << 20, std::make_unique<FakeSpillFiles>()};
  std::unique_ptr<DataService> data_service_;
  DataClient data_client_;
  std::unique_ptr<DataPlane> plane_;
  absl::Notification release_;
  std::unique_ptr<grpc::Server> server_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<WorkerRuntime> runtime_;
  std::thread run_thread_;
  absl::Notification run_returned_;
  absl::Mutex log_mu_;
  std::vector<std::string> log_ ABSL_GUARDED_BY(log_mu_);
};

TEST_F(WorkerRuntimeTest, RegisterSaysWhichRuntimesItOffers) {
  FakeCoordinator& c = coordinator_;
  ASSERT_TRUE(c.WaitUntil([&] { return c.registers_.size() == 1; }));
  absl::MutexLock lock(&c.mu_);
  const v1::Register& hello = c.registers_[0];
  EXPECT_THAT(hello.runtimes(), testing::ElementsAre("builtin", "exec"));
  // Every runtime's functions, sorted; the test's own "gate" is a builtin
  // here.
  EXPECT_THAT(
      hello.functions(),
      testing::ElementsAre("add", "bytes", "checksum", "const", "exec", "fail",
                           "flaky", "gate", "identity", "sleep"));
}

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

// dagd drops a worker whose heartbeats say it left messages unread: they
// count what the worker read, Registered included.
TEST_F(WorkerRuntimeTest, HeartbeatsCountTheMessagesRead) {
  FakeCoordinator& c = coordinator_;
  ASSERT_TRUE(c.WaitUntil([&] { return c.registers_.size() == 1; }));
  {
    absl::MutexLock lock(&c.mu_);
    EXPECT_TRUE(c.registers_[0].counts_reads());
  }
  ASSERT_TRUE(
      c.WaitUntil([&] { return c.last_heartbeat_.messages_read() == 1; }));
  ASSERT_TRUE(c.Send(v1::CoordinatorBatch()));
  ASSERT_TRUE(c.Send(v1::CoordinatorBatch()));
  EXPECT_TRUE(
      c.WaitUntil([&] { return c.last_heartbeat_.messages_read() == 3; }));
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
  {
    absl::MutexLock lock(&c.mu_);
    EXPECT_EQ(c.registers_.size(), 2u);
    EXPECT_EQ(c.results_[0].first.task().task_index(), 7u);
    EXPECT_EQ(c.results_[0].first.output().data(), "\"opened\"");
    EXPECT_EQ(c.results_[0].second, 2) << "delivered on the new connection";
    // With the Register itself, before anything else on the stream.
    EXPECT_EQ(c.registers_[1].results_size(), 1);
  }
  EXPECT_THAT(Log(), Contains(HasSubstr("lost connection")));
  // The worker logs once it has read Registered, which may be just after
  // the fake recorded the result.
  const absl::Time deadline = absl::Now() + kWait;
  while (absl::Now() < deadline && !testing::Matches(Contains(HasSubstr(
                                       "registered as worker w-2")))(Log())) {
    absl::SleepFor(absl::Milliseconds(5));
  }
  EXPECT_THAT(Log(), Contains(HasSubstr("registered as worker w-2")));
}

// A coordinator back on another data directory numbers its jobs afresh:
// its j1 task 7 attempt 1 is not the one the worker ran before. The old
// attempts are cancelled and forgotten (their ends reported to nobody),
// and the new assignment of the same numbers runs and is reported.
TEST_F(WorkerRuntimeTest, AfterAStoreChangeTheOldAttemptsAreForgotten) {
  FakeCoordinator& c = coordinator_;
  ASSERT_TRUE(c.WaitUntil([&] { return c.registers_.size() == 1; }));
  v1::CoordinatorBatch old;
  *old.add_assignments() = Assign(7, "sleep", R"({"ms": 600000})");
  ASSERT_TRUE(c.Send(old));
  ASSERT_TRUE(c.WaitUntil([&] { return c.started_.size() == 1; }));
  c.SetStoreId("store-2");
  c.Drop();
  ASSERT_TRUE(c.WaitUntil([&] { return c.registers_.size() == 2; }));
  v1::CoordinatorBatch fresh;
  *fresh.add_assignments() = Assign(7, "const", R"({"value": 5})");
  ASSERT_TRUE(c.Send(fresh));
  ASSERT_TRUE(c.WaitUntil([&] {
    for (const auto& [result, connection] : c.results_) {
      if (result.ok()) return true;
    }
    return false;
  }));
  absl::MutexLock lock(&c.mu_);
  // The old attempt's cancellation, reported, would have come first.
  ASSERT_FALSE(c.results_.empty());
  EXPECT_TRUE(c.results_[0].first.ok()) << c.results_[0].first.error();
  EXPECT_EQ(c.results_[0].first.output().data(), "5");
  EXPECT_EQ(c.results_[0].second, 2);
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

TEST_F(WorkerRuntimeTest, MetricsAndStatusFollowTheWorker) {
  FakeCoordinator& c = coordinator_;
  ASSERT_TRUE(c.WaitUntil([&] { return c.registers_.size() == 1; }));
  v1::CoordinatorBatch batch;
  *batch.add_assignments() = Assign(0, "const", R"({"value": 1})");
  *batch.add_assignments() = Assign(1, "fail", R"({"message": "no"})");
  ASSERT_TRUE(c.Send(batch));
  ASSERT_TRUE(c.WaitUntil([&] { return c.results_.size() == 2; }));
  EXPECT_TRUE(status_.state().serving());
  std::string text = MetricsText();
  EXPECT_THAT(text, HasSubstr("dagd_worker_connected 1"));
  EXPECT_THAT(text, HasSubstr("dagd_worker_slots_capacity 2"));
  EXPECT_THAT(
      text,
      HasSubstr(
          R"(dagd_worker_tasks_total{fn="const",outcome="succeeded"} 1)"));
  EXPECT_THAT(
      text,
      HasSubstr(R"(dagd_worker_tasks_total{fn="fail",outcome="failed"} 1)"));
  EXPECT_THAT(text,
              HasSubstr(R"(dagd_worker_task_seconds_count{fn="const"} 1)"));

  // A lost stream: disconnected, then one reconnect.
  absl::Notification reconnected;  // the worker read its second Registered
  status_.AddListener([&reconnected](const WorkerState& state) {
    if (state.registered && state.reconnects == 1 &&
        !reconnected.HasBeenNotified()) {
      reconnected.Notify();
    }
  });
  c.Drop();
  ASSERT_TRUE(c.WaitUntil([&] { return c.registers_.size() == 2; }));
  ASSERT_TRUE(c.WaitUntil([&] { return c.heartbeats_ > 0; }));
  ASSERT_TRUE(reconnected.WaitForNotificationWithTimeout(kWait));
  EXPECT_THAT(MetricsText(), HasSubstr("dagd_worker_reconnects_total 1"));
  EXPECT_EQ(status_.state().reconnects, 1);
}

TEST_F(WorkerRuntimeTest, DrainDeliversRunningResultsThenClosesTheStream) {
  FakeCoordinator& c = coordinator_;
  std::thread drainer = DrainWhileTask7Runs();
  // Draining: not serving at once, and new assignments are not started.
  EXPECT_FALSE(status_.state().serving());
  v1::CoordinatorBatch late;
  *late.add_assignments() = Assign(8, "const", R"({"value": 2})");
  ASSERT_TRUE(c.Send(late));
  // Given back at once, while task 7 still runs.
  ASSERT_TRUE(c.WaitUntil([&] { return c.results_.size() == 1; }));

  release_.Notify();
  ASSERT_TRUE(run_returned_.WaitForNotificationWithTimeout(kWait));
  drainer.join();
  absl::MutexLock lock(&c.mu_);
  // The late assignment was given back at once, not started.
  ASSERT_EQ(c.results_.size(), 2u);
  EXPECT_EQ(c.results_[0].first.task().task_index(), 8u);
  EXPECT_TRUE(c.results_[0].first.not_started());
  EXPECT_EQ(c.results_[1].first.task().task_index(), 7u);
  EXPECT_TRUE(c.results_[1].first.ok());
  EXPECT_EQ(c.started_.size(), 1u) << "the late assignment never started";
  EXPECT_EQ(c.half_closed_, 1) << "the worker closed its stream itself";
  EXPECT_EQ(c.registers_.size(), 1u) << "no reconnect while draining";
  EXPECT_FALSE(status_.state().serving());
}

// The stream breaks during a drain (dagd restarted): the worker connects
// again and finishes the drain there, its running task reported on the new
// stream. It took the break for the drain's end and cancelled the task.
TEST_F(WorkerRuntimeTest, ADrainRidesThroughALostCoordinator) {
  FakeCoordinator& c = coordinator_;
  std::thread drainer = DrainWhileTask7Runs();
  c.Drop();
  ASSERT_TRUE(c.WaitUntil([&] { return c.registers_.size() == 2; }));
  release_.Notify();
  ASSERT_TRUE(run_returned_.WaitForNotificationWithTimeout(kWait));
  drainer.join();
  absl::MutexLock lock(&c.mu_);
  ASSERT_EQ(c.results_.size(), 1u);
  EXPECT_EQ(c.results_[0].first.task().task_index(), 7u);
  EXPECT_TRUE(c.results_[0].first.ok()) << c.results_[0].first.error();
  EXPECT_EQ(c.results_[0].second, 2) << "reported on the new stream";
  EXPECT_EQ(c.half_closed_, 1) << "the drain ended on the new stream";
}

// The stream breaks after the worker's half-close, while dagd copies what
// the worker holds (dagd restarted): not the drain's end, which is dagd
// ending the stream with OK. The worker connects again and half-closes
// there.
TEST_F(WorkerRuntimeTest, ADrainEndsOnlyWhenDagdEndsTheHalfClosedStream) {
  FakeCoordinator& c = coordinator_;
  ASSERT_TRUE(c.WaitUntil([&] { return c.registers_.size() == 1; }));
  StartTask(7, "gate", "null");
  c.HoldClose(true);
  std::thread drainer([this] { runtime_->Drain(); });
  release_.Notify();
  ASSERT_TRUE(c.WaitUntil([&] { return c.reads_ended_; }));
  c.Drop();
  ASSERT_TRUE(c.WaitUntil([&] { return c.registers_.size() == 2; }));
  c.HoldClose(false);
  ASSERT_TRUE(run_returned_.WaitForNotificationWithTimeout(kWait));
  drainer.join();
  absl::MutexLock lock(&c.mu_);
  ASSERT_EQ(c.results_.size(), 1u);
  EXPECT_EQ(c.results_[0].first.task().task_index(), 7u);
  EXPECT_EQ(c.half_closed_, 1) << "the second stream, ended by dagd";
}

TEST_F(WorkerRuntimeTest, DrainAsksForTheLastAcknowledgement) {
  FakeCoordinator& c = coordinator_;
  ASSERT_TRUE(c.WaitUntil([&] { return c.registers_.size() == 1; }));
  // Like dagd with nothing else to send this worker: results are
  // acknowledged on heartbeats only, and those are an hour apart.
  c.SetAckingOnHeartbeatsOnly(true);
  c.SetHeartbeatInterval(absl::Hours(1));
  c.Drop();  // reconnects, told the new interval
  ASSERT_TRUE(c.WaitUntil([&] { return c.registers_.size() == 2; }));
  StartTask(4, "gate", "null");
  std::thread drainer([this] { runtime_->Drain(); });
  release_.Notify();
  ASSERT_TRUE(run_returned_.WaitForNotificationWithTimeout(kWait));
  drainer.join();
  absl::MutexLock lock(&c.mu_);
  ASSERT_EQ(c.results_.size(), 1u);
  EXPECT_EQ(c.half_closed_, 1)
      << "acknowledged, the worker closed its stream itself";
}

// dagd learns of a drain at once, from a heartbeat saying so (not at the
// next interval, an hour away here), and from the Register of a stream
// opened during the drain: it placed new tasks on the draining worker,
// which left them unstarted until its stream closed.
TEST_F(WorkerRuntimeTest, ADrainIsToldToDagdAtOnceAndOnEveryNewStream) {
  FakeCoordinator& c = coordinator_;
  ASSERT_TRUE(c.WaitUntil([&] { return c.registers_.size() == 1; }));
  c.SetHeartbeatInterval(absl::Hours(1));
  c.Drop();  // reconnects, told the new interval
  ASSERT_TRUE(c.WaitUntil([&] { return c.registers_.size() == 2; }));
  int heartbeats = 0;
  {
    absl::MutexLock lock(&c.mu_);
    EXPECT_FALSE(c.registers_[1].draining());
    heartbeats = c.heartbeats_;
  }
  StartTask(4, "gate", "null");
  std::thread drainer([this] { runtime_->Drain(); });
  ASSERT_TRUE(c.WaitUntil([&] {
    return c.heartbeats_ > heartbeats && c.last_heartbeat_.draining();
  }));
  c.Drop();
  ASSERT_TRUE(c.WaitUntil([&] { return c.registers_.size() == 3; }));
  {
    absl::MutexLock lock(&c.mu_);
    EXPECT_TRUE(c.registers_[2].draining());
  }
  release_.Notify();
  ASSERT_TRUE(run_returned_.WaitForNotificationWithTimeout(kWait));
  drainer.join();
}

class WorkerRuntimeDrainCloseTest : public WorkerRuntimeTest {
 protected:
  WorkerRuntimeDrainCloseTest() {
    drain_timeout_ = kWait;
    drain_close_grace_ = absl::Milliseconds(10);
  }
};

// After its last result a draining worker gives dagd what is left of
// --drain_timeout to end the stream (dagd first copies the outputs the
// worker holds), not only the few seconds of drain_close_grace.
TEST_F(WorkerRuntimeDrainCloseTest, WaitsWhatIsLeftOfTheDrainTimeout) {
  FakeCoordinator& c = coordinator_;
  ASSERT_TRUE(c.WaitUntil([&] { return c.registers_.size() == 1; }));
  c.HoldClose(true);
  StartTask(2, "gate", "null");
  std::thread drainer([this] { runtime_->Drain(); });
  release_.Notify();
  ASSERT_TRUE(c.WaitUntil([&] { return c.reads_ended_; }));
  // Thirty times the close grace: the worker still waits.
  EXPECT_FALSE(
      run_returned_.WaitForNotificationWithTimeout(absl::Milliseconds(300)));
  c.HoldClose(false);
  ASSERT_TRUE(run_returned_.WaitForNotificationWithTimeout(kWait));
  drainer.join();
  EXPECT_THAT(Log(), Not(Contains(HasSubstr("did not close the stream"))));
  absl::MutexLock lock(&c.mu_);
  EXPECT_EQ(c.half_closed_, 1);
  ASSERT_EQ(c.results_.size(), 1u);
}

class WorkerRuntimeDrainTimeoutTest : public WorkerRuntimeTest {
 protected:
  WorkerRuntimeDrainTimeoutTest() { drain_timeout_ = absl::Milliseconds(50); }
};

TEST_F(WorkerRuntimeDrainTimeoutTest, CancelsUnfinishedTasksUnreported) {
  FakeCoordinator& c = coordinator_;
  ASSERT_TRUE(c.WaitUntil([&] { return c.registers_.size() == 1; }));
  StartTask(3, "sleep", R"({"ms": 3600000})");
  runtime_->Drain();  // returns once the timeout passed and Run is ending
  ASSERT_TRUE(run_returned_.WaitForNotificationWithTimeout(kWait));
  // The fake notices the cancelled stream after the worker has gone.
  ASSERT_TRUE(c.WaitUntil([&] { return c.ended_ == 1; }));
  absl::MutexLock lock(&c.mu_);
  EXPECT_TRUE(c.results_.empty()) << c.results_[0].first.error();
  EXPECT_EQ(c.half_closed_, 0);
  EXPECT_THAT(Log(), Contains(HasSubstr("still running after")));
}

TEST_F(WorkerRuntimeTest, DrainWhileDisconnectedStopsAtOnce) {
  FakeCoordinator& c = coordinator_;
  ASSERT_TRUE(c.WaitUntil([&] { return c.registers_.size() == 1; }));
  c.SetAccepting(false);
  c.Drop();
  ASSERT_TRUE(c.WaitUntil([&] { return c.refused_ >= 1; }));
  runtime_->Drain();
  ASSERT_TRUE(run_returned_.WaitForNotificationWithTimeout(kWait));
  EXPECT_THAT(Log(), Contains(HasSubstr("draining while not connected")));
}

// With dagd's limits in Registered: outputs over 16 bytes are held by the
// worker, and those over 1000 bytes fail.
class WorkerRuntimeDataTest : public WorkerRuntimeTest {
 protected:
  WorkerRuntimeDataTest() { coordinator_.SetResultLimits(16, 1000); }

  // The result of attempt 1 of task `index`, once reported.
  v1::TaskResult ResultOf(uint32_t index) {
    FakeCoordinator& c = coordinator_;
    v1::TaskResult found;
    EXPECT_TRUE(c.WaitUntil([&] {
      for (const auto& [result, connection] : c.results_) {
        if (result.task().task_index() == index) {
          found = result;
          return true;
        }
      }
      return false;
    }));
    return found;
  }
};

TEST_F(WorkerRuntimeDataTest, RegisterNamesWhereItServesWhatItHolds) {
  FakeCoordinator& c = coordinator_;
  ASSERT_TRUE(c.WaitUntil([&] { return c.registers_.size() == 1; }));
  absl::MutexLock lock(&c.mu_);
  EXPECT_EQ(c.registers_[0].data_address(), data_service_->address());
  EXPECT_EQ(c.registers_[0].instance(), "instance-1");
  EXPECT_TRUE(c.registers_[0].held().empty());
}

TEST_F(WorkerRuntimeDataTest, ALargeOutputIsHeldUntilDagdReleasesIt) {
  FakeCoordinator& c = coordinator_;
  ASSERT_TRUE(c.WaitUntil([&] { return c.registers_.size() == 1; }));
  const std::string value(100, 'v');
  v1::CoordinatorBatch batch;
  *batch.add_assignments() =
      Assign(5, "const", absl::StrCat(R"({"value": ")", value, R"("})"));
  ASSERT_TRUE(c.Send(batch));
  v1::TaskResult result = ResultOf(5);
  ASSERT_TRUE(result.ok()) << result.error();
  EXPECT_FALSE(result.has_output());
  EXPECT_EQ(result.output_ref().key(), "results/job/5/1");
  EXPECT_EQ(result.output_ref().size(), 102u);  // a JSON string
  EXPECT_EQ(result.output_ref().holder().instance(), "instance-1");
  EXPECT_EQ(result.output_ref().holder().address(), data_service_->address());
  auto fetched = data_client_.Fetch(result.output_ref());
  ASSERT_TRUE(fetched.ok()) << fetched.status();
  EXPECT_EQ(fetched->data, absl::StrCat("\"", value, "\""));
  // Heartbeats say what it holds and sent.
  ASSERT_TRUE(c.WaitUntil([&] {
    return c.last_heartbeat_.held_bytes() == 102 &&
           c.last_heartbeat_.sent_bytes() == 102;
  }));

  // A new stream lists it; dagd's release frees it.
  c.Drop();
  ASSERT_TRUE(c.WaitUntil([&] { return c.registers_.size() == 2; }));
  {
    absl::MutexLock lock(&c.mu_);
    EXPECT_THAT(c.registers_[1].held(),
                testing::ElementsAre("results/job/5/1"));
  }
  v1::CoordinatorBatch release;
  release.add_release("results/job/5/1");
  ASSERT_TRUE(c.Send(release));
  ASSERT_TRUE(c.WaitUntil([&] { return c.last_heartbeat_.held_bytes() == 0; }));
  EXPECT_TRUE(holder_.Keys().empty());
}

TEST_F(WorkerRuntimeDataTest, AnOutputOverTheResultLimitFailsForGood) {
  FakeCoordinator& c = coordinator_;
  ASSERT_TRUE(c.WaitUntil([&] { return c.registers_.size() == 1; }));
  v1::CoordinatorBatch batch;
  *batch.add_assignments() =
      Assign(6, "const",
             absl::StrCat(R"({"value": ")", std::string(2000, 'v'), R"("})"));
  ASSERT_TRUE(c.Send(batch));
  v1::TaskResult result = ResultOf(6);
  EXPECT_FALSE(result.ok());
  EXPECT_TRUE(result.permanent());
  EXPECT_THAT(result.error(), HasSubstr("2002 bytes"));
  EXPECT_THAT(result.error(), HasSubstr("--max_result_bytes"));
  EXPECT_TRUE(holder_.Keys().empty());
}

}  // namespace
}  // namespace dagd
