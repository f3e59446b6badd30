// FreeSlotIndex answers the same below and above kSmall workers (a sort
// there, a B-tree here): the most free first, or the fewest free with at
// least what a task needs first (--placement=pack), ties by order.
#include "server/free_slot_index.h"

#include <algorithm>
#include <cstdint>
#include <tuple>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace dagd {
namespace {

using ::testing::ElementsAre;
using ::testing::ElementsAreArray;

struct Entry {
  WorkerId id;
  uint32_t free;
  uint64_t order;
};

// `n` workers whose free slots repeat 0..6, so many are equal, added in an
// order unlike their ids.
std::vector<Entry> Entries(size_t n) {
  std::vector<Entry> entries;
  for (size_t i = 0; i < n; ++i) {
    entries.push_back({1000 - i, static_cast<uint32_t>((i * 5) % 7), i});
  }
  return entries;
}

std::vector<WorkerId> LeastFree(const FreeSlotIndex& index, uint32_t at_least,
                                size_t stop_after = SIZE_MAX) {
  std::vector<WorkerId> seen;
  index.ForEachLeastFree(at_least, [&](WorkerId id, uint32_t) {
    seen.push_back(id);
    return seen.size() < stop_after;
  });
  return seen;
}

// What every worker's entry says, sorted: fewest free first, then order.
std::vector<WorkerId> Expected(std::vector<Entry> entries, uint32_t at_least) {
  entries.erase(
      std::remove_if(entries.begin(), entries.end(),
                     [&](const Entry& e) { return e.free < at_least; }),
      entries.end());
  std::sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) {
    return std::tie(a.free, a.order) < std::tie(b.free, b.order);
  });
  std::vector<WorkerId> ids;
  for (const Entry& e : entries) ids.push_back(e.id);
  return ids;
}

class FreeSlotIndexTest : public ::testing::TestWithParam<size_t> {};

TEST_P(FreeSlotIndexTest, FewestFreeWithRoomFirstTiesByOrder) {
  std::vector<Entry> entries = Entries(GetParam());
  FreeSlotIndex index;
  for (const Entry& e : entries) index.Add(e.id, e.free, e.order);
  for (uint32_t at_least : {0u, 1u, 3u, 6u, 7u}) {
    EXPECT_THAT(LeastFree(index, at_least),
                ElementsAreArray(Expected(entries, at_least)))
        << "at least " << at_least;
  }
  // A worker's load changes: it moves to its new place.
  entries[2].free = 1;
  index.Update(entries[2].id, 1);
  EXPECT_THAT(LeastFree(index, 1), ElementsAreArray(Expected(entries, 1)));
  // The visit stops when told to.
  const std::vector<WorkerId> all = Expected(entries, 2);
  EXPECT_THAT(LeastFree(index, 2, 3),
              ElementsAreArray(all.begin(), all.begin() + 3));
}

INSTANTIATE_TEST_SUITE_P(BelowAndAboveSmall, FreeSlotIndexTest,
                         ::testing::Values(FreeSlotIndex::kSmall - 4,
                                           FreeSlotIndex::kSmall * 3));

TEST(FreeSlotIndexEdgeTest, NoneWithEnoughFreeVisitsNothing) {
  FreeSlotIndex index;
  index.Add(1, 2, 0);
  index.Add(2, UINT32_MAX, 1);
  EXPECT_THAT(LeastFree(index, UINT32_MAX), ElementsAre(2));
  index.Remove(2);
  EXPECT_THAT(LeastFree(index, 3), ElementsAre());
  EXPECT_THAT(LeastFree(FreeSlotIndex(), 0), ElementsAre());
}

}  // namespace
}  // namespace dagd
