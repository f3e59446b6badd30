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

namespace {

// Sums of doubles drift; a worker with 0.999999999 of a unit left still
// has the unit.
constexpr double kAmountSlack = 1e-9;

constexpr absl::string_view kPoolPrefix = "pool:";

}  // namespace

uint32_t Scheduler::DemandOf(const v1::TaskSpec& spec) {
  const uint32_t fn = functions_.Intern(spec.fn());
  const uint32_t slots = std::max<uint32_t>(1, spec.resources().slots());
  const auto& amounts = spec.resources().amounts();
  const auto& labels = spec.resources().labels();
  const bool plain =
      spec.executor().empty() && amounts.empty() && labels.empty();
  if (plain) {
    // The common case: found without building anything.
    auto it = plain_demands_.find({fn, slots});
    if (it != plain_demands_.end()) return it->second;
  }
  auto demand = std::make_unique<Demand>();
  demand->fn = fn;
  demand->slots = slots;
  if (plain) {
    plain_demands_.emplace(std::make_pair(fn, slots), demands_.size());
  } else {
    // The job compiler accepted only "", "pool:NAME" and "lambda[:NAME]".
    if (absl::StartsWith(spec.executor(), kPoolPrefix)) {
      demand->pool = spec.executor().substr(kPoolPrefix.size());
    } else if (absl::StartsWith(spec.executor(), kLambdaPool)) {
      demand->pool = std::string(kLambdaPool);
    }
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
    std::string key = absl::StrCat(fn, "/", slots, "/", demand->pool.size(),
                                   ":", demand->pool);
    for (const auto& [k, v] : demand->labels) {
      absl::StrAppend(&key, "/", k.size(), ":", k, "=", v.size(), ":", v);
    }
    for (const auto& [r, amount] : demand->amounts) {
      absl::StrAppend(&key, "/r", r, "=", absl::bit_cast<uint64_t>(amount));
    }
    auto [it, inserted] = other_demands_.try_emplace(key, demands_.size());
    if (!inserted) return it->second;
  }
  for (const auto& [id, worker] : workers_) {
    if (Fits(*worker, *demand)) demand->capable.push_back(worker.get());
  }
  demands_.push_back(std::move(demand));
  return demands_.size() - 1;
}

bool Scheduler::Fits(const Worker& worker, const Demand& demand) const {
  if (worker.spec.pool == kLambdaPool && demand.pool != kLambdaPool) {
    // Lambda serves its own tasks, and bursts of tasks for any worker.
    if (options_.lambda_burst_after == absl::InfiniteDuration() ||
        !demand.pool.empty() || !demand.labels.empty() ||
        !demand.amounts.empty()) {
      return false;
    }
  }
  if (!worker.Offers(demand.fn)) return false;
  if (!demand.pool.empty() && demand.pool != worker.spec.pool) return false;
  if (demand.slots > worker.spec.slots) return false;
  for (const auto& label : demand.labels) {
    if (std::find(worker.spec.labels.begin(), worker.spec.labels.end(),
                  label) == worker.spec.labels.end()) {
      return false;
    }
  }
  for (const auto& [resource, amount] : demand.amounts) {
    if (worker.Capacity(resource) + kAmountSlack < amount) return false;
  }
  return true;
}

bool Scheduler::NoWorkerCanRun(const Demand& demand) const {
  if (demand.pool == kLambdaPool) return demand.capable.empty();
  return std::all_of(
      demand.capable.begin(), demand.capable.end(),
      [](const Worker* w) { return w->spec.pool == kLambdaPool; });
}

bool Scheduler::HasRoom(const Worker& worker, const Demand& demand) const {
  if (worker.free() < demand.slots) return false;
  for (const auto& [resource, amount] : demand.amounts) {
    if (worker.FreeAmount(resource) + kAmountSlack < amount) return false;
  }
  return true;
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
      ReadyEntry{job.spec(task).priority(), job.graph.rank[task], task});
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
  const RunnableKey key{job.graph.spec.priority(), job.running_slots, job.seq};
  if (job.runnable) {
    if (want && !(key < job.key) && !(job.key < key)) return;
    runnable_.erase(job.key);
    job.runnable = false;
  }
  if (!want) return;
  runnable_.emplace(key, &job);
  job.key = key;
  job.runnable = true;
}

// Among the workers that could run the demand and have room now: the one
// that produced most of the task's inputs (they are already there), then
// the one with the most free slots.
Scheduler::Worker* Scheduler::PickWorker(const Job& job, uint32_t task,
                                         const Demand& demand) {
  const CompiledJob& g = job.graph;
  Worker* best = nullptr;
  Worker* burst = nullptr;
  bool any_worker = false;
  uint32_t best_local = 0;
  for (Worker* worker : demand.capable) {
    if (worker->spec.pool == kLambdaPool && demand.pool != kLambdaPool) {
      if (HasRoom(*worker, demand)) burst = worker;  // if no worker has room
      continue;
    }
    any_worker = true;
    if (!HasRoom(*worker, demand)) continue;
    uint32_t local = 0;
    for (uint32_t e = g.input_begin[task]; e < g.input_begin[task + 1]; ++e) {
      if (job.tasks[g.inputs[e]].producer == worker->id) ++local;
    }
    if (best == nullptr || local > best_local ||
        (local == best_local && worker->free() > best->free())) {
      best = worker;
      best_local = local;
    }
  }
  // A burst takes the peaks of work the workers do: a task none of them
  // could ever run waits, saying why, rather than fail on Lambda.
  if (best != nullptr || burst == nullptr || !any_worker) return best;
  const absl::Time at =
      job.tasks[task].ready_since + options_.lambda_burst_after;
  if (clock_->Now() >= at) return burst;
  if (!burst_wakeup_ || at < *burst_wakeup_) burst_wakeup_ = at;
  return nullptr;
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
      const uint32_t group = job.group_of(task);
      if (t.state != v1::TASK_READY || t.retry_wait) {
        // Stopped being ready (its job was cancelled, say).
      } else if (group != 0 && groups_[group - 1].held) {
        // Set aside until the group is free; ReleaseGroup queues it again.
        groups_[group - 1].waiting[job.seq].Push(heap.Top());
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
    Worker* worker = PickWorker(job, heap.Top().task, demand);
    if (worker == nullptr) {
      demand.blocked_pass = pass_;
      continue;
    }
    best = Placement{&queue, worker};
  }
  return best;
}

void Scheduler::Schedule() {
  // Jobs whose place in line changed since the last pass move once here,
  // however many results, retries and releases moved them.
  for (uint64_t seq : stale_runnable_) {
    if (Job* job = FindJob(seq)) {
      job->runnable_stale = false;
      UpdateRunnable(*job);
    }
  }
  stale_runnable_.clear();
  burst_wakeup_.reset();
  if (free_slots_ == 0 || runnable_.empty()) return;
  ++pass_;
  skipped_.clear();
  // Each turn takes the job first in line. A job with nothing placeable
  // leaves the line for the rest of the pass; one that got a task goes back
  // under its new key, behind jobs of its priority that hold fewer slots.
  while (free_slots_ > 0 && !runnable_.empty()) {
    auto first = runnable_.begin();
    Job& job = *first->second;
    Placement placement = BestPlacement(job);
    if (placement.worker == nullptr) {
      runnable_.erase(first);
      job.runnable = false;
      skipped_.push_back(&job);
      continue;
    }
    const uint32_t task = placement.queue->heap.Top().task;
    placement.queue->heap.Pop();
    --job.queued;
    Assign(job, task, *placement.worker);
  }
  for (Job* job : skipped_) UpdateRunnable(*job);
  skipped_.clear();
}

void Scheduler::Assign(Job& job, uint32_t task, Worker& worker) {
  TaskRecord& t = job.tasks[task];
  const absl::Time now = clock_->Now();
  NewAttempt(job, task, worker);
  out_.queue_waits.push_back(now - t.ready_since);
  Hold(job, task, worker);
  UpdateRunnable(job);
  MarkJobRunning(job);
  SetState(job, task, v1::TASK_ASSIGNED);
  AddAssignment(job, task, worker, kNoTask);
  GrantAhead(job, task, worker);
}

void Scheduler::Hold(Job& job, uint32_t task, Worker& worker) {
  const Demand& demand = *demands_[job.tasks[task].demand];
  worker.busy += demand.slots;
  free_slots_ -= demand.slots;
  for (const auto& [resource, amount] : demand.amounts) {
    worker.free_amounts[resource] -= amount;
  }
  worker.running.insert(TaskRef{job.seq, task});
  ++job.running;
  job.running_slots += demand.slots;
  if (const uint32_t group = job.group_of(task); group != 0) {
    ExclusiveGroup& g = groups_[group - 1];
    g.held = true;
    g.holder_seq = job.seq;
    g.holder_task = task;
  }
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
  if (t.granted) {
    // It held nothing but its place on the worker.
    if (auto it = workers_.find(t.worker); it != workers_.end()) {
      it->second->running.erase(TaskRef{job.seq, task});
    }
    t.granted = false;
    t.worker = 0;
    return;
  }
  const Demand& demand = *demands_[t.demand];
  --job.running;
  job.running_slots -= demand.slots;
  if (const uint32_t group = job.group_of(task); group != 0) {
    const ExclusiveGroup& g = groups_[group - 1];
    if (g.held && g.holder_seq == job.seq && g.holder_task == task) {
      ReleaseGroup(group - 1);
    }
  }
  auto it = workers_.find(t.worker);
  t.worker = 0;
  if (it != workers_.end()) {
    Worker& worker = *it->second;
    worker.busy -= std::min(worker.busy, demand.slots);
    free_slots_ += demand.slots;
    for (const auto& [resource, amount] : demand.amounts) {
      worker.free_amounts[resource] += amount;
    }
    worker.running.erase(TaskRef{job.seq, task});
    ResetAmountsIfIdle(worker);
  }
  MarkRunnableStale(job);
}

void Scheduler::ResetAmountsIfIdle(Worker& worker) {
  // Amounts are doubles, added and taken back in any order; an idle worker
  // has exactly its capacity, whatever rounding crept in.
  if (worker.running.empty() && worker.stopping.empty()) {
    worker.free_amounts = worker.capacity;
  }
}

void Scheduler::StopAttempt(Job& job, uint32_t task) {
  TaskRecord& t = job.tasks[task];
  if (t.granted) return EndAttempt(job, task);
  const Demand& demand = *demands_[t.demand];
  --job.running;
  job.running_slots -= demand.slots;
  uint32_t group = job.group_of(task);
  if (group != 0) {
    const ExclusiveGroup& g = groups_[group - 1];
    if (!g.held || g.holder_seq != job.seq || g.holder_task != task) group = 0;
  }
  auto it = workers_.find(t.worker);
  t.worker = 0;
  if (it == workers_.end()) {
    if (group != 0) ReleaseGroup(group - 1);
  } else {
    Worker& worker = *it->second;
    worker.running.erase(TaskRef{job.seq, task});
    worker.stopping.emplace(AttemptRef{job.seq, task, CurrentAttempt(t)},
                            StoppingAttempt{t.demand, group});
  }
  MarkRunnableStale(job);
}

void Scheduler::ReleaseStopped(Worker& worker, const StoppingAttempt& stopped,
                               const AttemptRef& ref) {
  if (!stopped.holds) return;
  const Demand& demand = *demands_[stopped.demand];
  worker.busy -= std::min(worker.busy, demand.slots);
  free_slots_ += demand.slots;
  for (const auto& [resource, amount] : demand.amounts) {
    worker.free_amounts[resource] += amount;
  }
  ResetAmountsIfIdle(worker);
  if (stopped.group != 0) {
    const ExclusiveGroup& g = groups_[stopped.group - 1];
    if (g.held && g.holder_seq == ref.seq && g.holder_task == ref.task) {
      ReleaseGroup(stopped.group - 1);
    }
  }
}

void Scheduler::ReleaseGroup(uint32_t group) {
  ExclusiveGroup& g = groups_[group];
  g.held = false;
  for (auto it = g.waiting.begin(); it != g.waiting.end();) {
    Job* job = FindJob(it->first);
    ReadyHeap& heap = it->second;
    while (job != nullptr && !heap.empty()) {
      const uint32_t task = heap.Top().task;
      heap.Pop();
      const TaskRecord& t = job->tasks[task];
      if (t.state == v1::TASK_READY && !t.retry_wait) {
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
  if (!demand.pool.empty()) {
    needs.push_back(absl::StrCat("pool '", demand.pool, "'"));
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
