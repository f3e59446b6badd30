#include "server/scheduler.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "google/protobuf/util/time_util.h"
#include "proto/object_location.h"
#include "server/scheduler_internal.h"
#include "storage/base/backoff.h"
#include "storage/crc32c.h"
#include "storage/object_store.h"

namespace dagd {
namespace {

using google::protobuf::util::TimeUtil;

absl::Duration ToDuration(const google::protobuf::Duration& d) {
  return absl::Seconds(d.seconds()) + absl::Nanoseconds(d.nanos());
}

// A task's retry policy as a backoff policy: the job file's defaults (1 s,
// doubling, at most 60 s) where a field is unset.
BackoffPolicy RetryBackoff(const v1::RetryPolicy& retry) {
  BackoffPolicy policy;
  if (retry.has_initial_backoff()) {
    policy.initial = ToDuration(retry.initial_backoff());
  }
  if (retry.has_max_backoff()) policy.max = ToDuration(retry.max_backoff());
  if (retry.multiplier() != 0) policy.multiplier = retry.multiplier();
  return policy;
}

}  // namespace

std::string WorkerIdName(WorkerId id) {
  const uint64_t incarnation = id >> 32;
  const uint64_t n = id & 0xffffffffu;
  if (incarnation == 0) return absl::StrCat("w", n);
  return absl::StrCat("w", incarnation, "-", n);
}

namespace {

PlacementOptions PlacementOptionsOf(const SchedulerOptions& options) {
  PlacementOptions placement;
  placement.burst_after = options.lambda_burst_after;
  placement.grant_max_run_time = options.grant_max_run_time;
  // GrantAhead checks grant_depth itself.
  placement.grants = options.grant_depth > 0 || options.grant_queued > 0;
  placement.fill = options.fill;
  return placement;
}

}  // namespace

Scheduler::Scheduler(SchedulerOptions options, Clock* clock,
                     std::function<double()> random,
                     std::unique_ptr<PlacementPolicy> placement)
    : options_(options),
      clock_(clock),
      random_(std::move(random)),
      placement_(placement != nullptr
                     ? std::move(placement)
                     : MakeDefaultPlacementPolicy(PlacementOptionsOf(options))),
      sorter_(MakeFairShareSorter()),
      acks_(options.acks) {}

Scheduler::~Scheduler() = default;

Scheduler::Job* Scheduler::FindJob(uint64_t seq) {
  auto it = jobs_.find(seq);
  return it == jobs_.end() || it->second->finished ? nullptr : it->second.get();
}

const Scheduler::Job* Scheduler::FindJob(uint64_t seq) const {
  auto it = jobs_.find(seq);
  return it == jobs_.end() || it->second->finished ? nullptr : it->second.get();
}

Scheduler::Job* Scheduler::FindAnyJob(uint64_t seq) {
  auto it = jobs_.find(seq);
  return it == jobs_.end() ? nullptr : it->second.get();
}

const Scheduler::Job* Scheduler::FindAnyJob(uint64_t seq) const {
  auto it = jobs_.find(seq);
  return it == jobs_.end() ? nullptr : it->second.get();
}

uint32_t Scheduler::InternTenant(absl::string_view name) {
  const uint32_t id = tenant_names_.Intern(name);
  if (id < tenant_loads_.size()) return id;
  tenant_loads_.resize(id + 1);
  sorter_->SetShare(id, ShareOf(name));
  tenant_bursts_.resize(id + 1);
  tenant_bursts_[id] = ShareOf(name).lambda_burst;
  return id;
}

const TenantShare& Scheduler::ShareOf(absl::string_view tenant) const {
  auto it = tenant_shares_.find(tenant);
  return it == tenant_shares_.end() ? other_tenants_share_ : it->second;
}

void Scheduler::SetTenantShares(
    absl::flat_hash_map<std::string, TenantShare> named, TenantShare others) {
  tenant_shares_ = std::move(named);
  other_tenants_share_ = others;
  for (uint32_t id = 0; id < tenant_names_.size(); ++id) {
    sorter_->SetShare(id, ShareOf(tenant_names_.Name(id)));
    if (id < tenant_bursts_.size()) {
      tenant_bursts_[id] = ShareOf(tenant_names_.Name(id)).lambda_burst;
    }
  }
}

TenantLoad Scheduler::LoadOf(absl::string_view tenant) const {
  const uint32_t id = tenant_names_.Find(tenant);
  return id < tenant_loads_.size() ? tenant_loads_[id] : TenantLoad{};
}

Scheduler::Job& Scheduler::InsertJob(uint64_t seq, CompiledJob graph,
                                     v1::JobStatus status) {
  auto job = std::make_unique<Job>();
  job->seq = seq;
  job->graph = std::move(graph);
  job->status = std::move(status);
  job->tenant = InternTenant(job->status.tenant());
  job->usage.tenant = job->tenant;
  const uint32_t n = job->graph.size();
  TenantLoad& load = tenant_loads_[job->tenant];
  ++load.jobs;
  load.tasks += n;
  load.spec_bytes += job->graph.spec_bytes;
  job->tasks.resize(n);
  job->results.resize(n);
  job->unfinished = n;
  job->usage.max_parallelism = job->graph.header->max_parallelism();
  job->counts[v1::TASK_PENDING] = n;
  task_counts_[v1::TASK_PENDING] += n;
  ++job_counts_[job->status.state()];
  // Demands and groups by kind: a job has few kinds, however many tasks.
  const std::vector<TaskKind>& kinds = job->graph.kinds;
  std::vector<uint32_t> demand_of(kinds.size());
  std::vector<GroupId> group_of(kinds.size(), kNoGroup);
  for (uint32_t k = 0; k < kinds.size(); ++k) {
    demand_of[k] = DemandOf(kinds[k], job->graph.executors[kinds[k].executor]);
    if (kinds[k].exclusive_group.empty()) continue;
    group_of[k] = group_names_.Intern(kinds[k].exclusive_group);
    if (group_of[k] >= group_waiters_.size()) {
      group_waiters_.resize(group_of[k] + 1);
    }
  }
  job->demands = demand_of;
  std::sort(job->demands.begin(), job->demands.end());
  job->demands.erase(std::unique(job->demands.begin(), job->demands.end()),
                     job->demands.end());
  for (uint32_t d : job->demands) {
    Demand& demand = *demands_[d];
    if (demand.users++ == 0 && demand.idle_since != 0) {
      idle_demands_.erase(demand.idle_since);
      demand.idle_since = 0;
    }
  }
  for (uint32_t i = 0; i < n; ++i) {
    const uint32_t kind = job->graph.kind_of[i];
    job->tasks[i].remaining = job->graph.dep_count[i];
    job->tasks[i].demand = demand_of[kind];
    if (group_of[kind] == kNoGroup) continue;
    if (job->group.empty()) job->group.resize(n, kNoGroup);
    job->group[i] = group_of[kind];
  }
  const v1::JobSpec& spec = *job->graph.header;
  if (spec.has_deadline() &&
      ToDuration(spec.deadline()) > absl::ZeroDuration()) {
    const absl::Time submitted =
        job->status.has_submitted_at()
            ? absl::FromUnixNanos(
                  TimeUtil::TimestampToNanoseconds(job->status.submitted_at()))
            : clock_->Now();
    job->deadline = submitted + ToDuration(spec.deadline());
    deadlines_.push(Timer{job->deadline, seq, 0, 0});
  }
  Job& ref = *job;
  jobs_.emplace(seq, std::move(job));
  return ref;
}

void Scheduler::AddJob(uint64_t seq, CompiledJob graph, v1::JobStatus status) {
  Job& job = InsertJob(seq, std::move(graph), std::move(status));
  for (uint32_t i = 0; i < job.graph.size(); ++i) {
    if (job.tasks[i].remaining == 0) MakeReady(job, i);
  }
}

void Scheduler::RestoreJob(
    uint64_t seq, CompiledJob graph, v1::JobStatus status,
    const std::vector<std::pair<uint32_t, v1::TaskStatus>>& finished,
    absl::flat_hash_map<uint32_t, StoredResult> results) {
  // Counts and notes are rebuilt from the tasks, not taken from the store.
  status.clear_counts();
  status.clear_failures();
  status.clear_waiting();
  Job& job = InsertJob(seq, std::move(graph), std::move(status));
  if (options_.recovery_grace > absl::ZeroDuration()) {
    job.held = true;
    recovery_hold_pending_ = !recovery_hold_until_;
  }
  const uint32_t n = job.graph.size();
  // One copy of each worker's name, shared by its attempts.
  absl::flat_hash_map<std::string, std::shared_ptr<const std::string>> names;
  for (const auto& [index, stored] : finished) {
    if (index >= n || !IsFinal(stored.state())) continue;
    TaskRecord& t = job.tasks[index];
    for (const v1::Attempt& a : stored.attempts()) {
      AttemptRecord& record = t.attempts.emplace_back();
      record.number = a.number();
      // A run again (its result lost) takes a number none of these had: a
      // number names the attempt's result object and seal.
      t.max_attempt = std::max(t.max_attempt, a.number());
      std::shared_ptr<const std::string>& name = names[a.worker()];
      if (name == nullptr)
        name = std::make_shared<const std::string>(a.worker());
      record.worker_name = name;
      record.error = a.error();
      record.placement = StoredPlacement(a);
      if (record.placement.kind == PlacementReason::Kind::kNone &&
          !a.placement().empty()) {
        std::vector<std::string>& texts = job.stored_placements[index];
        texts.resize(t.attempts.size());
        texts.back() = a.placement();
      }
    }
    t.error = stored.error();
    if (stored.state() == v1::TASK_FAILED) {
      job.failed = true;
      job.failures.push_back(index);
    }
    if (stored.state() == v1::TASK_CANCELLED) job.cancel_requested = true;
    if (auto it = results.find(index); it != results.end()) {
      KeepResult(job, index, std::move(it->second));
    }
    // Counted without a write: the store has it already.
    --job.counts[t.state];
    --task_counts_[t.state];
    ++job.counts[stored.state()];
    ++task_counts_[stored.state()];
    t.state = stored.state();
    --job.unfinished;
  }
  if (job.held) {
    for (uint32_t i = 0; i < n; ++i) {
      const GroupId group = job.group_of(i);
      if (group != kNoGroup && !IsFinal(job.tasks[i].state)) {
        recovery_groups_.insert(group);
      }
    }
  }
  const CompiledJob& g = job.graph;
  for (uint32_t v = 0; v < n; ++v) {
    if (job.tasks[v].state != v1::TASK_SUCCEEDED) continue;
    for (uint32_t e = g.succ_begin[v]; e < g.succ_begin[v + 1]; ++e) {
      --job.tasks[g.succ[e]].remaining;
    }
  }
  for (uint32_t i = 0; i < n; ++i) {
    if (!job.Terminal(i) && job.tasks[i].remaining == 0) MakeReady(job, i);
  }
  // Held results count their consumers once every state is in.
  std::vector<uint32_t> held;
  for (const auto& [task, ref] : job.result_refs) held.push_back(task);
  for (uint32_t task : held) TrackHeld(job, task);
  // Without a grace, holders that are not connected now are gone.
  if (options_.recovery_grace <= absl::ZeroDuration()) LoseAbsentHolders();
  MaybeFinish(job);
}

void Scheduler::MakeReady(Job& job, uint32_t task) {
  SetState(job, task, v1::TASK_READY);
  job.tasks[task].ready_since = clock_->Now();
  Enqueue(job, task);
}

void Scheduler::SetState(Job& job, uint32_t task, v1::TaskState state) {
  TaskRecord& t = job.tasks[task];
  const v1::TaskState old = t.state;
  --job.counts[old];
  --task_counts_[old];
  ++job.counts[state];
  ++task_counts_[state];
  t.state = state;
  if (IsFinal(old) && !IsFinal(state)) ++job.unfinished;  // runs again
  if (IsFinal(state) && !IsFinal(old)) {
    --job.unfinished;
    ++out_.tasks_finished[state];
    out_.writes.task_statuses.push_back(
        {job.seq, task, BuildTaskStatus(job, task, /*for_store=*/true)});
  }
  if (job.watch == Watch::kAllEvents) {
    v1::JobEvent event;
    v1::TaskEvent* e = event.mutable_task();
    e->set_task_id(std::string(job.task_id(task)));
    e->set_state(state);
    e->set_previous_state(old);
    e->set_attempt(CurrentAttempt(t));
    if (!t.attempts.empty()) {
      e->set_worker(t.attempts.back().worker_name_or_empty());
      e->set_error(t.attempts.back().error.get());
    }
    if (!t.error.empty()) e->set_error(t.error.get());
    out_.events.emplace_back(job.seq, std::move(event));
  }
}

void Scheduler::PersistJobStatus(const Job& job) {
  out_.writes.job_statuses.emplace_back(job.seq, BuildJobStatus(job, false));
}

absl::StatusOr<v1::CancelJobResponse> Scheduler::CancelJob(uint64_t seq) {
  Job* job = FindAnyJob(seq);
  if (job == nullptr) {
    return absl::NotFoundError(
        absl::StrCat("job '", JobIdFromSeq(seq), "' is not in memory"));
  }
  if (job->finished) {
    v1::CancelJobResponse response;
    response.set_state(job->status.state());
    response.set_cancelled(false);
    return response;
  }
  job->cancel_requested = true;
  CancelRest(*job, "");
  MaybeFinish(*job);
  v1::CancelJobResponse response;
  response.set_state(job->status.state());
  response.set_cancelled(true);
  return response;
}

void Scheduler::CancelRest(Job& job, absl::string_view reason) {
  for (uint32_t i = 0; i < job.graph.size(); ++i) {
    if (job.Terminal(i)) continue;
    TaskRecord& t = job.tasks[i];
    if (t.state == v1::TASK_ASSIGNED || t.state == v1::TASK_RUNNING) {
      v1::TaskRef* ref = out_.sends[t.worker].add_cancels();
      ref->set_job_id(job.status.job_id());
      ref->set_task_index(i);
      ref->set_attempt(CurrentAttempt(t));
      StopAttempt(job, i);
    }
    t.retry_wait = false;
    if (!reason.empty()) t.error = std::string(reason);
    SetState(job, i, v1::TASK_CANCELLED);
  }
}

void Scheduler::ExpireJob(Job& job) {
  job.failed = true;
  job.status.set_error(absl::StrCat(
      "deadline of ",
      absl::FormatDuration(ToDuration(job.graph.header->deadline())),
      " passed with ", job.unfinished, " task", job.unfinished == 1 ? "" : "s",
      " unfinished; they were cancelled"));
  CancelRest(job, "the job's deadline passed");
  MaybeFinish(job);
}

void Scheduler::OnTaskStarted(WorkerId id, const v1::TaskStarted& started) {
  Touch(id);
  auto seq = SeqFromJobId(started.task().job_id());
  Job* job = seq ? FindJob(*seq) : nullptr;
  const uint32_t index = started.task().task_index();
  if (job == nullptr || index >= job->graph.size()) return;
  TaskRecord& t = job->tasks[index];
  if (t.state != v1::TASK_ASSIGNED || t.worker != id ||
      CurrentAttempt(t) != started.task().attempt()) {
    return;
  }
  auto worker = workers_.find(id);
  if (worker == workers_.end() ||
      !SealMatches(*seq, index, started.task(), *worker->second)) {
    return;  // not this store's attempt
  }
  t.attempts.back().started_at =
      absl::FromUnixMillis(started.started_unix_ms());
  SetState(*job, index, v1::TASK_RUNNING);
}

void Scheduler::OnTaskResult(WorkerId id, v1::TaskResult result) {
  Worker* worker = Touch(id);
  // Acknowledged after this turn's writes are stored, whatever becomes of
  // it: a stored result, or one that is of no use, need not come again.
  if (worker != nullptr) {
    acks_.Received(id, result.report_order(),
                   result.output().data().size() + result.error().size());
  }
  auto seq = SeqFromJobId(result.task().job_id());
  const uint32_t index = result.task().task_index();
  if (worker != nullptr && seq && !worker->stopping.empty()) {
    // The end of an attempt that was cancelled: what it held is free now.
    const AttemptRef ref{*seq, index, result.task().attempt()};
    if (auto it = worker->stopping.find(ref); it != worker->stopping.end()) {
      const StoppingAttempt stopped = it->second;
      // Another store's attempt of the same numbers (see below) ends
      // nothing this one holds.
      if (stopped.holds && !SealMatches(*seq, index, result.task(), *worker)) {
        ++dropped_reports_;
        return;
      }
      worker->stopping.erase(it);
      ReleaseStopped(*worker, stopped, ref, &result);
      return;
    }
  }
  Job* job = seq ? FindJob(*seq) : nullptr;
  if (job == nullptr || index >= job->graph.size()) {
    ++dropped_reports_;
    return;
  }
  TaskRecord& t = job->tasks[index];
  if ((t.state != v1::TASK_ASSIGNED && t.state != v1::TASK_RUNNING) ||
      t.worker != id || CurrentAttempt(t) != result.task().attempt()) {
    if (AdoptResult(id, worker, *job, index, result)) {
      ++adopted_attempts_;
    } else {
      ++dropped_reports_;  // a stale attempt or a duplicate
      ReleaseUnusedOutput(*job, index, result, worker);
    }
    return;
  }
  if (worker == nullptr || !SealMatches(*seq, index, result.task(), *worker)) {
    // The same job, task and attempt numbers, but not this store's attempt:
    // a worker back from a dagd on another data directory reporting what
    // that one gave it (job ids start again at j1 there).
    ++dropped_reports_;
    return;
  }
  if (result.not_started()) {
    if (t.state == v1::TASK_ASSIGNED) {
      GiveBack(*job, index, *worker);
      return;
    }
    // It said the attempt started (TaskStarted): a failure like any
    // other, or a task could run twice, its retries never used up. The
    // worker takes nothing new all the same.
    StopPlacingOn(*worker);
  }
  if (t.granted) {
    // A report for a granted task before its predecessor's: the worker
    // broke the order it must keep. Nothing of it can be trusted; the task
    // waits for its predecessor again.
    ++dropped_reports_;
    t.attempts.back().error = "reported before the task it was granted after";
    RevokeGrants(*job, index);
    EndAttempt(*job, index);
    WaitAgain(*job, index);
    return;
  }
  if (worker != nullptr) ++worker->finished;
  AttemptRecord& attempt = t.attempts.back();
  const absl::Time started = absl::FromUnixMillis(result.started_unix_ms());
  const absl::Time finished = absl::FromUnixMillis(result.finished_unix_ms());
  if (result.started_unix_ms() != 0) attempt.started_at = started;
  attempt.finished_at = finished;
  if (result.started_unix_ms() != 0 && result.finished_unix_ms() != 0 &&
      result.finished_unix_ms() >= result.started_unix_ms()) {
    // From the reported times, not the records' PackedTimes, which hold a
    // time beyond ±292 years (a worker's broken clock) as an infinity: a
    // run time must stay finite, or a function's running mean would not.
    // One that ends before it starts (a clock stepped back) is none: it
    // would pull the means below zero, as if the function were the
    // shortest, and grants would queue behind it.
    const absl::Duration run_time = finished - started;
    out_.run_times.emplace_back(job->fn(index), run_time);
    RecordRunTime(demands_[t.demand]->fn, run_time);
    RecordJobRunTime(*job, t.demand, run_time);
  }
  EndAttempt(*job, index);
  std::string ref_problem;
  std::string size_problem;
  if (result.ok()) {
    ref_problem = OutputRefProblem(*job, index, result, worker);
    size_problem = OutputSizeProblem(result);
  }
  if (result.ok() && ref_problem.empty() && size_problem.empty()) {
    t.producer = id;
    Succeed(*job, index, result, worker);
    PassSlotsOn(*job, index, id);
  } else if (result.ok()) {
    RevokeGrants(*job, index);
    const bool permanent = ref_problem.empty();
    Fail(*job, index,
         permanent ? std::move(size_problem) : std::move(ref_problem),
         permanent);
  } else if (!result.lost_inputs().empty() &&
             RunAgainForLostInputs(*job, index, result, worker)) {
    // Its inputs are made again first; not a failure of the task.
  } else {
    Fail(*job, index, result.error(), result.permanent());
  }
}

std::string Scheduler::OutputSizeProblem(const v1::TaskResult& result) const {
  const uint64_t size = result.has_output_ref() ? result.output_ref().size()
                                                : result.output().data().size();
  if (options_.max_result_bytes == 0 || size <= options_.max_result_bytes) {
    return "";
  }
  return absl::StrCat("its output is ", size, " bytes, more than dagd takes (",
                      options_.max_result_bytes, " bytes, --max_result_bytes)");
}

std::string Scheduler::OutputRefProblem(const Job& job, uint32_t task,
                                        const v1::TaskResult& result,
                                        const Worker* reporter) const {
  if (!result.has_output_ref()) return "";
  const v1::ObjectRef& ref = result.output_ref();
  const std::string expected_key =
      ResultObjectKey(job.status.job_id(), task, result.task().attempt());
  if (ref.stored() || ref.output()) {
    // Only dagd marks a result as stored, or as an output to copy.
    return "the worker reported its output as stored by dagd";
  }
  if (IsHeld(ref)) {
    // Held: by the reporting process itself, under the attempt's key.
    if (reporter == nullptr || reporter->spec.instance.empty() ||
        ref.holder().instance() != reporter->spec.instance ||
        !ref.bucket().empty() || ref.key() != expected_key) {
      return absl::StrCat("the worker reported its output held at ",
                          ref.holder().address(), " under '", ref.key(),
                          "'; only the worker that ran an attempt holds "
                          "its output, under '",
                          expected_key, "'");
    }
    return "";
  }
  const v1::ObjectStoreConfig& store = options_.object_store;
  std::string where = absl::StrCat("s3://", ref.bucket(), "/", ref.key());
  if (store.bucket().empty()) {
    return absl::StrCat("the worker reported its output at ", where,
                        ", but dagd has no object store (--s3_bucket)");
  }
  // Under the attempt's key: each writer, and each Lambda try, writes apart.
  if (ref.bucket() != store.bucket() || !IsKeyWithin(ref.key(), expected_key)) {
    return absl::StrCat("the worker reported its output at ", where,
                        "; this attempt's output belongs at s3://",
                        store.bucket(), "/", expected_key);
  }
  return "";
}

void Scheduler::KeepResult(Job& job, uint32_t task, StoredResult result) {
  Job::Result& kept = job.results[task];
  // Most results of a turn share one type: try the last one first.
  kept.content_type =
      last_content_type_ < content_types_.size() &&
              content_types_.Name(last_content_type_) == result.content_type
          ? last_content_type_
          : content_types_.Find(result.content_type);
  if (kept.content_type < content_types_.size()) {
    last_content_type_ = kept.content_type;
  } else if (content_types_.size() < kMaxInternedContentTypes) {
    kept.content_type = content_types_.Intern(result.content_type);
  } else {
    kept.content_type = Job::kOwnContentType;
    job.content_types[task] = std::move(result.content_type);
  }
  kept.data = std::move(result.data);
  kept.crc32c =
      result.ref != nullptr ? result.ref->crc32c() : crc32c::Value(kept.data);
  if (result.ref != nullptr) {
    job.result_refs[task] = std::move(result.ref);
  } else if (!job.result_refs.empty()) {
    job.result_refs.erase(task);
  }
}

const std::string& Scheduler::ContentTypeOf(const Job& job,
                                            uint32_t task) const {
  const uint32_t id = job.results[task].content_type;
  if (id != Job::kOwnContentType) return content_types_.Name(id);
  return job.content_types.at(task);
}

StoredResult Scheduler::ResultOfTask(const Job& job, uint32_t task) const {
  StoredResult result{job.results[task].data, ContentTypeOf(job, task),
                      nullptr};
  if (auto it = job.result_refs.find(task); it != job.result_refs.end()) {
    result.ref = it->second;
  }
  return result;
}

void Scheduler::Succeed(Job& job, uint32_t task, v1::TaskResult& reported,
                        const Worker* reporter) {
  StoredResult result;
  if (reported.has_output_ref()) {
    v1::ObjectRef& ref = *reported.mutable_output_ref();
    if (IsHeld(ref) && reporter != nullptr) {
      // Who holds it is what dagd knows of the reporter, not what the
      // report says: readers over TLS check the holder's certificate
      // against this name.
      ref.mutable_holder()->set_name(reporter->spec.name);
      ref.mutable_holder()->set_address(reporter->spec.data_address);
    }
    if (IsHeld(ref) && job.graph.is_output(task)) {
      ref.set_output(true);  // TrackHeld has it copied
    }
    result.content_type = reported.output_ref().content_type();
    result.ref = std::make_shared<const v1::ObjectRef>(
        std::move(*reported.mutable_output_ref()));
  } else {
    v1::Payload& output = *reported.mutable_output();
    result.data = std::move(*output.mutable_data());
    result.content_type = std::move(*output.mutable_content_type());
  }
  out_.writes.results.push_back({job.seq, task, result});
  KeepResult(job, task, std::move(result));
  SetState(job, task, v1::TASK_SUCCEEDED);
  TrackHeld(job, task);
  ReleaseConsumedInputs(job, task);
  const CompiledJob& g = job.graph;
  for (uint32_t e = g.succ_begin[task]; e < g.succ_begin[task + 1]; ++e) {
    const uint32_t next = g.succ[e];
    TaskRecord& n = job.tasks[next];
    if (--n.remaining == 0 && n.state == v1::TASK_PENDING) MakeReady(job, next);
  }
  MaybeFinish(job);
}

void Scheduler::Fail(Job& job, uint32_t task, std::string error,
                     bool permanent) {
  TaskRecord& t = job.tasks[task];
  t.attempts.back().error = std::move(error);
  RevokeGrants(job, task);
  const v1::RetryPolicy retry =
      job.graph.tasks->GetFields(task, {v1::TaskSpec::kRetryFieldNumber})
          .retry();
  // Attempts lost with their worker do not count: the task never failed.
  const uint32_t failures = ++t.failed_attempts;
  if (permanent || failures >= std::max<uint32_t>(1, retry.max_attempts())) {
    FailForGood(job, task);
    return;
  }
  // The jitter keeps retries of a fan-out apart.
  const absl::Duration delay =
      BackoffDelay(RetryBackoff(retry), failures, random_());
  t.retry_wait = true;
  t.retry_at = clock_->Now() + delay;
  SetState(job, task, v1::TASK_READY);
  retries_.push(Timer{t.retry_at, job.seq, task, CurrentAttempt(t)});
}

void Scheduler::FailForGood(Job& job, uint32_t task) {
  TaskRecord& t = job.tasks[task];
  t.error = t.attempts.empty() ? std::string("failed")
                               : t.attempts.back().error.get();
  job.failed = true;
  job.failures.push_back(task);
  SetState(job, task, v1::TASK_FAILED);
  // Every descendant that has not finished can no longer run. The walk uses
  // an explicit stack: graphs can be deep.
  std::vector<uint32_t> stack = {task};
  const CompiledJob& g = job.graph;
  while (!stack.empty()) {
    const uint32_t v = stack.back();
    stack.pop_back();
    for (uint32_t e = g.succ_begin[v]; e < g.succ_begin[v + 1]; ++e) {
      const uint32_t next = g.succ[e];
      if (job.Terminal(next)) continue;
      job.tasks[next].retry_wait = false;
      job.tasks[next].error =
          absl::StrCat("upstream task '", job.task_id(task), "' failed");
      SetState(job, next, v1::TASK_UPSTREAM_FAILED);
      stack.push_back(next);
    }
  }
  if (!job.graph.header->continue_on_failure()) CancelRest(job, "");
  MaybeFinish(job);
}

void Scheduler::SetJobState(Job& job, v1::JobState state) {
  --job_counts_[job.status.state()];
  ++job_counts_[state];
  job.status.set_state(state);
}

void Scheduler::MaybeFinish(Job& job) {
  if (job.unfinished > 0 || job.finished) return;
  const absl::Time now = clock_->Now();
  SetJobState(job, job.failed             ? v1::JOB_FAILED
                   : job.cancel_requested ? v1::JOB_CANCELLED
                                          : v1::JOB_SUCCEEDED);
  *job.status.mutable_finished_at() =
      TimeUtil::NanosecondsToTimestamp(absl::ToUnixNanos(now));
  v1::JobStatus final_status = BuildJobStatus(job, false);
  out_.writes.job_statuses.emplace_back(job.seq, final_status);
  out_.sync = true;
  if (job.watch != Watch::kNone) {
    v1::JobEvent event;
    *event.mutable_finished() = std::move(final_status);
    out_.events.emplace_back(job.seq, std::move(event));
  }
  job.finished = true;
  TenantLoad& load = tenant_loads_[job.tenant];
  --load.jobs;
  load.tasks -= job.graph.size();
  load.spec_bytes -= job.graph.spec_bytes;
  ReleaseIntermediates(job);
  UpdateRunnable(job);
  finished_jobs_.push_back(job.seq);
}

void Scheduler::Tick() {
  const absl::Time now = clock_->Now();
  if (recovery_hold_pending_) {
    // Counted from the first turn, when dagd is about to serve, not from
    // the start of a long recovery.
    recovery_hold_until_ = now + options_.recovery_grace;
    recovery_hold_pending_ = false;
  }
  if (recovery_hold_until_ && *recovery_hold_until_ <= now) {
    ReleaseRecoveryHold();
  }
  while (!retries_.empty() && retries_.top().at <= now) {
    Timer timer = retries_.top();
    retries_.pop();
    Job* job = FindJob(timer.seq);
    if (job == nullptr) continue;
    TaskRecord& t = job->tasks[timer.task];
    if (t.state != v1::TASK_READY || !t.retry_wait ||
        CurrentAttempt(t) != timer.attempt) {
      continue;
    }
    t.retry_wait = false;
    t.ready_since = now;
    Enqueue(*job, timer.task);
  }
  while (!deadlines_.empty() && deadlines_.top().at <= now) {
    const uint64_t seq = deadlines_.top().seq;
    deadlines_.pop();
    if (Job* job = FindJob(seq)) ExpireJob(*job);
  }
  std::vector<WorkerId> lost;
  for (const auto& [id, worker] : workers_) {
    // Lambda is dagd's own, in its process: not lost by missing
    // heartbeats (a jump of the clock, a slow credentials endpoint), and,
    // dropped, never back to run a task of executor "lambda".
    if (worker->spec.lambda) continue;
    if (now - worker->last_seen > options_.worker_timeout) lost.push_back(id);
  }
  for (WorkerId id : lost) {
    RemoveWorker(id);
    out_.timed_out_workers.push_back(id);
  }
}

std::optional<absl::Time> Scheduler::NextWakeup() const {
  std::optional<absl::Time> next = recovery_hold_until_;
  if (burst_wakeup_ && (!next || *burst_wakeup_ < *next)) next = burst_wakeup_;
  if (!retries_.empty() && (!next || retries_.top().at < *next)) {
    next = retries_.top().at;
  }
  if (!deadlines_.empty() && (!next || deadlines_.top().at < *next)) {
    next = deadlines_.top().at;
  }
  for (const auto& [id, worker] : workers_) {
    if (worker->spec.lambda) continue;  // never lost (Tick)
    absl::Time deadline = worker->last_seen + options_.worker_timeout;
    if (!next || deadline < *next) next = deadline;
  }
  return next;
}

TurnOutput Scheduler::TakeOutput() {
  for (uint64_t seq : finished_jobs_) {
    auto it = jobs_.find(seq);
    if (it == jobs_.end()) continue;
    for (size_t s = 0; s < it->second->counts.size(); ++s) {
      task_counts_[s] -= it->second->counts[s];
    }
    --job_counts_[it->second->status.state()];
    for (uint32_t d : it->second->demands) ReleaseDemand(d);
    jobs_.erase(it);
  }
  finished_jobs_.clear();
  acks_.Flush(out_.sends);
  TurnOutput out = std::move(out_);
  out_ = TurnOutput();
  return out;
}

void Scheduler::SetWatched(uint64_t seq, Watch watch) {
  Job* job = FindJob(seq);
  if (job != nullptr) job->watch = watch;
}

}  // namespace dagd
