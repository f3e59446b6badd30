// Jobs' outputs copied from their holders into dagd's store
// (--max_stored_result_bytes), by the Coordinator on a real RocksMetaStore:
// when holders are told to free their copies.
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
  EXPECT_TRUE(sink->WaitForRelease(stray));
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

}  // namespace
}  // namespace dagd
