// How a worker runs tasks: a TaskRuntime is one way of running them (the
// builtin functions, plugins' functions, `exec`, and runtimes to come such
// as Python), and TaskRuntimes is the list a worker offers. The runner asks
// the list which runtime takes an assignment and lets that one run the
// attempt; it handles everything around the call itself (inputs by
// reference, the timeout, cancellation, reports), the same for every
// runtime.
//
// Adding a runtime means one new implementation of TaskRuntime and one
// TaskRuntimes::Add where dagd-worker builds its list (worker/main.cc):
// Register tells dagd its name and functions from the list.
#ifndef DAGD_WORKER_TASK_RUNTIME_H_
#define DAGD_WORKER_TASK_RUNTIME_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "dagd/v1/worker_service.pb.h"
#include "worker/function_registry.h"

namespace dagd {

// One attempt as a runtime sees it. Valid only during TaskRuntime::Run.
struct RuntimeAttempt {
  // The task as dagd sent it: its fn, and any field that names its code.
  const v1::Assignment& assignment;
  // What the task's code sees: args, inputs (already read from the object
  // store when sent by reference), ids, attempt number and cancellation.
  TaskContext& context;
  // When the attempt's timeout cancels `context`; InfiniteFuture when the
  // task has none. The cancel comes anyway: a runtime that hands the
  // attempt to another process may pass the deadline on, so that the
  // process stops by itself first.
  absl::Time deadline;
};

// One way of running tasks. Implementations are thread-safe: Runs and Run
// are called from the worker's pool threads, several attempts at once.
class TaskRuntime {
 public:
  virtual ~TaskRuntime() = default;

  // The runtime's name, as Register.runtimes lists it ("builtin",
  // "plugin", "exec"). Constant.
  virtual absl::string_view name() const = 0;

  // The fns it runs, sorted, for Register.functions: dagd places a task
  // only on a worker that lists its fn. Constant once the list is shared.
  virtual std::vector<std::string> Functions() const = 0;

  // Whether it runs `assignment`: by its fn, or by any field that says what
  // kind of code the task carries. True for every fn of Functions(). Cheap
  // and never blocks: asked for each assignment, by each runtime in turn.
  virtual bool Runs(const v1::Assignment& assignment) const = 0;

  // Runs one attempt, on the calling thread, until it ends: the output, or
  // an error that fails the attempt (retried by the task's policy unless
  // IsPermanent). Once `attempt.context` is cancelled it should return
  // promptly; its result is then a failure whatever it returns. Called only
  // for assignments Runs accepted.
  virtual absl::StatusOr<Payload> Run(const RuntimeAttempt& attempt) = 0;

  // Whether Run reads inputs through Payload::bytes() only, so that inputs
  // this worker holds may reach it shared with the holder (Payload::held)
  // instead of copied. The builtins, exec and Python say yes; plugins'
  // functions may read Payload::data, so their runtime says no. An output
  // that is such an input is copied (TaskRunner).
  virtual bool ReadsHeldInputsInPlace() const { return false; }

  // Called once after each Run, on the same thread, when the worker has
  // done with the attempt's output: `stored` is dagd's reference to it when
  // it went by reference (held by this worker, or in the object store),
  // null otherwise (inline, or the attempt failed).
  virtual void OutputStored(const v1::Assignment& assignment,
                            const v1::ObjectRef* stored) {}
};

// The runtimes a worker offers, in the order they are asked. Filled at
// startup on one thread (Add); after that only read, from any thread, for
// as long as the worker runs.
class TaskRuntimes {
 public:
  // Adds `runtime` after those already added. A runtime that cannot be
  // told apart from one already there is refused, naming both:
  // ALREADY_EXISTS when it has the same name or offers a function another
  // already offers (a plugin's "add" would shadow or be shadowed by the
  // builtin), INVALID_ARGUMENT for null or an empty name.
  absl::Status Add(std::unique_ptr<TaskRuntime> runtime);

  // The first runtime that runs `assignment`, or null when none does (the
  // runner then fails the attempt for good: "no function 'x' on this
  // worker").
  TaskRuntime* Find(const v1::Assignment& assignment) const;

  // The runtimes' names, in the order added: Register.runtimes.
  std::vector<std::string> Names() const;
  // Every runtime's functions, sorted: Register.functions.
  std::vector<std::string> Functions() const;

 private:
  std::vector<std::unique_ptr<TaskRuntime>> runtimes_;
};

}  // namespace dagd

#endif  // DAGD_WORKER_TASK_RUNTIME_H_
