// The fair-share job sorter on its own: jobs by priority, then running
// slots, then submission; tenants by their share.
#include "server/job_sorter.h"

#include <map>
#include <vector>

#include "gtest/gtest.h"

namespace dagd {
namespace {

// Keeps each job's key as the scheduler does, so a test can move a job by
// its new key alone, and tells the sorter each tenant's slots: those of its
// jobs the test put in line (the scheduler counts every job of a tenant;
// OutOfLineSlotsCount shows that).
class JobSorterTest : public ::testing::Test {
 protected:
  // Puts the job in line, or moves it there.
  void Set(const SortedJob& job) {
    Remove(job.seq);
    sorter_->Add(job);
    in_line_[job.seq] = job;
    AddSlots(job.tenant, job.running_slots);
  }

  void Remove(uint64_t seq) {
    auto it = in_line_.find(seq);
    if (it == in_line_.end()) return;
    sorter_->Remove(it->second);
    AddSlots(it->second.tenant,
             -static_cast<int64_t>(it->second.running_slots));
    in_line_.erase(it);
  }

  void AddSlots(uint32_t tenant, int64_t delta) {
    slots_[tenant] += delta;
    sorter_->SetTenantSlots(tenant, slots_[tenant]);
  }

  // Every job in line, first first, taking them out as it goes.
  std::vector<uint64_t> Drain() {
    std::vector<uint64_t> order;
    while (std::optional<uint64_t> first = sorter_->First()) {
      order.push_back(*first);
      Remove(*first);
    }
    EXPECT_TRUE(sorter_->empty());
    return order;
  }

  std::unique_ptr<JobSorter> sorter_ = MakeFairShareSorter();
  std::map<uint64_t, SortedJob> in_line_;
  std::map<uint32_t, uint64_t> slots_;  // by tenant
};

TEST_F(JobSorterTest, HigherPriorityFirstThenFewerSlotsThenSubmission) {
  Set({1, 0, 0, 4});
  Set({2, 0, 5, 100});
  Set({3, 0, 0, 2});
  Set({4, 0, 0, 2});
  EXPECT_EQ(Drain(), (std::vector<uint64_t>{2, 3, 4, 1}));
}

TEST_F(JobSorterTest, AJobMovesWhenItsSlotsChange) {
  Set({1, 0, 0, 0});
  Set({2, 0, 0, 1});
  EXPECT_EQ(sorter_->First(), 1u);
  Set({1, 0, 0, 3});  // job 1 got three tasks placed
  EXPECT_EQ(sorter_->First(), 2u);
  EXPECT_EQ(Drain(), (std::vector<uint64_t>{2, 1}));
}

TEST_F(JobSorterTest, AnEmptySorterHasNoFirst) {
  EXPECT_TRUE(sorter_->empty());
  EXPECT_FALSE(sorter_->First().has_value());
  Set({1, 0, 0, 0});
  Remove(1);
  EXPECT_TRUE(sorter_->empty());
  EXPECT_FALSE(sorter_->First().has_value());
}

TEST_F(JobSorterTest, TenantsTakeTurnsByTheirShareAboveJobPriority) {
  // Tenant 1 holds 10 slots with its urgent job; tenant 2 holds 2.
  Set({1, 1, 9, 10});
  Set({2, 2, 0, 2});
  EXPECT_EQ(sorter_->First(), 2u);
  Set({2, 2, 0, 12});  // now tenant 2 holds more
  EXPECT_EQ(sorter_->First(), 1u);
  // A second job of tenant 2 adds to its share.
  Set({2, 2, 0, 0});
  Set({3, 2, 0, 11});
  EXPECT_EQ(sorter_->First(), 1u);
  Remove(1);
  EXPECT_EQ(sorter_->First(), 2u);  // one tenant left: its order alone
  EXPECT_EQ(Drain(), (std::vector<uint64_t>{2, 3}));
}

TEST_F(JobSorterTest, AJobCanMoveToAnotherTenant) {
  Set({1, 1, 0, 5});
  Set({2, 2, 0, 1});
  Set({1, 3, 0, 0});
  EXPECT_EQ(sorter_->First(), 1u);
  EXPECT_EQ(Drain(), (std::vector<uint64_t>{1, 2}));
}

TEST_F(JobSorterTest, ThreeTenantsLeaveTheOrderOneByOne) {
  Set({1, 1, 0, 3});
  Set({2, 2, 0, 1});
  Set({3, 3, 0, 2});
  EXPECT_EQ(sorter_->First(), 2u);
  Remove(2);
  EXPECT_EQ(sorter_->First(), 3u);
  Remove(3);
  EXPECT_EQ(sorter_->First(), 1u);  // the last tenant, alone in line
  Set({4, 4, 0, 0});                // a second tenant comes back
  EXPECT_EQ(sorter_->First(), 4u);
  EXPECT_EQ(Drain(), (std::vector<uint64_t>{4, 1}));
}

TEST_F(JobSorterTest, ATenantsJobsMoveItsShare) {
  // Tenant 1's two jobs hold 1 + 1 slots; tenant 2's one job holds 3.
  Set({1, 1, 0, 1});
  Set({2, 1, 0, 1});
  Set({3, 2, 0, 3});
  EXPECT_EQ(sorter_->First(), 1u);
  Set({2, 1, 0, 4});  // tenant 1 now holds 5
  EXPECT_EQ(sorter_->First(), 3u);
  Remove(2);  // tenant 1 back to 1
  EXPECT_EQ(sorter_->First(), 1u);
}

TEST_F(JobSorterTest, WeightsDivideTheShare) {
  // Tenant 1 (weight 3) holds 6 slots, tenant 2 (weight 1) holds 3: per
  // unit of weight 2 against 3, so tenant 1 goes first.
  sorter_->SetShare(1, TenantShare{3, 0});
  Set({1, 1, 0, 6});
  Set({2, 2, 0, 3});
  EXPECT_EQ(sorter_->First(), 1u);
  AddSlots(1, 4);  // 10 / 3 against 3 / 1
  EXPECT_EQ(sorter_->First(), 2u);
  sorter_->SetShare(1, TenantShare{4, 0});  // 10 / 4 against 3 / 1
  EXPECT_EQ(sorter_->First(), 1u);
}

TEST_F(JobSorterTest, OutOfLineSlotsCount) {
  // Tenant 1's job in line holds nothing, but its other job (all of whose
  // tasks run, so it is out of line) holds 8 slots.
  Set({1, 1, 0, 0});
  Set({2, 2, 0, 2});
  AddSlots(1, 8);
  EXPECT_EQ(sorter_->First(), 2u);
}

TEST_F(JobSorterTest, ATenantAtItsCapWaits) {
  sorter_->SetShare(1, TenantShare{1, 4});
  Set({1, 1, 0, 3});
  EXPECT_EQ(sorter_->First(), 1u);
  AddSlots(1, 1);  // 4: at its cap, and alone in line
  EXPECT_FALSE(sorter_->First().has_value());
  EXPECT_FALSE(sorter_->empty());
  Set({2, 2, 0, 50});  // another tenant goes, however much it holds
  EXPECT_EQ(sorter_->First(), 2u);
  AddSlots(1, -1);  // a task of tenant 1 ended: below its cap again
  EXPECT_EQ(sorter_->First(), 1u);
  sorter_->SetShare(1, TenantShare{1, 2});  // the cap lowered
  EXPECT_EQ(sorter_->First(), 2u);
  Remove(2);
  EXPECT_FALSE(sorter_->First().has_value());
  sorter_->SetShare(1, TenantShare{1, 0});  // no cap
  EXPECT_EQ(sorter_->First(), 1u);
}

}  // namespace
}  // namespace dagd
