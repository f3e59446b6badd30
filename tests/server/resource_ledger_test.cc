#include "server/resource_ledger.h"

#include <utility>
#include <vector>

#include "gtest/gtest.h"

namespace dagd {
namespace {

constexpr uint32_t kGpu = 0;

WorkerResources Worker(uint32_t slots, double gpus = 0) {
  WorkerResources w;
  w.slots = slots;
  if (gpus > 0) w.capacity = {gpus};
  w.free_amounts = w.capacity;
  return w;
}

class ResourceLedgerTest : public ::testing::Test {
 protected:
  ResourceLedger ledger_;
  JobUsage job_;
  const std::vector<std::pair<uint32_t, double>> one_gpu_ = {{kGpu, 1.0}};
};

TEST_F(ResourceLedgerTest, AcquireTakesSlotsAmountsAndTheJobsCount) {
  WorkerResources w = Worker(4, 2);
  ledger_.AddWorker(w);
  const Claim claim{2, one_gpu_, kNoGroup};
  ASSERT_TRUE(ledger_.HasRoom(w, claim));
  ledger_.Acquire(w, job_, claim, GroupHolder{1, 0});
  EXPECT_EQ(w.busy, 2u);
  EXPECT_EQ(w.FreeAmount(kGpu), 1.0);
  EXPECT_EQ(ledger_.free_slots(), 2u);
  EXPECT_EQ(ledger_.total_slots(), 4u);
  EXPECT_EQ(job_.running, 1u);
  EXPECT_EQ(job_.running_slots, 2u);

  ledger_.Release(&w, job_, claim, GroupHolder{1, 0});
  EXPECT_EQ(w.busy, 0u);
  EXPECT_EQ(w.FreeAmount(kGpu), 2.0);
  EXPECT_EQ(ledger_.free_slots(), 4u);
  EXPECT_EQ(job_.running, 0u);
  EXPECT_EQ(job_.running_slots, 0u);
}

// A draining worker's free slots are no one's: not counted free when it
// starts to drain, nor as its attempts end; its busy ones are still busy,
// and it leaves the totals as any worker does.
TEST_F(ResourceLedgerTest, ADrainingWorkersFreeSlotsAreNotCountedFree) {
  WorkerResources staying = Worker(2);
  WorkerResources leaving = Worker(4);
  ledger_.AddWorker(staying);
  ledger_.AddWorker(leaving);
  const Claim claim{1, {}, kNoGroup};
  ledger_.Acquire(leaving, job_, claim, GroupHolder{1, 0});
  EXPECT_EQ(ledger_.free_slots(), 5u);
  ledger_.SetDraining(leaving);
  ledger_.SetDraining(leaving);  // once is what counts
  EXPECT_EQ(ledger_.free_slots(), 2u);
  EXPECT_EQ(ledger_.busy_slots(), 1u);
  EXPECT_EQ(ledger_.total_slots(), 6u);
  ledger_.Release(&leaving, job_, claim, GroupHolder{1, 0});
  EXPECT_EQ(ledger_.free_slots(), 2u);
  EXPECT_EQ(ledger_.busy_slots(), 0u);
  ledger_.RemoveWorker(leaving);
  EXPECT_EQ(ledger_.free_slots(), 2u);
  EXPECT_EQ(ledger_.total_slots(), 2u);
  // One that joins draining (a stream opened during its drain) brings none.
  WorkerResources back = Worker(4);
  back.draining = true;
  ledger_.AddWorker(back);
  EXPECT_EQ(ledger_.free_slots(), 2u);
  EXPECT_EQ(ledger_.total_slots(), 6u);
}

TEST_F(ResourceLedgerTest, NoRoomWithoutTheSlotsOrTheAmount) {
  WorkerResources w = Worker(2, 1);
  ledger_.AddWorker(w);
  ledger_.Acquire(w, job_, Claim{1, one_gpu_, kNoGroup}, GroupHolder{1, 0});
  EXPECT_FALSE(ledger_.HasRoom(w, Claim{1, one_gpu_, kNoGroup}));
  EXPECT_TRUE(ledger_.HasRoom(w, Claim{1, {}, kNoGroup}));
  EXPECT_FALSE(ledger_.HasRoom(w, Claim{2, {}, kNoGroup}));
  // Capacity, not what is free, says whether it could ever run there.
  EXPECT_TRUE(ledger_.CouldFit(w, Claim{1, one_gpu_, kNoGroup}));
  EXPECT_FALSE(ledger_.CouldFit(w, Claim{3, {}, kNoGroup}));
}

TEST_F(ResourceLedgerTest, NoAmountOfAResourceTheWorkerLacksFits) {
  // Less than the slack that rounding gets, of a resource it has none of.
  const std::vector<std::pair<uint32_t, double>> speck = {{kGpu, 1e-10}};
  WorkerResources none = Worker(2);
  ledger_.AddWorker(none);
  EXPECT_FALSE(ledger_.CouldFit(none, Claim{1, speck, kNoGroup}));
  EXPECT_FALSE(ledger_.HasRoom(none, Claim{1, speck, kNoGroup}));
  WorkerResources one = Worker(2, 1);
  ledger_.AddWorker(one);
  EXPECT_TRUE(ledger_.CouldFit(one, Claim{1, speck, kNoGroup}));
  EXPECT_TRUE(ledger_.HasRoom(one, Claim{1, speck, kNoGroup}));
  // Were it acquired anyway, the worker's amounts stay as they are.
  ledger_.Acquire(none, job_, Claim{1, speck, kNoGroup}, GroupHolder{1, 0});
  EXPECT_TRUE(none.free_amounts.empty());
  ledger_.Release(&none, job_, Claim{1, speck, kNoGroup}, GroupHolder{1, 0});
  EXPECT_TRUE(none.free_amounts.empty());
}

TEST_F(ResourceLedgerTest, AnIdleWorkerGetsExactlyItsCapacityBack) {
  WorkerResources w = Worker(8, 1.0);
  ledger_.AddWorker(w);
  // Tenths do not add up exactly in binary.
  const std::vector<std::pair<uint32_t, double>> tenth = {{kGpu, 0.1}};
  for (uint32_t i = 0; i < 7; ++i) {
    ledger_.Acquire(w, job_, Claim{1, tenth, kNoGroup}, GroupHolder{1, i});
  }
  for (uint32_t i = 0; i < 7; ++i) {
    ledger_.Release(&w, job_, Claim{1, tenth, kNoGroup}, GroupHolder{1, i});
  }
  EXPECT_EQ(w.FreeAmount(kGpu), 1.0);
}

TEST_F(ResourceLedgerTest, AGroupIsHeldByOneTaskAndFreedOnlyByIt) {
  WorkerResources w = Worker(4);
  ledger_.AddWorker(w);
  constexpr GroupId kGroup = 3;
  EXPECT_TRUE(ledger_.GroupFree(kGroup));
  ledger_.Acquire(w, job_, Claim{1, {}, kGroup}, GroupHolder{7, 2});
  EXPECT_FALSE(ledger_.GroupFree(kGroup));
  ASSERT_TRUE(ledger_.HolderOf(kGroup).has_value());
  EXPECT_EQ(ledger_.HolderOf(kGroup)->seq, 7u);
  EXPECT_EQ(ledger_.HolderOf(kGroup)->task, 2u);
  // Another task's release (a stale attempt) leaves it held.
  EXPECT_EQ(ledger_.ReleaseWorker(&w, Claim{0, {}, kGroup}, GroupHolder{7, 5}),
            kNoGroup);
  EXPECT_FALSE(ledger_.GroupFree(kGroup));
  EXPECT_EQ(ledger_.Release(&w, job_, Claim{1, {}, kGroup}, GroupHolder{7, 2}),
            kGroup);
  EXPECT_TRUE(ledger_.GroupFree(kGroup));
}

TEST_F(ResourceLedgerTest,
       ACancelledAttemptFreesItsJobAtOnceAndItsWorkerLater) {
  WorkerResources w = Worker(2);
  ledger_.AddWorker(w);
  job_.max_parallelism = 1;
  const Claim claim{2, {}, 0};
  ledger_.Acquire(w, job_, claim, GroupHolder{1, 0});
  EXPECT_TRUE(job_.AtLimit());
  ledger_.ReleaseJob(job_, claim);
  EXPECT_FALSE(job_.AtLimit());
  EXPECT_EQ(w.busy, 2u);  // the function may still run there
  EXPECT_FALSE(ledger_.GroupFree(0));
  EXPECT_EQ(ledger_.ReleaseWorker(&w, claim, GroupHolder{1, 0}), 0u);
  EXPECT_EQ(w.busy, 0u);
  EXPECT_EQ(ledger_.free_slots(), 2u);
}

TEST_F(ResourceLedgerTest, ACancelledAttemptsWorkerHalfMovesWithItsGroup) {
  WorkerResources old_stream = Worker(2, 1);
  WorkerResources new_stream = Worker(2, 1);
  ledger_.AddWorker(old_stream);
  ledger_.AddWorker(new_stream);
  const Claim claim{2, one_gpu_, 0};
  ledger_.Acquire(old_stream, job_, claim, GroupHolder{1, 0});
  ledger_.ReleaseJob(job_, claim);
  ledger_.MoveWorkerHalf(old_stream, new_stream, claim);
  EXPECT_EQ(old_stream.busy, 0u);
  EXPECT_EQ(old_stream.FreeAmount(kGpu), 1.0);
  EXPECT_EQ(new_stream.busy, 2u);
  EXPECT_EQ(new_stream.FreeAmount(kGpu), 0.0);
  EXPECT_EQ(ledger_.free_slots(), 2u);
  EXPECT_FALSE(ledger_.GroupFree(0));
  EXPECT_EQ(ledger_.ReleaseWorker(&new_stream, claim, GroupHolder{1, 0}), 0u);
  EXPECT_TRUE(ledger_.GroupFree(0));
  EXPECT_EQ(ledger_.free_slots(), 4u);
}

TEST_F(ResourceLedgerTest, ALostWorkersAttemptStillFreesItsGroup) {
  WorkerResources w = Worker(1);
  ledger_.AddWorker(w);
  ledger_.Acquire(w, job_, Claim{1, {}, 0}, GroupHolder{1, 0});
  ledger_.RemoveWorker(w);
  EXPECT_EQ(ledger_.Release(nullptr, job_, Claim{1, {}, 0}, GroupHolder{1, 0}),
            0u);
  EXPECT_TRUE(ledger_.GroupFree(0));
  EXPECT_EQ(job_.running, 0u);
  EXPECT_EQ(ledger_.total_slots(), 0u);
  EXPECT_EQ(ledger_.free_slots(), 0u);
}

}  // namespace
}  // namespace dagd
