// Read-only views of the scheduler's state, for queries and persistence.

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "google/protobuf/util/time_util.h"
#include "proto/object_location.h"
#include "server/scheduler.h"
#include "server/scheduler_internal.h"

namespace dagd {
namespace {

// `ref`: where the object store keeps it; null: `data` are the bytes.
v1::ResultMeta ResultMetaOf(const std::string& data, uint32_t crc32c,
                            const std::string& content_type,
                            const v1::ObjectRef* ref,
                            const v1::ObjectStoreConfig& store) {
  v1::ResultMeta meta;
  meta.set_content_type(content_type);
  meta.set_crc32c(crc32c);
  if (ref == nullptr) {
    meta.set_size_bytes(data.size());
    meta.set_location("inline");
    return meta;
  }
  meta.set_size_bytes(ref->size());
  switch (LocationOf(*ref)) {
    case ObjectLocation::kHeld:
      meta.set_location(absl::StrCat("held by worker ", ref->holder().address(),
                                     ": ", ref->key()));
      break;
    case ObjectLocation::kStored:
      meta.set_location("stored");
      break;
    case ObjectLocation::kBucket:
      // The prefix is part of the object's name as S3 knows it.
      meta.set_location(absl::StrCat("s3://", ref->bucket(), "/",
                                     store.prefix(), ref->key()));
      break;
  }
  return meta;
}

using google::protobuf::util::TimeUtil;

constexpr int kMaxNotes = 20;

google::protobuf::Timestamp ToProto(absl::Time t) {
  return TimeUtil::NanosecondsToTimestamp(absl::ToUnixNanos(t));
}

bool IsSet(absl::Time t) { return t != absl::InfinitePast(); }

}  // namespace

namespace {
// What CopyDependencies reads of a task.
constexpr std::initializer_list<uint32_t> kDependencyFields = {
    v1::TaskSpec::kInputsFieldNumber, v1::TaskSpec::kAfterFieldNumber};
}  // namespace

void CopyDependencies(const v1::TaskSpec& spec, v1::TaskStatus* status) {
  *status->mutable_inputs() = spec.inputs();
  *status->mutable_after() = spec.after();
}

v1::TaskStatus Scheduler::BuildTaskStatus(const Job& job, uint32_t task,
                                          bool for_store) const {
  const TaskRecord& t = job.tasks[task];
  v1::TaskStatus status;
  status.set_job_id(job.status.job_id());
  status.set_task_id(std::string(job.task_id(task)));
  status.set_fn(job.fn(task));
  status.set_state(t.state);
  auto stored = job.stored_placements.find(task);
  for (size_t i = 0; i < t.attempts.size(); ++i) {
    const AttemptRecord& a = t.attempts[i];
    v1::Attempt* out = status.add_attempts();
    out->set_number(a.number);
    out->set_worker(a.worker_name_or_empty());
    if (for_store && a.placement.kind != PlacementReason::Kind::kNone) {
      // Compact: the text is made when the stored status is read.
      SetStoredPlacement(a.placement, out);
    } else if (a.placement.kind == PlacementReason::Kind::kGranted) {
      out->set_placement(PlacementText(a.placement, a.worker_name_or_empty(),
                                       job.task_id(a.placement.count)));
    } else if (a.placement.kind != PlacementReason::Kind::kNone) {
      out->set_placement(
          PlacementText(a.placement, a.worker_name_or_empty(), ""));
    } else if (stored != job.stored_placements.end() &&
               i < stored->second.size()) {
      out->set_placement(stored->second[i]);
    }
    if (IsSet(a.assigned_at))
      *out->mutable_assigned_at() = ToProto(a.assigned_at);
    if (IsSet(a.started_at)) *out->mutable_started_at() = ToProto(a.started_at);
    if (IsSet(a.finished_at)) {
      *out->mutable_finished_at() = ToProto(a.finished_at);
    }
    out->set_error(a.error.get());
  }
  if (!t.attempts.empty()) {
    status.set_worker(t.attempts.back().worker_name_or_empty());
  }
  status.set_error(t.error.get());
  if (t.state == v1::TASK_SUCCEEDED && job.gone.contains(task)) {
    status.mutable_result()->set_location(
        "gone: freed once consumed, or lost with its worker");
  } else if (t.state == v1::TASK_SUCCEEDED) {
    const Job::Result& r = job.results[task];
    auto ref = job.result_refs.find(task);
    *status.mutable_result() =
        ResultMetaOf(r.data, r.crc32c, ContentTypeOf(job, task),
                     ref == job.result_refs.end() ? nullptr : ref->second.get(),
                     options_.object_store);
  }
  if (!IsFinal(t.state)) {
    status.set_waiting_reason(WaitingReason(job, task, nullptr));
  }
  return status;
}

std::string Scheduler::WaitingReason(const Job& job, uint32_t task,
                                     bool* never_fits) const {
  if (never_fits != nullptr) *never_fits = false;
  const TaskRecord& t = job.tasks[task];
  switch (t.state) {
    case v1::TASK_PENDING:
      return absl::StrCat("waiting for ", t.remaining, " upstream task",
                          t.remaining == 1 ? "" : "s");
    case v1::TASK_READY:
      break;
    default:
      return "";
  }
  if (t.retry_wait) {
    return absl::StrCat(
        "retrying at ",
        absl::FormatTime("%H:%M:%E3S", t.retry_at, absl::UTCTimeZone()),
        " UTC after: ", t.attempts.back().error.get());
  }
  const Demand& demand = *demands_[t.demand];
  const std::string& fn = functions_.Name(demand.fn);
  if (NoWorkerCanRun(demand)) {
    if (never_fits != nullptr) *never_fits = true;
    // Only Lambda runs it, whatever workers offer: say what stops Lambda.
    if (demand.executor.kind == Executor::Kind::kLambda) {
      if (options_.lambda_function.empty()) {
        return "this dagd does not dispatch to Lambda (start it with "
               "--lambda_function)";
      }
      if (!MayInvoke(demand.executor.name)) {
        return absl::StrCat(
            "Lambda function '", demand.executor.name,
            "' is not one this dagd may invoke (its "
            "--lambda_function, or --lambda_allowed_functions)");
      }
    }
    uint32_t offering = 0;
    uint32_t draining = 0;  // of those: capable of nothing new
    for (const auto& [id, worker] : workers_) {
      if (!worker->spec.lambda && worker->Offers(demand.fn)) {
        ++offering;
        if (worker->spec.draining) ++draining;
      }
    }
    if (offering == 0) return absl::StrCat("no worker offers '", fn, "'");
    if (draining == offering) {
      return absl::StrCat(offering == 1 ? "the " : "all ", offering, " worker",
                          offering == 1 ? "" : "s", " offering '", fn,
                          "' drain", offering == 1 ? "s" : "",
                          "; it waits for another to connect");
    }
    const uint32_t staying = offering - draining;
    return absl::StrCat(
        "none of the ", staying, " worker", staying == 1 ? "" : "s",
        " offering '", fn, "' can ever run it; it needs ", DemandText(demand),
        draining > 0 ? absl::StrCat(" (", draining, " more drain)") : "");
  }
  if (job.AtParallelismLimit()) {
    return absl::StrCat("the job is at its max_parallelism (",
                        job.graph.header->max_parallelism(), " tasks running)");
  }
  const GroupId group = job.group_of(task);
  if (const std::optional<GroupHolder> g = ledger_.HolderOf(group)) {
    const Job* holder = FindAnyJob(g->seq);
    // Another tenant's job is not named: to this job's tenant it does not
    // exist (README, Security).
    return absl::StrCat(
        "exclusive group '", group_names_.Name(group), "' is held by ",
        holder == nullptr ? std::string("another task")
        : holder->tenant != job.tenant
            ? std::string("a task of another tenant")
            : absl::StrCat("task '", holder->task_id(g->task), "' of job ",
                           holder->status.job_id()));
  }
  if (recovery_groups_.contains(group)) {
    return absl::StrCat("exclusive group '", group_names_.Name(group),
                        "' may be held by work dagd recovered after its "
                        "restart, until its workers are back");
  }
  return "waiting for a free slot";
}

v1::JobStatus Scheduler::BuildJobStatus(const Job& job,
                                        bool with_waiting) const {
  v1::JobStatus status = job.status;
  status.set_total_tasks(job.graph.size());
  for (int s = v1::TASK_PENDING; s <= v1::TASK_CANCELLED; ++s) {
    if (job.counts[s] == 0) continue;
    v1::TaskStateCount* count = status.add_counts();
    count->set_state(static_cast<v1::TaskState>(s));
    count->set_count(job.counts[s]);
  }
  for (uint32_t task : job.failures) {
    if (status.failures_size() == kMaxNotes) break;
    v1::TaskNote* note = status.add_failures();
    note->set_task_id(std::string(job.task_id(task)));
    note->set_text(job.tasks[task].error.get());
  }
  if (!with_waiting || job.counts[v1::TASK_READY] == 0) return status;
  // Only tasks that no connected worker could ever run: waiting for a slot,
  // a group or the job's max_parallelism is the normal course of things.
  for (uint32_t i = 0; i < job.graph.size(); ++i) {
    const TaskRecord& t = job.tasks[i];
    // The cheap test first: a big job has many ready tasks, and only the
    // notes need their text.
    if (!t.ReadyNow() || !NoWorkerCanRun(*demands_[t.demand])) {
      continue;
    }
    bool never_fits = false;
    std::string reason = WaitingReason(job, i, &never_fits);
    if (!never_fits) continue;
    v1::TaskNote* note = status.add_waiting();
    note->set_task_id(std::string(job.task_id(i)));
    note->set_text(std::move(reason));
    if (status.waiting_size() == kMaxNotes) break;
  }
  return status;
}

std::optional<v1::JobStatus> Scheduler::JobStatusOf(uint64_t seq) const {
  const Job* job = FindAnyJob(seq);
  if (job == nullptr) return std::nullopt;
  return BuildJobStatus(*job, true);
}

absl::StatusOr<uint32_t> Scheduler::FindTask(Job& job,
                                             absl::string_view task_id) {
  if (job.index == nullptr) {
    job.index = std::make_unique<TaskIdIndex>(*job.graph.tasks);
  }
  const uint32_t task = job.index->Find(task_id);
  if (task == TaskIdIndex::kNone) {
    return absl::NotFoundError(absl::StrCat("job '", job.status.job_id(),
                                            "' has no task '", task_id, "'"));
  }
  return task;
}

absl::StatusOr<v1::TaskStatus> Scheduler::TaskStatusOf(
    uint64_t seq, absl::string_view task_id) {
  Job* job = FindAnyJob(seq);
  if (job == nullptr) return absl::NotFoundError("job is not in memory");
  absl::StatusOr<uint32_t> task = FindTask(*job, task_id);
  if (!task.ok()) return task.status();
  v1::TaskStatus status = BuildTaskStatus(*job, *task);
  CopyDependencies(job->graph.tasks->GetFields(*task, kDependencyFields),
                   &status);
  return status;
}

std::optional<uint32_t> Scheduler::TaskCountOf(uint64_t seq) const {
  const Job* job = FindAnyJob(seq);
  if (job == nullptr) return std::nullopt;
  return job->graph.size();
}

std::optional<std::vector<v1::TaskStatus>> Scheduler::TaskStatusesOf(
    uint64_t seq, uint32_t from, uint32_t end) const {
  const Job* job = FindAnyJob(seq);
  if (job == nullptr) return std::nullopt;
  end = std::min<uint32_t>(end, job->graph.size());
  std::vector<v1::TaskStatus> out;
  if (from >= end) return out;
  out.reserve(end - from);
  for (uint32_t i = from; i < end; ++i) {
    CopyDependencies(job->graph.tasks->GetFields(i, kDependencyFields),
                     &out.emplace_back(BuildTaskStatus(*job, i)));
  }
  return out;
}

absl::StatusOr<StoredResult> Scheduler::ResultOf(uint64_t seq,
                                                 absl::string_view task_id) {
  Job* job = FindAnyJob(seq);
  if (job == nullptr) return absl::NotFoundError("job is not in memory");
  absl::StatusOr<uint32_t> task = FindTask(*job, task_id);
  if (!task.ok()) return task.status();
  const v1::TaskState state = job->tasks[*task].state;
  if (state != v1::TASK_SUCCEEDED) {
    return absl::NotFoundError(absl::StrCat("task '", task_id,
                                            "' has no result: it is ",
                                            v1::TaskState_Name(state)));
  }
  if (job->gone.contains(*task)) {
    return absl::NotFoundError(absl::StrCat(
        "the result of task '", task_id,
        "' is gone: a worker held it, and it was freed once every task that "
        "needed it had succeeded, or lost with that worker"));
  }
  return ResultOfTask(*job, *task);
}

std::vector<v1::WorkerInfo> Scheduler::Workers() const {
  std::vector<v1::WorkerInfo> out;
  for (const auto& [id, worker] : workers_) {
    v1::WorkerInfo& info = out.emplace_back();
    info.set_worker_id(WorkerIdName(id));
    info.set_name(worker->spec.name);
    info.set_slots(worker->spec.slots);
    const WorkerResources& resources = worker->resources;
    info.set_busy_slots(resources.busy);
    info.set_tasks_finished(worker->finished);
    info.set_draining(worker->spec.draining);
    info.set_pool(worker->spec.pool);
    for (const auto& [key, value] : worker->spec.labels) {
      (*info.mutable_labels())[key] = value;
    }
    for (const std::string& fn : worker->spec.functions) info.add_functions(fn);
    for (const std::string& runtime : worker->spec.runtimes) {
      info.add_runtimes(runtime);
    }
    for (uint32_t r = 0; r < resources.capacity.size(); ++r) {
      if (resources.capacity[r] == 0) continue;
      (*info.mutable_resources())[resource_names_.Name(r)] =
          resources.capacity[r];
      (*info.mutable_free_resources())[resource_names_.Name(r)] =
          resources.free_amounts[r];
    }
    info.set_peer(worker->spec.peer);
    info.set_data_address(worker->spec.data_address);
    const v1::Heartbeat& stats = worker->stats;
    info.set_held_bytes(stats.held_bytes());
    info.set_spilled_bytes(stats.spilled_bytes());
    info.set_sent_bytes(stats.sent_bytes());
    info.set_fetched_bytes(stats.fetched_bytes());
    info.set_transfer_seconds(stats.transfer_seconds());
    *info.mutable_connected_at() = ToProto(worker->connected_at);
    *info.mutable_last_seen() = ToProto(worker->last_seen);
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) {
    return a.worker_id().size() != b.worker_id().size()
               ? a.worker_id().size() < b.worker_id().size()
               : a.worker_id() < b.worker_id();
  });
  return out;
}

SchedulerCounts Scheduler::Counts() const {
  SchedulerCounts counts;
  counts.tasks_by_state = task_counts_;
  counts.jobs_pending = job_counts_[v1::JOB_PENDING];
  counts.jobs_running = job_counts_[v1::JOB_RUNNING];
  counts.workers = workers_.size();
  counts.slots_total = ledger_.total_slots();
  counts.slots_busy = ledger_.busy_slots();
  // Live ready tasks; the heaps may also hold entries of cancelled ones.
  counts.ready_queue = task_counts_[v1::TASK_READY];
  for (const auto& [id, worker] : workers_) {
    counts.held_bytes += worker->stats.held_bytes();
    counts.spilled_bytes += worker->stats.spilled_bytes();
  }
  return counts;
}

}  // namespace dagd
