#ifndef DAGD_SERVER_JOB_COMPILER_H_
#define DAGD_SERVER_JOB_COMPILER_H_

#include <algorithm>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"
#include "dagd/v1/types.pb.h"
#include "server/executor.h"
#include "storage/job_tasks.h"

namespace dagd {

struct JobLimits {
  uint32_t max_tasks_per_job = 1'000'000;
  // Distinct kinds of task a job may have by what placing them looks at
  // (fn, resources, executor; --max_task_kinds_per_job): the scheduler
  // keeps a ready queue per kind and a job's placement looks at each.
  uint32_t max_task_kinds_per_job = 1'000;
  uint64_t max_job_bytes = 256ull << 20;
  // dagd dispatches to AWS Lambda (--lambda_function is set): tasks may
  // have executor "lambda" or "lambda:NAME".
  bool lambda = false;
  // The NAMEs "lambda:NAME" may name (--lambda_allowed_functions): dagd
  // invokes them with its own credentials, so not any name a client
  // writes. Empty: only "lambda" (--lambda_function) itself.
  std::vector<std::string> lambda_functions;
  // Any NAME passes (a stored job compiled again at a restart: it was
  // checked when accepted). The scheduler invokes only the names allowed
  // now (SchedulerOptions::lambda_allowed_functions); the others wait.
  bool any_lambda_function = false;
};

// What a task asks of a worker, and its exclusive group. Tasks alike in
// these share a kind, and a job has few: the scheduler works out a
// placement demand per kind, not per task.
struct TaskKind {
  std::string fn;
  v1::Resources resources;
  uint32_t executor = 0;  // in CompiledJob::executors; 0: any worker
  std::string exclusive_group;
};

// A job in index form: tasks numbered 0..n-1 in submission order, edges as
// flat arrays. Built once at submission, read-only afterwards.
struct CompiledJob {
  // Every field of the job but its tasks, which are in `tasks`. Both are
  // shared with the store's record of the new job (WriteSet::NewJob).
  std::shared_ptr<const v1::JobSpec> header;
  // Encoded, about 40 bytes a small task instead of 270 as messages: the
  // largest part of a ten-million-task job's memory otherwise.
  std::shared_ptr<const JobTasks> tasks;
  // Successors of task i: succ[succ_begin[i] .. succ_begin[i+1]). An edge
  // appears once per listing, so a task named twice in `inputs` counts twice
  // in `dep_count` and is released by the one completion that counts both.
  // Its readers (whose `inputs` name it) come first, up to readers_end(i);
  // the rest only wait for it (`after`).
  std::vector<uint32_t> succ_begin;
  std::vector<uint32_t> succ;
  // Where each task's readers end in `succ`; empty when the job has no
  // `after` (every successor reads), which costs nothing then.
  std::vector<uint32_t> readers_end;
  // The tasks each task waits for by `after`, in order:
  // after[after_begin[i] .. after_begin[i+1]); both empty when the job has
  // no `after`. (Its inputs are `inputs`.)
  std::vector<uint32_t> after_begin;
  std::vector<uint32_t> after;
  // Inputs of task i, in order: inputs[input_begin[i] .. input_begin[i+1]).
  std::vector<uint32_t> input_begin;
  std::vector<uint32_t> inputs;
  // Number of incoming edges (inputs and `after`) per task.
  std::vector<uint32_t> dep_count;
  // The job's encoded size, as --max_job_bytes counts it.
  uint64_t spec_bytes = 0;
  // Longest path, in estimated cost, from the task to a sink (inclusive).
  std::vector<double> rank;
  // Each task's kind: kinds[kind_of[i]].
  std::vector<TaskKind> kinds;
  std::vector<uint32_t> kind_of;
  // Each task's priority; empty when every task's is 0.
  std::vector<int32_t> priority;
  // The tasks marked TaskSpec.output, ascending: outputs though consumed.
  std::vector<uint32_t> marked_outputs;
  // The distinct executors of the job's tasks, any worker first.
  std::vector<Executor> executors = {Executor()};

  const TaskKind& kind(uint32_t task) const { return kinds[kind_of[task]]; }
  const Executor& executor(uint32_t task) const {
    return executors[kind(task).executor];
  }
  int32_t priority_of(uint32_t task) const {
    return priority.empty() ? 0 : priority[task];
  }
  uint32_t size() const { return static_cast<uint32_t>(dep_count.size()); }
  uint32_t readers_end_of(uint32_t task) const {
    return readers_end.empty() ? succ_begin[task + 1] : readers_end[task];
  }
  // Whether succ[e], an edge of `task`, reads its output.
  bool reads(uint32_t task, uint32_t e) const {
    return e < readers_end_of(task);
  }
  // Whether the task's result is one of the job's outputs: no task reads it
  // (tasks `after` it only wait for it), or it is marked so.
  bool is_output(uint32_t task) const {
    return succ_begin[task] == readers_end_of(task) ||
           std::binary_search(marked_outputs.begin(), marked_outputs.end(),
                              task);
  }
};

// Compiles a job task by task, as its request is read, so that no more
// than one task is a parsed message at a time: Begin, AddTask for each
// task in order, then Finish. Every error is INVALID_ARGUMENT with a
// message naming the task (by id, or by position when the id is empty)
// and the problem; a cycle names the tasks on it. Of several, the first
// found is said, in this order: the job's size and task count; each
// task's own fields, in task order; the job's name and deadline (which a
// request may send after its tasks); duplicate ids; dependencies; cycles. Runs
// in time and stack space independent of the graph's depth: nothing recurses.
class JobCompiler {
 public:
  explicit JobCompiler(const JobLimits& limits);

  // `bytes`: the job's encoded size; `tasks`: how many it will add, if
  // known, to reserve room. A reader that learns the size in parts calls it
  // again with the total so far.
  absl::Status Begin(uint64_t bytes, uint32_t tasks = 0);
  // Checks what can be checked of the task alone, and keeps it.
  absl::Status AddTask(const v1::TaskSpec& task);
  // The job's fields but its tasks (which `header` may not hold): checks
  // them and the graph.
  absl::StatusOr<CompiledJob> Finish(v1::JobSpec header) &&;

  // The tasks added so far, encoded. Task i's encoding stays where it is
  // while more are added.
  const JobTasks& tasks() const { return *tasks_; }

 private:
  absl::Status KindOf(uint32_t i, const v1::TaskSpec& task, uint32_t* kind);

  const JobLimits& limits_;
  CompiledJob job_;
  std::unique_ptr<JobTasks> tasks_ = std::make_unique<JobTasks>();
  // Kinds by fn, for the tasks that name no resources, executor or group,
  // and by a key of all four for the others.
  absl::flat_hash_map<std::string, uint32_t> plain_kinds_;
  absl::flat_hash_map<std::string, uint32_t> other_kinds_;
  // The kinds as placement tells them apart (without exclusive_group).
  absl::flat_hash_set<std::string> placement_kinds_;
  // CompiledJob::executors by Executor::ToString(), any worker first.
  absl::flat_hash_map<std::string, uint32_t> executor_indexes_ = {{"", 0}};
};

// The error for a job of `tasks` tasks, over --max_tasks_per_job.
absl::Status TooManyTasks(uint64_t tasks, const JobLimits& limits);

// The longest SubmitJobRequest.request_id: it is stored twice (the request
// key and every write of the job's status) and answered by GetJob.
inline constexpr size_t kMaxRequestIdBytes = 1024;

// INVALID_ARGUMENT for a request_id over kMaxRequestIdBytes or holding
// control characters (it reaches logs, the audit log and terminals).
absl::Status CheckRequestId(absl::string_view request_id);

// Validates `spec` and compiles it, with a JobCompiler.
absl::StatusOr<CompiledJob> CompileJob(v1::JobSpec spec,
                                       const JobLimits& limits);
// The same for a job whose tasks are encoded (a stored job): each is
// parsed once, into one reused message. A task that does not parse is
// DATA_LOSS, naming it by position; INVALID_ARGUMENT is a job the checks
// refuse (a stored one accepted before a check was added).
absl::StatusOr<CompiledJob> CompileJob(v1::JobSpec header,
                                       const JobTasks& tasks,
                                       const JobLimits& limits);
}  // namespace dagd

#endif  // DAGD_SERVER_JOB_COMPILER_H_
