#ifndef DAGD_SERVER_READY_QUEUE_H_
#define DAGD_SERVER_READY_QUEUE_H_

#include <cstdint>
#include <queue>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/string_view.h"

namespace dagd {

// A ready task's place in line.
struct ReadyEntry {
  int32_t job_priority;
  int32_t task_priority;
  double rank;  // critical-path rank
  uint64_t job_seq;
  uint32_t task;
};

// True when `a` should run before `b`: job priority, then task priority
// (higher first), then critical-path rank (longer first), then submission
// order.
inline bool RunsBefore(const ReadyEntry& a, const ReadyEntry& b) {
  if (a.job_priority != b.job_priority) return a.job_priority > b.job_priority;
  if (a.task_priority != b.task_priority) {
    return a.task_priority > b.task_priority;
  }
  if (a.rank != b.rank) return a.rank > b.rank;
  if (a.job_seq != b.job_seq) return a.job_seq < b.job_seq;
  return a.task < b.task;
}

// Interns function names to small dense ids, so per-function tables are
// vectors and ready entries do not carry strings.
class FunctionTable {
 public:
  uint32_t Intern(absl::string_view fn) {
    auto [it, inserted] = ids_.try_emplace(fn, names_.size());
    if (inserted) names_.emplace_back(fn);
    return it->second;
  }
  const std::string& Name(uint32_t id) const { return names_[id]; }
  size_t size() const { return names_.size(); }

 private:
  absl::flat_hash_map<std::string, uint32_t> ids_;
  std::vector<std::string> names_;
};

// Ready tasks, one heap per function: a task can only go to a worker that
// offers its function, so placement compares the best task of each function
// whose workers have room instead of skipping over tasks nobody can run.
// Entries of tasks that stopped being ready (a cancelled job) stay until
// they reach the top; the owner drops them there.
class ReadyQueue {
 public:
  void Push(uint32_t fn, const ReadyEntry& entry) {
    if (fn >= heaps_.size()) heaps_.resize(fn + 1);
    if (heaps_[fn].empty()) nonempty_.insert(fn);
    heaps_[fn].push(entry);
    ++size_;
  }
  bool Empty(uint32_t fn) const {
    return fn >= heaps_.size() || heaps_[fn].empty();
  }
  const ReadyEntry& Top(uint32_t fn) const { return heaps_[fn].top(); }
  void Pop(uint32_t fn) {
    heaps_[fn].pop();
    --size_;
    if (heaps_[fn].empty()) nonempty_.erase(fn);
  }
  // Fills `out` with the functions that have entries, in no particular
  // order. Placement looks only at these, so names of finished jobs cost
  // nothing; `out` is the caller's, reused so placement does not allocate.
  void NonEmpty(std::vector<uint32_t>* out) const {
    out->assign(nonempty_.begin(), nonempty_.end());
  }
  size_t size() const { return size_; }

 private:
  struct Later {
    bool operator()(const ReadyEntry& a, const ReadyEntry& b) const {
      return RunsBefore(b, a);
    }
  };
  std::vector<std::priority_queue<ReadyEntry, std::vector<ReadyEntry>, Later>>
      heaps_;
  absl::flat_hash_set<uint32_t> nonempty_;
  size_t size_ = 0;
};

}  // namespace dagd

#endif  // DAGD_SERVER_READY_QUEUE_H_
