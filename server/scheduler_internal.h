#ifndef DAGD_SERVER_SCHEDULER_INTERNAL_H_
#define DAGD_SERVER_SCHEDULER_INTERNAL_H_

// The records behind Scheduler, shared by its .cc files only.

#include <algorithm>
#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "proto/states.h"
#include "server/free_slot_index.h"
#include "server/huge_page_allocator.h"
#include "server/packed_fields.h"
#include "server/resource_ledger.h"
#include "server/scheduler.h"
#include "storage/job_tasks.h"

namespace dagd {

constexpr uint32_t kNoTask = UINT32_MAX;

// One attempt of a task. Kept for every attempt of every task of a live
// job, so packed: 72 bytes (136 with std::string and absl::Time fields).
struct AttemptRecord {
  uint32_t number = 0;
  PlacementReason placement;  // why it went to `worker`
  WorkerId worker = 0;
  // The worker's name, shared with the Worker and its other attempts.
  std::shared_ptr<const std::string> worker_name;
  PackedTime assigned_at;
  PackedTime started_at;
  PackedTime finished_at;
  RareString error;

  const std::string& worker_name_or_empty() const {
    return worker_name ? *worker_name : EmptyString();
  }
};

// A task of a live job: 96 bytes (152 with std::string and absl::Time
// fields), a million of them for a million-task job.
struct TaskRecord {
  uint32_t remaining = 0;  // dependencies that have not succeeded
  v1::TaskState state = v1::TASK_PENDING;
  uint32_t demand = 0;      // index into Scheduler::demands_
  bool retry_wait = false;  // READY but backing off until retry_at
  // Granted ahead: ASSIGNED to `worker` to run there after its predecessor,
  // holding no slots of its own until that one succeeds.
  bool granted = false;
  WorkerId worker = 0;  // of the current attempt, while assigned or running
  PackedTime retry_at;
  PackedTime ready_since;  // for queue-wait metrics
  std::vector<AttemptRecord> attempts;
  uint32_t failed_attempts = 0;   // attempts that failed (not lost ones)
  uint32_t grant_next = kNoTask;  // the successor granted after this task
  RareString error;               // why it failed for good
  WorkerId producer = 0;          // the worker that produced its result
  // The highest attempt number made or reported by a worker (attempts made
  // before a restart are known only from reports): new attempts number
  // past it, so no two attempts of a task share a number.
  uint32_t max_attempt = 0;

  // READY and not backing off before a retry: placeable now. A ready
  // queue's entry whose task no longer is (cancelled, say) is stale.
  bool ReadyNow() const { return state == v1::TASK_READY && !retry_wait; }
};

// On 64-bit Linux; more would be a million times more for a million tasks.
static_assert(sizeof(void*) != 8 || sizeof(AttemptRecord) <= 72);
static_assert(sizeof(void*) != 8 || sizeof(TaskRecord) <= 96);

// The number of the task's latest attempt, 0 before its first.
inline uint32_t CurrentAttempt(const TaskRecord& t) {
  return t.attempts.empty() ? 0 : t.attempts.back().number;
}

// What a task needs from a worker. Tasks with equal needs share a Demand,
// and a job keeps its ready tasks in one heap per demand: when the best of
// a heap cannot be placed, none of the heap can, so placement looks at tops
// only.
struct Scheduler::Demand {
  uint32_t fn = 0;
  uint32_t slots = 1;
  Executor executor;  // any worker, a pool, or Lambda
  std::vector<std::pair<std::string, std::string>> labels;  // sorted
  std::vector<std::pair<uint32_t, double>> amounts;  // by resource id, sorted
  // Connected workers that could ever run it (right function, pool and
  // labels, enough capacity), kept as workers come and go, in the order
  // they became capable.
  std::vector<Worker*> capable;
  // The same workers apart from Lambda's dispatchers, by free slots (ties
  // by `capable`'s order), and those dispatchers: a placement looks at the
  // workers holding the task's inputs, the least loaded one, and Lambda,
  // not at every worker (PickWorker).
  FreeSlotIndex by_free;
  std::vector<Worker*> lambdas;
  uint64_t next_order = 0;  // by_free's order of the next capable worker
  // The Schedule() pass in which no capable worker had room. Room only
  // shrinks during a pass, so it stays blocked until the pass ends.
  uint64_t blocked_pass = 0;
  // Jobs in memory with tasks of it, and cancelled attempts still stopping
  // that hold what it claims. Unused, it waits in Scheduler::idle_demands_
  // under `idle_since` (nonzero) for a job to use it again.
  uint32_t users = 0;
  uint64_t idle_since = 0;
  // Its key in Scheduler::other_demands_; empty for a plain one (found in
  // plain_demands_ by fn and slots).
  std::string key;

  // What an attempt of it holds, with its task's exclusive group.
  Claim ClaimOf(GroupId group) const { return Claim{slots, amounts, group}; }
};

struct Scheduler::Job {
  uint64_t seq = 0;
  CompiledJob graph;
  v1::JobStatus status;  // identity and times; counts are filled on demand
  std::vector<TaskRecord, HugePageAllocator<TaskRecord>> tasks;
  // By task, once succeeded. A million-task job keeps a million of these:
  // the content type is interned, and results kept in the object store
  // (few, large ones) are in `result_refs` instead.
  struct Result {
    std::string data;
    // In Scheduler::content_types_, or kOwnContentType: in
    // `content_types` (the interned ones are capped, since workers may
    // send any).
    uint32_t content_type = 0;
    // Of the bytes, wherever they are: computed once, as the result
    // arrives, not on every query (and it fits the struct's padding).
    uint32_t crc32c = 0;
  };
  static constexpr uint32_t kOwnContentType = UINT32_MAX;
  std::vector<Result, HugePageAllocator<Result>> results;
  absl::flat_hash_map<uint32_t, std::shared_ptr<const v1::ObjectRef>>
      result_refs;
  absl::flat_hash_map<uint32_t, std::string> content_types;
  // Results held by workers (result_refs with a holder), by task: how many
  // of its consumers have not yet succeeded. At zero it is freed.
  absl::flat_hash_map<uint32_t, uint32_t> held_consumers;
  // Succeeded tasks whose results are no longer anywhere: freed once
  // consumed, or lost with their holder. One that is needed again runs
  // again.
  absl::flat_hash_set<uint32_t> gone;
  // How often each task ran again because its result was lost.
  absl::flat_hash_map<uint32_t, uint32_t> recomputes;
  // Placement texts of attempts read back from the store after a restart,
  // by task, in attempt order (their reasons are known only as text).
  absl::flat_hash_map<uint32_t, std::vector<std::string>> stored_placements;
  std::array<uint32_t, 9> counts{};  // tasks by v1::TaskState
  uint32_t unfinished = 0;
  Scheduler::Watch watch = Scheduler::Watch::kNone;
  bool cancel_requested = false;
  bool failed = false;
  bool finished = false;
  std::vector<uint32_t> failures;  // tasks that failed for good
  // Task id -> index, built on the first query by id.
  std::unique_ptr<TaskIdIndex> index;

  // Placement.
  std::vector<JobQueue> queues;   // ready tasks, by demand
  std::vector<uint32_t> demands;  // of its tasks, each once (Demand::users)
  uint32_t queued = 0;            // entries in `queues`, stale ones included
  // Recent mean run time in ms of the job's tasks, by demand (a job has
  // few): queued grants go by the job's own tasks, as one function name
  // (`python`, `exec`) covers work of every length across jobs.
  std::vector<std::pair<uint32_t, double>> run_ms;
  JobUsage usage;               // tasks assigned or running (ledger)
  bool runnable = false;        // in the job sorter, as `sorted`
  bool runnable_stale = false;  // in Scheduler::stale_runnable_
  SortedJob sorted;             // its key in the sorter, while runnable
  uint32_t tenant = 0;          // its owner, for the sorter
  // Per task: its exclusive group, or kNoGroup. Empty when no task of the
  // job has a group.
  std::vector<GroupId> group;
  absl::Time deadline = absl::InfiniteFuture();
  // Recovered after a restart: its ready tasks wait out the recovery grace,
  // so that workers that still run them can reconnect and report them.
  bool held = false;

  bool Terminal(uint32_t task) const { return IsFinal(tasks[task].state); }
  absl::string_view task_id(uint32_t task) const {
    return graph.tasks->id(task);
  }
  const std::string& fn(uint32_t task) const { return graph.kind(task).fn; }
  GroupId group_of(uint32_t task) const {
    return group.empty() ? kNoGroup : group[task];
  }
  bool AtParallelismLimit() const { return usage.AtLimit(); }
};

// One attempt of one task, as workers report it.
struct AttemptRef {
  uint64_t seq;
  uint32_t task;
  uint32_t attempt;
  bool operator==(const AttemptRef& o) const {
    return seq == o.seq && task == o.task && attempt == o.attempt;
  }
  template <typename H>
  friend H AbslHashValue(H h, const AttemptRef& r) {
    return H::combine(std::move(h), r.seq, r.task, r.attempt);
  }
};

// A cancelled attempt that its worker has not yet reported stopped. It
// keeps its slots, amounts and exclusive group until then: the function
// may still be running there.
struct StoppingAttempt {
  uint32_t demand = 0;
  GroupId group = kNoGroup;  // the exclusive group it may hold
  // False for an attempt this scheduler never counted (one a reconnecting
  // worker listed that could not be taken over): its end frees nothing.
  bool holds = true;
};

struct Scheduler::Worker {
  WorkerId id = 0;
  WorkerSpec spec;
  // spec.name, shared with the records of its attempts.
  std::shared_ptr<const std::string> name;
  WorkerResources resources;  // changed only through the ledger
  absl::Time connected_at;
  absl::Time last_seen;
  absl::flat_hash_set<TaskRef> running;
  absl::flat_hash_map<AttemptRef, StoppingAttempt> stopping;
  std::vector<uint32_t> fns;
  std::vector<uint32_t> demands;  // those it is capable of, by index
  v1::Heartbeat stats;            // its object store, from its last heartbeat
  uint64_t finished = 0;          // attempts it ran to an end, for WorkerInfo
  // Keys it held at registration that nothing referred to, while more of
  // its kept results were to come (WorkerSpec::kept_complete).
  std::vector<std::string> unsettled_held;
  // Attempts it listed running at registration whose tasks waited for
  // inputs then: the results it kept, read after, may be those inputs
  // (a task granted after one that finished while dagd was down). Decided
  // once every kept result is in (OnKeptComplete), not cancelled at once.
  std::vector<v1::TaskRef> unsettled_running;
  bool kept_in = false;  // OnKeptComplete came

  uint32_t free() const { return resources.free(); }
  bool Offers(uint32_t fn) const {
    return spec.any_function ||
           std::find(fns.begin(), fns.end(), fn) != fns.end();
  }
};

// Whether `worker` holds what `ref` refers to (HolderKey, without the
// string).
inline bool HeldBy(const v1::ObjectRef& ref, const WorkerSpec& worker) {
  return ref.has_holder() && !worker.instance.empty() &&
         ref.holder().instance() == worker.instance &&
         ref.holder().name() == worker.name;
}

}  // namespace dagd

#endif  // DAGD_SERVER_SCHEDULER_INTERNAL_H_
