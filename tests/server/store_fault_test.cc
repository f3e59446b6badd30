// A failed store write is never acknowledged: the Coordinator on a real
// RocksMetaStore wrapped by a store that fails Commit on demand. And a
// Coordinator started again on the same store waits for the workers on its
// roster, and only for them.
#include <atomic>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/json_util.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"
#include "proto/states.h"
#include "server/coordinator.h"
#include "storage/base/clock.h"
#include "storage/rocksdb_meta_store.h"
#include "tests/testutil/process.h"

namespace dagd {
namespace {

using ::google::protobuf::util::MessageDifferencer;
using ::testing::HasSubstr;

constexpr absl::Duration kWait = absl::Seconds(30);

// Forwards to a real store; Commit fails (before touching it) while
// failing() is set, as a full or broken disk would. Thread-safe.
class FailingMetaStore : public MetaStoreWrapper {
 public:
  explicit FailingMetaStore(MetaStore* base) : MetaStoreWrapper(base) {}

  void FailCommits() { fail_ = true; }
  // LoadRoster answers as a store from before the roster.
  void ForgetRoster() { forget_roster_ = true; }
  absl::StatusOr<StoredRoster> LoadRoster() override {
    if (forget_roster_) return StoredRoster();
    return MetaStoreWrapper::LoadRoster();
  }
  int commits() const { return commits_; }  // attempted, failed or not
  int synced_commits() const { return synced_commits_; }

  absl::Status Commit(const WriteSet& writes, bool sync,
                      uint64_t* bytes) override {
    ++commits_;
    if (fail_) {
      if (bytes != nullptr) *bytes = 0;
      return absl::UnavailableError("injected: No space left on device");
    }
    if (sync) ++synced_commits_;
    return MetaStoreWrapper::Commit(writes, sync, bytes);
  }

 private:
  std::atomic<bool> fail_{false};
  std::atomic<bool> forget_roster_{false};
  std::atomic<int> commits_{0};
  std::atomic<int> synced_commits_{0};
};

// The answer to one Coordinator call.
template <typename T>
class Answer {
 public:
  Coordinator::Reply<T> Callback() {
    return [this](absl::StatusOr<T> result) {
      result_ = std::move(result);
      done_.Notify();
    };
  }
  bool answered() const { return done_.HasBeenNotified(); }
  absl::StatusOr<T> Get() {
    if (!done_.WaitForNotificationWithTimeout(kWait)) {
      return absl::DeadlineExceededError("no answer");
    }
    return result_;
  }

 private:
  absl::Notification done_;
  absl::StatusOr<T> result_ = absl::UnknownError("unset");
};

// A worker stream that keeps what it was sent.
class RecordingDispatcher : public Dispatcher {
 public:
  void Send(v1::CoordinatorMessage message) override {
    absl::MutexLock lock(&mu_);
    sent_.push_back(std::move(message));
  }
  void Close(absl::Status status) override {
    absl::MutexLock lock(&mu_);
    closed_ = std::move(status);
  }
  // How the coordinator closed the stream, waiting for it.
  absl::Status WaitForClose() {
    absl::MutexLock lock(&mu_);
    auto closed = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return closed_.has_value();
    };
    if (!mu_.AwaitWithTimeout(absl::Condition(&closed), kWait)) {
      return absl::DeadlineExceededError("the stream was not closed");
    }
    return *closed_;
  }

  // The first assignment of task `index`, waiting for it.
  absl::StatusOr<v1::Assignment> WaitForAssignment(uint32_t index) {
    absl::MutexLock lock(&mu_);
    std::optional<v1::Assignment> found;
    auto sent = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      found = FindAssignment(index);
      return found.has_value();
    };
    if (!mu_.AwaitWithTimeout(absl::Condition(&sent), kWait)) {
      return absl::DeadlineExceededError("no assignment");
    }
    return *found;
  }
  bool WaitForRegistered() {
    absl::MutexLock lock(&mu_);
    auto registered = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      for (const auto& m : sent_) {
        if (m.has_registered()) return true;
      }
      return false;
    };
    return mu_.AwaitWithTimeout(absl::Condition(&registered), kWait);
  }
  bool Assigned(uint32_t index) {
    absl::MutexLock lock(&mu_);
    return FindAssignment(index).has_value();
  }

 private:
  std::optional<v1::Assignment> FindAssignment(uint32_t index)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    for (const auto& m : sent_) {
      for (const auto& a : m.batch().assignments()) {
        if (a.task().task_index() == index) return a;
      }
    }
    return std::nullopt;
  }

  absl::Mutex mu_;
  std::vector<v1::CoordinatorMessage> sent_ ABSL_GUARDED_BY(mu_);
  std::optional<absl::Status> closed_ ABSL_GUARDED_BY(mu_);
};

// A watch stream that records how it ended.
class RecordingWatchSink : public WatchSink {
 public:
  void Send(v1::JobEvent) override {}
  void Fail(absl::Status status) override {
    failed_ = std::move(status);
    done_.Notify();
  }
  absl::Status WaitForFailure() {
    if (!done_.WaitForNotificationWithTimeout(kWait)) {
      return absl::DeadlineExceededError("the watch did not end");
    }
    return failed_;
  }

 private:
  absl::Notification done_;
  absl::Status failed_;
};

class StoreFaultTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<std::unique_ptr<testing::TempDir>> dir =
        testing::TempDir::Create("dagd-store-fault-");
    ASSERT_TRUE(dir.ok()) << dir.status();
    dir_ = *std::move(dir);
    absl::StatusOr<std::unique_ptr<RocksMetaStore>> store =
        RocksMetaStore::Open(dir_->path() + "/db");
    ASSERT_TRUE(store.ok()) << store.status();
    rocks_ = *std::move(store);
    faulty_ = std::make_unique<FailingMetaStore>(rocks_.get());
    StartCoordinator();
  }

  // A Coordinator on the store (again, after Stop: a restart).
  void StartCoordinator() {
    CoordinatorOptions options = Options();
    // Only acknowledgements sync: a periodic sync cannot hide a missing one.
    options.sync_interval = absl::Hours(1);
    coordinator_ = std::make_unique<Coordinator>(
        options, faulty_.get(), &clock_, [this] { return Uniform(); });
    coordinator_->SetFatalHandler([this](const absl::Status& status) {
      fatal_status_ = status;
      if (++fatal_calls_ == 1) fatal_.Notify();
    });
    ASSERT_EQ(coordinator_->Start(), absl::OkStatus());
  }

  void TearDown() override {
    if (coordinator_ != nullptr) coordinator_->Stop();
  }

  virtual CoordinatorOptions Options() { return CoordinatorOptions(); }

  static v1::SubmitJobRequest Request(const std::string& json,
                                      bool wait = false,
                                      const std::string& request_id = "") {
    v1::SubmitJobRequest request;
    auto parsed = google::protobuf::util::JsonStringToMessage(
        json, request.mutable_job());
    EXPECT_TRUE(parsed.ok()) << parsed;
    request.set_wait(wait);
    request.set_request_id(request_id);
    return request;
  }

  absl::StatusOr<v1::SubmitJobResponse> Submit(v1::SubmitJobRequest request) {
    Answer<v1::SubmitJobResponse> answer;
    coordinator_->Submit(std::move(request), "", answer.Callback());
    return answer.Get();
  }

  // Connects a worker offering const and add, without grants ahead, of
  // process `instance` (Register.instance, Register.kept_complete).
  WorkerId ConnectWorker(std::shared_ptr<RecordingDispatcher> sink,
                         const std::string& instance = "",
                         bool kept_complete = true) {
    const WorkerId id = coordinator_->NewWorkerId();
    v1::Register hello;
    hello.set_name(instance.empty() ? "w" : instance);
    hello.set_instance(instance);
    hello.set_kept_complete(kept_complete);
    hello.set_slots(1);
    hello.add_functions("const");
    hello.add_functions("add");
    coordinator_->WorkerConnected(id, sink, hello, "test");
    EXPECT_TRUE(sink->WaitForRegistered());
    return id;
  }

  // Every query answers UNAVAILABLE: nothing is served from memory that
  // the store may not hold.
  void ExpectEveryQueryUnavailable(const std::string& job_id) {
    Answer<v1::JobStatus> job;
    coordinator_->GetJob(job_id, job.Callback());
    EXPECT_EQ(job.Get().status().code(), absl::StatusCode::kUnavailable);
    Answer<v1::ListJobsResponse> jobs;
    coordinator_->ListJobs(v1::ListJobsRequest(), jobs.Callback());
    EXPECT_EQ(jobs.Get().status().code(), absl::StatusCode::kUnavailable);
    Answer<v1::TaskStatus> task;
    coordinator_->GetTask(job_id, "a", task.Callback());
    EXPECT_EQ(task.Get().status().code(), absl::StatusCode::kUnavailable);
    Answer<v1::ListTasksResponse> tasks;
    coordinator_->ListTasks(job_id, tasks.Callback());
    EXPECT_EQ(tasks.Get().status().code(), absl::StatusCode::kUnavailable);
    Answer<v1::GetResultResponse> result;
    coordinator_->GetResult(job_id, "a", result.Callback());
    EXPECT_EQ(result.Get().status().code(), absl::StatusCode::kUnavailable);
    Answer<v1::CancelJobResponse> cancel;
    coordinator_->Cancel(job_id, cancel.Callback());
    EXPECT_EQ(cancel.Get().status().code(), absl::StatusCode::kUnavailable);
    Answer<v1::ListWorkersResponse> workers;
    coordinator_->ListWorkers(workers.Callback());
    EXPECT_EQ(workers.Get().status().code(), absl::StatusCode::kUnavailable);
    auto watch = std::make_shared<RecordingWatchSink>();
    coordinator_->Watch(job_id, /*end_only=*/false, watch);
    EXPECT_EQ(watch->WaitForFailure().code(), absl::StatusCode::kUnavailable);
  }

  // The coordinator's source of randomness: counts its draws.
  double Uniform() {
    if (uniform_draws_.fetch_add(1) == 0) first_draw_.Notify();
    return 0.5;
  }

  SystemClock clock_;
  std::atomic<int> uniform_draws_{0};
  absl::Notification first_draw_;
  std::unique_ptr<testing::TempDir> dir_;
  std::unique_ptr<RocksMetaStore> rocks_;
  std::unique_ptr<FailingMetaStore> faulty_;
  std::unique_ptr<Coordinator> coordinator_;
  absl::Notification fatal_;
  std::atomic<int> fatal_calls_{0};
  absl::Status fatal_status_;  // written before fatal_ is notified
};

constexpr char kJob[] = R"({"tasks": [
  {"id": "a", "fn": "const", "args": {"value": 1}},
  {"id": "b", "fn": "add", "inputs": ["a"], "args": {"value": 1}}]})";

TEST_F(StoreFaultTest, SubmissionWhoseCommitFailsIsNotAcknowledged) {
  faulty_->FailCommits();
  absl::StatusOr<v1::SubmitJobResponse> submitted = Submit(Request(kJob));
  ASSERT_FALSE(submitted.ok()) << "acknowledged as " << submitted->job_id();
  EXPECT_EQ(submitted.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(submitted.status().message(),
              HasSubstr("a store write failed: injected"));

  // The fatal handler ran once, so the process stops.
  ASSERT_TRUE(fatal_.WaitForNotificationWithTimeout(kWait));
  EXPECT_EQ(fatal_status_.code(), absl::StatusCode::kUnavailable);

  // Not half-stored: no record of the job at all.
  EXPECT_TRUE(absl::IsNotFound(rocks_->GetJobStatus(1).status()));
  EXPECT_TRUE(absl::IsNotFound(rocks_->FindTaskIndex(1, "a").status()));
  EXPECT_TRUE(absl::IsNotFound(rocks_->GetTaskSpec(1, 0).status()));
  absl::StatusOr<std::vector<v1::JobStatus>> jobs =
      rocks_->ListJobStatuses(UINT64_MAX, 10);
  ASSERT_TRUE(jobs.ok()) << jobs.status();
  EXPECT_TRUE(jobs->empty());
  absl::StatusOr<std::vector<StoredJob>> unfinished =
      rocks_->LoadUnfinishedJobs();
  ASSERT_TRUE(unfinished.ok()) << unfinished.status();
  EXPECT_TRUE(unfinished->empty());

  // The job lives in the scheduler's memory, but nothing serves it.
  ExpectEveryQueryUnavailable("j1");
  absl::StatusOr<v1::SubmitJobResponse> again = Submit(Request(kJob));
  EXPECT_EQ(again.status().code(), absl::StatusCode::kUnavailable);
  // Nothing more is written once a write failed, not even the last sync.
  coordinator_->Stop();
  EXPECT_EQ(faulty_->commits(), 1);
  EXPECT_EQ(fatal_calls_, 1);
}

TEST_F(StoreFaultTest, WaitingSubmissionWhoseCommitFailsGetsUnavailable) {
  faulty_->FailCommits();
  absl::StatusOr<v1::SubmitJobResponse> submitted =
      Submit(Request(kJob, /*wait=*/true));
  EXPECT_EQ(submitted.status().code(), absl::StatusCode::kUnavailable);
  ASSERT_TRUE(fatal_.WaitForNotificationWithTimeout(kWait));
  EXPECT_TRUE(absl::IsNotFound(rocks_->GetJobStatus(1).status()));
}

TEST_F(StoreFaultTest, FailedResultWriteLeavesTheStoredJobAsItWas) {
  auto sink = std::make_shared<RecordingDispatcher>();
  const WorkerId worker = ConnectWorker(sink);
  absl::StatusOr<v1::SubmitJobResponse> submitted = Submit(Request(kJob));
  ASSERT_TRUE(submitted.ok()) << submitted.status();
  ASSERT_EQ(submitted->job_id(), "j1");
  absl::StatusOr<v1::Assignment> a = sink->WaitForAssignment(0);
  ASSERT_TRUE(a.ok()) << a.status();
  // The assignment went out after its turn's commit: this is what is stored.
  absl::StatusOr<v1::JobStatus> before = rocks_->GetJobStatus(1);
  ASSERT_TRUE(before.ok()) << before.status();
  ASSERT_FALSE(IsFinal(before->state()));

  faulty_->FailCommits();
  v1::WorkerMessage report;
  v1::TaskResult* result = report.mutable_batch()->add_results();
  *result->mutable_task() = a->task();
  result->set_ok(true);
  result->mutable_output()->set_data("1");
  result->mutable_output()->set_content_type("application/json");
  coordinator_->WorkerMessage(worker, report);
  ASSERT_TRUE(fatal_.WaitForNotificationWithTimeout(kWait));

  // The store holds what was written before, and nothing of the result.
  absl::StatusOr<v1::JobStatus> after = rocks_->GetJobStatus(1);
  ASSERT_TRUE(after.ok()) << after.status();
  EXPECT_TRUE(MessageDifferencer::Equals(*before, *after))
      << before->DebugString() << " vs " << after->DebugString();
  EXPECT_TRUE(absl::IsNotFound(rocks_->GetTaskStatus(1, 0).status()));
  EXPECT_TRUE(absl::IsNotFound(rocks_->GetResult(1, 0).status()));

  // dagd does not serve the unwritten success, nor act on it.
  ExpectEveryQueryUnavailable("j1");
  coordinator_->Stop();
  EXPECT_FALSE(sink->Assigned(1)) << "b was dispatched on an unstored result";

  // A restart finds the job unfinished, with a to run again.
  absl::StatusOr<std::vector<StoredJob>> unfinished =
      rocks_->LoadUnfinishedJobs();
  ASSERT_TRUE(unfinished.ok()) << unfinished.status();
  ASSERT_EQ(unfinished->size(), 1u);
  EXPECT_TRUE((*unfinished)[0].task_statuses.empty());
}

// A worker process back on a new stream while dagd still has its old one
// (a half-open connection): the old stream is dropped at once, the attempt
// the process runs goes on on the new one, and what follows goes there
// too, not to the old stream until it missed its heartbeats.
TEST_F(StoreFaultTest, AProcessBackOnANewStreamEndsItsOldOne) {
  auto old_stream = std::make_shared<RecordingDispatcher>();
  ConnectWorker(old_stream, "process-1");
  absl::StatusOr<v1::SubmitJobResponse> submitted = Submit(Request(kJob));
  ASSERT_TRUE(submitted.ok()) << submitted.status();
  absl::StatusOr<v1::Assignment> a = old_stream->WaitForAssignment(0);
  ASSERT_TRUE(a.ok()) << a.status();

  auto new_stream = std::make_shared<RecordingDispatcher>();
  v1::Register hello;
  hello.set_name("process-1");
  hello.set_instance("process-1");
  hello.set_kept_complete(true);
  hello.set_slots(1);
  hello.add_functions("const");
  hello.add_functions("add");
  *hello.add_running() = a->task();
  const WorkerId back = coordinator_->NewWorkerId();
  coordinator_->WorkerConnected(back, new_stream, hello, "test");
  ASSERT_TRUE(new_stream->WaitForRegistered());
  absl::Status closed = old_stream->WaitForClose();
  EXPECT_EQ(closed.code(), absl::StatusCode::kFailedPrecondition) << closed;
  EXPECT_THAT(closed.message(), HasSubstr("newer stream"));

  v1::WorkerMessage report;
  v1::TaskResult* result = report.mutable_batch()->add_results();
  *result->mutable_task() = a->task();
  result->set_ok(true);
  result->mutable_output()->set_data("1");
  result->mutable_output()->set_content_type("application/json");
  coordinator_->WorkerMessage(back, report);
  absl::StatusOr<v1::Assignment> b = new_stream->WaitForAssignment(1);
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_EQ(b->inputs(0).data(), "1");
  EXPECT_FALSE(old_stream->Assigned(1));
  EXPECT_FALSE(new_stream->Assigned(0)) << "a ran again";
}

// A resubmission answered with the job an earlier request created is an
// acknowledgement too: it is fsynced first, even when the earlier request
// (one that waits for the job's end) was not.
TEST_F(StoreFaultTest, DuplicateRequestIsAnsweredOnlyAfterASync) {
  constexpr char kUnrunnable[] = R"({"tasks": [{"id": "a", "fn": "nosuch"}]})";
  Answer<v1::SubmitJobResponse> waiting;
  coordinator_->Submit(Request(kUnrunnable, /*wait=*/true, "req-1"), "",
                       waiting.Callback());
  // The job is written (without a sync: its answer waits for its end).
  ASSERT_TRUE(testing::PollUntil([&] { return rocks_->GetJobStatus(1).ok(); },
                                 kWait, "the waiting submission to be written")
                  .ok());
  const int synced = faulty_->synced_commits();

  absl::StatusOr<v1::SubmitJobResponse> again =
      Submit(Request(kUnrunnable, /*wait=*/false, "req-1"));
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->job_id(), "j1");
  EXPECT_TRUE(again->existing());
  EXPECT_GT(faulty_->synced_commits(), synced);
  EXPECT_FALSE(waiting.answered());
  coordinator_->CloseStreams();
  EXPECT_EQ(waiting.Get().status().code(), absl::StatusCode::kUnavailable);
}

// A failed attempt's retry is delayed by a backoff with jitter, drawn from
// the random source the coordinator was given (not one of its own).
TEST_F(StoreFaultTest, RetryJitterComesFromTheInjectedRandomSource) {
  auto worker = std::make_shared<RecordingDispatcher>();
  const WorkerId id = ConnectWorker(worker);
  ASSERT_TRUE(Submit(Request(R"({"tasks": [{"id": "a", "fn": "const",
      "args": {"value": 1}, "retry": {"maxAttempts": 2}}]})"))
                  .ok());
  absl::StatusOr<v1::Assignment> assigned = worker->WaitForAssignment(0);
  ASSERT_TRUE(assigned.ok()) << assigned.status();
  v1::WorkerMessage failed;
  v1::TaskResult* result = failed.mutable_batch()->add_results();
  *result->mutable_task() = assigned->task();
  result->set_error("injected: first attempt fails");
  coordinator_->WorkerMessage(id, std::move(failed));
  EXPECT_TRUE(first_draw_.WaitForNotificationWithTimeout(kWait));
}

// With results kept in S3, a worker that cannot read them (one built before
// Register.reads_object_refs) would run tasks on empty inputs: it is
// refused, saying why, and a current worker is taken.
class ObjectStoreWorkersTest : public StoreFaultTest {
 protected:
  CoordinatorOptions Options() override {
    CoordinatorOptions options;
    options.scheduler.object_store.set_bucket("results");
    options.scheduler.object_store.set_inline_max_bytes(65536);
    return options;
  }
};

TEST_F(ObjectStoreWorkersTest, WorkerThatCannotReadObjectRefsIsRefused) {
  auto old_worker = std::make_shared<RecordingDispatcher>();
  v1::Register hello;
  hello.set_name("old");
  hello.set_slots(1);
  hello.add_functions("const");
  coordinator_->WorkerConnected(coordinator_->NewWorkerId(), old_worker, hello,
                                "test");
  absl::Status closed = old_worker->WaitForClose();
  EXPECT_EQ(closed.code(), absl::StatusCode::kFailedPrecondition) << closed;
  EXPECT_THAT(closed.message(), HasSubstr("upgrade dagd-worker"));

  auto worker = std::make_shared<RecordingDispatcher>();
  hello.set_reads_object_refs(true);
  coordinator_->WorkerConnected(coordinator_->NewWorkerId(), worker, hello,
                                "test");
  EXPECT_TRUE(worker->WaitForRegistered());
}

// After a restart, recovered jobs wait for the workers on the stored
// roster to come back and say they sent what they kept, and no longer.
class RecoveryRosterTest : public StoreFaultTest {
 protected:
  CoordinatorOptions Options() override {
    CoordinatorOptions options;
    options.scheduler.recovery_grace = absl::Hours(1);  // never, here
    return options;
  }

  void Restart() {
    coordinator_->Stop();
    coordinator_.reset();
    StartCoordinator();
  }

  // Task `task_id`'s state in job `job_id`, after a turn.
  v1::TaskState StateOf(const std::string& job_id, const std::string& task_id) {
    Answer<v1::TaskStatus> task;
    coordinator_->GetTask(job_id, task_id, task.Callback());
    absl::StatusOr<v1::TaskStatus> status = task.Get();
    EXPECT_TRUE(status.ok()) << status.status();
    return status.ok() ? status->state() : v1::TASK_STATE_UNSPECIFIED;
  }

  // Submits kTwoTasks and waits until as many are handed out as there
  // are workers (of one slot each).
  std::string SubmitRunning(
      const std::vector<std::shared_ptr<RecordingDispatcher>>& sinks) {
    absl::StatusOr<v1::SubmitJobResponse> submitted =
        Submit(Request(kTwoTasks));
    EXPECT_TRUE(submitted.ok()) << submitted.status();
    if (!submitted.ok()) return "";
    for (uint32_t index = 0; index < sinks.size(); ++index) {
      EXPECT_TRUE(WaitAssigned(sinks, index)) << "task " << index;
    }
    return submitted->job_id();
  }

  // Waits until task `index` is handed to one of `sinks`.
  static bool WaitAssigned(
      const std::vector<std::shared_ptr<RecordingDispatcher>>& sinks,
      uint32_t index) {
    const absl::Time deadline = absl::Now() + kWait;
    while (absl::Now() < deadline) {
      for (const auto& sink : sinks) {
        if (sink->Assigned(index)) return true;
      }
      absl::SleepFor(absl::Milliseconds(5));
    }
    return false;
  }

  // Workers "p1" and "p2" running kTwoTasks; their stream ids go to `ids`.
  std::string RunOnTwoWorkers(std::vector<WorkerId>* ids = nullptr) {
    auto w1 = std::make_shared<RecordingDispatcher>();
    auto w2 = std::make_shared<RecordingDispatcher>();
    const WorkerId id1 = ConnectWorker(w1, "p1");
    const WorkerId id2 = ConnectWorker(w2, "p2");
    if (ids != nullptr) *ids = {id1, id2};
    return SubmitRunning({w1, w2});
  }

  // Process `instance` back on a new stream, with everything it kept.
  std::shared_ptr<RecordingDispatcher> Back(const std::string& instance) {
    auto sink = std::make_shared<RecordingDispatcher>();
    ConnectWorker(sink, instance);
    return sink;
  }

  // Whether both tasks still wait (READY, not handed out again).
  void ExpectHeld(const std::string& job_id) {
    // A query is answered in its turn before that turn schedules: this one
    // lets the turns of events posted before it finish.
    StateOf(job_id, "a");
    EXPECT_EQ(StateOf(job_id, "a"), v1::TASK_READY);
    EXPECT_EQ(StateOf(job_id, "b"), v1::TASK_READY);
  }

  static constexpr char kTwoTasks[] = R"({"tasks": [
    {"id": "a", "fn": "const", "args": {"value": 1}},
    {"id": "b", "fn": "const", "args": {"value": 2}}]})";
};

TEST_F(RecoveryRosterTest, TheWorkersFromBeforeBackEndTheWait) {
  const std::string job = RunOnTwoWorkers();
  Restart();

  // Back without the tasks (they lost them): one back is not enough, the
  // other may still run them.
  auto w1_again = Back("p1");
  ExpectHeld(job);
  // Both back: the tasks run again now, not in an hour.
  auto w2_again = Back("p2");
  EXPECT_TRUE(WaitAssigned({w1_again, w2_again}, 0));
  EXPECT_TRUE(WaitAssigned({w1_again, w2_again}, 1));
}

// A worker whose kept results did not all fit in its Register is back once
// the batch with the last of them says so.
TEST_F(RecoveryRosterTest, AWorkerIsBackOnceItsKeptResultsAreAllIn) {
  auto w = std::make_shared<RecordingDispatcher>();
  ConnectWorker(w, "p");
  const std::string job = SubmitRunning({w});
  Restart();
  auto again = std::make_shared<RecordingDispatcher>();
  const WorkerId id = ConnectWorker(again, "p", /*kept_complete=*/false);
  ExpectHeld(job);
  v1::WorkerMessage rest;
  rest.mutable_batch();
  coordinator_->WorkerMessage(id, rest);
  ExpectHeld(job);
  rest.mutable_batch()->set_kept_complete(true);
  coordinator_->WorkerMessage(id, rest);
  EXPECT_TRUE(again->WaitForAssignment(0).ok());
}

// Another process of the same name is not the one awaited.
TEST_F(RecoveryRosterTest, AnotherProcessOfTheNameIsNotTheOneAwaited) {
  auto w = std::make_shared<RecordingDispatcher>();
  ConnectWorker(w, "p");
  const std::string job = SubmitRunning({w});
  Restart();
  v1::Register hello;
  hello.set_name("p");
  hello.set_instance("another process");
  hello.set_kept_complete(true);
  hello.set_slots(1);
  hello.add_functions("const");
  auto other = std::make_shared<RecordingDispatcher>();
  coordinator_->WorkerConnected(coordinator_->NewWorkerId(), other, hello,
                                "test");
  ASSERT_TRUE(other->WaitForRegistered());
  ExpectHeld(job);
}

// A worker without a process instance cannot be told from a new one: the
// whole grace is waited for it.
TEST_F(RecoveryRosterTest, AWorkerWithoutAnInstanceIsWaitedTheWholeGrace) {
  auto w = std::make_shared<RecordingDispatcher>();
  ConnectWorker(w);
  const std::string job = SubmitRunning({w});
  Restart();
  ConnectWorker(std::make_shared<RecordingDispatcher>());
  ExpectHeld(job);
}

// Awaited and not back when dagd restarts again: awaited again, as it may
// still hold what it ran two starts ago.
TEST_F(RecoveryRosterTest, AWorkerNotBackIsAwaitedAfterTheNextRestartToo) {
  const std::string job = RunOnTwoWorkers();
  Restart();
  Back("p1");
  Restart();
  auto w1_again = Back("p1");
  ExpectHeld(job);
  auto w2_again = Back("p2");
  EXPECT_TRUE(WaitAssigned({w1_again, w2_again}, 0));
}

// A start of a dagd that kept no roster came in between: workers may have
// joined it unrecorded, so the roster is not whole.
TEST_F(RecoveryRosterTest, AStartWithoutTheRosterInBetweenWaitsTheGrace) {
  auto w = std::make_shared<RecordingDispatcher>();
  ConnectWorker(w, "p");
  const std::string job = SubmitRunning({w});
  coordinator_->Stop();
  coordinator_.reset();
  ASSERT_TRUE(rocks_->StartIncarnation().ok());  // the other dagd's start
  StartCoordinator();
  Back("p");
  ExpectHeld(job);
}

// A store from before the roster, or whose first start with it ended
// within its grace, cannot say who was connected: the whole grace.
TEST_F(RecoveryRosterTest, AStoreWithoutAWholeRosterWaitsTheWholeGrace) {
  auto w = std::make_shared<RecordingDispatcher>();
  ConnectWorker(w, "p");
  const std::string job = SubmitRunning({w});
  faulty_->ForgetRoster();
  Restart();
  ConnectWorker(std::make_shared<RecordingDispatcher>(), "p");
  ExpectHeld(job);
}

// No worker was connected: none can come back with work, so nothing waits.
TEST_F(RecoveryRosterTest, WithNoWorkerConnectedRecoveredJobsGoOnAtOnce) {
  absl::StatusOr<v1::SubmitJobResponse> submitted = Submit(Request(kTwoTasks));
  ASSERT_TRUE(submitted.ok()) << submitted.status();
  Restart();
  auto w = std::make_shared<RecordingDispatcher>();
  ConnectWorker(w, "late", /*kept_complete=*/false);
  EXPECT_TRUE(w->WaitForAssignment(0).ok());
}

// RecoveryRosterTest with a grace that runs out within a test.
class ShortGraceRosterTest : public RecoveryRosterTest {
 protected:
  CoordinatorOptions Options() override {
    CoordinatorOptions options;
    options.scheduler.recovery_grace = absl::Seconds(3);
    return options;
  }
};

// A worker back after a restart whose stream breaks shortly before the
// grace runs out may still run what it took over: a second crash soon
// after still waits for it.
TEST_F(ShortGraceRosterTest, AWorkerThatLeftJustBeforeTheGraceIsAwaitedAgain) {
  auto w = std::make_shared<RecordingDispatcher>();
  ConnectWorker(w, "p");
  const std::string job = SubmitRunning({w});
  Restart();
  const absl::Time restarted = absl::Now();
  // Back, its kept results not all in yet...
  const WorkerId id = ConnectWorker(std::make_shared<RecordingDispatcher>(),
                                    "p", /*kept_complete=*/false);
  // ...when its stream breaks, about 1 s before the grace runs out.
  absl::SleepFor(restarted + absl::Milliseconds(2000) - absl::Now());
  ExpectHeld(job);  // so the grace had not ended while it was back
  coordinator_->WorkerDisconnected(id);
  // Killed after the grace, 1.3 s after it left: within the 3 s it stays.
  absl::SleepFor(restarted + absl::Milliseconds(3300) - absl::Now());
  Restart();
  ConnectWorker(std::make_shared<RecordingDispatcher>(), "q");
  ExpectHeld(job);
}

// dagd's own stop closes every stream: that is not the workers leaving,
// however long the stop takes, and the next start waits for them.
TEST_F(ShortGraceRosterTest, StreamsClosedByAStopTakeNoOneOff) {
  std::vector<WorkerId> ids;
  const std::string job = RunOnTwoWorkers(&ids);
  coordinator_->CloseStreams();
  for (WorkerId id : ids) coordinator_->WorkerDisconnected(id);
  // Past the 3 s a departed worker stays on the roster; a query makes a
  // turn after it.
  absl::SleepFor(absl::Milliseconds(3500));
  EXPECT_EQ(StateOf(job, "a"), v1::TASK_READY);
  Restart();
  Back("p1");
  ExpectHeld(job);  // p2 is awaited (for the 3 s grace)
}

}  // namespace
}  // namespace dagd
