#include "server/metrics.h"

#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "prometheus/registry.h"

namespace dagd {
namespace {

size_t RunTimeSeries(prometheus::Registry& registry, bool* other) {
  for (const prometheus::MetricFamily& family : registry.Collect()) {
    if (family.name != "dagd_task_run_seconds") continue;
    for (const prometheus::ClientMetric& metric : family.metric) {
      for (const prometheus::ClientMetric::Label& label : metric.label) {
        if (label.name == "fn" && label.value == "(other)") *other = true;
      }
    }
    return family.metric.size();
  }
  return 0;
}

// Workers offering ever new function names (5,000 from one grew /metrics
// from 11 KB to 20 MB) cannot grow the run-time series without bound.
TEST(CoordinatorMetricsTest, FunctionLabelsAreBounded) {
  prometheus::Registry registry;
  CoordinatorMetrics metrics(registry);
  TurnStats stats;
  for (int i = 0; i < 5000; ++i) {
    stats.run_times.emplace_back(absl::StrCat("fn", i), absl::Seconds(1));
  }
  metrics.Update(stats);
  bool other = false;
  EXPECT_EQ(RunTimeSeries(registry, &other),
            CoordinatorMetrics::kMaxFunctionLabels + 1);
  EXPECT_TRUE(other);
}

TEST(CoordinatorMetricsTest, OutboxBacklogIsAGauge) {
  prometheus::Registry registry;
  CoordinatorMetrics metrics(registry);
  auto backlog = [&registry]() -> double {
    for (const prometheus::MetricFamily& family : registry.Collect()) {
      if (family.name == "dagd_outbox_letters") {
        return family.metric.at(0).gauge.value;
      }
    }
    return -1;
  };
  TurnStats stats;
  stats.outbox_letters = 1000;
  metrics.Update(stats);
  EXPECT_EQ(backlog(), 1000);
  stats.outbox_letters = 0;
  metrics.Update(stats);
  EXPECT_EQ(backlog(), 0);
}

}  // namespace
}  // namespace dagd
