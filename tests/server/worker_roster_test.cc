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

// A roster the start before (incarnation 1) left whole, for start 2.
constexpr uint64_t kRosterIncarnation = 2;
StoredRoster WholeRoster(
    std::vector<std::pair<std::string, std::string>> workers = {}) {
  StoredRoster stored;
  stored.whole_as_of = kRosterIncarnation - 1;
  stored.workers = std::move(workers);
  return stored;
}

WriteSet::RosterWrites RosterWritesAt(WorkerRoster& roster, absl::Time now,
                                      bool* sync = nullptr) {
  WriteSet::RosterWrites writes;
  const bool synced = roster.TakeWrites(now, writes);
  if (sync != nullptr) *sync = synced;
  return writes;
}

// Worker process "a" joined on stream 1 at a start that found an empty
// roster, and its record stored.
void StoreA(WorkerRoster& roster) {
  roster.Restore(WholeRoster(), kRosterIncarnation);
  roster.Joined(1, "a", "A");
  RosterWritesAt(roster, kRosterStart);
}

TEST(WorkerRosterTest, AJoinedWorkerIsStoredAndSynced) {
  WorkerRoster roster(kRosterLinger);
  roster.Restore(WholeRoster(), kRosterIncarnation);
  roster.Joined(1, "abc", "host:1");
  bool sync = false;
  WriteSet::RosterWrites writes = RosterWritesAt(roster, kRosterStart, &sync);
  EXPECT_TRUE(sync);
  EXPECT_THAT(writes.added, ElementsAre(Pair("i/abc", "host:1")));
  EXPECT_THAT(writes.removed, IsEmpty());
  EXPECT_EQ(writes.whole_as_of, kRosterIncarnation);  // whole as of this start
  // A second stream of the same process stores nothing more.
  roster.Joined(2, "abc", "host:1");
  writes = RosterWritesAt(roster, kRosterStart, &sync);
  EXPECT_FALSE(sync);
  EXPECT_TRUE(writes.empty());
}

TEST(WorkerRosterTest, RestoredWorkersAreAwaitedUntilEachHasCaughtUp) {
  WorkerRoster roster(kRosterLinger);
  roster.Restore(WholeRoster({{"i/a", "A"}, {"i/b", "B"}}), kRosterIncarnation);
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
  // Already on the roster: nothing to store but that it is whole.
  WriteSet::RosterWrites writes = RosterWritesAt(roster, kRosterStart);
  EXPECT_THAT(writes.added, IsEmpty());
  EXPECT_THAT(writes.removed, IsEmpty());
  EXPECT_EQ(writes.whole_as_of, kRosterIncarnation);
}

TEST(WorkerRosterTest, AWorkerGoneForTheLingerComesOff) {
  WorkerRoster roster(kRosterLinger);
  StoreA(roster);
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
  StoreA(roster);
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
  roster.Restore(WholeRoster(), kRosterIncarnation);
  roster.Joined(1, "a", "A");
  roster.Joined(2, "a", "A");
  RosterWritesAt(roster, kRosterStart);
  roster.Left(1, kRosterStart);
  EXPECT_TRUE(RosterWritesAt(roster, kRosterStart + 2 * kRosterLinger).empty());
}

TEST(WorkerRosterTest, StreamsClosedByAStopTakeNoOneOff) {
  WorkerRoster roster(kRosterLinger);
  StoreA(roster);
  roster.Freeze();
  roster.Left(1, kRosterStart);
  EXPECT_EQ(roster.NextDue(), std::nullopt);
  EXPECT_TRUE(RosterWritesAt(roster, kRosterStart + 2 * kRosterLinger).empty());
}

TEST(WorkerRosterTest, AWorkerWithoutAnInstanceIsNeverCaughtUp) {
  WorkerRoster before(kRosterLinger);
  before.Restore(WholeRoster(), kRosterIncarnation);
  before.Joined(7, "", "A");
  std::vector<std::pair<std::string, std::string>> stored =
      RosterWritesAt(before, kRosterStart).added;
  ASSERT_EQ(stored.size(), 1u);

  WorkerRoster after(kRosterLinger);
  after.Restore(WholeRoster(stored), kRosterIncarnation + 1);
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

// Under worker certificates a worker answers only for processes of its
// own certificate: another certificate's worker, or one without a
// certificate, naming the same instance is not the one awaited.
TEST(WorkerRosterTest, UnderACertificateAnInstanceCountsOnlyWithItsName) {
  WorkerRoster before(kRosterLinger);
  before.Restore(WholeRoster(), kRosterIncarnation);
  before.Joined(1, "a", "w1", /*certified=*/true);
  std::vector<std::pair<std::string, std::string>> stored =
      RosterWritesAt(before, kRosterStart).added;
  EXPECT_THAT(stored, ElementsAre(Pair("c/2:w1/a", "w1")));

  WorkerRoster after(kRosterLinger);
  after.Restore(WholeRoster(stored), kRosterIncarnation);
  after.Joined(2, "a", "w2", /*certified=*/true);
  after.Joined(3, "a", "w1", /*certified=*/false);
  after.Joined(4, "1/a", "w", /*certified=*/true);  // spells "w1/a" unprefixed
  EXPECT_FALSE(after.CaughtUp(2));
  EXPECT_FALSE(after.CaughtUp(3));
  EXPECT_FALSE(after.CaughtUp(4));
  EXPECT_TRUE(after.Awaiting());
  after.Joined(5, "a", "w1", /*certified=*/true);
  EXPECT_TRUE(after.CaughtUp(5));
  EXPECT_FALSE(after.Awaiting());
}

// A roster stored before certificates were part of the key (README: the
// first start after the upgrade waits the whole grace for them).
TEST(WorkerRosterTest, ACertifiedWorkerIsNotTakenForAnEarlierInstanceKey) {
  WorkerRoster roster(kRosterLinger);
  roster.Restore(WholeRoster({{"i/a", "w1"}}), kRosterIncarnation);
  roster.Joined(1, "a", "w1", /*certified=*/true);
  EXPECT_FALSE(roster.CaughtUp(1));
  EXPECT_TRUE(roster.Awaiting());
}

// Not back by the end of the grace: gone from then, and off one linger
// later. A second crash soon after still waits for it.
TEST(WorkerRosterTest, ThoseNotBackWhenTheGraceEndsAreGoneFromThen) {
  WorkerRoster roster(kRosterLinger);
  roster.Restore(WholeRoster({{"i/a", "A"}, {"i/b", "B"}}), kRosterIncarnation);
  roster.Joined(1, "a", "A");
  roster.GraceEnded(kRosterStart);
  EXPECT_FALSE(roster.Awaiting());
  EXPECT_THAT(RosterWritesAt(roster, kRosterStart).removed, IsEmpty());
  EXPECT_THAT(RosterWritesAt(roster, kRosterStart + kRosterLinger).removed,
              ElementsAre("i/b"));
}

// Back after a restart, and its stream broke just before the grace ran
// out: it may still run what it took over, so it stays for the linger
// from when it left.
TEST(WorkerRosterTest, AWorkerThatLeftJustBeforeTheGraceEndedStays) {
  WorkerRoster roster(kRosterLinger);
  roster.Restore(WholeRoster({{"i/a", "A"}}), kRosterIncarnation);
  roster.Joined(1, "a", "A");  // back, still sending what it kept
  const absl::Time left = kRosterStart - absl::Milliseconds(100);
  roster.Left(1, left);
  // Its departure falls due while it is awaited: the grace decides.
  EXPECT_THAT(RosterWritesAt(roster, left + kRosterLinger).removed, IsEmpty());
  roster.GraceEnded(kRosterStart);
  EXPECT_THAT(RosterWritesAt(roster, kRosterStart).removed, IsEmpty());
  EXPECT_EQ(roster.NextDue(), left + kRosterLinger);
  EXPECT_THAT(RosterWritesAt(roster, left + kRosterLinger).removed,
              ElementsAre("i/a"));
}

TEST(WorkerRosterTest, AWorkerBackAfterTheGraceStaysOn) {
  WorkerRoster roster(kRosterLinger);
  roster.Restore(WholeRoster({{"i/a", "A"}}), kRosterIncarnation);
  roster.GraceEnded(kRosterStart);
  roster.Joined(1, "a", "A");
  WriteSet::RosterWrites writes =
      RosterWritesAt(roster, kRosterStart + 2 * kRosterLinger);
  EXPECT_THAT(writes.added, IsEmpty());  // on it already
  EXPECT_THAT(writes.removed, IsEmpty());
}

TEST(WorkerRosterTest, ARosterNotKnownWholeWaitsForTheGraceThenIsStored) {
  WorkerRoster roster(kRosterLinger);
  roster.Restore(StoredRoster(), kRosterIncarnation);
  EXPECT_TRUE(roster.Awaiting());
  roster.Joined(1, "a", "A");
  EXPECT_FALSE(roster.CaughtUp(1));
  EXPECT_TRUE(roster.Awaiting());
  WriteSet::RosterWrites writes = RosterWritesAt(roster, kRosterStart);
  EXPECT_EQ(writes.whole_as_of, 0u);  // not yet
  EXPECT_THAT(writes.added, ElementsAre(Pair("i/a", "A")));
  roster.GraceEnded(kRosterStart);
  EXPECT_FALSE(roster.Awaiting());
  // Stored whole once workers it could not know of are gone (a linger).
  EXPECT_EQ(RosterWritesAt(roster, kRosterStart).whole_as_of, 0u);
  EXPECT_EQ(roster.NextDue(), kRosterStart + kRosterLinger);
  EXPECT_EQ(RosterWritesAt(roster, kRosterStart + kRosterLinger).whole_as_of,
            kRosterIncarnation);
  EXPECT_EQ(RosterWritesAt(roster, kRosterStart + kRosterLinger).whole_as_of,
            0u);  // once
}

// The first start of a store: no worker can come back from before it.
TEST(WorkerRosterTest, TheFirstStartOfAStoreIsWhole) {
  WorkerRoster roster(kRosterLinger);
  roster.Restore(StoredRoster(), 1);
  EXPECT_FALSE(roster.Awaiting());
  EXPECT_EQ(RosterWritesAt(roster, kRosterStart).whole_as_of, 1u);
}

// Whole as of a start that was not the one before: a dagd that kept no
// roster ran in between, and workers may have joined it unrecorded.
TEST(WorkerRosterTest, ARosterWholeAsOfAnEarlierStartIsNotWhole) {
  WorkerRoster roster(kRosterLinger);
  roster.Restore(WholeRoster({{"i/a", "A"}}), kRosterIncarnation + 1);
  roster.Joined(1, "a", "A");
  EXPECT_FALSE(roster.CaughtUp(1));
  EXPECT_TRUE(roster.Awaiting());
  EXPECT_EQ(RosterWritesAt(roster, kRosterStart).whole_as_of, 0u);
}

TEST(WorkerRosterTest, AnAwaitedWorkerBackAndGoneAgainStaysAwaited) {
  WorkerRoster roster(kRosterLinger);
  roster.Restore(WholeRoster({{"i/a", "A"}}), kRosterIncarnation);
  roster.Joined(1, "a", "A");
  roster.Left(1, kRosterStart);
  // The departure falls due, but the grace decides for those awaited.
  WriteSet::RosterWrites writes =
      RosterWritesAt(roster, kRosterStart + kRosterLinger);
  EXPECT_THAT(writes.removed, IsEmpty());
  EXPECT_TRUE(roster.Awaiting());
  roster.GraceEnded(kRosterStart + kRosterLinger);
  EXPECT_THAT(RosterWritesAt(roster, kRosterStart + kRosterLinger).removed,
              ElementsAre("i/a"));
}

}  // namespace
}  // namespace dagd
