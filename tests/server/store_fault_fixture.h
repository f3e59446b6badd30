// The fixture of the Coordinator-on-a-real-store tests: a RocksMetaStore
// wrapped by one that fails Commit on demand, a Coordinator on it (started
// again on the same store: a restart), and recording workers and watchers.
#ifndef DAGD_TESTS_SERVER_STORE_FAULT_FIXTURE_H_
#define DAGD_TESTS_SERVER_STORE_FAULT_FIXTURE_H_

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
#include "gtest/gtest.h"
#include "proto/states.h"
#include "server/coordinator.h"
#include "server/output_keeper.h"
#include "storage/base/clock.h"
#include "storage/data_client.h"
#include "storage/object_store.h"
#include "storage/rocksdb_meta_store.h"
#include "tests/testutil/process.h"

namespace dagd {

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
  bool IsClosed() {
    absl::MutexLock lock(&mu_);
    return closed_.has_value();
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
  // Whether dagd told the worker to free `key` (CoordinatorBatch.release),
  // waiting for it.
  bool WaitForRelease(const std::string& key) {
    absl::MutexLock lock(&mu_);
    auto released = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      for (const auto& m : sent_) {
        for (const std::string& k : m.batch().release()) {
          if (k == key) return true;
        }
      }
      return false;
    };
    return mu_.AwaitWithTimeout(absl::Condition(&released), kWait);
  }
  // Everything sent so far, in order.
  std::vector<v1::CoordinatorMessage> Sent() {
    absl::MutexLock lock(&mu_);
    return sent_;
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
    if (options.scheduler.max_stored_result_bytes > 0) {
      keeper_ = std::make_unique<OutputKeeper>(
          faulty_.get(), &holders_, options.scheduler.max_stored_result_bytes);
      coordinator_->SetOutputKeeper(keeper_.get());
    }
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

  // Connects worker "holder" of process "holder-1", serving the results it
  // holds at `data_address`, offering const with `slots` slots, listing
  // `held` as it registers.
  WorkerId ConnectHolder(std::shared_ptr<RecordingDispatcher> sink,
                         const std::string& data_address, uint32_t slots = 1,
                         std::vector<std::string> held = {}) {
    const WorkerId id = coordinator_->NewWorkerId();
    v1::Register hello;
    hello.set_name("holder");
    hello.set_instance("holder-1");
    hello.set_data_address(data_address);
    hello.set_kept_complete(true);
    hello.set_slots(slots);
    hello.add_functions("const");
    for (std::string& key : held) hello.add_held(std::move(key));
    coordinator_->WorkerConnected(id, sink, hello, "test");
    EXPECT_TRUE(sink->WaitForRegistered());
    return id;
  }

  // ConnectHolder's worker `id` reports `a` succeeded, its output of `size`
  // bytes (CRC-32C `crc`) held there; returns the output's reference.
  v1::ObjectRef ReportHeld(WorkerId id, const v1::Assignment& a,
                           const std::string& data_address, uint64_t size,
                           uint32_t crc = 0) {
    v1::WorkerMessage report;
    v1::TaskResult* result = report.mutable_batch()->add_results();
    *result->mutable_task() = a.task();
    result->set_ok(true);
    v1::ObjectRef* ref = result->mutable_output_ref();
    ref->set_key(ResultObjectKey(a.task().job_id(), a.task().task_index(),
                                 a.task().attempt()));
    ref->set_size(size);
    ref->set_crc32c(crc);
    ref->set_content_type("application/octet-stream");
    ref->mutable_holder()->set_name("holder");
    ref->mutable_holder()->set_instance("holder-1");
    ref->mutable_holder()->set_address(data_address);
    const v1::ObjectRef out = *ref;
    coordinator_->WorkerMessage(id, report);
    return out;
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
  DataClient holders_;
  std::unique_ptr<OutputKeeper> keeper_;  // with max_stored_result_bytes
  std::unique_ptr<Coordinator> coordinator_;
  absl::Notification fatal_;
  std::atomic<int> fatal_calls_{0};
  absl::Status fatal_status_;  // written before fatal_ is notified
};

}  // namespace dagd

#endif  // DAGD_TESTS_SERVER_STORE_FAULT_FIXTURE_H_
