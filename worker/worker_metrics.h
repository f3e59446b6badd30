// The worker's Prometheus metrics, in a registry of their own that an
// HttpStatusServer serves:
//   dagd_worker_connected          gauge, 1 while registered with dagd
//   dagd_worker_reconnects_total   counter, registrations after a lost stream
//   dagd_worker_slots_capacity        gauge, --slots
//   dagd_worker_slots_busy         gauge, slots held by accepted attempts
//   dagd_worker_tasks_total{fn,outcome="succeeded|failed"}   counter
//   dagd_worker_task_seconds{fn}   histogram of attempt run time
#ifndef DAGD_WORKER_WORKER_METRICS_H_
#define DAGD_WORKER_WORKER_METRICS_H_

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "prometheus/counter.h"
#include "prometheus/family.h"
#include "prometheus/gauge.h"
#include "prometheus/histogram.h"
#include "prometheus/registry.h"
#include "worker/attempt_observer.h"
#include "worker/worker_status.h"

namespace dagd {

// Thread-safe.
class WorkerMetrics : public AttemptObserver {
 public:
  // `functions` (those the worker offers) start with zero counts, so the
  // first attempt of each is a visible increase rather than a new series.
  WorkerMetrics(uint32_t slots, const std::vector<std::string>& functions);

  // What to serve; shared so a server may outlive or predecease this.
  std::shared_ptr<prometheus::Registry> registry() const { return registry_; }

  // Follows the status (connected, reconnects); a WorkerStatus listener.
  void StatusChanged(const WorkerState& state);

  void SlotsTaken(uint32_t slots) override;
  void SlotsFreed(uint32_t slots) override;
  void AttemptFinished(const v1::Assignment& assignment,
                       const v1::TaskResult& result,
                       absl::Duration run_time) override;

 private:
  struct FnMetrics {
    prometheus::Counter* succeeded;
    prometheus::Counter* failed;
    prometheus::Histogram* seconds;
  };
  FnMetrics& ForFn(const std::string& fn);

  // Constant after construction; the metrics they point to live in
  // registry_ and are thread-safe themselves.
  const std::shared_ptr<prometheus::Registry> registry_;
  prometheus::Gauge* const connected_;
  prometheus::Counter* const reconnects_;
  prometheus::Gauge* const slots_busy_;
  prometheus::Family<prometheus::Counter>* const tasks_;
  prometheus::Family<prometheus::Histogram>* const task_seconds_;

  absl::Mutex mu_;
  int64_t reconnects_seen_ ABSL_GUARDED_BY(mu_) = 0;
  std::map<std::string, FnMetrics> by_fn_ ABSL_GUARDED_BY(mu_);
};

}  // namespace dagd

#endif  // DAGD_WORKER_WORKER_METRICS_H_
