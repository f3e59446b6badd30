#ifndef DAGD_SERVER_SCHEDULER_INTERNAL_H_
#define DAGD_SERVER_SCHEDULER_INTERNAL_H_

// The records behind Scheduler, shared by its .cc files only.

#include <array>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "server/scheduler.h"

namespace dagd {

inline bool IsTerminal(v1::TaskState s) {
  return s == v1::TASK_SUCCEEDED || s == v1::TASK_FAILED ||
         s == v1::TASK_UPSTREAM_FAILED || s == v1::TASK_CANCELLED;
}

struct AttemptRecord {
  uint32_t number = 0;
  WorkerId worker = 0;
  std::string worker_name;
  absl::Time assigned_at = absl::InfinitePast();
  absl::Time started_at = absl::InfinitePast();
  absl::Time finished_at = absl::InfinitePast();
  std::string error;
};

struct TaskRecord {
  uint32_t remaining = 0;  // dependencies that have not succeeded
  v1::TaskState state = v1::TASK_PENDING;
  uint32_t fn = 0;
  WorkerId worker = 0;      // of the current attempt, while assigned or running
  bool retry_wait = false;  // READY but backing off until retry_at
  absl::Time retry_at = absl::InfinitePast();
  absl::Time ready_since = absl::InfinitePast();  // for queue-wait metrics
  std::vector<AttemptRecord> attempts;
  uint32_t failed_attempts = 0;  // attempts that failed (not lost ones)
  std::string error;             // why it failed for good
  WorkerId producer = 0;         // the worker that produced its result
};

struct Scheduler::Job {
  uint64_t seq = 0;
  CompiledJob graph;
  v1::JobStatus status;  // identity and times; counts are filled on demand
  std::vector<TaskRecord> tasks;
  std::vector<StoredResult> results;  // by task, once succeeded
  std::array<uint32_t, 9> counts{};   // tasks by v1::TaskState
  uint32_t unfinished = 0;
  bool watched = false;
  bool cancel_requested = false;
  bool failed = false;
  bool finished = false;
  std::vector<uint32_t> failures;  // tasks that failed for good
  // Task id -> index, built on the first query by id.
  absl::flat_hash_map<absl::string_view, uint32_t> index;

  bool Terminal(uint32_t task) const { return IsTerminal(tasks[task].state); }
  const v1::TaskSpec& spec(uint32_t task) const {
    return graph.spec.tasks(task);
  }
  uint32_t slots(uint32_t task) const {
    uint32_t s = spec(task).resources().slots();
    return s == 0 ? 1 : s;
  }
};

struct Scheduler::Worker {
  WorkerId id = 0;
  WorkerSpec spec;
  uint32_t busy = 0;
  absl::Time connected_at;
  absl::Time last_seen;
  absl::flat_hash_set<TaskRef> running;
  std::vector<uint32_t> fns;

  uint32_t free() const { return spec.slots > busy ? spec.slots - busy : 0; }
};

}  // namespace dagd

#endif  // DAGD_SERVER_SCHEDULER_INTERNAL_H_
