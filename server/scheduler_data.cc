// Results held by workers: which worker process holds what, freeing
// intermediates once consumed, and running tasks again when a holder is
// lost with results some unfinished task still needs (lineage: the graph
// says how to make each result again).

#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "proto/object_location.h"
#include "server/scheduler.h"
#include "server/scheduler_internal.h"
#include "storage/object_store.h"

namespace dagd {
namespace {

// The job sequence number and task index of a held key (ResultObjectKey);
// nullopt for any other key.
std::optional<std::pair<uint64_t, uint32_t>> TaskOfKey(absl::string_view key) {
  std::optional<ResultKeyParts> parts = ParseResultObjectKey(key);
  if (!parts) return std::nullopt;
  std::optional<uint64_t> seq = SeqFromJobId(parts->job_id);
  if (!seq) return std::nullopt;
  return std::make_pair(*seq, parts->task_index);
}

// Empty for no instance: such a worker holds nothing.
std::string HolderKeyOf(absl::string_view name, absl::string_view instance) {
  return instance.empty() ? std::string() : ProcessKey(name, instance);
}

}  // namespace

std::string HolderKey(const WorkerSpec& spec) {
  return HolderKeyOf(spec.name, spec.instance);
}

std::string HolderKey(const v1::ObjectRef& ref) {
  return HolderKeyOf(ref.holder().name(), ref.holder().instance());
}

void Scheduler::AddHolder(Worker& worker) {
  const std::string& instance = worker.spec.instance;
  if (instance.empty()) return;
  const std::string holder = HolderKey(worker.spec);
  // A process's newer stream (its older one, half open, is dropped right
  // after) tells again what it holds: what dagd sent the older one may
  // never have arrived.
  holders_[holder].push_back(worker.id);
  // What the process holds, against what the jobs in memory say it holds.
  absl::flat_hash_set<absl::string_view> held(worker.spec.held.begin(),
                                              worker.spec.held.end());
  const absl::flat_hash_set<absl::string_view> reporting(
      worker.spec.reporting.begin(), worker.spec.reporting.end());
  // The outputs of attempts it still runs: held before their results are
  // sent (a reconnect may come between), and sent later on this stream.
  absl::flat_hash_set<std::string> running_outputs;
  for (const v1::TaskRef& ref : worker.spec.running) {
    running_outputs.insert(
        ResultObjectKey(ref.job_id(), ref.task_index(), ref.attempt()));
  }
  for (const std::string& key : worker.spec.held) {
    const auto task = TaskOfKey(key);
    const Job* job = task ? FindJob(task->first) : nullptr;
    if (job != nullptr && task->second >= job->graph.size()) {
      ReleaseWhenSynced(worker, key);  // no such task
      continue;
    }
    if (job == nullptr) {
      if (task) KeepIfRecorded(worker, key, *task);
      continue;
    }
    auto ref = job->result_refs.find(task->second);
    const bool referred = ref != job->result_refs.end() &&
                          HeldBy(*ref->second, worker.spec) &&
                          ref->second->key() == key;
    // The registration's kept results, taken after it, may refer to it;
    // so may its later messages' kept results, and attempts it runs.
    if (referred || reporting.contains(key) || running_outputs.contains(key)) {
      continue;
    }
    if (!worker.spec.kept_complete) {
      worker.unsettled_held.push_back(key);
      continue;
    }
    ReleaseWhenSynced(worker, key);  // nothing refers to it
  }
  // Results the jobs say it holds that it no longer does (it restarted
  // with the same instance, or freed them while dagd was down).
  auto it = held_by_.find(holder);
  if (it == held_by_.end()) return;
  std::vector<TaskRef> missing;
  for (const TaskRef& ref : it->second) {
    const Job* job = FindJob(ref.seq);
    if (job == nullptr) continue;
    auto r = job->result_refs.find(ref.task);
    if (r != job->result_refs.end() && !held.contains(r->second->key())) {
      missing.push_back(ref);
    }
  }
  for (const TaskRef& ref : missing) {
    ResultLost(*FindJob(ref.seq), ref.task,
               absl::StrCat("worker '", worker.spec.name,
                            "' no longer holds its result"));
  }
}

void Scheduler::KeepIfRecorded(const Worker& worker, const std::string& key,
                               std::pair<uint64_t, uint32_t> task) {
  // A finished job's output, or unknown: its stored record says whether it
  // still waits to be copied (a restart came first), else it is freed.
  if (options_.max_stored_result_bytes == 0) return;
  OutputToKeep& keep = out_.keep.emplace_back();
  keep.seq = task.first;
  keep.index = task.second;
  keep.ref.set_key(key);
  keep.ref.mutable_holder()->set_instance(worker.spec.instance);
  keep.ref.mutable_holder()->set_address(worker.spec.data_address);
  keep.ref.mutable_holder()->set_name(worker.spec.name);
  keep.check_record = true;
}

void Scheduler::OnKeptComplete(WorkerId id) {
  auto it = workers_.find(id);
  if (it == workers_.end()) return;
  Worker& worker = *it->second;
  if (!worker.kept_in) {
    worker.kept_in = true;
    unsettled_workers_.erase(worker.id);
    for (const v1::TaskRef& ref : std::exchange(worker.unsettled_running, {})) {
      AdoptRunning(worker, ref, /*may_wait=*/false);
    }
  }
  for (const std::string& key : worker.unsettled_held) {
    const auto task = TaskOfKey(key);
    const Job* job = task ? FindJob(task->first) : nullptr;
    if (job == nullptr) {
      // Its job finished meanwhile: as for a finished job's at registration.
      if (task) KeepIfRecorded(worker, key, *task);
      continue;
    }
    auto ref = job->result_refs.find(task->second);
    if (ref == job->result_refs.end() || !HeldBy(*ref->second, worker.spec) ||
        ref->second->key() != key) {
      ReleaseWhenSynced(worker, key);  // nothing refers to it
    }
  }
  worker.unsettled_held.clear();
}

std::vector<WorkerId> Scheduler::OtherStreamsOf(WorkerId id) const {
  std::vector<WorkerId> others;
  auto worker = workers_.find(id);
  if (worker == workers_.end()) return others;
  auto streams = holders_.find(HolderKey(worker->second->spec));
  if (streams == holders_.end()) return others;  // no instance
  for (WorkerId stream : streams->second) {
    if (stream != id) others.push_back(stream);
  }
  return others;
}

size_t Scheduler::StreamsOfProcess(absl::string_view name,
                                   absl::string_view instance) const {
  auto streams = holders_.find(HolderKeyOf(name, instance));
  if (streams == holders_.end()) return 0;
  // Not those that left but are still kept as holders (leaving_holders_).
  return std::count_if(
      streams->second.begin(), streams->second.end(),
      [this](WorkerId stream) { return workers_.contains(stream); });
}

void Scheduler::RemoveHolder(const std::string& holder, WorkerId id) {
  auto it = holders_.find(holder);
  if (it == holders_.end()) return;
  std::vector<WorkerId>& streams = it->second;
  streams.erase(std::remove(streams.begin(), streams.end(), id), streams.end());
  if (!it->second.empty()) return;
  holders_.erase(it);
  LoseHolder(holder);
}

void Scheduler::LoseHolder(const std::string& holder) {
  auto it = held_by_.find(holder);
  if (it == held_by_.end()) return;
  const std::vector<TaskRef> held(it->second.begin(), it->second.end());
  for (const TaskRef& ref : held) {
    Job* job = FindJob(ref.seq);
    if (job == nullptr) continue;
    auto r = job->result_refs.find(ref.task);
    if (r == job->result_refs.end() || HolderKey(*r->second) != holder) {
      continue;
    }
    ResultLost(*job, ref.task,
               absl::StrCat("the worker holding its result (",
                            r->second->holder().address(), ") was lost"));
  }
}

void Scheduler::LoseAbsentHolders() {
  std::vector<std::string> absent;
  for (const auto& [holder, held] : held_by_) {
    if (!holders_.contains(holder)) absent.push_back(holder);
  }
  for (const std::string& holder : absent) LoseHolder(holder);
}

uint32_t Scheduler::ReadersWaiting(const Job& job, uint32_t task) {
  const CompiledJob& g = job.graph;
  uint32_t waiting = 0;
  for (uint32_t e = g.succ_begin[task]; e < g.readers_end_of(task); ++e) {
    if (job.tasks[g.succ[e]].state != v1::TASK_SUCCEEDED) ++waiting;
  }
  return waiting;
}

void Scheduler::TrackHeld(Job& job, uint32_t task) {
  // Most jobs have no held results at all: skip the hashing then.
  if (!job.gone.empty()) job.gone.erase(task);
  if (job.result_refs.empty()) return;
  auto ref = job.result_refs.find(task);
  if (ref == job.result_refs.end() || !IsHeld(*ref->second)) return;
  held_by_[HolderKey(*ref->second)].insert(TaskRef{job.seq, task});
  const uint32_t waiting = ReadersWaiting(job, task);
  // An output (no consumers, or marked so) stays until its job is deleted,
  // or until it is copied into dagd's store. A result every consumer
  // already has (taken over after a restart) is not needed.
  if (waiting > 0) {
    job.held_consumers[task] = waiting;
  } else {
    ConsumersDone(job, task);
  }
}

void Scheduler::ConsumersDone(Job& job, uint32_t task) {
  if (!job.graph.is_output(task)) return ReleaseHeld(job, task);
  job.held_consumers.erase(task);
  // Copied only now: the copy replaces the held reference, which is the
  // one a reader's worker can fetch (without S3, a worker cannot read
  // what dagd stores).
  auto ref = job.result_refs.find(task);
  if (ref == job.result_refs.end() || !IsHeld(*ref->second)) return;
  const v1::ObjectRef& held = *ref->second;
  if (held.output() && held.size() <= options_.max_stored_result_bytes) {
    out_.keep.push_back({job.seq, task, held});
  }
}

void Scheduler::ReleaseHeld(Job& job, uint32_t task) {
  auto ref = job.result_refs.find(task);
  if (ref == job.result_refs.end() || !IsHeld(*ref->second)) return;
  // Once what made it unneeded (its consumers' results) is synced: a power
  // failure before would lose those results with their input, and make
  // again the whole chain before them.
  out_.release_when_synced.push_back(*ref->second);
  Untrack(job, task, *ref->second);
  job.result_refs.erase(ref);
  job.held_consumers.erase(task);
  job.gone.insert(task);
}

void Scheduler::ReleaseConsumedInputs(Job& job, uint32_t task) {
  if (job.held_consumers.empty()) return;
  const CompiledJob& g = job.graph;
  for (uint32_t e = g.input_begin[task]; e < g.input_begin[task + 1]; ++e) {
    const uint32_t input = g.inputs[e];
    auto it = job.held_consumers.find(input);
    if (it == job.held_consumers.end()) continue;
    if (--it->second == 0) ConsumersDone(job, input);
  }
}

void Scheduler::ReleaseIntermediates(Job& job) {
  std::vector<uint32_t> intermediates;
  for (const auto& [task, waiting] : job.held_consumers) {
    intermediates.push_back(task);
  }
  // (A marked output whose readers did not all succeed is copied now.)
  for (uint32_t task : intermediates) ConsumersDone(job, task);
  // Outputs stay held; the job leaves memory, so they are no longer
  // tracked here (deleting the job frees them: ReleaseObjects).
  for (const auto& [task, ref] : job.result_refs) Untrack(job, task, *ref);
}

void Scheduler::ReleaseObjects(const std::vector<v1::ObjectRef>& refs) {
  for (const v1::ObjectRef& ref : refs) SendRelease(ref);
}

void Scheduler::OnOutputKept(const OutputToKeep& output, KeptOutput kept) {
  const v1::ObjectRef& held = output.ref;
  if (Job* job = FindJob(output.seq)) {
    auto ref = job->result_refs.find(output.index);
    if (ref == job->result_refs.end() || !IsHeld(*ref->second) ||
        ref->second->key() != held.key()) {
      return;  // lost or made again since: the new result has its own copy
    }
    // A reader runs again (its result was lost) and reads the held copy:
    // this copy is dropped, and the next is made once it succeeded.
    if (const uint32_t waiting = ReadersWaiting(*job, output.index);
        waiting > 0 && !job->finished) {
      job->held_consumers[output.index] = waiting;
      return;
    }
    Untrack(*job, output.index, *ref->second);
    ref->second = std::make_shared<const v1::ObjectRef>(kept.stored);
    // Its final status was stored when it succeeded: store it again.
    kept.status = BuildTaskStatus(*job, output.index, /*for_store=*/true);
  }
  // A job no longer in memory cannot have been deleted meanwhile: the
  // coordinator holds deletions of a job while its outputs are copied.
  StoredResult result;
  result.content_type = kept.stored.content_type();
  result.ref = std::make_shared<const v1::ObjectRef>(std::move(kept.stored));
  out_.writes.results.push_back({output.seq, output.index, std::move(result)});
  if (kept.status) {
    out_.writes.task_statuses.push_back(
        {output.seq, output.index, *std::move(kept.status)});
  }
  if (IsHeld(held)) out_.release_when_synced.push_back(held);
}

void Scheduler::ReleaseWhenSynced(const Worker& worker,
                                  const std::string& key) {
  if (worker.spec.instance.empty()) {  // no holder to find it by later
    out_.sends[worker.id].add_release(key);
    return;
  }
  v1::ObjectRef& ref = out_.release_when_synced.emplace_back();
  ref.set_key(key);
  ref.mutable_holder()->set_name(worker.spec.name);
  ref.mutable_holder()->set_instance(worker.spec.instance);
}

void Scheduler::SendRelease(const v1::ObjectRef& ref) {
  if (!IsHeld(ref)) return;
  auto streams = holders_.find(HolderKey(ref));
  if (streams == holders_.end()) return;  // gone with its holder
  out_.sends[streams->second.back()].add_release(ref.key());
}

void Scheduler::Untrack(const Job& job, uint32_t task,
                        const v1::ObjectRef& ref) {
  if (!IsHeld(ref)) return;
  auto held = held_by_.find(HolderKey(ref));
  if (held == held_by_.end()) return;
  held->second.erase(TaskRef{job.seq, task});
  if (held->second.empty()) held_by_.erase(held);
}

bool Scheduler::RunAgainForLostInputs(Job& job, uint32_t task,
                                      const v1::TaskResult& result,
                                      const Worker* reporter) {
  const CompiledJob& g = job.graph;
  const uint32_t inputs = g.input_begin[task + 1] - g.input_begin[task];
  std::vector<uint32_t> lost;
  for (uint32_t position : result.lost_inputs()) {
    if (position >= inputs) return false;
    const uint32_t input = g.inputs[g.input_begin[task] + position];
    auto ref = job.result_refs.find(input);
    if (ref == job.result_refs.end() || !IsHeld(*ref->second)) return false;
    lost.push_back(input);
  }
  TaskRecord& t = job.tasks[task];
  t.attempts.back().error =
      absl::StrCat(result.error(), " (made again; not counted as a failure)");
  RevokeGrants(job, task);
  // Its inputs all succeeded (it ran); what it came `after` may be running
  // again.
  t.remaining = UnfinishedPredecessors(job, task);
  SetState(job, task, v1::TASK_PENDING);
  const std::string who =
      reporter != nullptr ? reporter->spec.name : std::string("a worker");
  for (uint32_t input : lost) {
    // Its holder may still have it (it was only unreachable from the
    // reader): freed there once this turn is synced, as nothing refers to
    // that attempt's key any more. (An input listed twice is gone the
    // second time.)
    if (auto ref = job.result_refs.find(input); ref != job.result_refs.end()) {
      out_.release_when_synced.push_back(*ref->second);
    }
    ResultLost(job, input,
               absl::StrCat(who, " could not get it: ", result.error()));
  }
  // Each input made again counted itself in `remaining`.
  if (t.remaining == 0 && t.state == v1::TASK_PENDING) MakeReady(job, task);
  return true;
}

void Scheduler::ReleaseUnusedOutput(const Job& job, uint32_t task,
                                    const v1::TaskResult& result,
                                    const Worker* reporter) {
  if (reporter == nullptr || !result.has_output_ref()) return;
  const v1::ObjectRef& ref = result.output_ref();
  auto used = job.result_refs.find(task);
  if (used != job.result_refs.end() && used->second->key() == ref.key()) {
    return;  // a duplicate report of the result in use
  }
  ReleaseOutputOf(*reporter, result);
}

void Scheduler::ReleaseOutputOf(const Worker& reporter,
                                const v1::TaskResult& result) {
  if (!result.ok() || !result.has_output_ref()) return;
  const v1::ObjectRef& ref = result.output_ref();
  if (!IsHeld(ref) || ref.holder().instance() != reporter.spec.instance) {
    return;
  }
  out_.sends[reporter.id].add_release(ref.key());
}

void Scheduler::ResultLost(Job& job, uint32_t task, const std::string& why) {
  auto ref = job.result_refs.find(task);
  if (ref != job.result_refs.end()) {
    Untrack(job, task, *ref->second);
    job.result_refs.erase(ref);
  }
  job.held_consumers.erase(task);
  job.gone.insert(task);
  if (job.finished || job.tasks[task].state != v1::TASK_SUCCEEDED) return;
  // Needed: by a reader that has not finished, or as an output of a job
  // still running (what its client will ask for).
  const CompiledJob& g = job.graph;
  bool needed = g.is_output(task);
  for (uint32_t e = g.succ_begin[task]; e < g.readers_end_of(task); ++e) {
    if (!job.Terminal(g.succ[e])) needed = true;
  }
  if (needed) Recompute(job, task, why);
}

void Scheduler::Recompute(Job& job, uint32_t task, const std::string& why) {
  TaskRecord& t = job.tasks[task];
  if (t.state != v1::TASK_SUCCEEDED) return;  // already running again
  const uint32_t times = ++job.recomputes[task];
  job.gone.insert(task);
  // Back to waiting: its successors that have not finished wait for it.
  SetState(job, task, v1::TASK_PENDING);
  const CompiledJob& g = job.graph;
  for (uint32_t e = g.succ_begin[task]; e < g.succ_begin[task + 1]; ++e) {
    const uint32_t next = g.succ[e];
    if (!job.Terminal(next)) {
      AwaitInputAgain(
          job, next, g.reads(task, e),
          absl::StrCat("its input '", job.task_id(task), "' was lost: ", why));
    }
  }
  if (times > options_.max_recomputes) {
    if (!t.attempts.empty()) {
      t.attempts.back().error = absl::StrCat(
          "its result was lost ", times,
          " times with the workers holding it (at most --max_recomputes=",
          options_.max_recomputes, " runs again): ", why);
    }
    FailForGood(job, task);
    return;
  }
  // It runs again once the inputs it needs are in: those gone run again
  // first. Then its inputs not in are counted afresh: a gone input's run
  // again already counted its edges to this task (AwaitInputAgain), and an
  // input listed twice, or reached through another input too, would be
  // counted twice more, and the task would wait for good.
  for (uint32_t e = g.input_begin[task]; e < g.input_begin[task + 1]; ++e) {
    const uint32_t input = g.inputs[e];
    if (job.tasks[input].state != v1::TASK_SUCCEEDED) continue;
    if (job.gone.contains(input)) {
      Recompute(job, input, "it was freed once consumed, and is needed again");
    } else if (auto ref = job.result_refs.find(input);
               ref != job.result_refs.end() &&
               LocationOf(*ref->second) == ObjectLocation::kStored) {
      // Its only copy is in dagd's store, which workers do not read.
      Recompute(job, input,
                "it was copied into dagd's store and freed on its worker "
                "once consumed, and is needed again");
    }
  }
  t.remaining = UnfinishedPredecessors(job, task);
  if (t.remaining == 0 && t.state == v1::TASK_PENDING) MakeReady(job, task);
}

uint32_t Scheduler::UnfinishedPredecessors(const Job& job,
                                           uint32_t task) const {
  const CompiledJob& g = job.graph;
  uint32_t unfinished = 0;
  for (uint32_t e = g.input_begin[task]; e < g.input_begin[task + 1]; ++e) {
    if (job.tasks[g.inputs[e]].state != v1::TASK_SUCCEEDED) ++unfinished;
  }
  if (g.after_begin.empty()) return unfinished;
  for (uint32_t e = g.after_begin[task]; e < g.after_begin[task + 1]; ++e) {
    if (job.tasks[g.after[e]].state != v1::TASK_SUCCEEDED) ++unfinished;
  }
  return unfinished;
}

void Scheduler::AwaitInputAgain(Job& job, uint32_t consumer, bool reads,
                                const std::string& why) {
  TaskRecord& c = job.tasks[consumer];
  ++c.remaining;
  // One `after` the task started when it had finished, which it did: it
  // runs on (it reads nothing of it), and its count of edges waited for
  // stays whole for the task's run again.
  if (!reads && (c.state == v1::TASK_ASSIGNED || c.state == v1::TASK_RUNNING)) {
    return;
  }
  switch (c.state) {
    case v1::TASK_READY:
      c.retry_wait = false;  // its queue entry is skipped as stale
      SetState(job, consumer, v1::TASK_PENDING);
      break;
    case v1::TASK_ASSIGNED:
    case v1::TASK_RUNNING: {
      // Its input cannot be fetched: stop it. Not a failure of the task.
      v1::TaskRef* ref = out_.sends[c.worker].add_cancels();
      ref->set_job_id(job.status.job_id());
      ref->set_task_index(consumer);
      ref->set_attempt(CurrentAttempt(c));
      c.attempts.back().error = why;
      c.attempts.back().finished_at = clock_->Now();
      RevokeGrants(job, consumer);
      StopAttempt(job, consumer);
      SetState(job, consumer, v1::TASK_PENDING);
      break;
    }
    default:
      break;  // PENDING: it waits one input more
  }
}

}  // namespace dagd
