// The fair-share job sorter on its own: jobs by priority, then running
// slots, then submission; tenants by their share.
#include "server/job_sorter.h"

#include <vector>

#include "gtest/gtest.h"

namespace dagd {
namespace {

class JobSorterTest : public ::testing::Test {
 protected:
  // Every job in line, first first, taking them out as it goes.
  std::vector<uint64_t> Drain() {
    std::vector<uint64_t> order;
    while (std::optional<uint64_t> first = sorter_->First()) {
      order.push_back(*first);
      sorter_->Remove(*first);
    }
    EXPECT_TRUE(sorter_->empty());
    return order;
  }

  std::unique_ptr<JobSorter> sorter_ = MakeFairShareSorter();
};

TEST_F(JobSorterTest, HigherPriorityFirstThenFewerSlotsThenSubmission) {
  sorter_->Set({1, 0, 0, 4});
  sorter_->Set({2, 0, 5, 100});
  sorter_->Set({3, 0, 0, 2});
  sorter_->Set({4, 0, 0, 2});
  EXPECT_EQ(Drain(), (std::vector<uint64_t>{2, 3, 4, 1}));
}

TEST_F(JobSorterTest, AJobMovesWhenItsSlotsChange) {
  sorter_->Set({1, 0, 0, 0});
  sorter_->Set({2, 0, 0, 1});
  EXPECT_EQ(sorter_->First(), 1u);
  sorter_->Set({1, 0, 0, 3});  // job 1 got three tasks placed
  EXPECT_EQ(sorter_->First(), 2u);
  sorter_->Set({1, 0, 0, 3});  // unchanged: still in line once
  EXPECT_EQ(Drain(), (std::vector<uint64_t>{2, 1}));
}

TEST_F(JobSorterTest, RemovingAJobNotInLineDoesNothing) {
  sorter_->Remove(7);
  EXPECT_TRUE(sorter_->empty());
  EXPECT_FALSE(sorter_->First().has_value());
}

TEST_F(JobSorterTest, TenantsTakeTurnsByTheirShareAboveJobPriority) {
  // Tenant 1 holds 10 slots with its urgent job; tenant 2 holds 2.
  sorter_->Set({1, 1, 9, 10});
  sorter_->Set({2, 2, 0, 2});
  EXPECT_EQ(sorter_->First(), 2u);
  sorter_->Set({2, 2, 0, 12});  // now tenant 2 holds more
  EXPECT_EQ(sorter_->First(), 1u);
  // A second job of tenant 2 adds to its share.
  sorter_->Set({2, 2, 0, 0});
  sorter_->Set({3, 2, 0, 11});
  EXPECT_EQ(sorter_->First(), 1u);
  sorter_->Remove(1);
  EXPECT_EQ(sorter_->First(), 2u);  // one tenant left: its order alone
  EXPECT_EQ(Drain(), (std::vector<uint64_t>{2, 3}));
}

TEST_F(JobSorterTest, AJobCanMoveToAnotherTenant) {
  sorter_->Set({1, 1, 0, 5});
  sorter_->Set({2, 2, 0, 1});
  sorter_->Set({1, 3, 0, 0});
  EXPECT_EQ(sorter_->First(), 1u);
  EXPECT_EQ(Drain(), (std::vector<uint64_t>{1, 2}));
}

}  // namespace
}  // namespace dagd
