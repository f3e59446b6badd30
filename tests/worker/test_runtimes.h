// The task runtimes of a dagd-worker started without --plugin, over a
// registry the test fills (the builtins, and maybe functions of its own).
#ifndef DAGD_TESTS_WORKER_TEST_RUNTIMES_H_
#define DAGD_TESTS_WORKER_TEST_RUNTIMES_H_

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/synchronization/mutex.h"
#include "gtest/gtest.h"
#include "worker/exec_runtime.h"
#include "worker/function_registry.h"
#include "worker/function_runtime.h"
#include "worker/task_runtime.h"

namespace dagd {

// "builtin" over `builtins` (not owned; it may be filled later, before the
// first task runs), then "exec". Both read held inputs in place, as
// dagd-worker's do: functions a test adds to `builtins` read
// Payload::bytes().
inline TaskRuntimes BuiltinRuntimes(const FunctionRegistry* builtins) {
  TaskRuntimes runtimes;
  EXPECT_TRUE(runtimes
                  .Add(std::make_unique<FunctionRuntime>(
                      kBuiltinRuntime, builtins, /*reads_in_place=*/true))
                  .ok());
  EXPECT_TRUE(runtimes.Add(std::make_unique<ExecRuntime>()).ok());
  return runtimes;
}

// A runtime that takes every task whose fn starts with `prefix`, offers no
// function by name (as a Python runtime takes "module:function"), and
// records each attempt it runs. Its output is the JSON string "NAME ran".
// With `in_place`, it says it reads held inputs in place (as the Python
// runtime does), so inputs this worker holds reach it shared.
class RecordingRuntime : public TaskRuntime {
 public:
  struct Seen {
    std::string fn;
    std::string args;
    std::vector<Payload> inputs;
    absl::Time deadline;
  };

  RecordingRuntime(std::string name, std::string prefix, bool in_place = false)
      : name_(std::move(name)),
        prefix_(std::move(prefix)),
        in_place_(in_place) {}

  absl::string_view name() const override { return name_; }
  std::vector<std::string> Functions() const override { return {}; }
  bool Runs(const v1::Assignment& assignment) const override {
    return absl::StartsWith(assignment.fn(), prefix_);
  }
  absl::StatusOr<Payload> Run(const RuntimeAttempt& attempt) override {
    absl::MutexLock lock(&mu_);
    seen_.push_back({attempt.assignment.fn(),
                     attempt.context.args().ShortDebugString(),
                     attempt.context.inputs(), attempt.deadline});
    return Payload{"\"" + name_ + " ran\"", kJsonContentType};
  }
  bool ReadsHeldInputsInPlace() const override { return in_place_; }

  std::vector<Seen> seen() {
    absl::MutexLock lock(&mu_);
    return seen_;
  }

 private:
  const std::string name_;
  const std::string prefix_;
  const bool in_place_;
  absl::Mutex mu_;
  std::vector<Seen> seen_ ABSL_GUARDED_BY(mu_);
};

}  // namespace dagd

#endif  // DAGD_TESTS_WORKER_TEST_RUNTIMES_H_
