// Taking over attempts the scheduler did not make: a worker that outlived
// a restart of dagd, or whose stream broke, reconnects holding attempts
// and results. Running them again would waste the work, and run side
// effects twice; so a running attempt is taken over when its task is ready
// and nothing else holds it, and a result when the task can still use it.
// After a restart, recovered jobs wait before their ready tasks run again,
// to give those workers time to come back: until the coordinator ends the
// wait (every worker on its roster is back), or a grace period runs out.

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "server/attempt_seal.h"
#include "server/scheduler.h"
#include "server/scheduler_internal.h"

namespace dagd {

bool Scheduler::SealMatches(uint64_t seq, uint32_t task, const v1::TaskRef& ref,
                            const Worker& worker) const {
  return ref.seal() ==
         AttemptSeal(attempt_key_, seq, task, ref.attempt(), worker.spec.name);
}

void Scheduler::AdoptRunning(Worker& worker, const v1::TaskRef& ref,
                             bool may_wait) {
  const std::optional<uint64_t> seq = SeqFromJobId(ref.job_id());
  Job* job = seq ? FindJob(*seq) : nullptr;
  const uint32_t task = ref.task_index();
  // An attempt not sealed for this worker was never given to it.
  if (job != nullptr && task < job->graph.size() &&
      SealMatches(*seq, task, ref, worker)) {
    TaskRecord& t = job->tasks[task];
    t.max_attempt = std::max(t.max_attempt, ref.attempt());
    const bool current =
        (t.state == v1::TASK_ASSIGNED || t.state == v1::TASK_RUNNING) &&
        CurrentAttempt(t) == ref.attempt();
    // Listed twice: taken over already.
    if (current && t.worker == worker.id) return;
    if (current && MoveFromOldStream(*job, task, worker)) return;
    // Not one of an exclusive group, which nothing would hold meanwhile.
    if (may_wait && !worker.kept_in && t.state == v1::TASK_PENDING &&
        job->group_of(task) == kNoGroup) {
      worker.unsettled_running.push_back(ref);
      unsettled_workers_.insert(worker.id);
      return;
    }
    if (auto reason = CanAdopt(*job, task, worker)) {
      Adopt(*job, task, worker, ref.attempt(), *reason);
      return;
    }
  }
  // Another attempt is current, the task or its job is done, the task's
  // inputs are not all in here (one granted after a task whose result has
  // not come back), or it would break a limit: left running, it would run
  // beside what the scheduler counts. Its end frees nothing, unless it was
  // cancelled on an older stream of this process and holds what it held
  // there.
  *out_.sends[worker.id].add_cancels() = ref;
  const AttemptRef attempt{seq.value_or(0), task, ref.attempt()};
  if (seq && MoveStoppingFromOldStream(worker, attempt)) return;
  worker.stopping.emplace(attempt, StoppingAttempt{0, 0, /*holds=*/false});
}

void Scheduler::SettleReadyAttempts() {
  for (auto it = unsettled_workers_.begin(); it != unsettled_workers_.end();) {
    auto worker = workers_.find(*it);
    if (worker == workers_.end()) {
      unsettled_workers_.erase(it++);
      continue;
    }
    Worker& w = *worker->second;
    std::vector<v1::TaskRef> waiting;
    for (v1::TaskRef& ref : std::exchange(w.unsettled_running, {})) {
      const std::optional<uint64_t> seq = SeqFromJobId(ref.job_id());
      const Job* job = seq ? FindJob(*seq) : nullptr;
      if (job != nullptr && ref.task_index() < job->graph.size() &&
          job->tasks[ref.task_index()].state == v1::TASK_PENDING) {
        waiting.push_back(std::move(ref));
      } else {
        AdoptRunning(w, ref, /*may_wait=*/false);
      }
    }
    w.unsettled_running = std::move(waiting);
    if (w.unsettled_running.empty()) {
      unsettled_workers_.erase(it++);
    } else {
      ++it;
    }
  }
}

bool Scheduler::MoveStoppingFromOldStream(Worker& worker,
                                          const AttemptRef& attempt) {
  for (WorkerId id : OtherStreamsOf(worker.id)) {
    auto it = workers_.find(id);
    if (it == workers_.end()) continue;
    Worker& old = *it->second;
    auto stopping = old.stopping.find(attempt);
    if (stopping == old.stopping.end() || !stopping->second.holds) continue;
    const StoppingAttempt stopped = stopping->second;
    const Claim claim = demands_[stopped.demand]->ClaimOf(stopped.group);
    // No room (the process lists more than its slots): it stays with the
    // old stream, and is freed when that goes.
    if (!ledger_.HasRoom(worker.resources, claim)) return false;
    old.stopping.erase(stopping);
    ledger_.MoveWorkerHalf(old.resources, worker.resources, claim);
    Reindex(old);
    Reindex(worker);
    worker.stopping.emplace(attempt, stopped);
    return true;
  }
  return false;
}

bool Scheduler::MoveFromOldStream(Job& job, uint32_t task, Worker& worker) {
  TaskRecord& t = job.tasks[task];
  auto it = workers_.find(t.worker);
  if (it == workers_.end() || worker.spec.instance.empty() ||
      HolderKey(it->second->spec) != HolderKey(worker.spec)) {
    return false;
  }
  // Workers list no grants (they drop those on reconnecting).
  if (t.granted || !HasRoom(worker, *demands_[t.demand])) return false;
  Worker& old = *it->second;
  // Its group stays held: it is let go and taken again in one step.
  ledger_.Release(&old.resources, job.usage, ClaimOf(job, task),
                  GroupHolder{job.seq, task});
  Reindex(old);
  old.running.erase(TaskRef{job.seq, task});
  Hold(job, task, worker);
  t.worker = worker.id;
  t.attempts.back().worker = worker.id;
  t.attempts.back().worker_name = worker.name;
  MarkRunnableStale(job);
  ++adopted_attempts_;
  return true;
}

std::optional<PlacementReason> Scheduler::CanAdopt(const Job& job,
                                                   uint32_t task,
                                                   const Worker& worker) const {
  const TaskRecord& t = job.tasks[task];
  TakeOverRequest request;
  request.task_ready = t.ReadyNow();
  request.has_room = HasRoom(worker, *demands_[t.demand]);
  request.group_free = ledger_.GroupFree(job.group_of(task));
  const uint64_t tenant_cap =
      ShareOf(tenant_names_.Name(job.tenant)).max_running_slots;
  request.job_at_limit =
      job.AtParallelismLimit() ||
      (tenant_cap != 0 && ledger_.tenant_slots(job.tenant) >= tenant_cap);
  return placement_->TakeOver(request);
}

void Scheduler::Adopt(Job& job, uint32_t task, Worker& worker, uint32_t number,
                      PlacementReason reason) {
  TaskRecord& t = job.tasks[task];
  AttemptRecord& attempt = t.attempts.emplace_back();
  attempt.number = number;
  attempt.placement = reason;
  attempt.worker = worker.id;
  attempt.worker_name = worker.name;
  attempt.assigned_at = clock_->Now();  // taken over then; its start is lost
  t.worker = worker.id;
  t.grant_next = kNoTask;
  Hold(job, task, worker);
  MarkRunnableStale(job);
  MarkJobRunning(job);
  SetState(job, task, v1::TASK_RUNNING);
  ++adopted_attempts_;
}

bool Scheduler::AdoptResult(WorkerId id, Worker* worker, Job& job,
                            uint32_t task, v1::TaskResult& result) {
  TaskRecord& t = job.tasks[task];
  // An attempt never started says nothing of the task; nor does one whose
  // inputs could not be had, late: they may have been made again since
  // (its report names positions, not copies), and the task runs again
  // anyway, fetching them afresh.
  if (worker == nullptr || worker->spec.foreign || result.not_started() ||
      (!result.ok() && !result.lost_inputs().empty())) {
    return false;
  }
  // A result of an attempt never given to this worker proves nothing.
  if (!SealMatches(job.seq, task, result.task(), *worker)) return false;
  t.max_attempt = std::max(t.max_attempt, result.task().attempt());
  // Its inputs must be the ones stored here.
  if (job.Terminal(task) || t.remaining != 0 || t.state == v1::TASK_PENDING) {
    return false;
  }
  const bool other_attempt =
      t.state == v1::TASK_ASSIGNED || t.state == v1::TASK_RUNNING;
  // A failure says nothing new while another attempt runs or a retry is
  // already due; a success is the task's result however it came.
  if (!result.ok() && (other_attempt || t.retry_wait)) return false;
  if (result.ok() && (!OutputRefProblem(job, task, result, worker).empty() ||
                      !OutputSizeProblem(result).empty())) {
    return false;
  }
  if (other_attempt) {
    v1::TaskRef* cancel = out_.sends[t.worker].add_cancels();
    cancel->set_job_id(job.status.job_id());
    cancel->set_task_index(task);
    cancel->set_attempt(CurrentAttempt(t));
    AttemptRecord& current = t.attempts.back();
    current.error = absl::StrCat("cancelled: attempt ", result.task().attempt(),
                                 " had succeeded already");
    current.finished_at = clock_->Now();
    RevokeGrants(job, task);
    StopAttempt(job, task);
  }
  AttemptRecord& attempt = t.attempts.emplace_back();
  attempt.number = result.task().attempt();
  attempt.placement = {PlacementReason::Kind::kReported, 0, 0};
  attempt.worker = worker != nullptr ? id : 0;
  attempt.worker_name =
      worker != nullptr ? worker->name
                        : std::make_shared<const std::string>(WorkerIdName(id));
  if (result.started_unix_ms() != 0) {
    attempt.started_at = absl::FromUnixMillis(result.started_unix_ms());
  }
  attempt.finished_at = absl::FromUnixMillis(result.finished_unix_ms());
  t.retry_wait = false;
  MarkJobRunning(job);
  if (result.ok()) {
    t.producer = id;
    Succeed(job, task, result, worker);
  } else {
    Fail(job, task, result.error(), result.permanent());
  }
  return true;
}

void Scheduler::EndRecoveryHold() {
  if (!RecoveryHeld()) return;
  recovery_hold_pending_ = false;
  ReleaseRecoveryHold();
}

void Scheduler::ReleaseRecoveryHold() {
  recovery_hold_until_.reset();
  for (auto& [seq, job] : jobs_) {
    if (!job->held) continue;
    job->held = false;
    MarkRunnableStale(*job);
  }
  // Whatever recovered work still holds a group holds it in the ledger now
  // (taken over): the others' waiters may take it.
  for (const GroupId group : std::exchange(recovery_groups_, {})) {
    if (ledger_.GroupFree(group)) WakeGroupWaiters(group);
  }
  // Workers had the grace to come back with what they hold.
  LoseAbsentHolders();
}

}  // namespace dagd
