#include "client/dagctl/progress.h"
#include "gtest/gtest.h"

namespace dagd::dagctl {
namespace {

v1::JobStatus Status(v1::JobState state, uint32_t total,
                     std::vector<std::pair<v1::TaskState, uint32_t>> counts) {
  v1::JobStatus status;
  status.set_state(state);
  status.set_total_tasks(total);
  for (const auto& [task_state, count] : counts) {
    v1::TaskStateCount* c = status.add_counts();
    c->set_state(task_state);
    c->set_count(count);
  }
  return status;
}

v1::JobEvent Snapshot(const v1::JobStatus& status) {
  v1::JobEvent event;
  *event.mutable_snapshot() = status;
  return event;
}

v1::JobEvent Task(const std::string& id, v1::TaskState from, v1::TaskState to) {
  v1::JobEvent event;
  event.mutable_task()->set_task_id(id);
  event.mutable_task()->set_previous_state(from);
  event.mutable_task()->set_state(to);
  return event;
}

TEST(ProgressTrackerTest, SnapshotSetsTheCounts) {
  ProgressTracker tracker;
  EXPECT_TRUE(tracker.Apply(Snapshot(Status(v1::JOB_RUNNING, 5,
                                            {{v1::TASK_SUCCEEDED, 2},
                                             {v1::TASK_RUNNING, 1},
                                             {v1::TASK_PENDING, 2}}))));
  const Progress p = tracker.progress();
  EXPECT_EQ(p.state, v1::JOB_RUNNING);
  EXPECT_EQ(p.total, 5);
  EXPECT_EQ(p.done, 2);
  EXPECT_EQ(p.running, 1);
  EXPECT_EQ(p.failed, 0);
}

TEST(ProgressTrackerTest, FinishingTaskLeavesTheRunningCount) {
  ProgressTracker tracker;
  tracker.Apply(Snapshot(Status(
      v1::JOB_RUNNING, 3, {{v1::TASK_RUNNING, 1}, {v1::TASK_PENDING, 2}})));
  EXPECT_TRUE(tracker.Apply(Task("a", v1::TASK_RUNNING, v1::TASK_SUCCEEDED)));
  EXPECT_EQ(tracker.progress().done, 1);
  EXPECT_EQ(tracker.progress().running, 0);
}

TEST(ProgressTrackerTest, FollowsATaskThroughItsStates) {
  ProgressTracker tracker;
  tracker.Apply(Snapshot(Status(v1::JOB_PENDING, 2,
                                {{v1::TASK_READY, 1}, {v1::TASK_PENDING, 1}})));
  EXPECT_TRUE(tracker.Apply(Task("a", v1::TASK_READY, v1::TASK_ASSIGNED)));
  EXPECT_EQ(tracker.progress().state, v1::JOB_RUNNING);
  EXPECT_EQ(tracker.progress().running, 1);
  // ASSIGNED -> RUNNING changes no visible number.
  EXPECT_FALSE(tracker.Apply(Task("a", v1::TASK_ASSIGNED, v1::TASK_RUNNING)));
  EXPECT_TRUE(tracker.Apply(Task("a", v1::TASK_RUNNING, v1::TASK_FAILED)));
  EXPECT_EQ(tracker.progress().running, 0);
  EXPECT_EQ(tracker.progress().failed, 1);
  EXPECT_TRUE(
      tracker.Apply(Task("b", v1::TASK_PENDING, v1::TASK_UPSTREAM_FAILED)));
  EXPECT_EQ(tracker.progress().done, 2);
  EXPECT_EQ(tracker.progress().failed, 2);
}

TEST(ProgressTrackerTest, RetriedTaskGoesBackToWaiting) {
  ProgressTracker tracker;
  tracker.Apply(Snapshot(Status(v1::JOB_RUNNING, 1, {{v1::TASK_RUNNING, 1}})));
  tracker.Apply(Task("a", v1::TASK_RUNNING, v1::TASK_READY));
  EXPECT_EQ(tracker.progress().running, 0);
  EXPECT_EQ(tracker.progress().failed, 0);
  EXPECT_EQ(tracker.progress().done, 0);
}

TEST(ProgressTrackerTest, FinishedReplacesTheCounts) {
  ProgressTracker tracker;
  tracker.Apply(Snapshot(Status(v1::JOB_RUNNING, 2, {{v1::TASK_RUNNING, 2}})));
  v1::JobEvent finished;
  *finished.mutable_finished() = Status(
      v1::JOB_FAILED, 2, {{v1::TASK_SUCCEEDED, 1}, {v1::TASK_FAILED, 1}});
  EXPECT_TRUE(tracker.Apply(finished));
  const Progress p = tracker.progress();
  EXPECT_EQ(p.state, v1::JOB_FAILED);
  EXPECT_EQ(p.done, 2);
  EXPECT_EQ(p.failed, 1);
  EXPECT_EQ(p.running, 0);
}

TEST(ProgressTrackerTest, DoneNeverExceedsTotal) {
  ProgressTracker tracker;
  tracker.Apply(
      Snapshot(Status(v1::JOB_RUNNING, 1, {{v1::TASK_SUCCEEDED, 1}})));
  tracker.Apply(Task("ghost", v1::TASK_RUNNING, v1::TASK_SUCCEEDED));
  EXPECT_EQ(tracker.progress().done, 1);
}

Progress Done(uint32_t done, uint32_t total) {
  Progress p;
  p.state = v1::JOB_RUNNING;
  p.done = done;
  p.total = total;
  return p;
}

TEST(EstimateRemainingTest, ExtrapolatesTheRateSinceTheWatchBegan) {
  const absl::Time start = absl::FromUnixSeconds(1700000000);
  // 920 done in 3.2s: 1127 left at the same rate take 3.92s.
  std::optional<absl::Duration> eta = EstimateRemaining(
      Done(920, 2047), 0, start, start + absl::Milliseconds(3200));
  ASSERT_TRUE(eta.has_value());
  EXPECT_NEAR(absl::ToDoubleSeconds(*eta), 3.92, 0.001);
  // Tasks done before the watch began do not count towards the rate:
  // 100 in 10s since then, 900 left.
  eta = EstimateRemaining(Done(1100, 2000), 1000, start,
                          start + absl::Seconds(10));
  ASSERT_TRUE(eta.has_value());
  EXPECT_EQ(*eta, absl::Seconds(90));
}

TEST(EstimateRemainingTest, NoEstimateUntilATaskFinishes) {
  const absl::Time start = absl::FromUnixSeconds(1700000000);
  EXPECT_EQ(EstimateRemaining(Done(0, 10), 0, start, start + absl::Seconds(5)),
            std::nullopt);
  EXPECT_EQ(EstimateRemaining(Done(4, 10), 4, start, start + absl::Seconds(5)),
            std::nullopt);
}

TEST(EstimateRemainingTest, NothingLeftOrNoTimePassedIsZero) {
  const absl::Time start = absl::FromUnixSeconds(1700000000);
  EXPECT_EQ(EstimateRemaining(Done(10, 10), 0, start, start + absl::Seconds(5)),
            absl::ZeroDuration());
  EXPECT_EQ(EstimateRemaining(Done(3, 10), 0, start, start),
            absl::ZeroDuration());
  // A clock that stepped back is not a negative rate.
  EXPECT_EQ(EstimateRemaining(Done(3, 10), 0, start, start - absl::Seconds(1)),
            absl::ZeroDuration());
}

}  // namespace
}  // namespace dagd::dagctl
