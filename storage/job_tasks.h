#ifndef DAGD_STORAGE_JOB_TASKS_H_
#define DAGD_STORAGE_JOB_TASKS_H_

#include <cstdint>
#include <initializer_list>
#include <string>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "dagd/v1/types.pb.h"

namespace dagd {

// A job's tasks, each kept as its encoded TaskSpec, back to back in blocks
// of up to 1 MiB (a small job's are small): about 40 bytes a task for a small
// one, where a parsed TaskSpec takes about 270 (a ten-million-task job's
// largest part). Readers parse a task, or scan it for the fields they want,
// when they need it; the store writes the bytes as they are.
//
// A task's bytes never move once added, so views of them (ids, inputs)
// stay valid as long as the JobTasks lives.
class JobTasks {
 public:
  JobTasks() = default;
  JobTasks(const JobTasks&) = delete;
  JobTasks& operator=(const JobTasks&) = delete;
  JobTasks(JobTasks&&) = default;
  JobTasks& operator=(JobTasks&&) = default;

  // Appends `task`, serialized: each field once, in field order, so a
  // scan finds at most one occurrence of a singular field.
  void Add(const v1::TaskSpec& task);
  // Appends an encoding as it is, as read back from the store: the bytes
  // are not checked, and Get and the scans trust them only as far as their
  // source is trusted (a stored job is compiled again before it runs).
  void AddEncoded(absl::string_view encoded);
  void Reserve(size_t tasks) { pos_.reserve(tasks); }

  uint32_t size() const { return static_cast<uint32_t>(pos_.size()); }
  // The encoded tasks' bytes, without the blocks' unused room.
  uint64_t bytes() const { return bytes_; }
  // The task's encoding, as Add wrote it.
  absl::string_view encoded(uint32_t i) const;
  // The task, parsed.
  v1::TaskSpec Get(uint32_t i) const;
  // The task with only `fields` parsed, of its length-delimited ones
  // (strings, bytes, messages): what a reader of a few of them needs,
  // without parsing the task's args and code.
  v1::TaskSpec GetFields(uint32_t i,
                         std::initializer_list<uint32_t> fields) const;
  // Field 1 without parsing the rest.
  absl::string_view id(uint32_t i) const;

 private:
  // Blocks double from the first up to this size.
  static constexpr size_t kFirstBlockBytes = size_t{1} << 10;
  static constexpr size_t kBlockBytes = size_t{1} << 20;

  // Where the next task's `size` bytes go: the block, with its position
  // recorded.
  std::string* Room(size_t size);

  std::vector<std::string> blocks_;
  // Per task: its block (high 32 bits) and offset in it (low 32 bits). A
  // task ends where the next one of its block begins, or at its block's
  // end.
  std::vector<uint64_t> pos_;
  uint64_t bytes_ = 0;
};

// The tasks of a JobTasks by id. A slot is the task's position (4 bytes),
// its id read from its encoding when compared: a table of string views
// takes 24 bytes a slot, 384 MB at ten million tasks (the job compiler's
// table, and the scheduler's once a task is looked up by id).
class TaskIdIndex {
 public:
  static constexpr uint32_t kNone = UINT32_MAX;

  // Indexes every task of `tasks`, which must outlive it. A task whose id
  // an earlier one has is left out.
  explicit TaskIdIndex(const JobTasks& tasks);

  // The task with `id`, or kNone.
  uint32_t Find(absl::string_view id) const;
  // The first task left out (its id taken by an earlier task), or kNone;
  // `*earlier` is set to that earlier task.
  uint32_t FirstDuplicate(uint32_t* earlier) const;

 private:
  struct Hash {
    using is_transparent = void;
    const JobTasks* tasks;
    size_t operator()(absl::string_view id) const;
    size_t operator()(uint32_t task) const { return (*this)(tasks->id(task)); }
  };
  struct Eq {
    using is_transparent = void;
    const JobTasks* tasks;
    absl::string_view Id(absl::string_view id) const { return id; }
    absl::string_view Id(uint32_t task) const { return tasks->id(task); }
    template <typename A, typename B>
    bool operator()(const A& a, const B& b) const {
      return Id(a) == Id(b);
    }
  };

  absl::flat_hash_set<uint32_t, Hash, Eq> set_;
  uint32_t duplicate_ = kNone;
  uint32_t duplicate_of_ = kNone;
};

// Calls `visit(field, value)` for each length-delimited field of the
// encoded message (strings, bytes, embedded messages), in order, and skips
// the others. INVALID_ARGUMENT when the bytes are not a message.
absl::Status ForEachLengthDelimited(
    absl::string_view encoded,
    absl::FunctionRef<void(uint32_t field, absl::string_view value)> visit);

}  // namespace dagd

#endif  // DAGD_STORAGE_JOB_TASKS_H_
