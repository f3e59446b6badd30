#include "server/metrics.h"

#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "dagd/v1/types.pb.h"

namespace dagd {
namespace {

prometheus::Histogram::BucketBoundaries SecondsBuckets() {
  return {1e-4, 1e-3, 5e-3, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 60, 300, 1800};
}

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
  jobs_deleted_ = &prometheus::BuildCounter()
                       .Name("dagd_jobs_deleted_total")
                       .Help(
                           "Finished jobs deleted from the store, by "
                           "DeleteJob or the --retention sweep.")
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
  auto& tasks_finished = prometheus::BuildCounter()
                             .Name("dagd_tasks_finished_total")
                             .Help("Tasks that reached a final state.")
                             .Register(registry);
  for (int s = v1::TASK_SUCCEEDED; s <= v1::TASK_CANCELLED; ++s) {
    tasks_finished_[s] = &tasks_finished.Add(
        {{"state", StateLabel(v1::TaskState_Name(s), "TASK_")}});
  }
  registrations_ = &prometheus::BuildCounter()
                        .Name("dagd_worker_registrations_total")
                        .Help("Worker streams that registered.")
                        .Register(registry)
                        .Add({});
  result_bytes_received_ =
      &prometheus::BuildCounter()
           .Name("dagd_result_bytes_received_total")
           .Help(
               "Bytes of task outputs that came to dagd inline in workers' "
               "results; larger outputs stay on their workers or go to the "
               "object store.")
           .Register(registry)
           .Add({});
  held_bytes_ = &prometheus::BuildGauge()
                     .Name("dagd_worker_held_bytes")
                     .Help(
                         "Bytes of results held in connected workers' memory "
                         "(their last heartbeats).")
                     .Register(registry)
                     .Add({});
  spilled_bytes_ = &prometheus::BuildGauge()
                        .Name("dagd_worker_spilled_bytes")
                        .Help(
                            "Bytes of results connected workers spilled to "
                            "their --spill_dir (their last heartbeats).")
                        .Register(registry)
                        .Add({});
  run_seconds_ = &prometheus::BuildHistogram()
                      .Name("dagd_task_run_seconds")
                      .Help(
                          "Run time of finished attempts (worker clock), by "
                          "function.")
                      .Register(registry);
  queue_wait_seconds_ =
      &prometheus::BuildHistogram()
           .Name("dagd_task_queue_wait_seconds")
           .Help("Time from a task becoming ready to its assignment.")
           .Register(registry)
           .Add({}, SecondsBuckets());
  store_write_seconds_ = &prometheus::BuildHistogram()
                              .Name("dagd_store_write_seconds")
                              .Help("Time of one RocksDB batch commit.")
                              .Register(registry)
                              .Add({}, SecondsBuckets());
  store_write_bytes_ = &prometheus::BuildCounter()
                            .Name("dagd_store_write_bytes_total")
                            .Help("Bytes of RocksDB write batches.")
                            .Register(registry)
                            .Add({});
  store_syncs_ = &prometheus::BuildCounter()
                      .Name("dagd_store_syncs_total")
                      .Help(
                          "RocksDB commits that were fsynced: those that "
                          "clients' acknowledgements wait for, and the "
                          "periodic --sync_interval ones.")
                      .Register(registry)
                      .Add({});
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
  outbox_letters_ =
      &prometheus::BuildGauge()
           .Name("dagd_outbox_letters")
           .Help(
               "Batches, Registered messages and closes for workers that "
               "the outbox has yet to hand to their streams, after the "
               "last turn.")
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
  if (stats.deleted_jobs > 0) jobs_deleted_->Increment(stats.deleted_jobs);
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
  outbox_letters_->Set(static_cast<double>(stats.outbox_letters));
  turn_seconds_->Observe(absl::ToDoubleSeconds(stats.duration));
  turn_events_->Observe(stats.events);
  for (int s = v1::TASK_SUCCEEDED; s <= v1::TASK_CANCELLED; ++s) {
    if (stats.tasks_finished[s] > 0) {
      tasks_finished_[s]->Increment(stats.tasks_finished[s]);
    }
  }
  registrations_->Increment(stats.worker_registrations);
  result_bytes_received_->Increment(stats.result_bytes_received);
  held_bytes_->Set(stats.counts.held_bytes);
  spilled_bytes_->Set(stats.counts.spilled_bytes);
  for (const auto& [fn, duration] : stats.run_times) {
    RunTimeOf(fn).Observe(absl::ToDoubleSeconds(duration));
  }
  for (absl::Duration wait : stats.queue_waits) {
    queue_wait_seconds_->Observe(absl::ToDoubleSeconds(wait));
  }
  if (stats.committed) {
    store_write_seconds_->Observe(absl::ToDoubleSeconds(stats.commit_duration));
    store_write_bytes_->Increment(stats.commit_bytes);
    if (stats.synced) store_syncs_->Increment();
  }
}

prometheus::Histogram& CoordinatorMetrics::RunTimeOf(const std::string& fn) {
  auto it = run_by_fn_.find(fn);
  if (it != run_by_fn_.end()) return *it->second;
  if (run_by_fn_.size() >= kMaxFunctionLabels) {
    static constexpr char kOther[] = "(other)";
    if (other_fns_ == nullptr) {
      other_fns_ = &run_seconds_->Add({{"fn", kOther}}, SecondsBuckets());
    }
    return *other_fns_;
  }
  prometheus::Histogram& histogram =
      run_seconds_->Add({{"fn", fn}}, SecondsBuckets());
  run_by_fn_.emplace(fn, &histogram);
  return histogram;
}

RpcMetrics::RpcMetrics(prometheus::Registry& registry)
    : requests_(&prometheus::BuildCounter()
                     .Name("dagd_grpc_requests_total")
                     .Help("Finished JobService calls, by method and code.")
                     .Register(registry)) {}

void RpcMetrics::OnRpcDone(absl::string_view method, grpc::StatusCode code) {
  static const char* const kCodes[] = {"OK",
                                       "CANCELLED",
                                       "UNKNOWN",
                                       "INVALID_ARGUMENT",
                                       "DEADLINE_EXCEEDED",
                                       "NOT_FOUND",
                                       "ALREADY_EXISTS",
                                       "PERMISSION_DENIED",
                                       "RESOURCE_EXHAUSTED",
                                       "FAILED_PRECONDITION",
                                       "ABORTED",
                                       "OUT_OF_RANGE",
                                       "UNIMPLEMENTED",
                                       "INTERNAL",
                                       "UNAVAILABLE",
                                       "DATA_LOSS",
                                       "UNAUTHENTICATED"};
  const int index = static_cast<int>(code);
  const std::string code_name =
      index >= 0 && index < 17 ? kCodes[index] : absl::StrCat(index);
  requests_->Add({{"method", std::string(method)}, {"code", code_name}})
      .Increment();
}

}  // namespace dagd
