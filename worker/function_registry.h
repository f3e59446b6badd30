// The public API for task functions: what a function receives (TaskContext),
// what it returns (Payload or an error), and the registry that names them.
//
// Plugins compile against this header. FunctionRegistry::Register and every
// TaskContext method are inline or virtual, so calls a plugin makes on the
// objects the worker hands it go through those objects' vtables and need
// no link-time dependency on the worker. The free helpers (PermanentError,
// json_util.h) live in the small static library dagd_worker_api, which a
// plugin links (see tests/worker/test_plugin.cc).
#ifndef DAGD_WORKER_FUNCTION_REGISTRY_H_
#define DAGD_WORKER_FUNCTION_REGISTRY_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "google/protobuf/struct.pb.h"

namespace dagd {

class CancellationToken;

inline constexpr char kJsonContentType[] = "application/json";
inline constexpr char kOctetStreamContentType[] = "application/octet-stream";

// A task's output, or one of its inputs: bytes and what they mean.
struct Payload {
  std::string data;
  std::string content_type;
  // Only for an input held by a worker, handed to a runtime that reads
  // inputs in place (TaskRuntime::ReadsHeldInputsInPlace): the held bytes
  // themselves, shared with the object holder (or, fetched from another
  // worker, with the other tasks here that read them), and `data` empty.
  // Copying a result of hundreds of megabytes into fresh memory for each task
  // that reads it costs more than the task's own work on it. Plugins' functions
  // never see it set (theirs is a copy, in `data`). An output that has it
  // (identity's, say) is copied into the result by the runner.
  std::shared_ptr<const std::string> held = nullptr;

  // The bytes, wherever they are.
  absl::string_view bytes() const {
    return held != nullptr ? absl::string_view(*held) : absl::string_view(data);
  }
};

// Identifies one attempt of one task.
struct AttemptInfo {
  std::string job_id;
  std::string task_id;
  uint32_t task_index = 0;
  uint32_t attempt = 1;  // 1-based
};

// Everything one attempt of a task may look at while it runs. Created by the
// worker for each attempt and valid only during the function call. The
// accessors may be called from any thread; cancellation can arrive from any
// thread (the coordinator's cancel, or the attempt's timeout).
class TaskContext {
 public:
  // `token` is not owned and must outlive the context.
  TaskContext(AttemptInfo info, google::protobuf::Value args,
              std::vector<Payload> inputs, CancellationToken* token);
  virtual ~TaskContext();

  TaskContext(const TaskContext&) = delete;
  TaskContext& operator=(const TaskContext&) = delete;

  // The task's `args` JSON literal (null kind when absent).
  const google::protobuf::Value& args() const { return args_; }
  // The outputs of the task's `inputs`, in order.
  const std::vector<Payload>& inputs() const { return inputs_; }
  const std::string& job_id() const { return info_.job_id; }
  const std::string& task_id() const { return info_.task_id; }
  uint32_t task_index() const { return info_.task_index; }
  uint32_t attempt() const { return info_.attempt; }

  // True once the attempt was cancelled or timed out. Long-running functions
  // should poll this or use WaitFor/OnCancel and return promptly: the
  // attempt's result is a failure either way.
  virtual bool cancelled() const;

  // Waits up to `duration`. Returns true if the whole duration passed, false
  // as soon as the attempt is cancelled (or if it already was).
  virtual bool WaitFor(absl::Duration duration);

  // Runs `callback` once when the attempt is cancelled (at once, on this
  // thread, if it already is). The callback runs on the cancelling thread
  // and must not block. Returns a handle for RemoveCancelCallback; after
  // RemoveCancelCallback returns, the callback is not running and will not
  // run, so it may safely reference the caller's stack.
  virtual int AddCancelCallback(std::function<void()> callback);
  virtual void RemoveCancelCallback(int handle);

 private:
  const AttemptInfo info_;
  const google::protobuf::Value args_;
  const std::vector<Payload> inputs_;
  CancellationToken* const token_;
};

// A task function. Returning an error fails the attempt; the coordinator
// retries it by the task's retry policy unless the error is permanent (see
// PermanentError). Called on a worker thread; several functions, including
// several calls of the same one, run at the same time.
using TaskFunction = std::function<absl::StatusOr<Payload>(TaskContext&)>;

// Marks a status as a permanent failure: one that retrying cannot fix (bad
// arguments, unusable input). The mark is a status payload under this type
// URL, so any status code may carry it; plugins that do not link the helper
// below may set it themselves with status.SetPayload(kPermanentErrorUrl, {}).
inline constexpr char kPermanentErrorUrl[] =
    "type.dagd.dev/dagd.PermanentError";

// An error (code FAILED_PRECONDITION) marked permanent.
absl::Status PermanentError(absl::string_view message);
// Returns `status` marked permanent.
absl::Status MakePermanent(absl::Status status);
// Whether `status` carries the permanent mark.
bool IsPermanent(const absl::Status& status);

// Names the functions a worker offers. Filled at startup (builtins, then
// plugins) on one thread; after that it is only read, from any thread.
class FunctionRegistry {
 public:
  FunctionRegistry();
  virtual ~FunctionRegistry();

  FunctionRegistry(const FunctionRegistry&) = delete;
  FunctionRegistry& operator=(const FunctionRegistry&) = delete;

  // Adds `fn` under `name`. INVALID_ARGUMENT for an empty name or a null
  // function, ALREADY_EXISTS for a name already registered. Virtual so that
  // plugins call it through the vtable instead of linking against it.
  virtual absl::Status Register(std::string name, TaskFunction fn);

  // The function named `name`, or nullptr. The pointer stays valid for the
  // registry's lifetime.
  const TaskFunction* Find(absl::string_view name) const;

  // Every registered name, sorted.
  std::vector<std::string> Names() const;

 private:
  std::map<std::string, TaskFunction, std::less<>> functions_;
};

}  // namespace dagd

// What a plugin exports. Returns 0 on success; anything else makes the
// worker refuse to start.
extern "C" int dagd_register_functions(dagd::FunctionRegistry* registry);

#endif  // DAGD_WORKER_FUNCTION_REGISTRY_H_
