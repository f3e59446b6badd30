// Placement: which ready task runs next, and where.

#include <algorithm>
#include <utility>

#include "google/protobuf/util/time_util.h"
#include "server/scheduler.h"
#include "server/scheduler_internal.h"

namespace dagd {

using google::protobuf::util::TimeUtil;

// Among the workers offering the function with room for the task: the one
// that produced most of its inputs (they are already there), then the one
// with the most free slots.
Scheduler::Worker* Scheduler::PickWorker(const Job& job, uint32_t task,
                                         uint32_t fn) {
  const uint32_t slots = job.slots(task);
  const CompiledJob& g = job.graph;
  Worker* best = nullptr;
  uint32_t best_local = 0;
  for (Worker* worker : workers_by_fn_[fn]) {
    if (worker->free() < slots) continue;
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
  return best;
}

Scheduler::Room Scheduler::RoomFor(uint32_t fn) const {
  Room room;
  if (fn >= workers_by_fn_.size()) return room;
  for (const Worker* worker : workers_by_fn_[fn]) {
    room.largest = std::max(room.largest, worker->spec.slots);
    room.most_free = std::max(room.most_free, worker->free());
  }
  return room;
}

// The job of the live entry on top of `fn`'s heap, dropping entries of tasks
// that stopped being ready (a cancelled job); nullptr when none is left.
Scheduler::Job* Scheduler::LiveTop(uint32_t fn) {
  while (!ready_.Empty(fn)) {
    const ReadyEntry& top = ready_.Top(fn);
    Job* job = FindJob(top.job_seq);
    if (job != nullptr && job->tasks[top.task].state == v1::TASK_READY &&
        !job->tasks[top.task].retry_wait) {
      return job;
    }
    ready_.Pop(fn);
  }
  return nullptr;
}

// Like LiveTop, but first moves top entries that no worker offering `fn`
// could ever fit (more than `largest` slots) to parked_.
Scheduler::Job* Scheduler::PlaceableTop(uint32_t fn, uint32_t largest) {
  while (Job* job = LiveTop(fn)) {
    const ReadyEntry& top = ready_.Top(fn);
    if (job->slots(top.task) <= largest) return job;
    if (fn >= parked_.size()) parked_.resize(fn + 1);
    parked_[fn].push_back(top);
    ready_.Pop(fn);
  }
  return nullptr;
}

void Scheduler::Schedule() {
  while (free_slots_ > 0) {
    int best_fn = -1;
    Job* best_job = nullptr;
    ready_.NonEmpty(&candidates_);
    for (uint32_t fn : candidates_) {
      const Room room = RoomFor(fn);
      Job* job = PlaceableTop(fn, room.largest);
      if (job == nullptr) continue;
      const ReadyEntry& top = ready_.Top(fn);
      if (job->slots(top.task) > room.most_free) continue;
      if (best_fn < 0 || RunsBefore(top, ready_.Top(best_fn))) {
        best_fn = fn;
        best_job = job;
      }
    }
    if (best_fn < 0) return;
    const uint32_t task = ready_.Top(best_fn).task;
    ready_.Pop(best_fn);
    Assign(*best_job, task, *PickWorker(*best_job, task, best_fn));
  }
}

void Scheduler::Assign(Job& job, uint32_t task, Worker& worker) {
  TaskRecord& t = job.tasks[task];
  const absl::Time now = clock_->Now();
  AttemptRecord& attempt = t.attempts.emplace_back();
  attempt.number = t.attempts.size();
  attempt.worker = worker.id;
  attempt.worker_name = worker.spec.name;
  attempt.assigned_at = now;
  t.worker = worker.id;
  out_.queue_waits.push_back(now - t.ready_since);
  const uint32_t slots = job.slots(task);
  worker.busy += slots;
  free_slots_ -= slots;
  worker.running.insert(TaskRef{job.seq, task});
  if (job.status.state() == v1::JOB_PENDING) {
    SetJobState(job, v1::JOB_RUNNING);
    *job.status.mutable_started_at() =
        TimeUtil::NanosecondsToTimestamp(absl::ToUnixNanos(now));
    PersistJobStatus(job);
  }
  SetState(job, task, v1::TASK_ASSIGNED);

  const v1::TaskSpec& spec = job.spec(task);
  v1::Assignment* a = out_.sends[worker.id].add_assignments();
  a->mutable_task()->set_job_id(job.status.job_id());
  a->mutable_task()->set_task_index(task);
  a->mutable_task()->set_attempt(attempt.number);
  a->set_task_id(spec.id());
  a->set_fn(spec.fn());
  if (spec.has_args()) *a->mutable_args() = spec.args();
  const CompiledJob& g = job.graph;
  for (uint32_t e = g.input_begin[task]; e < g.input_begin[task + 1]; ++e) {
    const StoredResult& input = job.results[g.inputs[e]];
    v1::Payload* p = a->add_inputs();
    p->set_data(input.data);
    p->set_content_type(input.content_type);
  }
  if (spec.has_timeout()) {
    a->set_timeout_ms(TimeUtil::DurationToMilliseconds(spec.timeout()));
  }
  a->set_slots(slots);
}

}  // namespace dagd
