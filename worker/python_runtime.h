// The `python` runtime (dagd-worker --python): tasks with fn "python" run
// in long-lived Python interpreters, each running dagd's runner module
// (client/python/dagd/runner.py), one task at a time per interpreter.
//
// A task names its code with args.function ("module:function", imported
// by the interpreter) or carries it (Assignment.code: a pickled callable).
// Its args may also hold "args" and "kwargs" (JSON values passed after the
// inputs) and "output" ("pickle", the default; "json"; "bytes"). The
// runner decodes inputs to Python objects, calls the function, and sends
// back the encoded result (client/python/dagd/codec.py says how).
//
// Failures: an exception fails the attempt with its type, message and
// traceback (for good if it is a dagd.PermanentError, or if the task's
// code cannot be found); an interpreter that dies fails the attempt
// (retryable) and is replaced; a cancel or timeout kills the interpreter's
// process group (the next task gets a new interpreter). What a task prints
// is logged with its job and task ids.
#ifndef DAGD_WORKER_PYTHON_RUNTIME_H_
#define DAGD_WORKER_PYTHON_RUNTIME_H_

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "storage/base/logging.h"
#include "worker/python_kept.h"
#include "worker/python_process.h"
#include "worker/task_runtime.h"

namespace dagd {

inline constexpr char kPythonRuntime[] = "python";
inline constexpr char kPythonFunction[] = "python";
inline constexpr char kDefaultPythonInterpreter[] = "/usr/bin/python3";

// How much of a task's error (traceback included) its failure keeps: the
// start and, mostly, the end, where the exception's own line is.
inline constexpr size_t kMaxPythonErrorBytes = 16 << 10;
// Larger outputs fail the attempt: a protobuf message cannot hold them.
inline constexpr uint64_t kMaxPythonOutputBytes = (2ull << 30) - (1 << 20);

// Each interpreter keeps up to this many bytes of large inputs and results
// as Python objects (see worker/python_kept.h); --python_keep_bytes.
inline constexpr uint64_t kDefaultPythonKeepBytes = 256 << 20;

struct PythonRuntimeOptions {
  PythonProcessOptions process;
  // Interpreters at most, each running one task at a time. At least 1.
  uint32_t processes = 1;
  // Bytes each interpreter keeps of large objects; 0 keeps none.
  uint64_t keep_bytes = kDefaultPythonKeepBytes;
  // dagd's --max_result_bytes, as the worker last heard it (0: not heard):
  // an output past it is refused unread, the interpreter replaced. Unset:
  // kMaxPythonOutputBytes alone.
  std::function<uint64_t()> max_output_bytes;
};

// Thread-safe: Run is called from the worker's pool threads. Interpreters
// are started by Start and replaced, when one dies or is killed, by the
// next Run that needs one.
class PythonRuntime : public TaskRuntime {
 public:
  // Starts `options.processes` interpreters and waits until each is ready,
  // so that a worker whose Python cannot run dagd.runner stops at start
  // (PythonProcess::Start's errors). `log` gets what tasks print and the
  // interpreters' deaths; it must outlive the runtime.
  static absl::StatusOr<std::unique_ptr<PythonRuntime>> Start(
      PythonRuntimeOptions options, LogFn log);
  // Kills the idle interpreters. No Run may be in progress.
  ~PythonRuntime() override;

  absl::string_view name() const override { return kPythonRuntime; }
  std::vector<std::string> Functions() const override {
    return {kPythonFunction};
  }
  bool Runs(const v1::Assignment& assignment) const override {
    return assignment.fn() == kPythonFunction;
  }
  absl::StatusOr<Payload> Run(const RuntimeAttempt& attempt) override;
  // Names the result an interpreter kept for the attempt, if it did.
  void OutputStored(const v1::Assignment& assignment,
                    const v1::ObjectRef* stored) override;
  // Inputs are only written to the interpreter's socket.
  bool ReadsHeldInputsInPlace() const override { return true; }

  // "2 interpreters of /usr/bin/python3 (Python 3.11.2)", for the log.
  std::string Describe() const;

 private:
  // What one exchange with an interpreter came to: the attempt's output or
  // error, and whether the interpreter can take another task.
  struct Exchange {
    absl::StatusOr<Payload> output;
    // Not ok: the link to the interpreter failed (it died, was killed or
    // broke the protocol); the attempt's error comes from that.
    absl::Status lost;
    // False: the interpreter cannot take another task (lost, or out of
    // step with the protocol) and is dropped.
    bool reusable = true;
  };

  PythonRuntime(PythonRuntimeOptions options, LogFn log);
  static Exchange Lost(absl::Status cause);

  // A result an interpreter kept, until the worker knows its name (the
  // reference dagd records, with the CRC-32C the holder takes).
  struct PendingResult {
    std::string attempt;  // its ResultObjectKey
    uint64_t id = 0;
    bool resolved = false;  // by OutputStored
    std::string name;       // empty once resolved: nobody will ask for it
    uint64_t size = 0;
  };

  // An interpreter and what it keeps. `process` and `kept` belong to the
  // thread that has the interpreter (or to mu_'s holder while it is idle);
  // `pending` is guarded by mu_.
  struct Interpreter {
    Interpreter(std::unique_ptr<PythonProcess> process, uint64_t keep_bytes)
        : process(std::move(process)), kept(keep_bytes) {}
    std::unique_ptr<PythonProcess> process;
    KeptObjects kept;
    std::vector<PendingResult> pending;
  };

  // An idle interpreter, the one that keeps most of `inputs` when several
  // are, or a new one while fewer than options_.processes live; waits for
  // one otherwise. CANCELLED if the attempt is cancelled while it waits.
  absl::StatusOr<std::unique_ptr<Interpreter>> Acquire(
      TaskContext& context, const std::vector<KeptInput>& inputs);
  // Drops the idle interpreters that have ended, which would fail the
  // tasks given them; a new one starts in their place when wanted.
  void DropExitedIdle() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Returns `interpreter` to the idle ones, or (not `healthy`) drops it.
  void Release(std::unique_ptr<Interpreter> interpreter, bool healthy);
  // Moves the resolved pending results of an idle `interpreter` into what
  // it keeps (or drops them).
  void ApplyPending(Interpreter& interpreter)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // After a reply: the inputs the runner did not keep are forgotten, and a
  // kept result waits for its name.
  void Confirm(Interpreter& interpreter, const KeptPlan& plan,
               const google::protobuf::Struct& header,
               const RuntimeAttempt& attempt, uint64_t result_size);

  Exchange RunOn(Interpreter& interpreter, const RuntimeAttempt& attempt,
                 const std::vector<KeptInput>& inputs);
  Exchange ReadOutput(Interpreter& interpreter, const KeptPlan& plan,
                      const RuntimeAttempt& attempt,
                      const google::protobuf::Struct& header);
  void LogPrint(const TaskContext& context,
                const google::protobuf::Struct& header) const;

  // Constant after construction.
  const PythonRuntimeOptions options_;
  const LogFn log_;
  std::string version_;  // set by Start, before the runtime is shared

  mutable absl::Mutex mu_;
  std::vector<std::unique_ptr<Interpreter>> idle_ ABSL_GUARDED_BY(mu_);
  // Interpreters started and not dropped, idle or running a task.
  uint32_t live_ ABSL_GUARDED_BY(mu_) = 0;
  // Interpreters with a kept result waiting for OutputStored, by the
  // attempt's ResultObjectKey.
  absl::flat_hash_map<std::string, Interpreter*> awaiting_ ABSL_GUARDED_BY(mu_);
};

// The attempt's inputs as KeptObjects sees them: named when dagd sent
// them by reference, large enough and pickled.
std::vector<KeptInput> KeptInputs(const RuntimeAttempt& attempt);

// The frame sizes of the runner's "result" message (its "sizes"): each a
// whole number of bytes, their sum at most kMaxPythonOutputBytes and
// `max_result_bytes` if not 0 (dagd's --max_result_bytes): past either,
// RESOURCE_EXHAUSTED before any sum could wrap and any frame is read.
// DATA_LOSS for one that is not a size (negative, fractional, not a
// number): cast as it was, it could wrap the sum, and the frames were read
// past the buffer.
absl::StatusOr<std::vector<size_t>> FrameSizes(
    const google::protobuf::Struct& header, uint64_t max_result_bytes = 0);

// A task error from the runner's "error" message: "Type: message" and the
// traceback, cut to kMaxPythonErrorBytes; permanent when the runner says.
absl::Status PythonTaskError(const google::protobuf::Struct& header);

}  // namespace dagd

#endif  // DAGD_WORKER_PYTHON_RUNTIME_H_
