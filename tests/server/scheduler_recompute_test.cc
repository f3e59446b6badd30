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
#include "tests/server/scheduler_data_fixture.h"

namespace dagd {
namespace {

using ::testing::ElementsAre;

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
    WorkerSpec spec = Worker(kThird, 1);
    spec.pool = "b";
    spec.instance = Instance(kThird);
    spec.data_address = Address(kThird);
    scheduler_.AddWorker(kThird, std::move(spec));
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

}  // namespace
}  // namespace dagd
