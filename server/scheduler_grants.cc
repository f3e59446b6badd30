// Grants ahead: a task assigned to a worker takes along the chain of
// successors that wait only for it, so the worker runs each one as soon as
// the one before succeeds, without a round trip to the coordinator. The
// coordinator still records every attempt (each granted task is ASSIGNED
// to that worker from the start) and every result, so recovery and
// retries work as for any assignment: a grant whose predecessor does not
// succeed goes back to waiting, and a lost worker's grants run again.
// Queued grants (GrantQueued) use the same machinery for ready tasks that
// would wait for a slot anyway.

#include <algorithm>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "google/protobuf/util/time_util.h"
#include "server/assignment_args.h"
#include "server/attempt_seal.h"
#include "server/scheduler.h"
#include "server/scheduler_internal.h"
#include "storage/job_tasks.h"

namespace dagd {
namespace {

using google::protobuf::util::TimeUtil;

// A task with more successors than this is a fan-out, not a chain link;
// looking for a grant among them would cost more than it saves.
constexpr uint32_t kMaxGrantFanOut = 16;

// Weight of the newest run time in a function's running mean.
constexpr double kRunTimeWeight = 0.2;

}  // namespace

AttemptRecord& Scheduler::NewAttempt(Job& job, uint32_t task, Worker& worker,
                                     PlacementReason reason) {
  TaskRecord& t = job.tasks[task];
  AttemptRecord& attempt = t.attempts.emplace_back();
  attempt.number = ++t.max_attempt;
  attempt.placement = reason;
  attempt.worker = worker.id;
  attempt.worker_name = worker.name;
  attempt.assigned_at = clock_->Now();
  t.worker = worker.id;
  t.grant_next = kNoTask;
  return attempt;
}

void Scheduler::AddAssignment(Job& job, uint32_t task, Worker& worker,
                              uint32_t after) {
  v1::Assignment* a = out_.sends[worker.id].add_assignments();
  a->mutable_task()->set_job_id(job.status.job_id());
  a->mutable_task()->set_task_index(task);
  const uint32_t attempt = CurrentAttempt(job.tasks[task]);
  a->mutable_task()->set_attempt(attempt);
  a->mutable_task()->set_seal(
      AttemptSeal(attempt_key_, job.seq, task, attempt, worker.spec.name));
  a->set_fn(job.fn(task));
  // From the task's encoding, which has each field once (JobTasks::Add), at
  // most: copied into the assignment, not parsed into a TaskSpec first; the
  // args not parsed at all (server/assignment_args.h). An empty `code` is
  // not encoded, and setting even an empty bytes field allocates a string.
  bool has_timeout = false;
  google::protobuf::Duration timeout;
  auto take = [&](uint32_t field, absl::string_view value) {
    switch (field) {
      case v1::TaskSpec::kIdFieldNumber:
        a->set_task_id(value.data(), value.size());
        break;
      case v1::TaskSpec::kArgsFieldNumber:
        SetEncodedArgs(*a, value);
        break;
      case v1::TaskSpec::kCodeFieldNumber:
        a->set_code(value.data(), value.size());
        break;
      case v1::TaskSpec::kTimeoutFieldNumber:
        has_timeout = timeout.ParseFromArray(value.data(),
                                             static_cast<int>(value.size()));
        break;
    }
  };
  // JobTasks::Add wrote the encoding from a message: it parses.
  ForEachLengthDelimited(job.graph.tasks->encoded(task), take).IgnoreError();
  const CompiledJob& g = job.graph;
  for (uint32_t e = g.input_begin[task]; e < g.input_begin[task + 1]; ++e) {
    v1::Payload* p = a->add_inputs();
    if (g.inputs[e] == after) {
      // The worker fills it in with `after`'s output.
      a->add_local_input_positions(e - g.input_begin[task]);
      continue;
    }
    const uint32_t from = g.inputs[e];
    const Job::Result& input = job.results[from];
    p->set_content_type(ContentTypeOf(job, from));
    if (auto ref = job.result_refs.find(from); ref != job.result_refs.end()) {
      (*a->mutable_input_refs())[e - g.input_begin[task]] = *ref->second;
    } else {
      p->set_data(input.data);
    }
  }
  if (has_timeout) {
    a->set_timeout_ms(TimeUtil::DurationToMilliseconds(timeout));
  }
  a->set_slots(demands_[job.tasks[task].demand]->slots);
  if (worker.spec.lambda) {
    // A task of executor "lambda:NAME" invokes NAME; "lambda" and bursts
    // invoke --lambda_function.
    const Executor& executor = job.graph.executor(task);
    a->set_lambda_function(executor.kind == Executor::Kind::kLambda &&
                                   !executor.name.empty()
                               ? executor.name
                               : options_.lambda_function);
  }
  if (after != kNoTask) {
    v1::TaskRef* ref = a->mutable_after();
    ref->set_job_id(job.status.job_id());
    ref->set_task_index(after);
    ref->set_attempt(CurrentAttempt(job.tasks[after]));
  }
}

void Scheduler::GrantAfter(Job& job, uint32_t task, uint32_t next,
                           Worker& worker, PlacementReason reason) {
  NewAttempt(job, next, worker, reason);
  job.tasks[next].granted = true;
  job.tasks[task].grant_next = next;
  worker.running.insert(TaskRef{job.seq, next});
  SetState(job, next, v1::TASK_ASSIGNED);
  AddAssignment(job, next, worker, task);
}

bool Scheduler::GrantedAfter(const Job& job, uint32_t next, uint32_t task) {
  const TaskRecord& n = job.tasks[next];
  // The reason names the predecessor: a grant_next left behind by a task
  // whose grant was withdrawn (and which may be granted anew after another
  // task) is not this one's.
  return n.granted && !n.attempts.empty() &&
         n.attempts.back().placement.kind == PlacementReason::Kind::kGranted &&
         n.attempts.back().placement.count == task;
}

Scheduler::Chain Scheduler::GrantAhead(Job& job, uint32_t head,
                                       Worker& worker) {
  Chain chain{head, 0};
  // The cheap refusals first: most assignments grant nothing.
  if (options_.grant_depth == 0 || !worker.spec.accepts_grants) return chain;
  while (chain.length < options_.grant_depth) {
    const auto [next, reason] = GrantableSuccessor(job, chain.tail, worker);
    if (next == kNoTask) break;
    GrantAfter(job, chain.tail, next, worker, reason);
    chain = {next, chain.length + 1};
  }
  return chain;
}

void Scheduler::GrantQueued(Job& job, uint32_t head, Chain chain,
                            Worker& worker) {
  // Whatever already follows the head counts: a chain of successors keeps
  // the slot as busy as queued tasks would.
  uint32_t want = options_.grant_queued;
  if (chain.length >= want || !worker.spec.accepts_grants || job.held ||
      job.finished || !job.result_refs.empty()) {
    return;
  }
  const uint32_t demand = job.tasks[head].demand;
  auto queue =
      std::find_if(job.queues.begin(), job.queues.end(),
                   [demand](const JobQueue& q) { return q.demand == demand; });
  if (queue == job.queues.end()) return;
  ReadyHeap& heap = queue->heap;
  const Demand& d = *demands_[demand];
  // Entries that stopped being ready are dropped, as placement would.
  auto drop_stale = [&] {
    while (!heap.empty() && !job.tasks[heap.Top().task].ReadyNow()) {
      heap.Pop();
      --job.queued;
    }
  };
  drop_stale();
  // Only tasks that would wait anyway (a free slot of a worker that could
  // run them runs them sooner), and no more than this worker's share of
  // them, so that the workers with free slots each get as many.
  const uint64_t free = d.by_free.total_free() / d.slots;
  if (heap.size() <= free) return;
  want = std::min<uint64_t>(want, chain.length + heap.size() / (free + 1));
  GrantRequest request;
  request.worker_accepts_grants = true;
  request.job_has_parallelism_cap = job.graph.header->max_parallelism() != 0;
  // The head's demand, so the worker fits it (the head was placed there);
  // it must fit on the slots the chain's last task hands on.
  request.fits_after =
      d.slots <= demands_[job.tasks[chain.tail].demand]->slots &&
      d.amounts.empty();
  for (const auto& [of, ms] : job.run_ms) {
    if (of == demand) request.typical_run_time = absl::Milliseconds(ms);
  }
  const absl::Time now = clock_->Now();
  uint32_t tail = chain.tail;
  for (uint32_t following = chain.length; following < want; ++following) {
    drop_stale();
    if (heap.size() <= free) return;
    const uint32_t next = heap.Top().task;
    if (job.group_of(next) != kNoGroup) return;
    std::optional<PlacementReason> reason = placement_->Grant(request, tail);
    if (!reason) return;
    heap.Pop();
    --job.queued;
    MarkRunnableStale(job);
    out_.queue_waits.push_back(now - job.tasks[next].ready_since);
    GrantAfter(job, tail, next, worker, *reason);
    tail = next;
  }
}

// A successor of `task` that waits for nothing else, needs no more than
// `task`'s slots and nothing else the worker could run out of, and that
// the policy grants (today: it runs short).
std::pair<uint32_t, PlacementReason> Scheduler::GrantableSuccessor(
    const Job& job, uint32_t task, const Worker& worker) const {
  const CompiledJob& g = job.graph;
  const uint32_t begin = g.succ_begin[task];
  const uint32_t end = g.succ_begin[task + 1];
  if (end == begin || end - begin > kMaxGrantFanOut) return {kNoTask, {}};
  const uint32_t slots = demands_[job.tasks[task].demand]->slots;
  // With results held by workers, the successor whose other inputs this
  // worker holds most bytes of (Wukong's "become"); else the first.
  const bool by_bytes = !job.result_refs.empty();
  uint32_t best = kNoTask;
  PlacementReason best_reason;
  uint64_t best_bytes = 0;
  for (uint32_t e = begin; e < end; ++e) {
    const uint32_t next = g.succ[e];
    const TaskRecord& n = job.tasks[next];
    if (n.state != v1::TASK_PENDING || job.group_of(next) != kNoGroup) {
      continue;
    }
    // Every dependency it still waits for is an edge from `task`.
    const auto edges =
        std::count(g.succ.begin() + begin, g.succ.begin() + end, next);
    if (n.remaining != static_cast<uint32_t>(edges)) continue;
    const Demand& demand = *demands_[n.demand];
    GrantRequest request;
    request.worker_accepts_grants = worker.spec.accepts_grants;
    request.job_has_parallelism_cap = job.graph.header->max_parallelism() != 0;
    request.fits_after =
        demand.slots <= slots && demand.amounts.empty() && Fits(worker, demand);
    const double run_ms =
        demand.fn < fn_run_ms_.size() ? fn_run_ms_[demand.fn] : -1;
    if (run_ms >= 0) {
      request.typical_run_time = absl::Milliseconds(run_ms);
    }
    std::optional<PlacementReason> reason = placement_->Grant(request, task);
    if (!reason) continue;
    if (!by_bytes) return {next, *reason};
    uint64_t held = 0;
    for (uint32_t i = g.input_begin[next]; i < g.input_begin[next + 1]; ++i) {
      if (g.inputs[i] != task) held += BytesHeldBy(job, g.inputs[i], worker);
    }
    if (best == kNoTask || held > best_bytes) {
      best = next;
      best_reason = *reason;
      best_bytes = held;
    }
  }
  return {best, best_reason};
}

void Scheduler::RevokeGrants(Job& job, uint32_t task) {
  uint32_t next = job.tasks[task].grant_next;
  job.tasks[task].grant_next = kNoTask;
  const absl::Time now = clock_->Now();
  while (next != kNoTask) {
    TaskRecord& n = job.tasks[next];
    if (!GrantedAfter(job, next, task)) return;
    v1::TaskRef* ref = out_.sends[n.worker].add_cancels();
    ref->set_job_id(job.status.job_id());
    ref->set_task_index(next);
    ref->set_attempt(CurrentAttempt(n));
    AttemptRecord& attempt = n.attempts.back();
    attempt.error = absl::StrCat("granted after task '", job.task_id(task),
                                 "', which did not succeed there");
    attempt.finished_at = now;
    EndAttempt(job, next);
    WaitAgain(job, next);
    task = next;
    next = n.grant_next;
    n.grant_next = kNoTask;
  }
}

void Scheduler::WaitAgain(Job& job, uint32_t task) {
  // A queued grant waited for nothing but a slot.
  if (job.tasks[task].remaining == 0) {
    MakeReady(job, task);
  } else {
    SetState(job, task, v1::TASK_PENDING);
  }
}

void Scheduler::PassSlotsOn(Job& job, uint32_t task, WorkerId worker_id) {
  const uint32_t next = job.tasks[task].grant_next;
  job.tasks[task].grant_next = kNoTask;
  if (next == kNoTask) return;
  TaskRecord& n = job.tasks[next];
  auto it = workers_.find(worker_id);
  if (!GrantedAfter(job, next, task) || n.worker != worker_id ||
      it == workers_.end()) {
    return;
  }
  // Its predecessor's slots were given back as it ended: take them.
  n.granted = false;
  ledger_.Acquire(it->second->resources, job.usage, ClaimOf(job, next),
                  GroupHolder{job.seq, next});
  Reindex(*it->second);
  MarkRunnableStale(job);
}

void Scheduler::RecordRunTime(uint32_t fn, absl::Duration run_time) {
  if (fn >= fn_run_ms_.size()) fn_run_ms_.resize(fn + 1, -1);
  const double ms = absl::ToDoubleMilliseconds(run_time);
  double& mean = fn_run_ms_[fn];
  mean = mean < 0 ? ms : mean + kRunTimeWeight * (ms - mean);
}

void Scheduler::RecordJobRunTime(Job& job, uint32_t demand,
                                 absl::Duration run_time) {
  const double ms = absl::ToDoubleMilliseconds(run_time);
  for (auto& [of, mean] : job.run_ms) {
    if (of != demand) continue;
    mean += kRunTimeWeight * (ms - mean);
    return;
  }
  job.run_ms.emplace_back(demand, ms);
}

}  // namespace dagd
