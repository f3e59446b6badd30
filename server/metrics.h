#ifndef DAGD_SERVER_METRICS_H_
#define DAGD_SERVER_METRICS_H_

#include <array>
#include <memory>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "prometheus/counter.h"
#include "prometheus/family.h"
#include "prometheus/gauge.h"
#include "prometheus/histogram.h"
#include "prometheus/registry.h"
#include "server/coordinator.h"
#include "server/grpc_services.h"

namespace dagd {

// The coordinator's Prometheus metrics. Update() runs on the loop thread
// once per turn; prometheus-cpp's metrics are atomic, so scrapes read them
// from the HTTP server's threads without a lock.
class CoordinatorMetrics {
 public:
  // Distinct `fn` label values of dagd_task_run_seconds; run times of
  // functions beyond them are counted under fn="(other)", so that workers
  // offering ever new function names cannot grow /metrics without bound.
  static constexpr size_t kMaxFunctionLabels = 256;

  explicit CoordinatorMetrics(prometheus::Registry& registry);
  void Update(const TurnStats& stats);
  // Jobs the --retention sweep deleted; from the sweep's thread.
  void AddSweptJobs(uint64_t n) { jobs_deleted_->Increment(n); }

 private:
  prometheus::Histogram& RunTimeOf(const std::string& fn);

  prometheus::Counter* jobs_submitted_;
  prometheus::Counter* jobs_deleted_;
  std::array<prometheus::Counter*, 6> jobs_finished_{};  // by v1::JobState
  prometheus::Gauge* jobs_pending_;
  prometheus::Gauge* jobs_running_;
  std::array<prometheus::Gauge*, 9> tasks_{};             // by v1::TaskState
  std::array<prometheus::Counter*, 9> tasks_finished_{};  // by v1::TaskState
  prometheus::Gauge* workers_;
  prometheus::Counter* registrations_;
  prometheus::Counter* result_bytes_received_;
  prometheus::Gauge* held_bytes_;
  prometheus::Gauge* spilled_bytes_;
  prometheus::Gauge* slots_total_;
  prometheus::Gauge* slots_busy_;
  prometheus::Gauge* ready_queue_;
  prometheus::Gauge* outbox_letters_;
  prometheus::Histogram* turn_seconds_;
  prometheus::Histogram* turn_events_;
  prometheus::Family<prometheus::Histogram>* run_seconds_;
  absl::flat_hash_map<std::string, prometheus::Histogram*> run_by_fn_;
  prometheus::Histogram* other_fns_ = nullptr;  // past kMaxFunctionLabels
  prometheus::Histogram* queue_wait_seconds_;
  prometheus::Histogram* store_write_seconds_;
  prometheus::Counter* store_write_bytes_;
  prometheus::Counter* store_syncs_;
};

// Counts finished JobService calls by method and status code. Called from
// gRPC threads; prometheus-cpp's Family::Add is thread-safe.
class RpcMetrics : public RpcObserver {
 public:
  explicit RpcMetrics(prometheus::Registry& registry);
  void OnRpcDone(absl::string_view method, grpc::StatusCode code) override;

 private:
  prometheus::Family<prometheus::Counter>* requests_;
};

}  // namespace dagd

#endif  // DAGD_SERVER_METRICS_H_
