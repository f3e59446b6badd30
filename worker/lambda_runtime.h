// dagd-worker as an AWS Lambda function: the custom-runtime loop that takes
// one invocation at a time from the Runtime API, runs its task with the
// same task runtimes (builtins, plugins, exec) as a long-running worker,
// and answers it.
//
// The invocation body is a dagd.v1.LambdaInvocation in proto3 JSON
// (proto/dagd/v1/lambda.proto). The answer is one of:
//   .../response  a LambdaResult in proto3 JSON: the task succeeded;
//   .../error     errorType kTaskFailed or kTaskFailedPermanently with the
//                 task's error as errorMessage (dagd sees
//                 X-Amz-Function-Error and retries by the task's policy
//                 unless permanent), or kInvalidInvocation for a body that
//                 is not a usable LambdaInvocation.
//
// Inputs named in `input_refs` are read from the ObjectStore, and an output
// larger than `inline_max_bytes` (0: no limit) is written to it at
// `output_ref`; an ObjectRef's key is relative to the store's bucket and
// prefix, as ObjectStore takes keys. The task is cancelled when its own
// timeout passes or `deadline_margin` before the invocation's deadline,
// whichever comes first, so its failure is still reported.
#ifndef DAGD_WORKER_LAMBDA_RUNTIME_H_
#define DAGD_WORKER_LAMBDA_RUNTIME_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "dagd/v1/lambda.pb.h"
#include "storage/base/clock.h"
#include "storage/base/logging.h"
#include "storage/object_store.h"
#include "worker/attempt_observer.h"
#include "worker/cancellation.h"
#include "worker/lambda_runtime_api.h"
#include "worker/outbox.h"
#include "worker/task_runner.h"
#include "worker/task_runtime.h"
#include "worker/timer_queue.h"

namespace dagd {

// The errorType values dagd-worker posts.
inline constexpr char kTaskFailed[] = "TaskFailed";
inline constexpr char kTaskFailedPermanently[] = "TaskFailedPermanently";
inline constexpr char kInvalidInvocation[] = "InvalidInvocation";
// To .../runtime/init/error, when the function cannot start (a bad plugin).
inline constexpr char kInitFailed[] = "InitFailed";

struct LambdaRuntimeOptions {
  // How long before the invocation's deadline a still-running task is
  // cancelled: the time left to report its failure (and, for an output
  // already computed, nothing is lost: only running tasks are cancelled).
  absl::Duration deadline_margin = absl::Seconds(1);
  // The bucket the store writes to (DAGD_S3_BUCKET). An ObjectRef naming
  // another bucket fails the attempt for good, with a message saying so;
  // empty: not checked.
  std::string store_bucket;
};

// What one invocation is answered with.
struct LambdaAnswer {
  bool ok = false;
  std::string body;   // when ok: the LambdaResult as JSON
  LambdaError error;  // when not ok
};

// Runs on the thread that calls Run (Lambda sends one invocation at a time
// to an instance); the task's timeout and deadline fire on an internal
// timer thread. `api`, `runtimes`, `clock` and `observer` are not owned and
// must outlive this; `store` and `observer` may be null (with no store, an
// input by reference or an oversize output fails the attempt for good).
class LambdaRuntime {
 public:
  LambdaRuntime(LambdaRuntimeOptions options, LambdaRuntimeApi* api,
                const TaskRuntimes* runtimes, ObjectStore* store, Clock* clock,
                LogFn log, AttemptObserver* observer = nullptr);
  LambdaRuntime(const LambdaRuntime&) = delete;
  LambdaRuntime& operator=(const LambdaRuntime&) = delete;

  // Serves invocations until the Runtime API becomes unusable (unreachable,
  // or a 5xx, after which Lambda expects the runtime to exit); returns that
  // error. Never returns OK.
  absl::Status Run();
  // Serves one invocation: waits for it, runs it, posts the answer. An
  // error only when the runtime should exit (see Run); an answer the
  // Runtime API refuses for that one request (4xx) is logged and dropped.
  absl::Status RunOnce();

  // Runs `event`'s task and says what to answer; posts nothing.
  LambdaAnswer Handle(const LambdaInvocationEvent& event);

 private:
  // Does nothing: Lambda hears only the final answer.
  class NullReporter : public TaskReporter {
   public:
    void Started(v1::TaskStarted) override {}
    void Finished(v1::TaskResult) override {}
  };

  // The invocation's deadline, armed: `hit` turns true if the timer
  // cancelled the attempt (not the task's own timeout).
  struct Deadline {
    std::shared_ptr<std::atomic<bool>> hit;
    std::optional<TimerQueue::Handle> timer;  // none: no deadline, or fired
  };
  // Cancels `token` deadline_margin before `deadline_unix_ms` (0: never).
  Deadline ArmDeadline(int64_t deadline_unix_ms, absl::Time now,
                       std::shared_ptr<CancellationToken> token);
  void LogSuccess(const LambdaInvocationEvent& event,
                  const v1::Assignment& assignment,
                  const v1::LambdaResult& answer, absl::Duration run_time);
  // Runs the task of a parsed, valid invocation.
  v1::LambdaResult Execute(const LambdaInvocationEvent& event,
                           v1::LambdaInvocation& invocation);
  // Puts each input named in `input_refs` into the assignment.
  absl::Status FetchInputs(v1::LambdaInvocation& invocation);
  // Moves an output over the inline limit to the store.
  absl::Status StoreOutput(const v1::LambdaInvocation& invocation,
                           v1::LambdaResult& answer);
  // PERMANENT error unless `ref` is in a bucket the store serves.
  absl::Status CheckStore(const v1::ObjectRef& ref, absl::string_view what);
  // Posts `answer` for `request_id`; see RunOnce for errors.
  absl::Status Post(const std::string& request_id, const LambdaAnswer& answer);

  const LambdaRuntimeOptions options_;
  LambdaRuntimeApi* const api_;
  ObjectStore* const store_;
  Clock* const clock_;
  const LogFn log_;
  AttemptObserver* const observer_;
  NullReporter reporter_;
  TimerQueue timers_;
  TaskRunner runner_;  // after the members it uses
};

}  // namespace dagd

#endif  // DAGD_WORKER_LAMBDA_RUNTIME_H_
