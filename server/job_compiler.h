#ifndef DAGD_SERVER_JOB_COMPILER_H_
#define DAGD_SERVER_JOB_COMPILER_H_

#include <cstdint>
#include <memory>
#include <vector>

#include "absl/status/statusor.h"
#include "dagd/v1/types.pb.h"
#include "server/executor.h"

namespace dagd {

struct JobLimits {
  uint32_t max_tasks_per_job = 1'000'000;
  uint64_t max_job_bytes = 256ull << 20;
  // dagd dispatches to AWS Lambda (--lambda_function is set): tasks may
  // have executor "lambda" or "lambda:NAME".
  bool lambda = false;
  // The NAMEs "lambda:NAME" may name (--lambda_allowed_functions): dagd
  // invokes them with its own credentials, so not any name a client
  // writes. Empty: only "lambda" (--lambda_function) itself.
  std::vector<std::string> lambda_functions;
};

// A job in index form: tasks numbered 0..n-1 in submission order, edges as
// flat arrays. Built once at submission, read-only afterwards.
struct CompiledJob {
  // Shared with the store's record of the new job (WriteSet::NewJob), which
  // would otherwise hold a copy of every task until the turn's commit: at a
  // million tasks, 277 MB of dagd's peak memory.
  std::shared_ptr<const v1::JobSpec> spec;
  // Successors of task i: succ[succ_begin[i] .. succ_begin[i+1]). An edge
  // appears once per listing, so a task named twice in `inputs` counts twice
  // in `dep_count` and is released by the one completion that counts both.
  std::vector<uint32_t> succ_begin;
  std::vector<uint32_t> succ;
  // Inputs of task i, in order: inputs[input_begin[i] .. input_begin[i+1]).
  std::vector<uint32_t> input_begin;
  std::vector<uint32_t> inputs;
  // Number of incoming edges (inputs and `after`) per task.
  std::vector<uint32_t> dep_count;
  // The spec's encoded size, as --max_job_bytes counts it.
  uint64_t spec_bytes = 0;
  // Longest path, in estimated cost, from the task to a sink (inclusive).
  std::vector<double> rank;
  // Where each task runs: executors[executor_of[i]]. Both are empty when
  // every task may run on any worker; else `executors` holds the distinct
  // ones, any worker first.
  std::vector<Executor> executors;
  std::vector<uint32_t> executor_of;

  const Executor& executor(uint32_t task) const {
    static const Executor* const kAnyWorker = new Executor();
    return executor_of.empty() ? *kAnyWorker : executors[executor_of[task]];
  }
  uint32_t size() const { return static_cast<uint32_t>(dep_count.size()); }
};

// Validates `spec` and compiles it. Every error is INVALID_ARGUMENT with a
// message naming the task (by id, or by position when the id is empty) and
// the problem; a cycle names the tasks on it. Runs in time and stack space
// independent of the graph's depth: nothing recurses.
absl::StatusOr<CompiledJob> CompileJob(v1::JobSpec spec,
                                       const JobLimits& limits);

}  // namespace dagd

#endif  // DAGD_SERVER_JOB_COMPILER_H_
