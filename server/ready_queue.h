#ifndef DAGD_SERVER_READY_QUEUE_H_
#define DAGD_SERVER_READY_QUEUE_H_

#include <cstdint>
#include <queue>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/btree_map.h"
#include "absl/container/flat_hash_map.h"
#include "absl/strings/string_view.h"

namespace dagd {

// A ready task's place in its job's line.
struct ReadyEntry {
  int32_t task_priority;
  double rank;  // critical-path rank
  uint32_t task;
};

// True when `a` should run before `b` within one job: task priority (higher
// first), then critical-path rank (longer first), then submission order.
// Across jobs, the JobSorter decides (job_sorter.h).
inline bool RunsBefore(const ReadyEntry& a, const ReadyEntry& b) {
  if (a.task_priority != b.task_priority) {
    return a.task_priority > b.task_priority;
  }
  if (a.rank != b.rank) return a.rank > b.rank;
  return a.task < b.task;
}

// A job's ready tasks of one demand (see Scheduler), best on top.
class ReadyHeap {
 public:
  void Push(const ReadyEntry& entry) { heap_.push(entry); }
  bool empty() const { return heap_.empty(); }
  size_t size() const { return heap_.size(); }
  const ReadyEntry& Top() const { return heap_.top(); }
  void Pop() { heap_.pop(); }

 private:
  struct Later {
    bool operator()(const ReadyEntry& a, const ReadyEntry& b) const {
      return RunsBefore(b, a);
    }
  };
  std::priority_queue<ReadyEntry, std::vector<ReadyEntry>, Later> heap_;
};

// A job's ready tasks of one demand.
struct JobQueue {
  uint32_t demand = 0;
  ReadyHeap heap;
};

// Tasks sharing an exclusive_group never run at the same time. While one
// holds the group, the others that reach the top of their heaps wait here,
// in their job's order. A release wakes only the best waiter of each job
// and demand: waking them all would cost a heap push per waiter per
// release, quadratic in a group's size; waking one per job left the rest
// parked behind a woken task no worker could take (another pool, say),
// with the group free.
// (Who holds a group is the ResourceLedger's; this is the line.)
struct GroupWaiters {
  // By job seq, then demand.
  absl::btree_map<std::pair<uint64_t, uint32_t>, ReadyHeap> waiting;
};

// Interns names (functions, exclusive groups, resource names) to small dense
// ids, so per-name tables are vectors and records do not carry strings.
class NameTable {
 public:
  uint32_t Intern(absl::string_view name) {
    auto [it, inserted] = ids_.try_emplace(name, names_.size());
    if (inserted) names_.emplace_back(name);
    return it->second;
  }
  // The id of `name` if it was interned, else size().
  uint32_t Find(absl::string_view name) const {
    auto it = ids_.find(name);
    return it == ids_.end() ? static_cast<uint32_t>(names_.size()) : it->second;
  }
  const std::string& Name(uint32_t id) const { return names_[id]; }
  size_t size() const { return names_.size(); }

 private:
  absl::flat_hash_map<std::string, uint32_t> ids_;
  std::vector<std::string> names_;
};

}  // namespace dagd

#endif  // DAGD_SERVER_READY_QUEUE_H_
