// Results held by workers, by the Coordinator on a real RocksMetaStore:
// when holders are told to free them (an input its consumers no longer
// need, a job's output copied into dagd's store: after the commit that
// made them unneeded is synced).
#include <string>
#include <utility>
#include <vector>

#include "storage/crc32c.h"
#include "tests/server/store_fault_fixture.h"
#include "tests/testutil/fake_holder.h"

namespace dagd {
namespace {

constexpr char kHolderAddress[] = "127.0.0.1:7001";

// dagd copies jobs' outputs into its store (--max_stored_result_bytes).
class StoreFaultKeepTest : public StoreFaultTest {
 protected:
  CoordinatorOptions Options() override {
    CoordinatorOptions options = StoreFaultTest::Options();
    options.scheduler.max_stored_result_bytes = 1 << 20;
    return options;
  }
};

// Until task `task_id` of `job_id` is as `done` wants it, or kWait.
template <typename Done>
bool TaskReaches(Coordinator& coordinator, const std::string& job_id,
                 const std::string& task_id, Done done) {
  const absl::Time deadline = absl::Now() + kWait;
  while (absl::Now() < deadline) {
    Answer<v1::TaskStatus> task;
    coordinator.GetTask(job_id, task_id, task.Callback());
    absl::StatusOr<v1::TaskStatus> status = task.Get();
    if (status.ok() && done(*status)) return true;
    absl::SleepFor(absl::Milliseconds(5));
  }
  return false;
}

// Whether `sink` was told to free `key`.
bool Released(RecordingDispatcher& sink, const std::string& key) {
  for (const v1::CoordinatorMessage& m : sink.Sent()) {
    for (const std::string& k : m.batch().release()) {
      if (k == key) return true;
    }
  }
  return false;
}

// The index of the first message `sink` got releasing `key`, and of the
// last assigning a task of job `job_id` (-1: none).
std::pair<int, int> ReleaseAndAssignment(RecordingDispatcher& sink,
                                         const std::string& key,
                                         const std::string& job_id) {
  const std::vector<v1::CoordinatorMessage> sent = sink.Sent();
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

// A worker registering with an output of a job dagd has no record of (a
// job deleted while the worker was away): nothing will read it, so the
// worker is told to free it rather than keep it for good.
TEST_F(StoreFaultKeepTest, AHeldKeyNoRecordWaitsForIsReleased) {
  const std::string stray = ResultObjectKey(JobIdFromSeq(5), 0, 1);
  auto sink = std::make_shared<RecordingDispatcher>();
  ConnectHolder(sink, kHolderAddress, 1, {stray});
  // Released once the record was checked (off the loop) and nothing
  // committed is unsynced; a submission's commit is synced.
  const absl::Time deadline = absl::Now() + kWait;
  while (!Released(*sink, stray) && absl::Now() < deadline) {
    ASSERT_TRUE(
        Submit(Request(R"({"tasks": [{"id": "a", "fn": "never"}]})")).ok());
    absl::SleepFor(absl::Milliseconds(5));
  }
  EXPECT_TRUE(Released(*sink, stray));
}

// An output copied into dagd's store is freed on its holder only after the
// record of the copy is synced: freed before, a power failure would take
// the record back to "held by" a holder that no longer has it.
TEST_F(StoreFaultKeepTest, ACopiedOutputIsFreedOnItsHolderOnlyOnceSynced) {
  FakeHolderServer serving;
  ASSERT_FALSE(serving.address.empty());
  auto sink = std::make_shared<RecordingDispatcher>();
  const WorkerId worker = ConnectHolder(sink, serving.address);
  absl::StatusOr<v1::SubmitJobResponse> first =
      Submit(Request(R"({"tasks": [{"id": "a", "fn": "const"}]})"));
  ASSERT_TRUE(first.ok()) << first.status();
  absl::StatusOr<v1::Assignment> a = sink->WaitForAssignment(0);
  ASSERT_TRUE(a.ok()) << a.status();
  const std::string data = "payload";
  serving.holder
      .objects[ResultObjectKey(a->task().job_id(), 0, a->task().attempt())] =
      data;
  const v1::ObjectRef held =
      ReportHeld(worker, *a, serving.address, data.size(), crc32c::Value(data));
  ASSERT_TRUE(TaskReaches(*coordinator_, first->job_id(), "a",
                          [](const v1::TaskStatus& t) {
                            return t.result().location() == "stored";
                          }));
  // The record of the copy is not synced (this fixture syncs only
  // acknowledgements); the next submission's is.
  absl::StatusOr<v1::SubmitJobResponse> second =
      Submit(Request(R"({"tasks": [{"id": "b", "fn": "const"}]})"));
  ASSERT_TRUE(second.ok()) << second.status();
  ASSERT_TRUE(sink->WaitForRelease(held.key()));
  ASSERT_TRUE(sink->WaitForAssignment(0).ok());
  const auto [released_at, assigned_at] =
      ReleaseAndAssignment(*sink, held.key(), second->job_id());
  ASSERT_GE(assigned_at, 0);
  EXPECT_GT(released_at, assigned_at)
      << "freed before the synced commit that followed the copy";
}

// A holder whose reads ended (it drained) while its output is being
// copied: its stream ends only once the copy is done and its record synced,
// so that the worker (which exits then) does not take the output with it.
class StoreFaultDrainTest : public StoreFaultKeepTest {
 protected:
  // Connects the holder, runs a job whose output it holds, and has the
  // copy stall after its first chunk; the holder's worker id. Its reads
  // end (WorkerReadsEnded) right after the result, with `reads_end`.
  WorkerId HolderCopying(FakeHolderServer& serving,
                         std::shared_ptr<RecordingDispatcher> sink,
                         bool reads_end = false) {
    serving.holder.stall_after_first = true;
    serving.holder.resume_after_release = true;
    const WorkerId worker = ConnectHolder(sink, serving.address);
    absl::StatusOr<v1::SubmitJobResponse> job =
        Submit(Request(R"({"tasks": [{"id": "a", "fn": "const"}]})"));
    EXPECT_TRUE(job.ok()) << job.status();
    job_id_ = job.ok() ? job->job_id() : "";
    absl::StatusOr<v1::Assignment> a = sink->WaitForAssignment(0);
    EXPECT_TRUE(a.ok()) << a.status();
    if (!a.ok()) return worker;
    const std::string data = "an output of some chunks";
    serving.holder
        .objects[ResultObjectKey(a->task().job_id(), 0, a->task().attempt())] =
        data;
    ReportHeld(worker, *a, serving.address, data.size(), crc32c::Value(data));
    if (reads_end) coordinator_->WorkerReadsEnded(worker);
    serving.holder.stalled.WaitForNotification();
    return worker;
  }

  // Lets the stalled copy go on; whether it was recorded.
  bool FinishCopy(FakeHolderServer& serving) {
    serving.holder.release.Notify();
    return TaskReaches(*coordinator_, job_id_, "a",
                       [](const v1::TaskStatus& t) {
                         return t.result().location() == "stored";
                       });
  }

  // Runs a turn through the loop (a submission, synced): the events posted
  // before are handled by then.
  void SyncedTurn() {
    ASSERT_TRUE(
        Submit(Request(R"({"tasks": [{"id": "x", "fn": "never"}]})")).ok());
  }

  std::string job_id_;
};

TEST_F(StoreFaultDrainTest, ItsStreamEndsOnceTheCopyIsDoneAndSynced) {
  FakeHolderServer serving;
  ASSERT_FALSE(serving.address.empty());
  auto sink = std::make_shared<RecordingDispatcher>();
  const WorkerId worker = HolderCopying(serving, sink);
  coordinator_->WorkerReadsEnded(worker);
  SyncedTurn();
  EXPECT_FALSE(sink->IsClosed()) << "closed while its output was copied";
  ASSERT_TRUE(FinishCopy(serving));
  // The copy's record is not synced yet (this fixture syncs only
  // acknowledgements and submissions).
  EXPECT_FALSE(sink->IsClosed()) << "closed before the copy was synced";
  SyncedTurn();
  EXPECT_EQ(sink->WaitForClose(), absl::OkStatus());
}

// Its last result and the end of its reads come together (a drain sends
// its last batch and half-closes at once): the copy of that result's
// output, queued after the turn's commit, is waited for too.
TEST_F(StoreFaultDrainTest, TheOutputOfItsLastResultIsWaitedForToo) {
  FakeHolderServer serving;
  ASSERT_FALSE(serving.address.empty());
  auto sink = std::make_shared<RecordingDispatcher>();
  HolderCopying(serving, sink, /*reads_end=*/true);
  SyncedTurn();
  EXPECT_FALSE(sink->IsClosed()) << "closed before its last output's copy";
  ASSERT_TRUE(FinishCopy(serving));
  SyncedTurn();
  EXPECT_EQ(sink->WaitForClose(), absl::OkStatus());
}

TEST_F(StoreFaultDrainTest, ItsProcessBackEndsTheOldStreamAtOnce) {
  FakeHolderServer serving;
  ASSERT_FALSE(serving.address.empty());
  auto sink = std::make_shared<RecordingDispatcher>();
  const WorkerId worker = HolderCopying(serving, sink);
  coordinator_->WorkerReadsEnded(worker);
  SyncedTurn();
  ASSERT_FALSE(sink->IsClosed());
  // The same process on a new stream: nothing of it is lost, and the old
  // stream waits no more (under --worker_ca it would hold the name).
  auto again = std::make_shared<RecordingDispatcher>();
  ConnectHolder(again, serving.address);
  EXPECT_EQ(sink->WaitForClose(), absl::OkStatus());
  EXPECT_FALSE(again->IsClosed());
  EXPECT_TRUE(FinishCopy(serving));
}

// An input freed once its consumer succeeded, only after the commit of
// that success is synced: before, a power failure lost the consumer's
// result and the input it needed, and the chain before them ran again.
TEST_F(StoreFaultTest, AConsumedInputIsFreedOnlyOnceSynced) {
  auto sink = std::make_shared<RecordingDispatcher>();
  const WorkerId worker = ConnectHolder(sink, kHolderAddress, 2);
  // "c" never runs (no worker offers it): b's success ends no job, and
  // its commit is not synced (this fixture syncs only acknowledgements).
  absl::StatusOr<v1::SubmitJobResponse> first =
      Submit(Request(R"({"tasks": [{"id": "a", "fn": "const"},
                                   {"id": "b", "fn": "const", "inputs": ["a"]},
                                   {"id": "c", "fn": "never"}]})"));
  ASSERT_TRUE(first.ok()) << first.status();
  absl::StatusOr<v1::Assignment> a = sink->WaitForAssignment(0);
  ASSERT_TRUE(a.ok()) << a.status();
  const v1::ObjectRef held = ReportHeld(worker, *a, kHolderAddress, 1 << 20);
  absl::StatusOr<v1::Assignment> b = sink->WaitForAssignment(1);
  ASSERT_TRUE(b.ok()) << b.status();
  v1::WorkerMessage done;
  v1::TaskResult* b_result = done.mutable_batch()->add_results();
  *b_result->mutable_task() = b->task();
  b_result->set_ok(true);
  b_result->mutable_output()->set_data("1");
  coordinator_->WorkerMessage(worker, done);
  ASSERT_TRUE(TaskReaches(
      *coordinator_, first->job_id(), "b",
      [](const v1::TaskStatus& t) { return t.state() == v1::TASK_SUCCEEDED; }));
  // The next submission's commit is synced.
  absl::StatusOr<v1::SubmitJobResponse> second =
      Submit(Request(R"({"tasks": [{"id": "d", "fn": "const"}]})"));
  ASSERT_TRUE(second.ok()) << second.status();
  ASSERT_TRUE(sink->WaitForRelease(held.key()));
  const auto [released_at, assigned_at] =
      ReleaseAndAssignment(*sink, held.key(), second->job_id());
  ASSERT_GE(assigned_at, 0);
  EXPECT_GT(released_at, assigned_at)
      << "freed before the synced commit that followed b's success";
}

}  // namespace
}  // namespace dagd
