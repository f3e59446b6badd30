#include "worker/python_kept.h"

#include <set>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace dagd {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

constexpr uint64_t kMiB = 1 << 20;

KeptInput Input(const std::string& key, uint64_t size) {
  return {KeptName(key, size, /*crc32c=*/7), size};
}

TEST(KeptObjectsTest, AnInputIsKeptOnceThenUsedWithoutItsBytes) {
  KeptObjects kept(10 * kMiB);
  const KeptInput block = Input("results/j/1/1", 2 * kMiB);
  KeptPlan first = kept.Plan({block}, /*keep_result=*/false);
  EXPECT_THAT(first.use, ElementsAre(0));
  ASSERT_NE(first.keep[0], 0);
  EXPECT_EQ(kept.bytes(), 2 * kMiB);
  EXPECT_EQ(kept.BytesOf({block}), 2 * kMiB);

  KeptPlan second = kept.Plan({block}, /*keep_result=*/false);
  EXPECT_THAT(second.use, ElementsAre(first.keep[0]));
  EXPECT_THAT(second.keep, ElementsAre(0));
  EXPECT_THAT(second.drop, IsEmpty());
}

TEST(KeptObjectsTest, SmallUnnamedAndRepeatedInputsAreSent) {
  KeptObjects kept(10 * kMiB);
  const KeptInput block = Input("results/j/1/1", 2 * kMiB);
  KeptPlan plan = kept.Plan(
      {Input("results/j/2/1", kMiB - 1), KeptInput{}, block, block}, false);
  EXPECT_THAT(plan.use, ElementsAre(0, 0, 0, 0));
  // The second copy of `block` is sent too: the interpreter keeps it only
  // once the task has run.
  EXPECT_EQ(plan.keep[0], 0);
  EXPECT_EQ(plan.keep[1], 0);
  EXPECT_NE(plan.keep[2], 0);
  EXPECT_EQ(plan.keep[3], 0);
  EXPECT_EQ(kept.count(), 1);
}

TEST(KeptObjectsTest, TheLeastRecentlyUsedAreForgottenForRoom) {
  KeptObjects kept(5 * kMiB);
  const KeptInput a = Input("a", 2 * kMiB);
  const KeptInput b = Input("b", 2 * kMiB);
  const KeptInput c = Input("c", 2 * kMiB);
  const uint64_t a_id = kept.Plan({a}, false).keep[0];
  const uint64_t b_id = kept.Plan({b}, false).keep[0];
  kept.Plan({a}, false);  // a is now the most recently used
  KeptPlan plan = kept.Plan({c}, false);
  EXPECT_THAT(plan.drop, ElementsAre(b_id));
  EXPECT_NE(plan.keep[0], 0);
  EXPECT_EQ(kept.bytes(), 4 * kMiB);
  EXPECT_EQ(kept.BytesOf({a, b, c}), 4 * kMiB);
  EXPECT_THAT(kept.Plan({a}, false).use, ElementsAre(a_id));
}

TEST(KeptObjectsTest, InputsOfTheTaskAreNeverForgottenForItsOthers) {
  KeptObjects kept(5 * kMiB);
  const KeptInput a = Input("a", 3 * kMiB);
  const KeptInput b = Input("b", 3 * kMiB);
  const uint64_t a_id = kept.Plan({a}, false).keep[0];
  KeptPlan plan = kept.Plan({a, b}, false);
  EXPECT_THAT(plan.use, ElementsAre(a_id, 0));
  EXPECT_THAT(plan.keep, ElementsAre(0, 0));  // b does not fit beside a
  EXPECT_THAT(plan.drop, IsEmpty());
}

TEST(KeptObjectsTest, NothingLargerThanTheBudgetIsKept) {
  KeptObjects kept(3 * kMiB);
  kept.Plan({Input("a", 2 * kMiB)}, false);
  KeptPlan plan = kept.Plan({Input("huge", 4 * kMiB)}, true);
  EXPECT_EQ(plan.result_max, 3 * kMiB);
  EXPECT_THAT(plan.keep, ElementsAre(0));
  EXPECT_THAT(plan.drop, IsEmpty());  // nothing forgotten in vain
  ASSERT_NE(plan.result, 0);
  kept.ResultKept(plan.result, KeptName("results/j/9/1", 4 * kMiB, 7),
                  4 * kMiB);
  EXPECT_THAT(kept.Plan({}, false).drop, ElementsAre(plan.result));
  EXPECT_EQ(kept.bytes(), 2 * kMiB);
}

TEST(KeptObjectsTest, AKeptResultIsUsedByTheTaskThatReadsIt) {
  KeptObjects kept(10 * kMiB);
  KeptPlan producer = kept.Plan({}, /*keep_result=*/true);
  ASSERT_NE(producer.result, 0);
  kept.ResultKept(producer.result, KeptName("results/j/3/1", 3 * kMiB, 7),
                  3 * kMiB);
  KeptPlan consumer = kept.Plan({Input("results/j/3/1", 3 * kMiB)}, true);
  EXPECT_THAT(consumer.use, ElementsAre(producer.result));
  EXPECT_NE(consumer.result, producer.result);
}

TEST(KeptObjectsTest, AResultKeptTwiceIsForgottenUnderItsNewId) {
  KeptObjects kept(10 * kMiB);
  const KeptInput block = Input("results/j/3/1", 3 * kMiB);
  const uint64_t id = kept.Plan({block}, false).keep[0];
  KeptPlan plan = kept.Plan({}, true);
  kept.ResultKept(plan.result, block.name, block.size);
  KeptPlan next = kept.Plan({block}, false);
  EXPECT_THAT(next.drop, ElementsAre(plan.result));
  EXPECT_THAT(next.use, ElementsAre(id));
}

TEST(KeptObjectsTest, AnInputTheInterpreterDidNotKeepIsForgotten) {
  KeptObjects kept(10 * kMiB);
  const KeptInput block = Input("results/j/1/1", 2 * kMiB);
  const uint64_t id = kept.Plan({block}, false).keep[0];
  kept.NotKept(id);
  EXPECT_EQ(kept.bytes(), 0);
  KeptPlan next = kept.Plan({block}, false);
  EXPECT_THAT(next.use, ElementsAre(0));
  EXPECT_NE(next.keep[0], 0);
  EXPECT_NE(next.keep[0], id);
}

TEST(KeptObjectsTest, ANameIsTheKeySizeAndChecksum) {
  EXPECT_NE(KeptName("results/j1/1/1", 10, 1),
            KeptName("results/j1/1/1", 10, 2));
  EXPECT_NE(KeptName("results/j1/1/1", 10, 1),
            KeptName("results/j1/1/1", 11, 1));
  EXPECT_NE(KeptName("results/j1/1/1", 10, 1),
            KeptName("results/j1/1/2", 10, 1));
}

TEST(KeptObjectsTest, ANoBudgetKeepsNothing) {
  KeptObjects kept(0);
  KeptPlan plan = kept.Plan({Input("a", 2 * kMiB)}, true);
  EXPECT_THAT(plan.keep, ElementsAre(0));
  EXPECT_EQ(plan.result, 0);
  EXPECT_EQ(kept.count(), 0);
}

TEST(KeptObjectsTest, IdsAreNeverReused) {
  KeptObjects kept(4 * kMiB);
  std::vector<uint64_t> ids;
  for (const char* key : {"a", "b", "c", "d"}) {
    ids.push_back(kept.Plan({Input(key, 3 * kMiB)}, false).keep[0]);
  }
  EXPECT_EQ(std::set<uint64_t>(ids.begin(), ids.end()).size(), 4);
}

}  // namespace
}  // namespace dagd
