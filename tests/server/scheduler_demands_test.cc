// Demands (a task's kind: function, slots, executor, labels, amounts) live
// while jobs in memory or stopping attempts use them, and a bounded few
// after; before, every kind ever submitted stayed, and each worker updated
// all of them on every change of its free slots, and looked at all of them
// as it joined.
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/server/scheduler_fixture.h"

namespace dagd {
namespace {

using ::testing::ElementsAre;
using ::testing::SizeIs;

class SchedulerDemandsTest : public SchedulerTest {
 protected:
  // A worker with room for any amount of "mem" the jobs below ask for.
  void AddMemoryWorker(WorkerId id) {
    WorkerSpec spec = Worker(id, 4);
    spec.resources = {{"mem", 1e9}};
    scheduler_.AddWorker(id, std::move(spec));
  }

  // A job of one `const` task asking `mem` of memory: a kind of its own
  // for each amount.
  uint64_t SubmitWithMemory(int mem) {
    return Submit(absl::StrCat(
        R"({"tasks": [{"id": "t", "fn": "const", "resources": {"amounts": {"mem": )",
        mem, "}}}]}"));
  }

  // Places job `seq`'s one task on `worker` and reports it done; the job
  // leaves memory with the turn.
  void RunOne(WorkerId worker) {
    std::vector<v1::Assignment> sent = Dispatch(worker);
    ASSERT_THAT(sent, SizeIs(1));
    Report(worker, sent[0], true);
    Dispatch(worker);
  }
};

TEST_F(SchedulerDemandsTest, KindsNoJobUsesAreRetiredPastABound) {
  AddMemoryWorker(kWorker);
  const int kinds = Scheduler::kIdleDemands + 100;
  for (int i = 1; i <= kinds; ++i) {
    SubmitWithMemory(i);
    RunOne(kWorker);
  }
  EXPECT_EQ(scheduler_.demand_count(), Scheduler::kIdleDemands);
}

TEST_F(SchedulerDemandsTest, AKindInUseIsNeverRetired) {
  AddMemoryWorker(kWorker);
  const uint64_t waiting = Submit(R"({"tasks": [
      {"id": "a", "fn": "fail"},
      {"id": "b", "fn": "add", "inputs": ["a"]}]})");
  std::vector<v1::Assignment> sent = Dispatch(kWorker);
  ASSERT_THAT(Ids(sent), ElementsAre("a"));
  // Many other kinds come and go meanwhile.
  for (int i = 1; i <= static_cast<int>(Scheduler::kIdleDemands) + 10; ++i) {
    SubmitWithMemory(i);
    RunOne(kWorker);
  }
  // The waiting job's next task still finds its worker.
  Report(kWorker, sent[0], true);
  sent = Dispatch(kWorker);
  ASSERT_THAT(Ids(sent), ElementsAre("b"));
  Report(kWorker, sent[0], true);
  Dispatch(kWorker);
  EXPECT_FALSE(scheduler_.JobStatusOf(waiting).has_value())
      << "the job finished and left memory";
}

TEST_F(SchedulerDemandsTest, ARetiredKindIsMadeAgainForTheWorkersThere) {
  AddMemoryWorker(kWorker);
  for (int i = 1; i <= static_cast<int>(Scheduler::kIdleDemands) + 1; ++i) {
    SubmitWithMemory(i);
    RunOne(kWorker);
  }
  // mem=1 was the oldest unused kind: retired, and its id given to another.
  AddMemoryWorker(kOther);
  SubmitWithMemory(1);
  std::vector<v1::Assignment> sent = Dispatch(kWorker);
  EXPECT_EQ(sent.size() + other_sends_, 1u) << "placed on a worker";
}

TEST_F(SchedulerDemandsTest, AStoppingAttemptKeepsItsKindUntilItEnds) {
  AddMemoryWorker(kWorker);
  // Two slots: a kind's id given to another (of one slot) would free one.
  const uint64_t cancelled = Submit(R"({"tasks": [{"id": "t", "fn": "const",
      "resources": {"slots": 2, "amounts": {"mem": 1}}}]})");
  std::vector<v1::Assignment> sent = Dispatch(kWorker);
  ASSERT_THAT(sent, SizeIs(1));
  const v1::Assignment stopping = sent[0];
  ASSERT_TRUE(scheduler_.CancelJob(cancelled).ok());
  Dispatch(kWorker);
  ASSERT_FALSE(scheduler_.JobStatusOf(cancelled).has_value());
  // More kinds come and go than are kept unused: the cancelled task's would
  // be the first retired, but its attempt still holds its slots and memory.
  for (int i = 2; i <= static_cast<int>(Scheduler::kIdleDemands) + 10; ++i) {
    SubmitWithMemory(i);
    RunOne(kWorker);
  }
  // Its end frees what it held, by its kind's claim.
  Report(kWorker, stopping, true);
  Dispatch(kWorker);
  const uint64_t wide = Submit(R"({"tasks": [
      {"id": "a", "fn": "const"}, {"id": "b", "fn": "const"},
      {"id": "c", "fn": "const"}, {"id": "d", "fn": "const"}]})");
  EXPECT_THAT(Dispatch(kWorker), SizeIs(4)) << "all 4 slots free again";
  EXPECT_TRUE(scheduler_.JobStatusOf(wide).has_value());
}

// A worker removed while cancelled attempts still stop there: releasing
// what they held may retire a kind the worker was capable of, and the next
// release looked it up through the worker's own list (a null demand).
TEST_F(SchedulerDemandsTest, AWorkerRemovedWithStoppingAttemptsRetiresSafely) {
  AddMemoryWorker(kWorker);
  std::vector<uint64_t> cancelled;
  for (int mem : {1, 2}) {
    cancelled.push_back(SubmitWithMemory(mem));
    ASSERT_THAT(Dispatch(kWorker), SizeIs(1));
  }
  for (uint64_t seq : cancelled) ASSERT_TRUE(scheduler_.CancelJob(seq).ok());
  Dispatch(kWorker);
  // Unused kinds up to the bound, all of them the worker's.
  for (int i = 3; i < 3 + static_cast<int>(Scheduler::kIdleDemands); ++i) {
    SubmitWithMemory(i);
    RunOne(kWorker);
  }
  scheduler_.RemoveWorker(kWorker);
  EXPECT_EQ(scheduler_.demand_count(), Scheduler::kIdleDemands);
  // The scheduler goes on.
  AddMemoryWorker(kOther);
  SubmitWithMemory(1);
  EXPECT_EQ(Dispatch(kOther).size(), 1u);
}

}  // namespace
}  // namespace dagd
