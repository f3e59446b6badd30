// The fair-share job sorter on its own: jobs by priority, then running
// slots, then submission; tenants by their share.
#include "server/job_sorter.h"

#include <map>
#include <vector>

#include "gtest/gtest.h"

namespace dagd {
namespace {

// Keeps each job's key as the scheduler does, so a test can move a job by
// its new key alone.
class JobSorterTest : public ::testing::Test {
 protected:
  // Puts the job in line, or moves it there.
  void Set(const SortedJob& job) {
    Remove(job.seq);
    sorter_->Add(job);
    in_line_[job.seq] = job;
  }

  void Remove(uint64_t seq) {
    auto it = in_line_.find(seq);
    if (it == in_line_.end()) return;
    sorter_->Remove(it->second);
    in_line_.erase(it);
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

}  // namespace
}  // namespace dagd
