// Queries of finished jobs run on the coordinator's query threads against a
// view of the store, never on its loop; deletions are applied in a turn's
// commit. The Coordinator on a real RocksMetaStore in a temporary
// directory, wrapped to hold reads back and to record commits.
#include <atomic>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"
#include "server/coordinator.h"
#include "server/retention.h"
#include "storage/base/clock.h"
#include "storage/rocksdb_meta_store.h"
#include "tests/testutil/fake_clock.h"
#include "tests/testutil/process.h"

namespace dagd {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

constexpr absl::Duration kWait = absl::Seconds(30);

// Holds every read of a view back while closed; counts the views made.
class Gate {
 public:
  void Close() {
    absl::MutexLock lock(&mu_);
    open_ = false;
  }
  void Open() {
    absl::MutexLock lock(&mu_);
    open_ = true;
  }
  // Called by a read: returns once the gate is open.
  void Pass() {
    absl::MutexLock lock(&mu_);
    ++waiting_;
    mu_.AwaitWithTimeout(absl::Condition(&open_), kWait);
    --waiting_;
  }
  // Waits until `n` reads are held at the gate.
  bool WaitForWaiting(int n) {
    absl::MutexLock lock(&mu_);
    auto enough = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return waiting_ >= n;
    };
    return mu_.AwaitWithTimeout(absl::Condition(&enough), kWait);
  }

 private:
  absl::Mutex mu_;
  bool open_ ABSL_GUARDED_BY(mu_) = true;
  int waiting_ ABSL_GUARDED_BY(mu_) = 0;
};

// A view that passes the gate before each read, then forwards.
class GatedView : public MetaReadView {
 public:
  GatedView(std::unique_ptr<MetaReadView> target, Gate* gate)
      : target_(std::move(target)), gate_(gate) {}

  absl::StatusOr<v1::JobStatus> GetJobStatus(uint64_t seq) override {
    gate_->Pass();
    return target_->GetJobStatus(seq);
  }
  absl::StatusOr<std::vector<v1::JobStatus>> ListJobStatuses(
      uint64_t before_seq, size_t limit) override {
    gate_->Pass();
    return target_->ListJobStatuses(before_seq, limit);
  }
  absl::StatusOr<uint32_t> FindTaskIndex(uint64_t seq,
                                         absl::string_view task_id) override {
    gate_->Pass();
    return target_->FindTaskIndex(seq, task_id);
  }
  absl::StatusOr<v1::TaskStatus> GetTaskStatus(uint64_t seq,
                                               uint32_t index) override {
    gate_->Pass();
    return target_->GetTaskStatus(seq, index);
  }
  absl::StatusOr<v1::TaskSpec> GetTaskSpec(uint64_t seq,
                                           uint32_t index) override {
    gate_->Pass();
    return target_->GetTaskSpec(seq, index);
  }
  absl::StatusOr<StoredResult> GetResult(uint64_t seq,
                                         uint32_t index) override {
    gate_->Pass();
    return target_->GetResult(seq, index);
  }
  absl::StatusOr<std::optional<uint64_t>> FindRequest(
      absl::string_view request_id) override {
    gate_->Pass();
    return target_->FindRequest(request_id);
  }
  absl::Status ForEachStoredTask(uint64_t seq, uint32_t from, uint32_t end,
                                 TaskVisitor visit) override {
    gate_->Pass();
    return target_->ForEachStoredTask(seq, from, end, visit);
  }
  absl::StatusOr<std::vector<v1::ObjectRef>> ListResultObjects(
      uint64_t seq) override {
    gate_->Pass();
    return target_->ListResultObjects(seq);
  }

 private:
  const std::unique_ptr<MetaReadView> target_;
  Gate* const gate_;
};

// The real store, with views behind the gate and every commit recorded.
class RecordingStore : public MetaStoreWrapper {
 public:
  struct Recorded {
    std::vector<uint64_t> deleted;
    bool sync = false;
  };

  using MetaStoreWrapper::MetaStoreWrapper;

  absl::Status Commit(const WriteSet& writes, bool sync,
                      uint64_t* bytes) override {
    {
      absl::MutexLock lock(&mu_);
      Recorded& commit = commits_.emplace_back();
      for (const JobDeletion& deletion : writes.deleted_jobs) {
        commit.deleted.push_back(deletion.seq);
      }
      commit.sync = sync;
    }
    return MetaStoreWrapper::Commit(writes, sync, bytes);
  }
  absl::StatusOr<std::unique_ptr<MetaReadView>> NewReadView() override {
    absl::StatusOr<std::unique_ptr<MetaReadView>> view =
        MetaStoreWrapper::NewReadView();
    if (!view.ok()) return view;
    return std::make_unique<GatedView>(*std::move(view), &gate_);
  }

  Gate& gate() { return gate_; }
  // The commits that deleted jobs.
  std::vector<Recorded> Deletions() {
    absl::MutexLock lock(&mu_);
    std::vector<Recorded> out;
    for (const Recorded& commit : commits_) {
      if (!commit.deleted.empty()) out.push_back(commit);
    }
    return out;
  }

 private:
  Gate gate_;
  absl::Mutex mu_;
  std::vector<Recorded> commits_ ABSL_GUARDED_BY(mu_);
};

// A worker that answers every assignment at once with a success whose
// output is 7.
class AnsweringWorker : public Dispatcher {
 public:
  AnsweringWorker(Coordinator* coordinator, WorkerId id)
      : coordinator_(coordinator), id_(id) {}

  void Send(v1::CoordinatorMessage message) override {
    if (message.has_registered()) registered_.Notify();
    if (message.batch().assignments().empty()) return;
    v1::WorkerMessage report;
    for (const v1::Assignment& assignment : message.batch().assignments()) {
      v1::TaskResult* result = report.mutable_batch()->add_results();
      *result->mutable_task() = assignment.task();
      result->set_ok(true);
      result->mutable_output()->set_data("7");
      result->mutable_output()->set_content_type("application/json");
    }
    coordinator_->WorkerMessage(id_, std::move(report));
  }
  void Close(absl::Status) override {}

  bool WaitForRegistered() {
    return registered_.WaitForNotificationWithTimeout(kWait);
  }

 private:
  Coordinator* const coordinator_;
  const WorkerId id_;
  absl::Notification registered_;
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

constexpr char kTwoTasks[] = R"({"tasks": [
  {"id": "a", "fn": "const", "args": {"value": 1}},
  {"id": "b", "fn": "add", "inputs": ["a"], "args": {"value": 1}}]})";
constexpr char kOneTask[] = R"({"tasks": [{"id": "a", "fn": "const"}]})";

class CoordinatorQueriesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<std::unique_ptr<testing::TempDir>> dir =
        testing::TempDir::Create("dagd-queries-");
    ASSERT_TRUE(dir.ok()) << dir.status();
    dir_ = *std::move(dir);
    absl::StatusOr<std::unique_ptr<RocksMetaStore>> store =
        RocksMetaStore::Open(dir_->path() + "/db");
    ASSERT_TRUE(store.ok()) << store.status();
    rocks_ = *std::move(store);
    store_ = std::make_unique<RecordingStore>(rocks_.get());
    CoordinatorOptions options;
    // Only acknowledgements sync.
    options.sync_interval = absl::Hours(1);
    options.queries = Queries();
    coordinator_ = std::make_unique<Coordinator>(options, store_.get(), &clock_,
                                                 [] { return 0.5; });
    ASSERT_EQ(coordinator_->Start(), absl::OkStatus());
    const WorkerId id = coordinator_->NewWorkerId();
    worker_ = std::make_shared<AnsweringWorker>(coordinator_.get(), id);
    v1::Register hello;
    hello.set_name("w");
    hello.set_slots(4);
    hello.add_functions("const");
    hello.add_functions("add");
    coordinator_->WorkerConnected(id, worker_, hello, "test");
    ASSERT_TRUE(worker_->WaitForRegistered());
  }

  void TearDown() override {
    if (store_ != nullptr) store_->gate().Open();
    if (coordinator_ != nullptr) coordinator_->Stop();
  }

  virtual QueryPool::Options Queries() { return QueryPool::Options(); }

  // Submits and waits for the job's end; returns its id.
  std::string RunJob(const std::string& json) {
    v1::SubmitJobRequest request;
    EXPECT_TRUE(
        google::protobuf::util::JsonStringToMessage(json, request.mutable_job())
            .ok());
    request.set_wait(true);
    Answer<v1::SubmitJobResponse> answer;
    coordinator_->Submit(std::move(request), "", answer.Callback());
    absl::StatusOr<v1::SubmitJobResponse> done = answer.Get();
    EXPECT_TRUE(done.ok()) << done.status();
    if (!done.ok()) return "";
    EXPECT_EQ(done->final_status().state(), v1::JOB_SUCCEEDED);
    return done->job_id();
  }

  absl::StatusOr<v1::JobStatus> GetJob(const std::string& job_id) {
    Answer<v1::JobStatus> answer;
    coordinator_->GetJob(job_id, answer.Callback());
    return answer.Get();
  }

  absl::Status Delete(const std::string& job_id) {
    Answer<v1::DeleteJobResponse> answer;
    coordinator_->DeleteJob(job_id, answer.Callback());
    return answer.Get().status();
  }

  SystemClock clock_;
  std::unique_ptr<testing::TempDir> dir_;
  std::unique_ptr<RocksMetaStore> rocks_;
  std::unique_ptr<RecordingStore> store_;
  std::unique_ptr<Coordinator> coordinator_;
  std::shared_ptr<AnsweringWorker> worker_;
};

// While ListTasks of a finished job is held in its read, the loop keeps
// scheduling: a new job runs to its end. Read on the loop, it could not.
TEST_F(CoordinatorQueriesTest, ListingAFinishedJobDoesNotHoldUpTheLoop) {
  const std::string finished = RunJob(kTwoTasks);
  store_->gate().Close();
  Answer<v1::ListTasksResponse> tasks;
  coordinator_->ListTasks(finished, tasks.Callback());
  ASSERT_TRUE(store_->gate().WaitForWaiting(1));

  const std::string next = RunJob(kOneTask);
  EXPECT_NE(next, "");
  EXPECT_FALSE(tasks.answered());

  store_->gate().Open();
  absl::StatusOr<v1::ListTasksResponse> listed = tasks.Get();
  ASSERT_TRUE(listed.ok()) << listed.status();
  ASSERT_EQ(listed->tasks_size(), 2);
  EXPECT_EQ(listed->tasks(0).task_id(), "a");
  EXPECT_EQ(listed->tasks(1).task_id(), "b");
  EXPECT_EQ(listed->tasks(1).state(), v1::TASK_SUCCEEDED);
  // The spec's inputs, read in the same pass.
  EXPECT_THAT(listed->tasks(1).inputs(), ElementsAre("a"));
}

// Every query of a finished job goes through a view, none reads the store
// on the loop: with the gate closed, none is answered.
TEST_F(CoordinatorQueriesTest, EveryQueryOfAFinishedJobReadsAView) {
  const std::string job_id = RunJob(kTwoTasks);
  store_->gate().Close();
  Answer<v1::JobStatus> job;
  coordinator_->GetJob(job_id, job.Callback());
  Answer<v1::TaskStatus> task;
  coordinator_->GetTask(job_id, "b", task.Callback());
  Answer<v1::ListTasksResponse> tasks;
  coordinator_->ListTasks(job_id, tasks.Callback());
  Answer<v1::GetResultResponse> result;
  coordinator_->GetResult(job_id, "b", result.Callback());
  Answer<StoredResult> opened;
  coordinator_->OpenResult(job_id, "a", opened.Callback());
  Answer<v1::ListJobsResponse> jobs;
  coordinator_->ListJobs(v1::ListJobsRequest(), jobs.Callback());
  Answer<v1::CancelJobResponse> cancel;
  coordinator_->Cancel(job_id, cancel.Callback());
  // Two query threads, each held in its first read; the rest queue.
  ASSERT_TRUE(store_->gate().WaitForWaiting(2));
  EXPECT_FALSE(job.answered() || task.answered() || tasks.answered() ||
               result.answered() || opened.answered() || jobs.answered() ||
               cancel.answered());
  store_->gate().Open();

  EXPECT_EQ(job.Get()->state(), v1::JOB_SUCCEEDED);
  EXPECT_THAT(task.Get()->inputs(), ElementsAre("a"));
  EXPECT_EQ(tasks.Get()->tasks_size(), 2);
  EXPECT_EQ(result.Get()->data(), "7");
  EXPECT_EQ(opened.Get()->data, "7");
  ASSERT_EQ(jobs.Get()->jobs_size(), 1);
  EXPECT_EQ(jobs.Get()->jobs(0).state(), v1::JOB_SUCCEEDED);
  EXPECT_FALSE(cancel.Get()->cancelled());
}

// The errors read from a view are the ones clients always got.
TEST_F(CoordinatorQueriesTest, StoredQueriesKeepTheirErrors) {
  const std::string job_id = RunJob(kOneTask);
  Answer<v1::TaskStatus> task;
  coordinator_->GetTask(job_id, "zz", task.Callback());
  EXPECT_EQ(task.Get().status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(task.Get().status().message(),
              HasSubstr(absl::StrCat("job '", job_id, "' has no task 'zz'")));
  absl::StatusOr<v1::JobStatus> unknown = GetJob("j99");
  EXPECT_EQ(unknown.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(unknown.status().message(), HasSubstr("no job 'j99'"));
  Answer<v1::ListTasksResponse> tasks;
  coordinator_->ListTasks("j99", tasks.Callback());
  EXPECT_THAT(tasks.Get().status().message(), HasSubstr("no job 'j99'"));
  Answer<v1::GetResultResponse> result;
  coordinator_->GetResult("j99", "a", result.Callback());
  EXPECT_THAT(result.Get().status().message(), HasSubstr("no job 'j99'"));
  Answer<v1::ListJobsResponse> jobs;
  v1::ListJobsRequest bad_page;
  bad_page.set_page_token("x");
  coordinator_->ListJobs(bad_page, jobs.Callback());
  EXPECT_EQ(jobs.Get().status().code(), absl::StatusCode::kInvalidArgument);
}

// A job that just finished is found: in memory in the turn it finished,
// from a view taken after its final commit in any later turn.
TEST_F(CoordinatorQueriesTest, AJobThatJustFinishedIsAlwaysFound) {
  for (int i = 0; i < 20; ++i) {
    v1::SubmitJobRequest request;
    ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(
                    kOneTask, request.mutable_job())
                    .ok());
    Answer<v1::SubmitJobResponse> submitted;
    coordinator_->Submit(std::move(request), "", submitted.Callback());
    ASSERT_TRUE(submitted.Get().ok());
    const std::string job_id = submitted.Get()->job_id();
    // Asked again and again while it runs and ends: never missing.
    while (true) {
      absl::StatusOr<v1::JobStatus> job = GetJob(job_id);
      ASSERT_TRUE(job.ok()) << job.status();
      Answer<v1::ListTasksResponse> tasks;
      coordinator_->ListTasks(job_id, tasks.Callback());
      ASSERT_TRUE(tasks.Get().ok()) << tasks.Get().status();
      if (job->state() == v1::JOB_SUCCEEDED) {
        ASSERT_EQ(tasks.Get()->tasks_size(), 1);
        EXPECT_EQ(tasks.Get()->tasks(0).state(), v1::TASK_SUCCEEDED);
        break;
      }
    }
  }
}

// DeleteJob's removal is in a turn's commit, fsynced before the answer.
TEST_F(CoordinatorQueriesTest, DeleteJobIsCommittedInATurnAndSynced) {
  const std::string job_id = RunJob(kOneTask);
  ASSERT_EQ(Delete(job_id), absl::OkStatus());
  std::vector<RecordingStore::Recorded> deletions = store_->Deletions();
  ASSERT_EQ(deletions.size(), 1u);
  EXPECT_THAT(deletions[0].deleted, ElementsAre(1u));
  EXPECT_TRUE(deletions[0].sync);
  EXPECT_TRUE(absl::IsNotFound(rocks_->GetJobStatus(1).status()));
  EXPECT_EQ(GetJob(job_id).status().code(), absl::StatusCode::kNotFound);
  absl::Status again = Delete(job_id);
  EXPECT_EQ(again.code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(again.message(), HasSubstr("no job 'j1'"));
}

// Two deletions of one job at once: one deletes it, the other finds it
// gone, however their reads and turns interleave.
TEST_F(CoordinatorQueriesTest, OnlyOneOfTwoConcurrentDeletionsSucceeds) {
  const std::string job_id = RunJob(kOneTask);
  Answer<v1::DeleteJobResponse> first, second;
  coordinator_->DeleteJob(job_id, first.Callback());
  coordinator_->DeleteJob(job_id, second.Callback());
  const absl::Status a = first.Get().status();
  const absl::Status b = second.Get().status();
  EXPECT_TRUE((a.ok() && absl::IsNotFound(b)) ||
              (b.ok() && absl::IsNotFound(a)))
      << a << " / " << b;
  ASSERT_EQ(store_->Deletions().size(), 1u);
}

// The retention sweep deletes through the coordinator: in a turn's commit,
// not fsynced.
TEST_F(CoordinatorQueriesTest, RetentionDeletesInATurnWithoutSync) {
  RunJob(kOneTask);
  RunJob(kOneTask);
  // An hour from now, jobs kept a minute are all due.
  FakeClock later(absl::Now() + absl::Hours(1));
  RetentionSweeper sweeper(absl::Minutes(1), store_.get(), coordinator_.get(),
                           &later);
  absl::StatusOr<uint64_t> swept = sweeper.SweepOnce();
  ASSERT_TRUE(swept.ok()) << swept.status();
  EXPECT_EQ(*swept, 2u);
  std::vector<RecordingStore::Recorded> deletions = store_->Deletions();
  ASSERT_EQ(deletions.size(), 2u);
  for (const RecordingStore::Recorded& commit : deletions) {
    EXPECT_FALSE(commit.sync);
  }
  EXPECT_EQ(GetJob("j2").status().code(), absl::StatusCode::kNotFound);
  // The newest job's id stays taken, also for a restarted dagd (which goes
  // on past the numbers this one reserved).
  EXPECT_GE(rocks_->NextJobSeq().value(), 3u);
}

// A job in memory (no worker runs "never") is listed a page at a time,
// as a finished one is (StoredQueriesTest.ListsTasksAPageAtATime).
TEST_F(CoordinatorQueriesTest, ARunningJobsTasksAreListedAPageAtATime) {
  v1::SubmitJobRequest request;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(
                  R"({"tasks": [{"id": "a", "fn": "never"},
                                {"id": "b", "fn": "never"},
                                {"id": "c", "fn": "never"}]})",
                  request.mutable_job())
                  .ok());
  Answer<v1::SubmitJobResponse> submitted;
  coordinator_->Submit(std::move(request), "", submitted.Callback());
  ASSERT_TRUE(submitted.Get().ok()) << submitted.Get().status();
  const std::string job_id = submitted.Get()->job_id();
  TasksPage page;
  page.size = 2;
  Answer<v1::ListTasksResponse> first;
  coordinator_->ListTasks(job_id, first.Callback(), page);
  ASSERT_TRUE(first.Get().ok()) << first.Get().status();
  ASSERT_EQ(first.Get()->tasks_size(), 2);
  EXPECT_EQ(first.Get()->tasks(1).task_id(), "b");
  EXPECT_EQ(first.Get()->next_page_token(), "2");
  page.from = 2;
  Answer<v1::ListTasksResponse> second;
  coordinator_->ListTasks(job_id, second.Callback(), page);
  ASSERT_TRUE(second.Get().ok()) << second.Get().status();
  ASSERT_EQ(second.Get()->tasks_size(), 1);
  EXPECT_EQ(second.Get()->tasks(0).task_id(), "c");
  EXPECT_TRUE(second.Get()->next_page_token().empty());
  TasksPage whole;
  whole.max_unpaged = 2;
  Answer<v1::ListTasksResponse> refused;
  coordinator_->ListTasks(job_id, refused.Callback(), whole);
  EXPECT_EQ(refused.Get().status().code(),
            absl::StatusCode::kFailedPrecondition);
}

class SmallQueryPoolTest : public CoordinatorQueriesTest {
 protected:
  QueryPool::Options Queries() override {
    return {/*threads=*/1, /*max_queued=*/1};
  }
};

// Reads beyond what may wait are refused, not queued without bound.
TEST_F(SmallQueryPoolTest, ReadsBeyondTheQueueAreRefused) {
  const std::string job_id = RunJob(kOneTask);
  store_->gate().Close();
  Answer<v1::ListTasksResponse> running, queued, refused;
  coordinator_->ListTasks(job_id, running.Callback());
  ASSERT_TRUE(store_->gate().WaitForWaiting(1));
  coordinator_->ListTasks(job_id, queued.Callback());
  coordinator_->ListTasks(job_id, refused.Callback());
  EXPECT_EQ(refused.Get().status().code(),
            absl::StatusCode::kResourceExhausted);
  store_->gate().Open();
  EXPECT_TRUE(running.Get().ok());
  EXPECT_TRUE(queued.Get().ok());
}

}  // namespace
}  // namespace dagd
