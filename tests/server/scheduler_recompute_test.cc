// Results held by workers, in the scheduler core, continued: results lost
// with their holder run again with the inputs they need that were freed
// once consumed, a task waiting for each input once however its inputs
// reach it; and a task that waits for its busy holder holds back no other
// task of its kind.
#include <string>
#include <utility>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "storage/object_store.h"
#include "tests/server/scheduler_data_fixture.h"

namespace dagd {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::SizeIs;

class SchedulerRecomputeTest : public SchedulerDataTest {
 protected:
  // Runs what `worker` is given, `turns` times, its outputs held there.
  std::vector<std::string> RunOn(WorkerId worker, int turns) {
    std::vector<std::string> ran;
    for (int i = 0; i < turns; ++i) {
      for (const v1::Assignment& a : Dispatch(worker)) {
        ran.push_back(a.task_id());
        ReportHeld(worker, a, worker);
      }
    }
    return ran;
  }
  // kOther's stream ends, its results lost; a worker of its pool joins.
  void ReplaceOther() {
    scheduler_.RemoveWorker(kOther);
    AddPoolHolder(kThird, 1, "b");
  }

  static constexpr WorkerId kThird = 3;
};

// T reads x twice. x's output is freed once T consumed it; T's is lost
// with its worker while U still needs it: x runs again, then T.
TEST_F(SchedulerRecomputeTest, AnInputListedTwiceIsWaitedForOnce) {
  AddPoolHolders(/*slots=*/1);
  const uint64_t job = Submit(R"({"tasks": [
      {"id": "x", "fn": "const", "executor": "pool:a"},
      {"id": "T", "fn": "add", "inputs": ["x", "x"], "executor": "pool:b"},
      {"id": "U", "fn": "add", "inputs": ["T"], "executor": "pool:none"}]})");
  ASSERT_THAT(RunOn(kWorker, 1), ElementsAre("x"));
  ASSERT_THAT(RunOn(kOther, 2), ElementsAre("T"));
  ReplaceOther();
  EXPECT_THAT(RunOn(kWorker, 1), ElementsAre("x"));
  EXPECT_THAT(RunOn(kThird, 1), ElementsAre("T"));
  EXPECT_EQ(Status(job, "T").state(), v1::TASK_SUCCEEDED);
}

// T reads y and x, and y reads x: x is reached twice when T runs again.
TEST_F(SchedulerRecomputeTest, AnInputReachedTwoWaysIsWaitedForOnce) {
  AddPoolHolders(/*slots=*/1);
  const uint64_t job = Submit(R"({"tasks": [
      {"id": "x", "fn": "const", "executor": "pool:a"},
      {"id": "y", "fn": "add", "inputs": ["x"], "executor": "pool:a"},
      {"id": "T", "fn": "add", "inputs": ["y", "x"], "executor": "pool:b"},
      {"id": "U", "fn": "add", "inputs": ["T"], "executor": "pool:none"}]})");
  ASSERT_THAT(RunOn(kWorker, 2), ElementsAre("x", "y"));
  ASSERT_THAT(RunOn(kOther, 2), ElementsAre("T"));
  ReplaceOther();
  EXPECT_THAT(RunOn(kWorker, 2), ElementsAre("x", "y"));
  EXPECT_THAT(RunOn(kThird, 1), ElementsAre("T"));
  EXPECT_EQ(Status(job, "T").state(), v1::TASK_SUCCEEDED);
}

// q waits for its busy holder (the worker with its 100 MB input); a task
// of another job of the same kind (fn add, one slot) goes to the idle
// worker meanwhile, though it comes after q in line.
TEST_F(SchedulerRecomputeTest, ATaskWaitingForItsHolderHoldsBackNoOther) {
  AddPoolHolders(/*slots=*/1);
  const uint64_t job = Submit(R"({"priority": 10, "tasks": [
      {"id": "p", "fn": "const", "executor": "pool:a"},
      {"id": "hog", "fn": "sleep", "executor": "pool:a", "inputs": ["p"]},
      {"id": "q", "fn": "add", "inputs": ["p"]}]})");
  std::vector<v1::Assignment> sent = Dispatch(kWorker);
  ASSERT_THAT(Ids(sent), ElementsAre("p"));
  ReportHeld(kWorker, sent[0], kWorker, /*size=*/100'000'000);
  Submit(R"({"tasks": [{"id": "other", "fn": "add"}]})");
  auto sends = Turn();
  ASSERT_EQ(sends[kWorker].assignments_size(), 1);
  EXPECT_EQ(sends[kWorker].assignments(0).task_id(), "hog");
  ASSERT_EQ(sends[kOther].assignments_size(), 1);
  EXPECT_EQ(sends[kOther].assignments(0).task_id(), "other");
  EXPECT_EQ(Status(job, "q").state(), v1::TASK_READY);
}

// After a restart, a task whose held result is gone runs again as an
// attempt numbered past those stored (it was attempt 1 again: the number
// names the attempt's result object and seal, which the first attempt 1
// already had).
TEST_F(SchedulerDataTest, ARunAgainAfterARestartTakesANewAttemptNumber) {
  v1::TaskStatus p;
  p.set_state(v1::TASK_SUCCEEDED);
  for (uint32_t number : {1u, 2u}) {
    v1::Attempt* attempt = p.add_attempts();
    attempt->set_number(number);
    attempt->set_worker("gone-worker");
  }
  auto ref = std::make_shared<v1::ObjectRef>();
  ref->set_key(ResultObjectKey(JobIdFromSeq(9), 0, 2));
  ref->set_size(500);
  ref->mutable_holder()->set_instance("gone-instance");
  ref->mutable_holder()->set_name("gone-worker");
  StoredResult held;
  held.ref = ref;
  absl::flat_hash_map<uint32_t, StoredResult> results;
  results.emplace(0, held);
  Restore(9,
          R"({"tasks": [{"id": "p", "fn": "const"},
                        {"id": "q", "fn": "add", "inputs": ["p"]}]})",
          {{0, p}}, std::move(results));
  scheduler_.EndRecoveryHold();  // the holder did not come back
  AddHolder(kWorker, 1);
  std::vector<v1::Assignment> sent = Dispatch(kWorker);
  ASSERT_THAT(Ids(sent), ElementsAre("p"));
  EXPECT_EQ(sent[0].task().attempt(), 3u);
}

// b, `after` a and reading x, runs on when a's result is lost and a runs
// again; then b cannot get x and waits again: for x, and still for a. It
// counted x alone, ran before a, and its count wrapped below zero when a
// succeeded (it then waited for good the next time it had to wait).
TEST_F(SchedulerRecomputeTest, ATaskWaitsAgainForWhatItCameAfterToo) {
  AddHolder(kWorker, 4);
  AddPoolHolder(kOther, 1, "a");
  const uint64_t job = Submit(R"({"tasks": [
      {"id": "a", "fn": "const", "executor": "pool:a"},
      {"id": "x", "fn": "const"},
      {"id": "b", "fn": "sleep", "inputs": ["x"], "after": ["a"]},
      {"id": "c", "fn": "add", "inputs": ["a"], "executor": "pool:none"}]})");
  auto sends = Turn();
  ASSERT_THAT(sends[kOther].assignments(), SizeIs(1));
  ASSERT_THAT(sends[kWorker].assignments(), SizeIs(1));
  ReportHeld(kOther, sends[kOther].assignments(0), kOther);     // a
  ReportHeld(kWorker, sends[kWorker].assignments(0), kWorker);  // x
  std::vector<v1::Assignment> b = Dispatch(kWorker);
  ASSERT_THAT(Ids(b), ElementsAre("b"));
  scheduler_.RemoveWorker(kOther);  // a is lost; b runs on
  EXPECT_EQ(Status(job, "b").state(), v1::TASK_ASSIGNED);
  v1::TaskResult lost;
  *lost.mutable_task() = b[0].task();
  lost.set_ok(false);
  lost.set_error("input #0: cannot read it: no object is held here");
  lost.add_lost_inputs(0);
  scheduler_.OnTaskResult(kWorker, std::move(lost));
  std::vector<v1::Assignment> x = Dispatch(kWorker);
  ASSERT_THAT(Ids(x), ElementsAre("x"));
  ReportHeld(kWorker, x[0], kWorker);
  EXPECT_THAT(Dispatch(kWorker), IsEmpty()) << "b waits for a too";
  EXPECT_EQ(Status(job, "b").state(), v1::TASK_PENDING);
  AddPoolHolder(kThird, 1, "a");
  std::vector<v1::Assignment> a = Dispatch(kThird);
  ASSERT_THAT(Ids(a), ElementsAre("a"));
  ReportHeld(kThird, a[0], kThird);
  EXPECT_THAT(Ids(Dispatch(kWorker)), ElementsAre("b"));
}

}  // namespace
}  // namespace dagd
