// What one Python interpreter keeps of the large objects it has seen, as
// the worker tracks it. An interpreter that decoded a large input, or
// returned a large result, can keep the Python object; a later task on it
// that reads the same result then gets that object instead of its bytes
// once more through the socket and the unpickler. A result that tens of
// tasks read (a block of a matrix) otherwise costs a copy into the worker,
// one out of it for each reader, and fresh memory in the interpreter for
// each, which was most of what dagd spent on such a graph. Dask's workers
// hand every consumer of a result the same object; so does this, within
// one interpreter (tasks must not change their inputs in place: see
// README "Python and Dask").
//
// The worker decides what each interpreter keeps and tells it with each
// task (client/python/dagd/runner.py): which inputs to take from what it
// keeps, which to keep once decoded, whether to keep the result, and what
// to forget first, least recently used first beyond a byte budget.
//
// A kept object is known by its name: the result's key (one per attempt
// of a task), size and CRC-32C as dagd recorded them. The key alone would
// do within one dagd's life, but a worker that outlives a dagd started
// afresh sees the same job ids again.
#ifndef DAGD_WORKER_PYTHON_KEPT_H_
#define DAGD_WORKER_PYTHON_KEPT_H_

#include <cstdint>
#include <list>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/string_view.h"

namespace dagd {

// Objects smaller than this are not worth keeping: sending them costs less
// than the bookkeeping.
inline constexpr uint64_t kMinKeptBytes = 1 << 20;

// The name of a kept object: its key, size and CRC-32C.
std::string KeptName(absl::string_view key, uint64_t size, uint32_t crc32c);

// One input as the plan sees it: its name, or empty when it cannot be kept
// (sent by value, small, or not a Python object).
struct KeptInput {
  std::string name;
  uint64_t size = 0;
};

// What to tell the interpreter with one task. Ids are the interpreter's
// names for what it keeps; 0 means none.
struct KeptPlan {
  std::vector<uint64_t> drop;  // to forget before anything else
  std::vector<uint64_t> use;   // per input: the kept object that is it
  std::vector<uint64_t> keep;  // per input: keep it under this id
  uint64_t result = 0;         // keep the result under this id
  uint64_t result_max = 0;     // if it is no larger than this
};

// Not thread-safe: owned with its interpreter, by one thread at a time.
class KeptObjects {
 public:
  // Keeps at most `budget` bytes (0: nothing).
  explicit KeptObjects(uint64_t budget) : budget_(budget) {}

  // Bytes of `inputs` kept: to choose, among idle interpreters, the one
  // that has most of a task's inputs.
  uint64_t BytesOf(const std::vector<KeptInput>& inputs) const;

  // The plan for a task with `inputs`. Inputs kept already are used (and
  // become the most recently used); others are kept when they fit, the
  // least recently used objects not used by this task forgotten to make
  // room. `keep_result`: the task's result may be kept (ResultKept).
  KeptPlan Plan(const std::vector<KeptInput>& inputs, bool keep_result);

  // The interpreter did not keep the input it was told to keep under `id`
  // (the task failed before its inputs were decoded).
  void NotKept(uint64_t id);

  // The interpreter kept a result, of `size` bytes, under `id` (a
  // plan.result); it is `name`. Too large for the budget: forgotten at the
  // next task.
  void ResultKept(uint64_t id, std::string name, uint64_t size);
  // The interpreter kept a result under `id` that no task will ask for
  // (it was not held by reference): forgotten at the next task.
  void Drop(uint64_t id) { drops_.push_back(id); }

  uint64_t bytes() const { return bytes_; }
  size_t count() const { return by_name_.size(); }

 private:
  struct Entry {
    uint64_t id = 0;
    uint64_t size = 0;
    std::list<std::string>::iterator lru;
  };

  // Adds `name` as the most recently used, forgetting the least recently
  // used others until it fits (never those in `pinned`); false, and nothing
  // forgotten, when it cannot fit.
  bool Add(const std::string& name, uint64_t id, uint64_t size,
           const std::vector<std::string>& pinned);
  void Forget(const std::string& name);

  const uint64_t budget_;
  uint64_t bytes_ = 0;
  uint64_t next_id_ = 1;
  absl::flat_hash_map<std::string, Entry> by_name_;
  std::list<std::string> lru_;   // least recently used first
  std::vector<uint64_t> drops_;  // to send with the next task
};

}  // namespace dagd

#endif  // DAGD_WORKER_PYTHON_KEPT_H_
