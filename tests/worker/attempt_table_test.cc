#include "worker/attempt_table.h"

#include <thread>

#include "gtest/gtest.h"

namespace dagd {
namespace {

v1::TaskRef Ref(const std::string& job, uint32_t index, uint32_t attempt) {
  v1::TaskRef ref;
  ref.set_job_id(job);
  ref.set_task_index(index);
  ref.set_attempt(attempt);
  return ref;
}

TEST(AttemptTableTest, DuplicateAttemptIsRejected) {
  AttemptTable table;
  EXPECT_NE(table.Add(Ref("j", 1, 1), 1), nullptr);
  EXPECT_EQ(table.Add(Ref("j", 1, 1), 1), nullptr);
  EXPECT_NE(table.Add(Ref("j", 1, 2), 1), nullptr);
  EXPECT_EQ(table.size(), 2u);
}

// What a worker lists at Register after a restart of dagd: each attempt
// with the seal it was given, without which dagd would not take it over.
TEST(AttemptTableTest, RefsKeepTheSealsTheAttemptsCameWith) {
  AttemptTable table;
  v1::TaskRef first = Ref("j", 1, 1);
  first.set_seal(0x1234567890abcdefull);
  v1::TaskRef second = Ref("j", 2, 3);
  second.set_seal(42);
  table.Add(first, 1);
  table.Add(second, 1);
  std::vector<v1::TaskRef> refs = table.Refs();
  ASSERT_EQ(refs.size(), 2u);
  EXPECT_EQ(refs[0].seal(), first.seal());
  EXPECT_EQ(refs[1].seal(), second.seal());
  EXPECT_EQ(refs[1].attempt(), 3u);
}

TEST(AttemptTableTest, CancelReachesOnlyTheMatchingAttempt) {
  AttemptTable table;
  auto first = table.Add(Ref("j", 1, 1), 1);
  auto other = table.Add(Ref("j", 2, 1), 1);
  EXPECT_TRUE(table.Cancel(Ref("j", 1, 1), CancelReason::kCoordinator));
  EXPECT_FALSE(table.Cancel(Ref("j", 1, 9), CancelReason::kCoordinator));
  EXPECT_TRUE(first->cancelled());
  EXPECT_FALSE(other->cancelled());
  table.CancelAll(CancelReason::kShutdown);
  EXPECT_EQ(other->reason(), CancelReason::kShutdown);
}

TEST(AttemptTableTest, CountsBusySlots) {
  AttemptTable table;
  table.Add(Ref("j", 1, 1), 2);
  table.Add(Ref("j", 2, 1), 3);
  EXPECT_EQ(table.busy_slots(), 5u);
  table.Remove(Ref("j", 1, 1));
  table.Remove(Ref("j", 1, 1));
  EXPECT_EQ(table.busy_slots(), 3u);
}

TEST(AttemptTableTest, PassSlotsHandsTheSlotsToTheFollower) {
  AttemptTable table;
  table.Add(Ref("j", 1, 1), 2);
  table.Add(Ref("j", 2, 1), 0);
  EXPECT_EQ(table.busy_slots(), 2u);
  table.PassSlots(Ref("j", 1, 1), Ref("j", 2, 1));
  EXPECT_FALSE(table.Contains(Ref("j", 1, 1)));
  EXPECT_TRUE(table.Contains(Ref("j", 2, 1)));
  EXPECT_EQ(table.busy_slots(), 2u);
  table.Remove(Ref("j", 2, 1));
  EXPECT_EQ(table.busy_slots(), 0u);
}

TEST(AttemptTableTest, WaitUntilEmptyWakesWhenTheLastAttemptGoes) {
  AttemptTable table;
  EXPECT_TRUE(table.WaitUntilEmpty(absl::ZeroDuration()));
  table.Add(Ref("j", 1, 1), 1);
  EXPECT_FALSE(table.WaitUntilEmpty(absl::ZeroDuration()));
  std::thread remover([&] { table.Remove(Ref("j", 1, 1)); });
  EXPECT_TRUE(table.WaitUntilEmpty(absl::Seconds(30)));
  remover.join();
}

}  // namespace
}  // namespace dagd
