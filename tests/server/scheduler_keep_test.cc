// Outputs held by workers copied into dagd's store (--max_stored_result_bytes),
// in the scheduler core: what it asks the coordinator to copy and when
// (a marked output only once its readers succeeded), and what it records
// once a copy is done.
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "proto/object_location.h"
#include "storage/object_store.h"
#include "tests/server/scheduler_data_fixture.h"

namespace dagd {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::SizeIs;

// Outputs copied into dagd's store (--max_stored_result_bytes): what the
// scheduler asks the coordinator to copy, and what it records once copied.
class SchedulerKeepTest : public SchedulerDataTest {
 protected:
  static SchedulerOptions KeepOptions() {
    SchedulerOptions options = DataOptions();
    options.max_stored_result_bytes = 1000;
    return options;
  }
  SchedulerKeepTest() : SchedulerDataTest(KeepOptions()) {}

  static v1::ObjectRef Stored(const v1::ObjectRef& held) {
    v1::ObjectRef stored;
    stored.set_key(held.key());
    stored.set_size(held.size());
    stored.set_crc32c(held.crc32c());
    stored.set_content_type(held.content_type());
    stored.set_stored(true);
    return stored;
  }
};

TEST_F(SchedulerKeepTest, AnOutputIsCopiedAndThenFreedOnItsHolder) {
  AddHolder(kWorker, 2);
  const uint64_t job = Submit(R"({"tasks": [
      {"id": "mid", "fn": "const"},
      {"id": "out", "fn": "add", "inputs": ["mid"]},
      {"id": "late", "fn": "const"}]})");
  // "late" is never reported: the job stays in memory.
  std::vector<v1::Assignment> sent = Dispatch(kWorker);
  ASSERT_THAT(Ids(sent), ElementsAre("mid", "late"));
  ReportHeld(kWorker, sent[0], kWorker);
  TurnOutput out = WholeTurn();
  EXPECT_THAT(out.keep, IsEmpty()) << "an intermediate is not copied";
  sent.clear();
  for (const v1::Assignment& a : out.sends[kWorker].assignments()) {
    sent.push_back(a);
  }
  ASSERT_THAT(Ids(sent), ElementsAre("out"));
  ReportHeld(kWorker, sent[0], kWorker, /*size=*/1000);
  out = WholeTurn();
  ASSERT_THAT(out.keep, SizeIs(1));
  EXPECT_EQ(out.tasks_finished[v1::TASK_SUCCEEDED], 1u);
  const OutputToKeep keep = out.keep[0];
  EXPECT_EQ(keep.seq, job);
  EXPECT_EQ(keep.index, 1u);
  EXPECT_FALSE(keep.check_record);
  EXPECT_EQ(keep.ref.holder().address(), Address(kWorker));
  // Recorded as one to copy, so that a restart copies it too.
  bool recorded = false;
  for (const WriteSet::ResultWrite& w : out.writes.results) {
    if (w.index == 1 && w.result.ref != nullptr) {
      recorded = w.result.ref->output();
    }
  }
  EXPECT_TRUE(recorded);

  scheduler_.OnOutputKept(keep, {Stored(keep.ref), std::nullopt});
  out = WholeTurn();
  ASSERT_THAT(out.writes.results, SizeIs(1));
  EXPECT_TRUE(out.writes.results[0].result.ref->stored());
  // Its final status is stored again, with the new location.
  ASSERT_THAT(out.writes.task_statuses, SizeIs(1));
  EXPECT_EQ(out.writes.task_statuses[0].status.result().location(), "stored");
  // ... which finishes nothing (dagd_tasks_finished_total counts once).
  EXPECT_EQ(out.tasks_finished[v1::TASK_SUCCEEDED], 0u);
  // Freed by its holder only once the record of the copy is synced.
  EXPECT_THAT(out.sends[kWorker].release(), IsEmpty());
  ASSERT_THAT(out.release_when_synced, SizeIs(1));
  EXPECT_EQ(out.release_when_synced[0].key(), keep.ref.key());
  EXPECT_EQ(Status(job, "out").result().location(), "stored");
}

// A marked output that other tasks read (a Dask client asking for a key
// others read): copied only once its readers succeeded, so that none is
// sent the copy in dagd's store, which its worker could not read.
class SchedulerMarkedKeepTest : public SchedulerKeepTest {
 protected:
  // "big" (marked an output, held by kWorker) read by "use" with "slow";
  // "tail" reads "use"; "late" keeps the job in memory. Runs up to "use"
  // being sent.
  uint64_t SubmitAndRunToUse() {
    AddHolder(kWorker, 4);
    const uint64_t job = Submit(R"({"tasks": [
        {"id": "big", "fn": "const", "output": true},
        {"id": "slow", "fn": "const"},
        {"id": "use", "fn": "add", "inputs": ["big", "slow"]},
        {"id": "tail", "fn": "add", "inputs": ["use"]},
        {"id": "late", "fn": "const", "executor": "pool:none"}]})");
    std::vector<v1::Assignment> sent = Dispatch(kWorker);
    EXPECT_THAT(Ids(sent), ElementsAre("big", "slow"));
    if (sent.size() != 2) return job;
    ReportHeld(kWorker, sent[0], kWorker);
    TurnOutput out = WholeTurn();
    EXPECT_THAT(out.keep, IsEmpty()) << "'use' has yet to read it";
    Report(kWorker, sent[1], true);
    use_ = OnlyAssignment(WholeTurn(), "use");
    return job;
  }

  // The one assignment sent to kWorker in `out`, which must be `id`'s.
  static v1::Assignment OnlyAssignment(const TurnOutput& out,
                                       const std::string& id) {
    auto sends = out.sends.find(kWorker);
    EXPECT_NE(sends, out.sends.end());
    if (sends == out.sends.end()) return {};
    EXPECT_EQ(sends->second.assignments_size(), 1);
    if (sends->second.assignments_size() != 1) return {};
    EXPECT_EQ(sends->second.assignments(0).task_id(), id);
    return sends->second.assignments(0);
  }

  v1::Assignment use_;
};

TEST_F(SchedulerMarkedKeepTest, ItsReadersGetTheHeldCopyAndItIsCopiedAfter) {
  SubmitAndRunToUse();
  ASSERT_EQ(use_.input_refs().count(0), 1u);
  EXPECT_TRUE(IsHeld(use_.input_refs().at(0)));
  ReportHeld(kWorker, use_, kWorker);
  TurnOutput out = WholeTurn();
  ASSERT_THAT(out.keep, SizeIs(1));
  EXPECT_EQ(out.keep[0].index, 0u);
  EXPECT_THAT(out.sends[kWorker].release(), IsEmpty());
}

// Copied, and freed on its worker; then a reader runs again (its own
// result was lost): the output runs again first, for a copy a worker reads.
TEST_F(SchedulerMarkedKeepTest, AReaderRunAgainAfterTheCopyHasItMadeAgain) {
  const uint64_t job = SubmitAndRunToUse();
  ReportHeld(kWorker, use_, kWorker);
  TurnOutput out = WholeTurn();
  ASSERT_THAT(out.keep, SizeIs(1));
  const v1::Assignment tail = OnlyAssignment(out, "tail");
  scheduler_.OnOutputKept(out.keep[0], {Stored(out.keep[0].ref), std::nullopt});
  WholeTurn();
  ASSERT_EQ(Status(job, "big").result().location(), "stored");
  v1::TaskResult lost;
  *lost.mutable_task() = tail.task();
  lost.set_error("'use' is gone from its holder");
  lost.add_lost_inputs(0);
  scheduler_.OnTaskResult(kWorker, std::move(lost));
  out = WholeTurn();
  EXPECT_NE(Status(job, "big").state(), v1::TASK_SUCCEEDED);
  EXPECT_EQ(Status(job, "use").state(), v1::TASK_PENDING);
}

// The copy ends while a reader runs again: it is not recorded (the held
// copy stays, for the reader), and is made again once the reader is done.
TEST_F(SchedulerMarkedKeepTest, ACopyThatEndsWhileAReaderRunsAgainWaits) {
  const uint64_t job = SubmitAndRunToUse();
  ReportHeld(kWorker, use_, kWorker);
  TurnOutput out = WholeTurn();
  ASSERT_THAT(out.keep, SizeIs(1));
  const OutputToKeep keep = out.keep[0];
  const v1::Assignment tail = OnlyAssignment(out, "tail");
  v1::TaskResult lost;
  *lost.mutable_task() = tail.task();
  lost.set_error("'use' is gone from its holder");
  lost.add_lost_inputs(0);
  scheduler_.OnTaskResult(kWorker, std::move(lost));
  const v1::Assignment again = OnlyAssignment(WholeTurn(), "use");
  ASSERT_EQ(again.input_refs().count(0), 1u);
  EXPECT_TRUE(IsHeld(again.input_refs().at(0)));

  scheduler_.OnOutputKept(keep, {Stored(keep.ref), std::nullopt});
  out = WholeTurn();
  for (const WriteSet::ResultWrite& w : out.writes.results) {
    EXPECT_NE(w.index, 0u) << "the copy was recorded";
  }
  EXPECT_THAT(out.release_when_synced, IsEmpty());
  EXPECT_THAT(Status(job, "big").result().location(), HasSubstr("held by"));

  ReportHeld(kWorker, again, kWorker);
  out = WholeTurn();
  ASSERT_THAT(out.keep, SizeIs(1));
  EXPECT_EQ(out.keep[0].index, 0u);
}

TEST_F(SchedulerKeepTest, AnOutputOverTheBoundStaysHeld) {
  AddHolder(kWorker, 1);
  Submit(R"({"tasks": [{"id": "out", "fn": "const"}]})");
  std::vector<v1::Assignment> sent = Dispatch(kWorker);
  ASSERT_THAT(sent, SizeIs(1));
  ReportHeld(kWorker, sent[0], kWorker, /*size=*/1001);
  TurnOutput out = WholeTurn();
  EXPECT_THAT(out.keep, IsEmpty());
  EXPECT_THAT(out.sends[kWorker].release(), IsEmpty());
}

TEST_F(SchedulerKeepTest, ACopyOfAResultMadeAgainSinceIsNotRecorded) {
  AddHolder(kWorker, 2);
  const uint64_t job = Submit(R"({"tasks": [
      {"id": "out", "fn": "const"}, {"id": "late", "fn": "const"}]})");
  std::vector<v1::Assignment> sent = Dispatch(kWorker);
  ASSERT_THAT(Ids(sent), ElementsAre("out", "late"));
  ReportHeld(kWorker, sent[0], kWorker);
  TurnOutput out = WholeTurn();
  ASSERT_THAT(out.keep, SizeIs(1));
  v1::ObjectRef older = out.keep[0].ref;
  older.set_key(ResultObjectKey(JobIdFromSeq(job), 0, 7));  // not its key
  OutputToKeep stale = out.keep[0];
  stale.ref = older;
  scheduler_.OnOutputKept(stale, {Stored(older), std::nullopt});
  out = WholeTurn();
  EXPECT_THAT(out.writes.results, IsEmpty());
  EXPECT_THAT(out.writes.task_statuses, IsEmpty());
  EXPECT_THAT(out.sends[kWorker].release(), IsEmpty());
  EXPECT_THAT(Status(job, "out").result().location(), HasSubstr("held by"));
}

TEST_F(SchedulerKeepTest, AWorkerHoldingAFinishedJobsOutputHasItChecked) {
  AddHolder(kOther, 1, {ResultObjectKey(JobIdFromSeq(9), 4, 2), "junk"});
  TurnOutput out = WholeTurn();
  ASSERT_THAT(out.keep, SizeIs(1));
  EXPECT_EQ(out.keep[0].seq, 9u);
  EXPECT_EQ(out.keep[0].index, 4u);
  EXPECT_TRUE(out.keep[0].check_record);
  EXPECT_EQ(out.keep[0].ref.key(), ResultObjectKey(JobIdFromSeq(9), 4, 2));
  EXPECT_EQ(out.keep[0].ref.holder().instance(), Instance(kOther));
  EXPECT_EQ(out.keep[0].ref.holder().address(), Address(kOther));
}

// A cancelled attempt that ended well anyway left its output held on its
// worker: nothing reads it, so it is freed there (it stayed until the
// worker registered again).
TEST_F(SchedulerDataTest, ACancelledAttemptsHeldOutputIsFreedWhenItEnds) {
  AddHolder(kWorker, 1);
  const uint64_t job = Submit(R"({"tasks": [{"id": "a", "fn": "const"}]})");
  std::vector<v1::Assignment> sent = Dispatch(kWorker);
  ASSERT_THAT(sent, SizeIs(1));
  ASSERT_TRUE(scheduler_.CancelJob(job).ok());
  Turn();
  ReportHeld(kWorker, sent[0], kWorker);
  auto sends = Turn();
  EXPECT_THAT(sends[kWorker].release(),
              ElementsAre(ResultObjectKey(JobIdFromSeq(job), 0, 1)));
}

}  // namespace
}  // namespace dagd
