// The `exec` runtime: tasks with fn "exec" run a program (no shell) with
// their inputs as files; what the program sees and how its output becomes
// the task's is in worker/exec_function.h.
#ifndef DAGD_WORKER_EXEC_RUNTIME_H_
#define DAGD_WORKER_EXEC_RUNTIME_H_

#include <string>
#include <utility>
#include <vector>

#include "worker/exec_function.h"
#include "worker/task_runtime.h"

namespace dagd {

inline constexpr char kExecFunction[] = "exec";

// Thread-safe: each attempt has its own directory and process group.
class ExecRuntime : public TaskRuntime {
 public:
  explicit ExecRuntime(ExecOptions options = {})
      : options_(std::move(options)) {}
  absl::string_view name() const override { return "exec"; }
  std::vector<std::string> Functions() const override {
    return {kExecFunction};
  }
  bool Runs(const v1::Assignment& assignment) const override {
    return assignment.fn() == kExecFunction;
  }
  absl::StatusOr<Payload> Run(const RuntimeAttempt& attempt) override;
  // Inputs are only written to the attempt's input files.
  bool ReadsHeldInputsInPlace() const override { return true; }

 private:
  const ExecOptions options_;
};

}  // namespace dagd

#endif  // DAGD_WORKER_EXEC_RUNTIME_H_
