#include "worker/worker_metrics.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "prometheus/text_serializer.h"

namespace dagd {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

std::string Text(const WorkerMetrics& metrics) {
  return prometheus::TextSerializer().Serialize(metrics.registry()->Collect());
}

v1::Assignment AssignmentOf(const std::string& fn) {
  v1::Assignment assignment;
  assignment.set_fn(fn);
  return assignment;
}

v1::TaskResult ResultOf(bool ok) {
  v1::TaskResult result;
  result.set_ok(ok);
  return result;
}

TEST(WorkerMetricsTest, ExposesEveryNameFromTheStart) {
  WorkerMetrics metrics(4, {"add", "exec"});
  std::string text = Text(metrics);
  for (const char* line :
       {"# TYPE dagd_worker_connected gauge", "dagd_worker_connected 0",
        "# TYPE dagd_worker_reconnects_total counter",
        "dagd_worker_reconnects_total 0",
        "# TYPE dagd_worker_slots_capacity gauge",
        "dagd_worker_slots_capacity 4", "# TYPE dagd_worker_slots_busy gauge",
        "dagd_worker_slots_busy 0", "# TYPE dagd_worker_tasks_total counter",
        "# TYPE dagd_worker_task_seconds histogram",
        R"(dagd_worker_tasks_total{fn="exec",outcome="failed"} 0)",
        R"(dagd_worker_task_seconds_count{fn="add"} 0)"}) {
    EXPECT_THAT(text, HasSubstr(line));
  }
}

TEST(WorkerMetricsTest, FollowsTheStatus) {
  WorkerMetrics metrics(1, {});
  WorkerState state;
  state.registered = true;
  metrics.StatusChanged(state);
  EXPECT_THAT(Text(metrics), HasSubstr("dagd_worker_connected 1"));
  state.registered = false;
  metrics.StatusChanged(state);
  state.registered = true;
  state.reconnects = 1;
  metrics.StatusChanged(state);
  metrics.StatusChanged(state);  // the same state again counts nothing
  std::string text = Text(metrics);
  EXPECT_THAT(text, HasSubstr("dagd_worker_connected 1"));
  EXPECT_THAT(text, HasSubstr("dagd_worker_reconnects_total 1"));
}

TEST(WorkerMetricsTest, CountsSlotsAndAttemptsByFunction) {
  WorkerMetrics metrics(4, {"add"});
  metrics.SlotsTaken(2);
  metrics.SlotsTaken(1);
  EXPECT_THAT(Text(metrics), HasSubstr("dagd_worker_slots_busy 3"));
  metrics.SlotsFreed(2);
  metrics.AttemptFinished(AssignmentOf("exec"), ResultOf(true),
                          absl::Milliseconds(200));
  metrics.AttemptFinished(AssignmentOf("exec"), ResultOf(false),
                          absl::Seconds(2));
  metrics.AttemptFinished(AssignmentOf("add"), ResultOf(true),
                          absl::ZeroDuration());
  std::string text = Text(metrics);
  EXPECT_THAT(text, HasSubstr("dagd_worker_slots_busy 1"));
  EXPECT_THAT(
      text,
      HasSubstr(R"(dagd_worker_tasks_total{fn="exec",outcome="succeeded"} 1)"));
  EXPECT_THAT(
      text,
      HasSubstr(R"(dagd_worker_tasks_total{fn="exec",outcome="failed"} 1)"));
  EXPECT_THAT(
      text,
      HasSubstr(R"(dagd_worker_tasks_total{fn="add",outcome="failed"} 0)"));
  EXPECT_THAT(text,
              HasSubstr(R"(dagd_worker_task_seconds_count{fn="exec"} 2)"));
  EXPECT_THAT(text,
              HasSubstr(R"(dagd_worker_task_seconds_sum{fn="exec"} 2.2)"));
  EXPECT_THAT(
      text,
      HasSubstr(R"(dagd_worker_task_seconds_bucket{fn="exec",le="0.5"} 1)"));
  EXPECT_THAT(text, Not(HasSubstr(R"(fn="sleep")")));
}

}  // namespace
}  // namespace dagd
