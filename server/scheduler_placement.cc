// Placement: which ready task runs next, and where.

#include <algorithm>
#include <utility>

#include "absl/base/casts.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "google/protobuf/util/time_util.h"
#include "server/scheduler.h"
#include "server/scheduler_internal.h"

namespace dagd {

using google::protobuf::util::TimeUtil;

namespace {}  // namespace

uint32_t Scheduler::DemandOf(const TaskKind& kind, const Executor& executor) {
  const uint32_t fn = functions_.Intern(kind.fn);
  const uint32_t slots = std::max<uint32_t>(1, kind.resources.slots());
  const auto& amounts = kind.resources.amounts();
  const auto& labels = kind.resources.labels();
  const bool plain = executor.kind == Executor::Kind::kAnyWorker &&
                     amounts.empty() && labels.empty();
  if (plain) {
    // The common case: found without building anything.
    auto it = plain_demands_.find({fn, slots});
    if (it != plain_demands_.end()) return it->second;
  }
  auto demand = std::make_unique<Demand>();
  demand->fn = fn;
  demand->slots = slots;
  // A retired demand's id first: ids stay small however many kinds come
  // and go.
  uint32_t index = demands_.size();
  if (!free_demands_.empty()) index = free_demands_.back();
  if (plain) {
    plain_demands_.emplace(std::make_pair(fn, slots), index);
  } else {
    demand->executor = executor;
    demand->labels.assign(labels.begin(), labels.end());
    std::sort(demand->labels.begin(), demand->labels.end());
    for (const auto& [name, amount] : amounts) {
      if (amount > 0) {
        demand->amounts.emplace_back(resource_names_.Intern(name), amount);
      }
    }
    std::sort(demand->amounts.begin(), demand->amounts.end());
    // Every part length-prefixed and amounts by their exact bits, so no two
    // different demands can spell the same key.
    const std::string where = executor.ToString();
    std::string key =
        absl::StrCat(fn, "/", slots, "/", where.size(), ":", where);
    for (const auto& [k, v] : demand->labels) {
      absl::StrAppend(&key, "/", k.size(), ":", k, "=", v.size(), ":", v);
    }
    for (const auto& [r, amount] : demand->amounts) {
      absl::StrAppend(&key, "/r", r, "=", absl::bit_cast<uint64_t>(amount));
    }
    auto [it, inserted] = other_demands_.try_emplace(key, index);
    if (!inserted) return it->second;
    demand->key = std::move(key);
  }
  if (index == demands_.size()) {
    demands_.push_back(std::move(demand));
  } else {
    free_demands_.pop_back();
    demands_[index] = std::move(demand);
  }
  for (const auto& [id, worker] : workers_) {
    if (Fits(*worker, *demands_[index])) AddCapable(index, *worker);
  }
  return index;
}

void Scheduler::ReleaseDemand(uint32_t index) {
  Demand& demand = *demands_[index];
  if (--demand.users > 0) return;
  demand.idle_since = ++idle_clock_;
  idle_demands_.emplace(demand.idle_since, index);
  if (idle_demands_.size() <= kIdleDemands) return;
  const uint32_t oldest = idle_demands_.begin()->second;
  idle_demands_.erase(idle_demands_.begin());
  RetireDemand(oldest);
}

void Scheduler::RetireDemand(uint32_t index) {
  // Every worker capable of it updated it on each change of its free
  // slots, and every worker joining looked at it: kinds that jobs stopped
  // using would have made both grow for as long as dagd ran.
  const Demand& demand = *demands_[index];
  for (Worker* worker : demand.capable) {
    std::vector<uint32_t>& list = worker->demands;
    list.erase(std::remove(list.begin(), list.end(), index), list.end());
  }
  if (demand.key.empty()) {
    plain_demands_.erase(std::make_pair(demand.fn, demand.slots));
  } else {
    other_demands_.erase(demand.key);
  }
  demands_[index].reset();
  free_demands_.push_back(index);
}

void Scheduler::AddCapable(uint32_t index, Worker& worker) {
  Demand& demand = *demands_[index];
  demand.capable.push_back(&worker);
  if (worker.spec.lambda) {
    demand.lambdas.push_back(&worker);
  } else {
    demand.by_free.Add(worker.id, worker.free(), demand.next_order++);
  }
  worker.demands.push_back(index);
}

void Scheduler::Reindex(const Worker& worker) {
  for (uint32_t d : worker.demands) {
    demands_[d]->by_free.Update(worker.id, worker.free());
  }
}

bool Scheduler::Fits(const Worker& worker, const Demand& demand) const {
  // A draining worker takes nothing new.
  if (worker.spec.draining) return false;
  switch (demand.executor.kind) {
    case Executor::Kind::kLambda:
      if (!worker.spec.lambda || !MayInvoke(demand.executor.name)) {
        return false;
      }
      break;
    case Executor::Kind::kPool:
      if (worker.spec.lambda || demand.executor.name != worker.spec.pool) {
        return false;
      }
      break;
    case Executor::Kind::kAnyWorker:
      // Lambda serves its own tasks, and bursts of tasks for any worker
      // that need nothing a worker is chosen for.
      if (worker.spec.lambda &&
          (options_.lambda_burst_after == absl::InfiniteDuration() ||
           !demand.labels.empty() || !demand.amounts.empty())) {
        return false;
      }
      break;
  }
  if (!worker.Offers(demand.fn)) return false;
  for (const auto& label : demand.labels) {
    if (std::find(worker.spec.labels.begin(), worker.spec.labels.end(),
                  label) == worker.spec.labels.end()) {
      return false;
    }
  }
  return ledger_.CouldFit(worker.resources, demand.ClaimOf(kNoGroup));
}

bool Scheduler::MayInvoke(const std::string& lambda_function) const {
  const std::vector<std::string>& allowed = options_.lambda_allowed_functions;
  return lambda_function.empty() ||
         lambda_function == options_.lambda_function ||
         std::find(allowed.begin(), allowed.end(), lambda_function) !=
             allowed.end();
}

bool Scheduler::NoWorkerCanRun(const Demand& demand) const {
  if (demand.executor.kind == Executor::Kind::kLambda) {
    return demand.capable.empty();
  }
  return std::all_of(demand.capable.begin(), demand.capable.end(),
                     [](const Worker* w) { return w->spec.lambda; });
}

bool Scheduler::HasRoom(const Worker& worker, const Demand& demand) const {
  return ledger_.HasRoom(worker.resources, demand.ClaimOf(kNoGroup));
}

void Scheduler::Enqueue(Job& job, uint32_t task) {
  const uint32_t demand = job.tasks[task].demand;
  auto it =
      std::find_if(job.queues.begin(), job.queues.end(),
                   [demand](const JobQueue& q) { return q.demand == demand; });
  if (it == job.queues.end()) {
    it = job.queues.emplace(job.queues.end());
    it->demand = demand;
  }
  it->heap.Push(
      ReadyEntry{job.graph.priority_of(task), job.graph.rank[task], task});
  ++job.queued;
  MarkRunnableStale(job);
}

void Scheduler::MarkRunnableStale(Job& job) {
  if (job.runnable_stale) return;
  job.runnable_stale = true;
  stale_runnable_.push_back(job.seq);
}

void Scheduler::UpdateRunnable(Job& job) {
  const bool want =
      !job.finished && !job.held && job.queued > 0 && !job.AtParallelismLimit();
  if (!want) {
    if (job.runnable) sorter_->Remove(job.sorted);
    job.runnable = false;
    return;
  }
  // Priority and tenant never change: the slots alone move it.
  if (job.runnable) {
    if (job.sorted.running_slots == job.usage.running_slots) return;
    sorter_->Remove(job.sorted);
  }
  job.sorted = SortedJob{job.seq, job.tenant, job.graph.header->priority(),
                         job.usage.running_slots};
  sorter_->Add(job.sorted);
  job.runnable = true;
}

std::pair<Scheduler::Worker*, PlacementReason> Scheduler::PickWorker(
    const Job& job, uint32_t task, const Demand& demand) {
  const CompiledJob& g = job.graph;
  const TaskRecord& t = job.tasks[task];
  candidates_.clear();
  looked_at_.clear();
  // Held inputs count by their bytes, where the process holding them is.
  const bool held_inputs = !job.result_refs.empty();
  uint64_t input_bytes = 0;
  if (held_inputs) {
    for (uint32_t e = g.input_begin[task]; e < g.input_begin[task + 1]; ++e) {
      input_bytes += InputBytes(job, g.inputs[e]);
    }
  }
  if (demand.capable.size() <= FreeSlotIndex::kSmall) {
    LookAtEvery(job, task, demand, held_inputs);
  } else {
    LookAtLikely(job, task, demand, held_inputs);
  }
  lambdas_dropped_ = false;
  if (demand.executor.kind == Executor::Kind::kAnyWorker &&
      !demand.lambdas.empty() && !tenant_bursts_[job.tenant]) {
    lambdas_dropped_ = true;
    // Its tenant may not run --lambda_function: Lambda is no candidate.
    for (size_t i = looked_at_.size(); i-- > 0;) {
      if (!looked_at_[i]->spec.lambda) continue;
      looked_at_.erase(looked_at_.begin() + i);
      candidates_.erase(candidates_.begin() + i);
    }
  }
  const absl::Time now = clock_->Now();
  PlacementRequest request;
  request.executor = demand.executor.kind;
  request.inputs = g.input_begin[task + 1] - g.input_begin[task];
  request.input_bytes = input_bytes;
  request.waited = now - t.ready_since;
  if (held_inputs) request.transfer_bytes_per_second = TransferRate();
  const PlacementChoice choice = placement_->Place(request, candidates_);
  if (choice.index) return {looked_at_[*choice.index], choice.reason};
  if (choice.ask_again_in) {
    const absl::Time at = now + *choice.ask_again_in;
    if (!burst_wakeup_ || at < *burst_wakeup_) burst_wakeup_ = at;
  }
  return {nullptr, PlacementReason{}};
}

void Scheduler::LookAtEvery(const Job& job, uint32_t task, const Demand& demand,
                            bool held_inputs) {
  const CompiledJob& g = job.graph;
  for (Worker* worker : demand.capable) {
    looked_at_.push_back(worker);
    Candidate& c = candidates_.emplace_back();
    c.free_slots = worker->free();
    c.has_room = HasRoom(*worker, demand);
    c.lambda = worker->spec.lambda;
    if (c.lambda || (!c.has_room && !held_inputs)) continue;
    for (uint32_t e = g.input_begin[task]; e < g.input_begin[task + 1]; ++e) {
      const uint32_t input = g.inputs[e];
      if (c.has_room && job.tasks[input].producer == worker->id) {
        ++c.inputs_held;
      }
      // A busy holder counts too: the task may wait for it.
      if (held_inputs) c.bytes_held += BytesHeldBy(job, input, *worker);
    }
  }
}

void Scheduler::LookAtLikely(const Job& job, uint32_t task,
                             const Demand& demand, bool held_inputs) {
  const CompiledJob& g = job.graph;
  // The policy's answer is among these: the workers that made or hold the
  // task's inputs (counted in one pass over them, so a fan-in of many
  // inputs costs its inputs, not its inputs times the workers), the least
  // loaded one, and Lambda. Any other worker holds none of the inputs and
  // has no more free slots than the least loaded one, which comes before
  // it on ties.
  held_here_.clear();
  auto hold = [&](WorkerId id) -> InputsHeld* {
    auto it = workers_.find(id);
    if (it == workers_.end() || !demand.by_free.Contains(id)) return nullptr;
    return &held_here_[it->second.get()];
  };
  for (uint32_t e = g.input_begin[task]; e < g.input_begin[task + 1]; ++e) {
    const uint32_t input = g.inputs[e];
    auto ref =
        held_inputs ? job.result_refs.find(input) : job.result_refs.end();
    const bool inline_result = ref == job.result_refs.end();
    if (WorkerId producer = job.tasks[input].producer; producer != 0) {
      if (InputsHeld* here = hold(producer)) {
        ++here->inputs;
        // Inline: every worker gets it with the assignment; it made it.
        if (held_inputs && inline_result) {
          here->bytes += job.results[input].data.size();
        }
      }
    }
    if (inline_result || !ref->second->has_holder()) continue;
    auto holders = holders_.find(HolderKey(*ref->second));
    if (holders == holders_.end()) continue;
    for (WorkerId holder : holders->second) {
      if (InputsHeld* here = hold(holder)) here->bytes += ref->second->size();
    }
  }
  for (const auto& [worker, held] : held_here_) looked_at_.push_back(worker);
  // The least loaded worker with room (the most loaded with --placement=
  // pack), and those before it without room (for amounts): any one looked
  // at tells the policy there are workers at all.
  auto look = [&](WorkerId id) {
    Worker* worker = workers_.at(id).get();
    if (!held_here_.contains(worker)) looked_at_.push_back(worker);
    return !HasRoom(*worker, demand);
  };
  bool any = false;
  if (options_.fill == Fill::kPack) {
    demand.by_free.ForEachLeastFree(demand.slots, [&](WorkerId id, uint32_t) {
      any = true;
      return look(id);
    });
  }
  if (!any) {
    demand.by_free.ForEachMostFree([&](WorkerId id, uint32_t free) {
      return look(id) && free >= demand.slots;
    });
  }
  std::sort(looked_at_.begin(), looked_at_.end(),
            [&demand](const Worker* a, const Worker* b) {
              return demand.by_free.OrderOf(a->id) <
                     demand.by_free.OrderOf(b->id);
            });
  // Lambda's dispatchers come after the workers, as they were added.
  looked_at_.insert(looked_at_.end(), demand.lambdas.begin(),
                    demand.lambdas.end());
  for (Worker* worker : looked_at_) {
    Candidate& c = candidates_.emplace_back();
    c.free_slots = worker->free();
    c.has_room = HasRoom(*worker, demand);
    c.lambda = worker->spec.lambda;
    auto held = held_here_.find(worker);
    if (c.lambda || held == held_here_.end()) continue;
    if (c.has_room) c.inputs_held = held->second.inputs;
    // A busy holder counts too: the task may wait for it.
    if (held_inputs) c.bytes_held = held->second.bytes;
  }
}

uint64_t Scheduler::InputBytes(const Job& job, uint32_t input) const {
  auto ref = job.result_refs.find(input);
  return ref != job.result_refs.end() ? ref->second->size()
                                      : job.results[input].data.size();
}

uint64_t Scheduler::BytesHeldBy(const Job& job, uint32_t input,
                                const Worker& worker) const {
  auto ref = job.result_refs.find(input);
  if (ref == job.result_refs.end()) {
    // Inline: every worker gets it with the assignment; it made it.
    return job.tasks[input].producer == worker.id
               ? job.results[input].data.size()
               : 0;
  }
  const v1::ObjectRef& r = *ref->second;
  return HeldBy(r, worker.spec) ? r.size() : 0;
}

Scheduler::Placement Scheduler::BestPlacement(Job& job) {
  job.queues.erase(
      std::remove_if(job.queues.begin(), job.queues.end(),
                     [](const JobQueue& q) { return q.heap.empty(); }),
      job.queues.end());
  Placement best;
  for (JobQueue& queue : job.queues) {
    ReadyHeap& heap = queue.heap;
    while (!heap.empty()) {
      const uint32_t task = heap.Top().task;
      const TaskRecord& t = job.tasks[task];
      const GroupId group = job.group_of(task);
      if (!t.ReadyNow()) {
        // Stopped being ready (its job was cancelled, say).
      } else if (!ledger_.GroupFree(group) ||
                 (!recovery_groups_.empty() &&
                  recovery_groups_.contains(group))) {
        // Set aside until the group is free (and, after a restart, until
        // the work recovered has had the grace to come back); then
        // WakeGroupWaiters queues it again.
        group_waiters_[group].waiting[{job.seq, queue.demand}].Push(heap.Top());
      } else {
        break;
      }
      heap.Pop();
      --job.queued;
    }
    if (heap.empty()) continue;
    if (best.queue != nullptr &&
        !RunsBefore(heap.Top(), best.queue->heap.Top())) {
      continue;
    }
    Demand& demand = *demands_[queue.demand];
    if (demand.blocked_pass == pass_) continue;
    auto [worker, reason] = PickWorker(job, heap.Top().task, demand);
    if (worker == nullptr) {
      // No room for the demand anywhere: no other task of it fits either
      // this pass. A refusal with room somewhere was this task's own (it
      // waits for its busy holder, or for its turn to burst; its tenant
      // may not burst): others of the demand are still looked at.
      // (Lambda's room counts not: a task not yet due to burst is as
      // likely as the next one of its kind to wait.)
      if (std::none_of(
              candidates_.begin(), candidates_.end(),
              [](const Candidate& c) { return c.has_room && !c.lambda; }) &&
          !lambdas_dropped_) {
        demand.blocked_pass = pass_;
      }
      continue;
    }
    best = Placement{&queue, worker, reason};
  }
  return best;
}

void Scheduler::Schedule() {
  if (!unsettled_workers_.empty()) SettleReadyAttempts();
  // Jobs whose place in line changed since the last pass move once here,
  // however many results, retries and releases moved them.
  for (uint64_t seq : stale_runnable_) {
    if (Job* job = FindJob(seq)) {
      job->runnable_stale = false;
      UpdateRunnable(*job);
    }
  }
  stale_runnable_.clear();
  ledger_.TakeChangedTenants([this](uint32_t tenant, uint64_t slots) {
    sorter_->SetTenantSlots(tenant, slots);
  });
  burst_wakeup_.reset();
  if (ledger_.free_slots() == 0 || sorter_->empty()) return;
  ++pass_;
  skipped_.clear();
  // Each turn takes the job first in line. A job with nothing placeable
  // leaves the line for the rest of the pass; one that got a task goes back
  // under its new key, behind jobs of its priority that hold fewer slots.
  while (ledger_.free_slots() > 0) {
    const std::optional<uint64_t> first = sorter_->First();
    if (!first) break;
    Job& job = *jobs_.find(*first)->second;
    Placement placement = BestPlacement(job);
    if (placement.worker == nullptr) {
      sorter_->Remove(job.sorted);
      job.runnable = false;
      skipped_.push_back(&job);
      continue;
    }
    const uint32_t task = placement.queue->heap.Top().task;
    placement.queue->heap.Pop();
    --job.queued;
    Assign(job, task, *placement.worker, placement.reason);
  }
  for (Job* job : skipped_) UpdateRunnable(*job);
  skipped_.clear();
}

void Scheduler::Assign(Job& job, uint32_t task, Worker& worker,
                       PlacementReason reason) {
  TaskRecord& t = job.tasks[task];
  const absl::Time now = clock_->Now();
  NewAttempt(job, task, worker, reason);
  out_.queue_waits.push_back(now - t.ready_since);
  Hold(job, task, worker);
  // Within this pass too, tenants take turns by what they hold.
  sorter_->SetTenantSlots(job.tenant, ledger_.tenant_slots(job.tenant));
  UpdateRunnable(job);
  MarkJobRunning(job);
  SetState(job, task, v1::TASK_ASSIGNED);
  AddAssignment(job, task, worker, kNoTask);
  GrantQueued(job, task, GrantAhead(job, task, worker), worker);
}

Claim Scheduler::ClaimOf(const Job& job, uint32_t task) const {
  return demands_[job.tasks[task].demand]->ClaimOf(job.group_of(task));
}

void Scheduler::Hold(Job& job, uint32_t task, Worker& worker) {
  ledger_.Acquire(worker.resources, job.usage, ClaimOf(job, task),
                  GroupHolder{job.seq, task});
  Reindex(worker);
  worker.running.insert(TaskRef{job.seq, task});
}

void Scheduler::MarkJobRunning(Job& job) {
  if (job.status.state() != v1::JOB_PENDING) return;
  SetJobState(job, v1::JOB_RUNNING);
  *job.status.mutable_started_at() =
      TimeUtil::NanosecondsToTimestamp(absl::ToUnixNanos(clock_->Now()));
  PersistJobStatus(job);
}

void Scheduler::EndAttempt(Job& job, uint32_t task) {
  TaskRecord& t = job.tasks[task];
  auto it = workers_.find(t.worker);
  Worker* worker = it == workers_.end() ? nullptr : it->second.get();
  if (worker != nullptr) worker->running.erase(TaskRef{job.seq, task});
  t.worker = 0;
  if (t.granted) {
    // It held nothing but its place on the worker.
    t.granted = false;
    return;
  }
  WakeGroupWaiters(ledger_.Release(worker ? &worker->resources : nullptr,
                                   job.usage, ClaimOf(job, task),
                                   GroupHolder{job.seq, task}));
  if (worker != nullptr) Reindex(*worker);
  MarkRunnableStale(job);
}

void Scheduler::StopAttempt(Job& job, uint32_t task) {
  TaskRecord& t = job.tasks[task];
  if (t.granted) return EndAttempt(job, task);
  const Claim claim = ClaimOf(job, task);
  ledger_.ReleaseJob(job.usage, claim);
  auto it = workers_.find(t.worker);
  t.worker = 0;
  if (it == workers_.end()) {
    WakeGroupWaiters(
        ledger_.ReleaseWorker(nullptr, claim, GroupHolder{job.seq, task}));
  } else {
    // What it holds on the worker stays held until the worker reports the
    // attempt ended.
    Worker& worker = *it->second;
    worker.running.erase(TaskRef{job.seq, task});
    worker.stopping.emplace(AttemptRef{job.seq, task, CurrentAttempt(t)},
                            StoppingAttempt{t.demand, claim.group});
    // What it claims is known by its demand until it ends.
    ++demands_[t.demand]->users;
  }
  MarkRunnableStale(job);
}

void Scheduler::ReleaseStopped(Worker& worker, const StoppingAttempt& stopped,
                               const AttemptRef& ref,
                               const v1::TaskResult* result) {
  if (result != nullptr) ReleaseOutputOf(worker, *result);
  if (!stopped.holds) return;
  WakeGroupWaiters(ledger_.ReleaseWorker(
      &worker.resources, demands_[stopped.demand]->ClaimOf(stopped.group),
      GroupHolder{ref.seq, ref.task}));
  Reindex(worker);
  ReleaseDemand(stopped.demand);
}

void Scheduler::WakeGroupWaiters(GroupId group) {
  if (group == kNoGroup || group >= group_waiters_.size()) return;
  GroupWaiters& g = group_waiters_[group];
  for (auto it = g.waiting.begin(); it != g.waiting.end();) {
    Job* job = FindJob(it->first.first);
    ReadyHeap& heap = it->second;
    while (job != nullptr && !heap.empty()) {
      const uint32_t task = heap.Top().task;
      heap.Pop();
      const TaskRecord& t = job->tasks[task];
      if (t.ReadyNow()) {
        Enqueue(*job, task);
        break;
      }
    }
    if (job == nullptr || heap.empty()) {
      it = g.waiting.erase(it);
    } else {
      ++it;
    }
  }
}

std::string Scheduler::DemandText(const Demand& demand) const {
  std::vector<std::string> needs;
  switch (demand.executor.kind) {
    case Executor::Kind::kPool:
      needs.push_back(absl::StrCat("pool '", demand.executor.name, "'"));
      break;
    case Executor::Kind::kLambda:
      needs.push_back("Lambda");
      break;
    case Executor::Kind::kAnyWorker:
      break;
  }
  for (const auto& [key, value] : demand.labels) {
    needs.push_back(absl::StrCat("label ", key, "=", value));
  }
  needs.push_back(
      absl::StrCat(demand.slots, demand.slots == 1 ? " slot" : " slots"));
  for (const auto& [resource, amount] : demand.amounts) {
    needs.push_back(absl::StrCat(resource_names_.Name(resource), "=", amount));
  }
  return absl::StrJoin(needs, ", ");
}

}  // namespace dagd
