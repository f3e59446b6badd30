#include "server/worker_roster.h"

#include <string>
#include <utility>
#include <vector>

#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace dagd {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::Pair;

constexpr absl::Duration kRosterLinger = absl::Seconds(5);
const absl::Time kRosterStart = absl::FromUnixSeconds(1000);

WriteSet::RosterWrites RosterWritesAt(WorkerRoster& roster, absl::Time now,
                                      bool* sync = nullptr) {
  WriteSet::RosterWrites writes;
  const bool synced = roster.TakeWrites(now, writes);
  if (sync != nullptr) *sync = synced;
  return writes;
}

TEST(WorkerRosterTest, AJoinedWorkerIsStoredAndSynced) {
  WorkerRoster roster(kRosterLinger);
  roster.Restore(std::vector<WorkerRoster::Entry>{});
  roster.Joined(1, "abc", "host:1");
  bool sync = false;
  WriteSet::RosterWrites writes = RosterWritesAt(roster, kRosterStart, &sync);
  EXPECT_TRUE(sync);
  EXPECT_THAT(writes.added, ElementsAre(Pair("i/abc", "host:1")));
  EXPECT_THAT(writes.removed, IsEmpty());
  // A second stream of the same process stores nothing more.
  roster.Joined(2, "abc", "host:1");
  writes = RosterWritesAt(roster, kRosterStart, &sync);
  EXPECT_FALSE(sync);
  EXPECT_TRUE(writes.empty());
}

TEST(WorkerRosterTest, RestoredWorkersAreAwaitedUntilEachHasCaughtUp) {
  WorkerRoster roster(kRosterLinger);
  roster.Restore(std::vector<WorkerRoster::Entry>{{"i/a", "A"}, {"i/b", "B"}});
  EXPECT_TRUE(roster.Awaiting());
  EXPECT_EQ(roster.awaited(), 2u);
  roster.Joined(1, "a", "A");
  roster.Joined(2, "b", "B");
  // Back, but not yet with everything it kept.
  EXPECT_TRUE(roster.Awaiting());
  EXPECT_FALSE(roster.CaughtUp(1));
  EXPECT_TRUE(roster.Awaiting());
  EXPECT_TRUE(roster.CaughtUp(2));
  EXPECT_FALSE(roster.Awaiting());
  // Already on the roster: nothing to store.
  EXPECT_TRUE(RosterWritesAt(roster, kRosterStart).empty());
}

TEST(WorkerRosterTest, AWorkerGoneForTheLingerComesOff) {
  WorkerRoster roster(kRosterLinger);
  roster.Restore(std::vector<WorkerRoster::Entry>{});
  roster.Joined(1, "a", "A");
  RosterWritesAt(roster, kRosterStart);
  roster.Left(1, kRosterStart);
  EXPECT_EQ(roster.NextDue(), kRosterStart + kRosterLinger);
  EXPECT_TRUE(RosterWritesAt(
                  roster, kRosterStart + kRosterLinger - absl::Milliseconds(1))
                  .empty());
  bool sync = true;
  WriteSet::RosterWrites writes =
      RosterWritesAt(roster, kRosterStart + kRosterLinger, &sync);
  EXPECT_THAT(writes.removed, ElementsAre("i/a"));
  EXPECT_FALSE(sync);  // a smaller roster only waits for fewer
  EXPECT_EQ(roster.NextDue(), std::nullopt);
}

TEST(WorkerRosterTest, AWorkerBackWithinTheLingerStays) {
  WorkerRoster roster(kRosterLinger);
  roster.Restore(std::vector<WorkerRoster::Entry>{});
  roster.Joined(1, "a", "A");
  RosterWritesAt(roster, kRosterStart);
  roster.Left(1, kRosterStart);
  roster.Joined(2, "a", "A");
  EXPECT_TRUE(RosterWritesAt(roster, kRosterStart + 2 * kRosterLinger).empty());
  // Gone again: counted from its last departure.
  roster.Left(2, kRosterStart + 2 * kRosterLinger);
  EXPECT_TRUE(RosterWritesAt(
                  roster, kRosterStart + 3 * kRosterLinger - absl::Seconds(1))
                  .empty());
  EXPECT_THAT(RosterWritesAt(roster, kRosterStart + 3 * kRosterLinger).removed,
              ElementsAre("i/a"));
}

TEST(WorkerRosterTest, OneOfTwoStreamsOfAProcessLeavingTakesItNotOff) {
  WorkerRoster roster(kRosterLinger);
  roster.Restore(std::vector<WorkerRoster::Entry>{});
  roster.Joined(1, "a", "A");
  roster.Joined(2, "a", "A");
  RosterWritesAt(roster, kRosterStart);
  roster.Left(1, kRosterStart);
  EXPECT_TRUE(RosterWritesAt(roster, kRosterStart + 2 * kRosterLinger).empty());
}

TEST(WorkerRosterTest, StreamsClosedByAStopTakeNoOneOff) {
  WorkerRoster roster(kRosterLinger);
  roster.Restore(std::vector<WorkerRoster::Entry>{});
  roster.Joined(1, "a", "A");
  RosterWritesAt(roster, kRosterStart);
  roster.Freeze();
  roster.Left(1, kRosterStart);
  EXPECT_EQ(roster.NextDue(), std::nullopt);
  EXPECT_TRUE(RosterWritesAt(roster, kRosterStart + 2 * kRosterLinger).empty());
}

TEST(WorkerRosterTest, AWorkerWithoutAnInstanceIsNeverCaughtUp) {
  WorkerRoster before(kRosterLinger);
  before.Restore(std::vector<WorkerRoster::Entry>{});
  before.Joined(7, "", "A");
  std::vector<WorkerRoster::Entry> stored =
      RosterWritesAt(before, kRosterStart).added;
  ASSERT_EQ(stored.size(), 1u);

  WorkerRoster after(kRosterLinger);
  after.Restore(stored);
  // Neither a stream of the same id's kind nor an instance named like its
  // key is taken for it.
  after.Joined(8, "", "A");
  after.Joined(9, stored[0].first, "A");
  after.Joined(10, "7", "A");
  EXPECT_FALSE(after.CaughtUp(8));
  EXPECT_FALSE(after.CaughtUp(9));
  EXPECT_FALSE(after.CaughtUp(10));
  EXPECT_TRUE(after.Awaiting());
}

TEST(WorkerRosterTest, TheGraceEndingTakesThoseNotBackOff) {
  WorkerRoster roster(kRosterLinger);
  roster.Restore(std::vector<WorkerRoster::Entry>{{"i/a", "A"}, {"i/b", "B"}});
  roster.Joined(1, "a", "A");
  roster.GraceEnded();
  EXPECT_FALSE(roster.Awaiting());
  WriteSet::RosterWrites writes = RosterWritesAt(roster, kRosterStart);
  EXPECT_THAT(writes.removed, ElementsAre("i/b"));
  EXPECT_FALSE(writes.whole);  // it was whole already
}

TEST(WorkerRosterTest, ARosterNotKnownWholeWaitsForTheGraceThenIsStored) {
  WorkerRoster roster(kRosterLinger);
  roster.Restore(std::nullopt);
  EXPECT_TRUE(roster.Awaiting());
  roster.Joined(1, "a", "A");
  EXPECT_FALSE(roster.CaughtUp(1));
  EXPECT_TRUE(roster.Awaiting());
  roster.GraceEnded();
  EXPECT_FALSE(roster.Awaiting());
  WriteSet::RosterWrites writes = RosterWritesAt(roster, kRosterStart);
  EXPECT_TRUE(writes.whole);
  EXPECT_THAT(writes.added, ElementsAre(Pair("i/a", "A")));
  EXPECT_FALSE(RosterWritesAt(roster, kRosterStart).whole);  // said once
}

TEST(WorkerRosterTest, AnAwaitedWorkerBackAndGoneAgainStaysAwaited) {
  WorkerRoster roster(kRosterLinger);
  roster.Restore(std::vector<WorkerRoster::Entry>{{"i/a", "A"}});
  roster.Joined(1, "a", "A");
  roster.Left(1, kRosterStart);
  // The departure falls due, but the grace decides for those awaited.
  EXPECT_TRUE(RosterWritesAt(roster, kRosterStart + kRosterLinger).empty());
  EXPECT_TRUE(roster.Awaiting());
  roster.GraceEnded();
  EXPECT_THAT(RosterWritesAt(roster, kRosterStart + kRosterLinger).removed,
              ElementsAre("i/a"));
}

TEST(WorkerRosterTest, ReaddedInTheTurnItCameOffItIsPutBack) {
  WorkerRoster roster(kRosterLinger);
  roster.Restore(std::vector<WorkerRoster::Entry>{{"i/a", "A"}});
  roster.GraceEnded();
  roster.Joined(1, "a", "A");
  WriteSet::RosterWrites writes = RosterWritesAt(roster, kRosterStart);
  EXPECT_THAT(writes.added, ElementsAre(Pair("i/a", "A")));
  EXPECT_THAT(writes.removed, IsEmpty());
}

}  // namespace
}  // namespace dagd
