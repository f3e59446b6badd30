// JobLayout and BuildTaskStream: the shapes the dashboard draws.
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/dashboard/job_layout.h"
#include "server/dashboard/task_stream.h"
#include "tests/server/fake_dashboard_source.h"

namespace dagd {
namespace {

using ::testing::ElementsAre;
using ::testing::Pair;

TEST(JobLayoutTest, DepthIsTheLongestChainOfInputsAndAfterAbove) {
  // a -> b -> d, a -> c -> d, and e only `after` d.
  std::vector<v1::TaskStatus> tasks = {
      MakeTask("d", "add", {"b", "c"}), MakeTask("a", "const"),
      MakeTask("b", "add", {"a"}), MakeTask("c", "add", {"a"}),
      MakeTask("e", "sleep")};
  tasks[4].add_after("d");
  JobLayout layout(tasks);
  EXPECT_EQ(layout.depth(1), 0u);  // a
  EXPECT_EQ(layout.depth(2), 1u);  // b
  EXPECT_EQ(layout.depth(3), 1u);  // c
  EXPECT_EQ(layout.depth(0), 2u);  // d
  EXPECT_EQ(layout.depth(4), 3u);  // e
  EXPECT_EQ(layout.edges().size(), 5u);
}

TEST(JobLayoutTest, GroupsTasksByDepthAndFunctionAndCountsTheirEdges) {
  std::vector<v1::TaskStatus> tasks;
  for (int i = 0; i < 4; ++i) {
    tasks.push_back(MakeTask("c" + std::to_string(i), "const"));
  }
  tasks.push_back(MakeTask("x", "add", {"c0", "c1"}));
  tasks.push_back(MakeTask("y", "add", {"c2", "c3"}));
  tasks.push_back(MakeTask("z", "identity", {"c3"}));
  JobLayout layout(tasks);
  ASSERT_EQ(layout.groups().size(), 3u);
  EXPECT_EQ(layout.groups()[0].fn, "const");
  EXPECT_EQ(layout.groups()[0].tasks.size(), 4u);
  EXPECT_EQ(layout.groups()[1].fn, "add");
  EXPECT_EQ(layout.groups()[1].depth, 1u);
  EXPECT_EQ(layout.groups()[2].fn, "identity");
  ASSERT_EQ(layout.group_edges().size(), 2u);
  EXPECT_EQ(layout.group_edges()[0].count, 4u);  // const -> add
  EXPECT_EQ(layout.group_edges()[1].count, 1u);  // const -> identity
}

TEST(JobLayoutTest, AChainOfAHundredThousandTasksNeedsNoRecursion) {
  std::vector<v1::TaskStatus> tasks = {MakeTask("t0", "const")};
  for (int i = 1; i < 100'000; ++i) {
    tasks.push_back(MakeTask("t" + std::to_string(i), "add",
                             {"t" + std::to_string(i - 1)}));
  }
  JobLayout layout(tasks);
  EXPECT_EQ(layout.depth(99'999), 99'999u);
}

v1::TaskStatus Ran(const std::string& id, const std::string& worker,
                   int64_t start_s, int64_t end_s, bool failed = false) {
  v1::TaskStatus task = MakeTask(id, "sleep");
  v1::Attempt* attempt = task.add_attempts();
  attempt->set_number(1);
  attempt->set_worker(worker);
  attempt->mutable_assigned_at()->set_seconds(start_s);
  attempt->mutable_started_at()->set_seconds(start_s);
  if (end_s >= 0) attempt->mutable_finished_at()->set_seconds(end_s);
  if (failed) attempt->set_error("boom");
  return task;
}

TEST(TaskStreamTest, OverlappingAttemptsOnAWorkerTakeRowsAFreeRowIsReused) {
  // On w1: a [10,20), b [12,30) overlaps a, c [21,25) fits where a ended.
  TaskStream stream =
      BuildTaskStream({Ran("a", "w1", 10, 20), Ran("b", "w1", 12, 30),
                       Ran("c", "w1", 21, 25), Ran("d", "w2", 11, -1)},
                      100);
  ASSERT_EQ(stream.bars.size(), 4u);
  EXPECT_EQ(stream.bars[0].row, 0u);     // a
  EXPECT_EQ(stream.bars[1].row, 1u);     // b
  EXPECT_EQ(stream.bars[2].row, 0u);     // c
  EXPECT_EQ(stream.bars[3].end_ms, -1);  // d still runs
  EXPECT_THAT(stream.workers, ElementsAre(Pair("w1", 2u), Pair("w2", 1u)));
}

TEST(TaskStreamTest, EachAttemptIsABarAndAFailedOneIsMarked) {
  v1::TaskStatus task = Ran("a", "w1", 10, 11, /*failed=*/true);
  v1::Attempt* retry = task.add_attempts();
  retry->set_number(2);
  retry->set_worker("w2");
  retry->mutable_assigned_at()->set_seconds(12);
  retry->mutable_finished_at()->set_seconds(13);
  // Never assigned: nothing to draw.
  task.add_attempts()->set_number(3);
  TaskStream stream = BuildTaskStream({task}, 100);
  ASSERT_EQ(stream.bars.size(), 2u);
  EXPECT_TRUE(stream.bars[0].failed);
  EXPECT_EQ(stream.bars[1].attempt, 2u);
  EXPECT_FALSE(stream.bars[1].failed);
  EXPECT_EQ(stream.bars[1].start_ms, 12'000);  // assigned_at: no start
}

TEST(TaskStreamTest, OverTheLimitTheLatestAttemptsAreKept) {
  std::vector<v1::TaskStatus> tasks;
  for (int i = 0; i < 10; ++i) {
    tasks.push_back(Ran("t" + std::to_string(i), "w1", 100 + i, 101 + i));
  }
  TaskStream stream = BuildTaskStream(tasks, 3);
  EXPECT_EQ(stream.omitted, 7u);
  ASSERT_EQ(stream.bars.size(), 3u);
  EXPECT_EQ(stream.bars[0].start_ms, 107'000);
  EXPECT_EQ(stream.bars[2].start_ms, 109'000);
}

}  // namespace
}  // namespace dagd
