#include "worker/worker_metrics.h"

namespace dagd {
namespace {

// From a millisecond `const` to hour-long `exec` jobs.
const prometheus::Histogram::BucketBoundaries& TaskBuckets() {
  static const auto* const kBuckets =
      new prometheus::Histogram::BucketBoundaries{0.001, 0.005, 0.01, 0.05, 0.1,
                                                  0.5,   1,     5,    10,   30,
                                                  60,    300,   1800, 3600};
  return *kBuckets;
}

}  // namespace

WorkerMetrics::WorkerMetrics(uint32_t slots,
                             const std::vector<std::string>& functions)
    : registry_(std::make_shared<prometheus::Registry>()),
      connected_(&prometheus::BuildGauge()
                      .Name("dagd_worker_connected")
                      .Help("1 while the worker is registered with dagd")
                      .Register(*registry_)
                      .Add({})),
      reconnects_(&prometheus::BuildCounter()
                       .Name("dagd_worker_reconnects_total")
                       .Help("Registrations with dagd after a lost stream")
                       .Register(*registry_)
                       .Add({})),
      slots_busy_(&prometheus::BuildGauge()
                       .Name("dagd_worker_slots_busy")
                       .Help("Slots held by accepted attempts")
                       .Register(*registry_)
                       .Add({})),
      tasks_(&prometheus::BuildCounter()
                  .Name("dagd_worker_tasks_total")
                  .Help("Attempts finished, by function and outcome")
                  .Register(*registry_)),
      task_seconds_(&prometheus::BuildHistogram()
                         .Name("dagd_worker_task_seconds")
                         .Help("Run time of finished attempts, by function")
                         .Register(*registry_)) {
  prometheus::BuildGauge()
      .Name("dagd_worker_slots_capacity")
      .Help("Tasks this worker runs at once (--slots)")
      .Register(*registry_)
      .Add({})
      .Set(slots);
  for (const std::string& fn : functions) ForFn(fn);
}

void WorkerMetrics::StatusChanged(const WorkerState& state) {
  connected_->Set(state.registered ? 1 : 0);
  absl::MutexLock lock(&mu_);
  if (state.reconnects > reconnects_seen_) {
    reconnects_->Increment(
        static_cast<double>(state.reconnects - reconnects_seen_));
    reconnects_seen_ = state.reconnects;
  }
}

void WorkerMetrics::SlotsTaken(uint32_t slots) {
  slots_busy_->Increment(slots);
}

void WorkerMetrics::SlotsFreed(uint32_t slots) {
  slots_busy_->Decrement(slots);
}

void WorkerMetrics::AttemptFinished(const v1::Assignment& assignment,
                                    const v1::TaskResult& result,
                                    absl::Duration run_time) {
  FnMetrics& metrics = ForFn(assignment.fn());
  (result.ok() ? metrics.succeeded : metrics.failed)->Increment();
  metrics.seconds->Observe(absl::ToDoubleSeconds(run_time));
}

WorkerMetrics::FnMetrics& WorkerMetrics::ForFn(const std::string& fn) {
  absl::MutexLock lock(&mu_);
  auto it = by_fn_.find(fn);
  if (it != by_fn_.end()) return it->second;
  FnMetrics metrics{
      &tasks_->Add({{"fn", fn}, {"outcome", "succeeded"}}),
      &tasks_->Add({{"fn", fn}, {"outcome", "failed"}}),
      &task_seconds_->Add({{"fn", fn}}, TaskBuckets()),
  };
  return by_fn_.emplace(fn, metrics).first->second;
}

}  // namespace dagd
