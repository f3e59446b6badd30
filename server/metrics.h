#ifndef DAGD_SERVER_METRICS_H_
#define DAGD_SERVER_METRICS_H_

#include <array>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "prometheus/counter.h"
#include "prometheus/exposer.h"
#include "prometheus/gauge.h"
#include "prometheus/histogram.h"
#include "prometheus/registry.h"
#include "server/coordinator.h"

namespace dagd {

// The coordinator's Prometheus metrics. Update() runs on the loop thread
// once per turn; prometheus-cpp's metrics are atomic, so scrapes from the
// exposer's threads read them without a lock.
class CoordinatorMetrics {
 public:
  explicit CoordinatorMetrics(prometheus::Registry& registry);
  void Update(const TurnStats& stats);

 private:
  prometheus::Counter* jobs_submitted_;
  std::array<prometheus::Counter*, 6> jobs_finished_{};  // by v1::JobState
  prometheus::Gauge* jobs_pending_;
  prometheus::Gauge* jobs_running_;
  std::array<prometheus::Gauge*, 9> tasks_{};  // by v1::TaskState
  prometheus::Gauge* workers_;
  prometheus::Gauge* slots_total_;
  prometheus::Gauge* slots_busy_;
  prometheus::Gauge* ready_queue_;
  prometheus::Histogram* turn_seconds_;
  prometheus::Histogram* turn_events_;
};

// Serves /metrics over HTTP. `address` is host:port; port 0 picks one.
class MetricsServer {
 public:
  static absl::StatusOr<std::unique_ptr<MetricsServer>> Start(
      const std::string& address,
      std::shared_ptr<prometheus::Registry> registry);
  int port() const { return port_; }

 private:
  std::unique_ptr<prometheus::Exposer> exposer_;
  int port_ = 0;
};

}  // namespace dagd

#endif  // DAGD_SERVER_METRICS_H_
