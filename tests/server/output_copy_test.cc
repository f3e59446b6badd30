// Results held by workers, by the Coordinator on a real RocksMetaStore:
// when holders are told to free them (an input its consumers no longer
// need, a job's output copied into dagd's store: after the commit that
// made them unneeded is synced).
#include <string>
#include <vector>

#include "storage/crc32c.h"
#include "tests/server/store_fault_fixture.h"
#include "tests/testutil/fake_holder.h"

namespace dagd {
namespace {

class StoreFaultKeepTest : public StoreFaultTest {
 protected:
  CoordinatorOptions Options() override {
    CoordinatorOptions options = StoreFaultTest::Options();
    options.scheduler.max_stored_result_bytes = 1 << 20;
    return options;
  }
};

// A worker registering with an output of a job dagd has no record of (a
// job deleted while the worker was away): nothing will read it, so the
// worker is told to free it rather than keep it for good.
TEST_F(StoreFaultKeepTest, AHeldKeyNoRecordWaitsForIsReleased) {
  const std::string stray = ResultObjectKey(JobIdFromSeq(5), 0, 1);
  auto sink = std::make_shared<RecordingDispatcher>();
  v1::Register hello;
  hello.set_name("holder");
  hello.set_instance("holder-1");
  hello.set_data_address("127.0.0.1:7001");
  hello.set_kept_complete(true);
  hello.set_slots(1);
  hello.add_functions("const");
  hello.add_held(stray);
  coordinator_->WorkerConnected(coordinator_->NewWorkerId(), sink, hello,
                                "test");
  ASSERT_TRUE(sink->WaitForRegistered());
  // Released after a synced commit (the records read may not have been),
  // once the record was checked: this fixture syncs acknowledgements
  // only, such as a submission's.
  const absl::Time deadline = absl::Now() + kWait;
  bool released = false;
  while (!released && absl::Now() < deadline) {
    ASSERT_TRUE(
        Submit(Request(R"({"tasks": [{"id": "a", "fn": "never"}]})")).ok());
    absl::SleepFor(absl::Milliseconds(5));
    for (const v1::CoordinatorMessage& m : sink->Sent()) {
      for (const std::string& key : m.batch().release()) {
        released = released || key == stray;
      }
    }
  }
  EXPECT_TRUE(released);
}

// An output copied into dagd's store is freed on its holder only after the
// record of the copy is synced: freed before, a power failure would take
// the record back to "held by" a holder that no longer has it.
TEST_F(StoreFaultKeepTest, ACopiedOutputIsFreedOnItsHolderOnlyOnceSynced) {
  FakeHolderServer serving;
  ASSERT_FALSE(serving.address.empty());
  auto sink = std::make_shared<RecordingDispatcher>();
  const WorkerId worker = coordinator_->NewWorkerId();
  v1::Register hello;
  hello.set_name("holder");
  hello.set_instance("holder-1");
  hello.set_data_address(serving.address);
  hello.set_kept_complete(true);
  hello.set_slots(1);
  hello.add_functions("const");
  coordinator_->WorkerConnected(worker, sink, hello, "test");
  ASSERT_TRUE(sink->WaitForRegistered());
  absl::StatusOr<v1::SubmitJobResponse> first =
      Submit(Request(R"({"tasks": [{"id": "a", "fn": "const"}]})"));
  ASSERT_TRUE(first.ok()) << first.status();
  absl::StatusOr<v1::Assignment> a = sink->WaitForAssignment(0);
  ASSERT_TRUE(a.ok()) << a.status();
  const std::string data = "payload";
  v1::WorkerMessage report;
  v1::TaskResult* result = report.mutable_batch()->add_results();
  *result->mutable_task() = a->task();
  result->set_ok(true);
  v1::ObjectRef* ref = result->mutable_output_ref();
  ref->set_key(ResultObjectKey(a->task().job_id(), 0, a->task().attempt()));
  ref->set_size(data.size());
  ref->set_crc32c(crc32c::Value(data));
  ref->set_content_type("application/octet-stream");
  ref->mutable_holder()->set_name("holder");
  ref->mutable_holder()->set_instance("holder-1");
  ref->mutable_holder()->set_address(serving.address);
  serving.holder.objects[ref->key()] = data;
  coordinator_->WorkerMessage(worker, report);
  const absl::Time deadline = absl::Now() + kWait;
  for (;;) {
    Answer<v1::TaskStatus> task;
    coordinator_->GetTask(first->job_id(), "a", task.Callback());
    absl::StatusOr<v1::TaskStatus> status = task.Get();
    if (status.ok() && status->result().location() == "stored") break;
    ASSERT_LT(absl::Now(), deadline) << status.status();
    absl::SleepFor(absl::Milliseconds(5));
  }
  // The record of the copy is not synced (this fixture syncs only
  // acknowledgements); the next submission's is.
  absl::StatusOr<v1::SubmitJobResponse> second =
      Submit(Request(R"({"tasks": [{"id": "b", "fn": "const"}]})"));
  ASSERT_TRUE(second.ok()) << second.status();
  ASSERT_TRUE(sink->WaitForRelease(ref->key()));
  int released_at = -1;
  int second_assigned_at = -1;
  const std::vector<v1::CoordinatorMessage> sent = sink->Sent();
  for (int i = 0; i < static_cast<int>(sent.size()); ++i) {
    for (const std::string& key : sent[i].batch().release()) {
      if (key == ref->key()) released_at = i;
    }
    for (const v1::Assignment& b : sent[i].batch().assignments()) {
      if (b.task().job_id() == second->job_id()) second_assigned_at = i;
    }
  }
  ASSERT_GE(second_assigned_at, 0);
  EXPECT_GT(released_at, second_assigned_at)
      << "freed before the synced commit that followed the copy";
}

// The index of the first message in `sent` releasing `key`, and of the
// last assigning a task of job `job_id` (-1: none).
std::pair<int, int> ReleaseAndAssignment(
    const std::vector<v1::CoordinatorMessage>& sent, const std::string& key,
    const std::string& job_id) {
  int released_at = -1;
  int assigned_at = -1;
  for (int i = 0; i < static_cast<int>(sent.size()); ++i) {
    for (const std::string& k : sent[i].batch().release()) {
      if (k == key && released_at < 0) released_at = i;
    }
    for (const v1::Assignment& a : sent[i].batch().assignments()) {
      if (a.task().job_id() == job_id) assigned_at = i;
    }
  }
  return {released_at, assigned_at};
}

// An input freed once its consumer succeeded, only after the commit of
// that success is synced: before, a power failure lost the consumer's
// result and the input it needed, and the chain before them ran again.
TEST_F(StoreFaultTest, AConsumedInputIsFreedOnlyOnceSynced) {
  auto sink = std::make_shared<RecordingDispatcher>();
  const WorkerId worker = coordinator_->NewWorkerId();
  v1::Register hello;
  hello.set_name("holder");
  hello.set_instance("holder-1");
  hello.set_data_address("127.0.0.1:7001");
  hello.set_kept_complete(true);
  hello.set_slots(2);
  hello.add_functions("const");
  coordinator_->WorkerConnected(worker, sink, hello, "test");
  ASSERT_TRUE(sink->WaitForRegistered());
  // "c" never runs (no worker offers it): b's success ends no job, and
  // its commit is not synced (this fixture syncs only acknowledgements).
  absl::StatusOr<v1::SubmitJobResponse> first =
      Submit(Request(R"({"tasks": [{"id": "a", "fn": "const"},
                                   {"id": "b", "fn": "const", "inputs": ["a"]},
                                   {"id": "c", "fn": "never"}]})"));
  ASSERT_TRUE(first.ok()) << first.status();
  absl::StatusOr<v1::Assignment> a = sink->WaitForAssignment(0);
  ASSERT_TRUE(a.ok()) << a.status();
  v1::WorkerMessage report;
  v1::TaskResult* result = report.mutable_batch()->add_results();
  *result->mutable_task() = a->task();
  result->set_ok(true);
  v1::ObjectRef* ref = result->mutable_output_ref();
  ref->set_key(ResultObjectKey(a->task().job_id(), 0, a->task().attempt()));
  ref->set_size(1 << 20);
  ref->set_content_type("application/octet-stream");
  ref->mutable_holder()->set_name("holder");
  ref->mutable_holder()->set_instance("holder-1");
  ref->mutable_holder()->set_address("127.0.0.1:7001");
  const std::string key = ref->key();
  coordinator_->WorkerMessage(worker, report);
  absl::StatusOr<v1::Assignment> b = sink->WaitForAssignment(1);
  ASSERT_TRUE(b.ok()) << b.status();
  v1::WorkerMessage done;
  v1::TaskResult* b_result = done.mutable_batch()->add_results();
  *b_result->mutable_task() = b->task();
  b_result->set_ok(true);
  b_result->mutable_output()->set_data("1");
  coordinator_->WorkerMessage(worker, done);
  const absl::Time deadline = absl::Now() + kWait;
  for (;;) {
    Answer<v1::TaskStatus> task;
    coordinator_->GetTask(first->job_id(), "b", task.Callback());
    absl::StatusOr<v1::TaskStatus> status = task.Get();
    if (status.ok() && status->state() == v1::TASK_SUCCEEDED) break;
    ASSERT_LT(absl::Now(), deadline) << status.status();
    absl::SleepFor(absl::Milliseconds(5));
  }
  // The next submission's commit is synced.
  absl::StatusOr<v1::SubmitJobResponse> second =
      Submit(Request(R"({"tasks": [{"id": "d", "fn": "const"}]})"));
  ASSERT_TRUE(second.ok()) << second.status();
  ASSERT_TRUE(sink->WaitForRelease(key));
  ASSERT_TRUE(sink->WaitForAssignment(0).ok());
  const auto [released_at, assigned_at] =
      ReleaseAndAssignment(sink->Sent(), key, second->job_id());
  ASSERT_GE(assigned_at, 0);
  EXPECT_GT(released_at, assigned_at)
      << "freed before the synced commit that followed b's success";
}

}  // namespace
}  // namespace dagd
