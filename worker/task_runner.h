// Runs one attempt from start to result: finds the runtime that takes it,
// builds its TaskContext, arms its timeout, lets the runtime run it, and
// reports TaskStarted and TaskResult.
#ifndef DAGD_WORKER_TASK_RUNNER_H_
#define DAGD_WORKER_TASK_RUNNER_H_

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "dagd/v1/worker_service.pb.h"
#include "storage/base/clock.h"
#include "worker/attempt_observer.h"
#include "worker/cancellation.h"
#include "worker/data_plane.h"
#include "worker/function_registry.h"
#include "worker/outbox.h"
#include "worker/task_objects.h"
#include "worker/task_runtime.h"
#include "worker/timer_queue.h"

namespace dagd {

// Thread-safe: Run is called concurrently from the pool's threads. Holds no
// state of its own; the collaborators are not owned and must outlive it.
// `observer` may be null.
class TaskRunner {
 public:
  // `objects` (may be null: no store) is where inputs named in
  // Assignment.input_refs are read from and outputs over its inline limit
  // are written to. `data` (may be null: no data plane, no limits) holds
  // outputs over dagd's inline limit when there is no store, fetches
  // inputs held by workers, and has dagd's limit on output sizes.
  TaskRunner(const TaskRuntimes* runtimes, Clock* clock, TimerQueue* timers,
             TaskReporter* reporter, AttemptObserver* observer = nullptr,
             TaskObjectStore* objects = nullptr, DataPlane* data = nullptr);

  // Runs `assignment` on the calling thread until its runtime returns.
  // `token` is the attempt's cancellation (shared with the AttemptTable);
  // an attempt cancelled before it starts still reports a failed result.
  // Returns the result it reported, so that a grant-ahead follower can take
  // the output: inline, or by reference when it went to the object store
  // (with the output too) or stays held here (without: the follower reads
  // it from the holder, as any task of this worker would).
  v1::TaskResult Run(const v1::Assignment& assignment,
                     std::shared_ptr<CancellationToken> token);

  // The result for an assignment no runtime of this worker takes.
  v1::TaskResult UnknownFunctionResult(const v1::Assignment& assignment);

 private:
  static absl::StatusOr<Payload> Invoke(TaskRuntime& runtime,
                                        const RuntimeAttempt& attempt);
  // Puts the inputs named in input_refs into `inputs`: those in the
  // object store, then those held by workers (those held here shared, not
  // copied, when `share_local`). `lease` holds the fetched bytes' share of
  // the worker's fetch budget until the attempt is done with them.
  absl::Status FetchInputs(const v1::Assignment& assignment,
                           std::vector<Payload>& inputs,
                           CancellationToken* token, bool share_local,
                           FetchBudget::Lease& lease);
  absl::Status FetchStoredInputs(const v1::Assignment& assignment,
                                 std::vector<Payload>& inputs);
  // When `result`'s output is over the inline limit: writes it to the
  // store, or holds it here without one, and returns the result to report
  // instead (output_ref set, no output). A failed write turns `result`
  // into a failure, and so does an output over dagd's --max_result_bytes
  // (for good; the output is dropped).
  std::optional<v1::TaskResult> StoreOutput(const v1::Assignment& assignment,
                                            v1::TaskResult& result);
  // StoreOutput's path with an object store (`objects` names a bucket).
  std::optional<v1::TaskResult> WriteOutput(
      const v1::Assignment& assignment, const TaskObjectStore::Current& objects,
      v1::TaskResult& result);
  // StoreOutput's path without one, when this worker holds outputs.
  std::optional<v1::TaskResult> HoldOutput(const v1::Assignment& assignment,
                                           v1::TaskResult& result);
  v1::TaskResult MakeResult(const v1::Assignment& assignment,
                            absl::StatusOr<Payload> output,
                            CancelReason cancel_reason, int64_t started_ms);

  const TaskRuntimes* const runtimes_;
  Clock* const clock_;
  TimerQueue* const timers_;
  TaskReporter* const reporter_;
  AttemptObserver* const observer_;
  TaskObjectStore* const objects_;
  DataPlane* const data_;
};

}  // namespace dagd

#endif  // DAGD_WORKER_TASK_RUNNER_H_
