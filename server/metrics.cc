#include "server/metrics.h"

#include <exception>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "dagd/v1/types.pb.h"

namespace dagd {
namespace {

// "TASK_UPSTREAM_FAILED" -> "upstream_failed", for label values.
std::string StateLabel(absl::string_view name, absl::string_view prefix) {
  name.remove_prefix(prefix.size());
  return absl::AsciiStrToLower(name);
}

}  // namespace

CoordinatorMetrics::CoordinatorMetrics(prometheus::Registry& registry) {
  jobs_submitted_ = &prometheus::BuildCounter()
                         .Name("dagd_jobs_submitted_total")
                         .Help("Jobs accepted by SubmitJob.")
                         .Register(registry)
                         .Add({});
  auto& finished = prometheus::BuildCounter()
                       .Name("dagd_jobs_finished_total")
                       .Help("Jobs that ended, by final state.")
                       .Register(registry);
  for (v1::JobState s :
       {v1::JOB_SUCCEEDED, v1::JOB_FAILED, v1::JOB_CANCELLED}) {
    jobs_finished_[s] =
        &finished.Add({{"state", StateLabel(v1::JobState_Name(s), "JOB_")}});
  }
  auto& jobs = prometheus::BuildGauge()
                   .Name("dagd_jobs")
                   .Help("Unfinished jobs, by state.")
                   .Register(registry);
  jobs_pending_ = &jobs.Add({{"state", "pending"}});
  jobs_running_ = &jobs.Add({{"state", "running"}});
  auto& tasks = prometheus::BuildGauge()
                    .Name("dagd_tasks")
                    .Help("Tasks of unfinished jobs, by state.")
                    .Register(registry);
  for (int s = v1::TASK_PENDING; s <= v1::TASK_CANCELLED; ++s) {
    tasks_[s] =
        &tasks.Add({{"state", StateLabel(v1::TaskState_Name(s), "TASK_")}});
  }
  workers_ = &prometheus::BuildGauge()
                  .Name("dagd_workers_connected")
                  .Help("Workers with an open stream.")
                  .Register(registry)
                  .Add({});
  auto& slots = prometheus::BuildGauge()
                    .Name("dagd_worker_slots")
                    .Help("Slots of connected workers.")
                    .Register(registry);
  slots_total_ = &slots.Add({{"kind", "total"}});
  slots_busy_ = &slots.Add({{"kind", "busy"}});
  ready_queue_ = &prometheus::BuildGauge()
                      .Name("dagd_ready_queue_tasks")
                      .Help("Entries in the ready queue.")
                      .Register(registry)
                      .Add({});
  turn_seconds_ =
      &prometheus::BuildHistogram()
           .Name("dagd_scheduler_turn_seconds")
           .Help("Time of one scheduler turn, commit included.")
           .Register(registry)
           .Add({}, prometheus::Histogram::BucketBoundaries{
                        1e-5, 1e-4, 5e-4, 1e-3, 5e-3, 0.01, 0.05, 0.1, 0.5, 1});
  turn_events_ = &prometheus::BuildHistogram()
                      .Name("dagd_scheduler_turn_events")
                      .Help("Events applied in one scheduler turn.")
                      .Register(registry)
                      .Add({}, prometheus::Histogram::BucketBoundaries{
                                   1, 2, 4, 8, 16, 64, 256, 1024, 4096});
}

void CoordinatorMetrics::Update(const TurnStats& stats) {
  jobs_submitted_->Increment(stats.submitted_jobs);
  for (v1::JobState state : stats.finished_jobs) {
    if (jobs_finished_[state] != nullptr) jobs_finished_[state]->Increment();
  }
  jobs_pending_->Set(stats.counts.jobs_pending);
  jobs_running_->Set(stats.counts.jobs_running);
  for (int s = v1::TASK_PENDING; s <= v1::TASK_CANCELLED; ++s) {
    tasks_[s]->Set(stats.counts.tasks_by_state[s]);
  }
  workers_->Set(stats.counts.workers);
  slots_total_->Set(stats.counts.slots_total);
  slots_busy_->Set(stats.counts.slots_busy);
  ready_queue_->Set(stats.counts.ready_queue);
  turn_seconds_->Observe(absl::ToDoubleSeconds(stats.duration));
  turn_events_->Observe(stats.events);
}

absl::StatusOr<std::unique_ptr<MetricsServer>> MetricsServer::Start(
    const std::string& address,
    std::shared_ptr<prometheus::Registry> registry) {
  auto server = std::make_unique<MetricsServer>();
  try {
    server->exposer_ = std::make_unique<prometheus::Exposer>(address);
  } catch (const std::exception& e) {
    return absl::UnavailableError(absl::StrCat("--metrics_listen '", address,
                                               "': cannot listen: ", e.what()));
  }
  server->exposer_->RegisterCollectable(registry);
  std::vector<int> ports = server->exposer_->GetListeningPorts();
  server->port_ = ports.empty() ? 0 : ports.front();
  return server;
}

}  // namespace dagd
