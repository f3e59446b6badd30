// The default placement policy and its rules, on plain values: no
// scheduler, no clock.
#include "server/placement_policy.h"

#include <vector>

#include "gtest/gtest.h"
#include "server/placement_rules.h"

namespace dagd {
namespace {

using Kind = PlacementReason::Kind;

Candidate CandidateOf(uint32_t free_slots, uint32_t inputs_held = 0) {
  Candidate c;
  c.free_slots = free_slots;
  c.has_room = free_slots > 0;
  c.inputs_held = inputs_held;
  return c;
}

Candidate Lambda(bool has_room = true) {
  Candidate c;
  c.lambda = true;
  c.has_room = has_room;
  c.free_slots = has_room ? 10 : 0;
  return c;
}

class DefaultPolicyTest : public ::testing::Test {
 protected:
  static PlacementOptions Options() {
    PlacementOptions options;
    options.burst_after = absl::Seconds(2);
    return options;
  }
  std::unique_ptr<PlacementPolicy> policy_ =
      MakeDefaultPlacementPolicy(Options());
};

TEST_F(DefaultPolicyTest, TheWorkerHoldingMostInputsWinsOverFreeSlots) {
  const std::vector<Candidate> candidates = {
      CandidateOf(60, 0), CandidateOf(2, 2), CandidateOf(30, 1)};
  PlacementRequest request;
  request.inputs = 3;
  const PlacementChoice choice = policy_->Place(request, candidates);
  ASSERT_EQ(choice.index, 1u);
  EXPECT_EQ(choice.reason.kind, Kind::kHoldsInputs);
  EXPECT_EQ(choice.reason.count, 2u);
  EXPECT_EQ(choice.reason.of, 3u);
  EXPECT_EQ(PlacementText(choice.reason, "w1-2", ""),
            "placed on w1-2: holds 2 of 3 inputs");
}

TEST_F(DefaultPolicyTest, WithoutInputsTheLeastLoadedWins) {
  const std::vector<Candidate> candidates = {CandidateOf(3), CandidateOf(0),
                                             CandidateOf(7)};
  const PlacementChoice choice = policy_->Place({}, candidates);
  ASSERT_EQ(choice.index, 2u);
  EXPECT_EQ(choice.reason.kind, Kind::kLeastLoaded);
  EXPECT_EQ(PlacementText(choice.reason, "w2", ""),
            "placed on w2: least loaded (7 free slots)");
}

TEST_F(DefaultPolicyTest, NoRoomNoChoiceAndNoReasonToAskAgain) {
  const std::vector<Candidate> candidates = {CandidateOf(0), CandidateOf(0)};
  const PlacementChoice choice = policy_->Place({}, candidates);
  EXPECT_FALSE(choice.index.has_value());
  EXPECT_FALSE(choice.ask_again_in.has_value());
}

TEST_F(DefaultPolicyTest, LambdaTasksGoToLambdaOnly) {
  const std::vector<Candidate> candidates = {CandidateOf(8), Lambda()};
  PlacementRequest request;
  request.executor = Executor::Kind::kLambda;
  const PlacementChoice choice = policy_->Place(request, candidates);
  ASSERT_EQ(choice.index, 1u);
  EXPECT_EQ(choice.reason.kind, Kind::kLambda);
  // A task for any worker does not go to Lambda while a worker has room.
  EXPECT_EQ(policy_->Place({}, candidates).index, 0u);
}

TEST_F(DefaultPolicyTest, BurstsOnlyAfterWaitingAndSaysWhenToAskAgain) {
  const std::vector<Candidate> candidates = {CandidateOf(0), Lambda()};
  PlacementRequest request;
  request.waited = absl::Milliseconds(500);
  PlacementChoice choice = policy_->Place(request, candidates);
  EXPECT_FALSE(choice.index.has_value());
  EXPECT_EQ(choice.ask_again_in, absl::Milliseconds(1500));
  request.waited = absl::Milliseconds(2100);
  choice = policy_->Place(request, candidates);
  ASSERT_EQ(choice.index, 1u);
  EXPECT_EQ(choice.reason.kind, Kind::kBurst);
  EXPECT_EQ(PlacementText(choice.reason, "lambda", ""),
            "burst to Lambda: every worker busy for 2.1 s");
}

TEST_F(DefaultPolicyTest, NoBurstForTasksOfAPoolOrThatNoWorkerCouldRun) {
  PlacementRequest request;
  request.waited = absl::Hours(1);
  request.executor = Executor::Kind::kPool;
  EXPECT_FALSE(
      policy_->Place(request, std::vector<Candidate>{CandidateOf(0), Lambda()})
          .index.has_value());
  request.executor = Executor::Kind::kAnyWorker;
  // Lambda is the only candidate: no worker could ever run it.
  EXPECT_FALSE(policy_->Place(request, std::vector<Candidate>{Lambda()})
                   .index.has_value());
}

TEST_F(DefaultPolicyTest, GrantsShortTasksToWorkersThatAcceptThem) {
  GrantRequest request;
  request.worker_accepts_grants = true;
  request.fits_after = true;
  request.typical_run_time = absl::Microseconds(50);
  std::optional<PlacementReason> reason = policy_->Grant(request, 4);
  ASSERT_TRUE(reason.has_value());
  EXPECT_EQ(reason->kind, Kind::kGranted);
  EXPECT_EQ(reason->count, 4u);
  EXPECT_EQ(PlacementText(*reason, "w1", "c3"),
            "granted ahead on w1 after task 'c3'");

  GrantRequest slow = request;
  slow.typical_run_time = absl::Seconds(1);
  EXPECT_FALSE(policy_->Grant(slow, 4).has_value());
  GrantRequest unknown = request;
  unknown.typical_run_time.reset();
  EXPECT_FALSE(policy_->Grant(unknown, 4).has_value());
  GrantRequest capped = request;
  capped.job_has_parallelism_cap = true;
  EXPECT_FALSE(policy_->Grant(capped, 4).has_value());
  GrantRequest refuses = request;
  refuses.worker_accepts_grants = false;
  EXPECT_FALSE(policy_->Grant(refuses, 4).has_value());
}

TEST_F(DefaultPolicyTest, TakesOverOnlyWhatFitsBesideWhatItCounts) {
  TakeOverRequest request{true, true, true};
  std::optional<PlacementReason> reason = policy_->TakeOver(request);
  ASSERT_TRUE(reason.has_value());
  EXPECT_EQ(PlacementText(*reason, "w3-1", ""),
            "taken over on w3-1: running there when it connected");
  EXPECT_FALSE(policy_->TakeOver({false, true, true}).has_value());
  EXPECT_FALSE(policy_->TakeOver({true, false, true}).has_value());
  EXPECT_FALSE(policy_->TakeOver({true, true, false}).has_value());
}

TEST(PlacementRulesTest, BytesHeldOutweighInputsMade) {
  // Two small inputs made on the first, one 40 MiB input held by the second.
  std::vector<Candidate> candidates = {CandidateOf(8, 2), CandidateOf(1, 1)};
  candidates[0].bytes_held = 2 << 10;
  candidates[1].bytes_held = 40 << 20;
  PlacementRequest request;
  request.inputs = 3;
  request.input_bytes = (40 << 20) + (2 << 10);
  std::optional<PlacementChoice> choice =
      PreferLocalThenByLoad(request, candidates, Fill::kSpread);
  ASSERT_TRUE(choice.has_value());
  EXPECT_EQ(choice->index, 1u);
  EXPECT_EQ(choice->reason.kind, PlacementReason::Kind::kHoldsBytes);
  EXPECT_EQ(PlacementText(choice->reason, "w1-2", ""),
            "placed on w1-2: holds 40 MiB of the 40 MiB of its inputs");
}

// The worker holding 100 MB of the inputs is busy; another has room and
// holds 20 MB. At 100 MB/s, moving the 80 MB more takes 0.8 s: the task
// waits that long for the holder, then goes to the other.
TEST_F(DefaultPolicyTest, ATaskWaitsForItsBusyHolderAsLongAsMovingTakes) {
  std::vector<Candidate> candidates = {CandidateOf(0), CandidateOf(4)};
  candidates[0].bytes_held = 100'000'000;
  candidates[1].bytes_held = 20'000'000;
  PlacementRequest request;
  request.inputs = 2;
  request.input_bytes = 120'000'000;
  request.transfer_bytes_per_second = 100e6;
  request.waited = absl::Milliseconds(300);
  PlacementChoice choice = policy_->Place(request, candidates);
  EXPECT_FALSE(choice.index.has_value());
  ASSERT_TRUE(choice.ask_again_in.has_value());
  EXPECT_EQ(*choice.ask_again_in, absl::Milliseconds(500));
  request.waited = absl::Milliseconds(800);
  choice = policy_->Place(request, candidates);
  EXPECT_EQ(choice.index, 1u);
  EXPECT_EQ(choice.reason.kind, Kind::kHoldsBytes);
  // With room, the holder takes it at once.
  candidates[0] = CandidateOf(1);
  candidates[0].bytes_held = 100'000'000;
  request.waited = absl::ZeroDuration();
  EXPECT_EQ(policy_->Place(request, candidates).index, 0u);
  // Nothing held, or no rate known: no waiting.
  candidates[0] = CandidateOf(0);
  request.transfer_bytes_per_second = 0;
  EXPECT_EQ(policy_->Place(request, candidates).index, 1u);
}

TEST(PlacementRulesTest, LocalityTiesGoToTheMostFreeSlots) {
  const std::vector<Candidate> candidates = {CandidateOf(2, 1),
                                             CandidateOf(5, 1), Lambda()};
  PlacementRequest request;
  request.inputs = 1;
  std::optional<PlacementChoice> choice =
      PreferLocalThenByLoad(request, candidates, Fill::kSpread);
  ASSERT_TRUE(choice.has_value());
  EXPECT_EQ(choice->index, 1u);
  // Lambda is never chosen by locality.
  EXPECT_FALSE(PreferLocalThenByLoad(
                   request, std::vector<Candidate>{Lambda(), CandidateOf(0)},
                   Fill::kSpread)
                   .has_value());
  // Packing, the fewest free slots among those with the inputs.
  choice = PreferLocalThenByLoad(request, candidates, Fill::kPack);
  ASSERT_TRUE(choice.has_value());
  EXPECT_EQ(choice->index, 0u);
  EXPECT_EQ(choice->reason.kind, Kind::kHoldsInputs);
}

// --placement=pack: the most loaded worker with room, not the least; what
// holds the inputs still comes first, and Lambda still only by its rules.
TEST(PlacementRulesTest, PackingTakesTheFewestFreeSlotsWithRoom) {
  PlacementOptions options;
  options.fill = Fill::kPack;
  options.burst_after = absl::Seconds(2);
  std::unique_ptr<PlacementPolicy> policy = MakeDefaultPlacementPolicy(options);
  std::vector<Candidate> candidates = {CandidateOf(7), CandidateOf(0),
                                       CandidateOf(2), CandidateOf(3)};
  PlacementChoice choice = policy->Place({}, candidates);
  ASSERT_EQ(choice.index, 2u);
  EXPECT_EQ(choice.reason.kind, Kind::kMostLoaded);
  EXPECT_EQ(PlacementText(choice.reason, "w1-3", ""),
            "placed on w1-3: most loaded with room (2 free slots)");
  // Equal loads: the first in the candidates' order.
  candidates[3] = CandidateOf(2);
  EXPECT_EQ(policy->Place({}, candidates).index, 2u);
  // Inputs made on the least loaded: it wins.
  candidates[0].inputs_held = 1;
  PlacementRequest request;
  request.inputs = 1;
  choice = policy->Place(request, candidates);
  EXPECT_EQ(choice.index, 0u);
  EXPECT_EQ(choice.reason.kind, Kind::kHoldsInputs);
  // No worker with room: a burst to Lambda once waited long enough.
  candidates = {CandidateOf(0), CandidateOf(0), Lambda()};
  request = {};
  request.waited = absl::Seconds(3);
  choice = policy->Place(request, candidates);
  EXPECT_EQ(choice.index, 2u);
  EXPECT_EQ(choice.reason.kind, Kind::kBurst);
}

// The stored form of every reason reads back as itself, the newest kind
// included; an unknown one reads as none.
TEST(PlacementRulesTest, StoredReasonsReadBack) {
  for (Kind kind : {Kind::kHoldsInputs, Kind::kLeastLoaded, Kind::kReported,
                    Kind::kMostLoaded}) {
    v1::Attempt attempt;
    SetStoredPlacement({kind, 5, 6}, &attempt);
    const PlacementReason back = StoredPlacement(attempt);
    EXPECT_EQ(back.kind, kind);
    EXPECT_EQ(back.count, 5u);
    EXPECT_EQ(back.of, 6u);
  }
  v1::Attempt unknown;
  unknown.set_placement_kind(static_cast<uint32_t>(Kind::kMostLoaded) + 1);
  EXPECT_EQ(StoredPlacement(unknown).kind, Kind::kNone);
}

}  // namespace
}  // namespace dagd
