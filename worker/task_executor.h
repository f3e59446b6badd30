// Carries out the coordinator's batches: queues each assignment on a pool of
// `slots` threads, answers unknown functions at once, and routes cancels to
// the matching attempt.
#ifndef DAGD_WORKER_TASK_EXECUTOR_H_
#define DAGD_WORKER_TASK_EXECUTOR_H_

#include <cstdint>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "dagd/v1/worker_service.pb.h"
#include "worker/attempt_observer.h"
#include "worker/attempt_table.h"
#include "worker/clock.h"
#include "worker/function_registry.h"
#include "worker/outbox.h"
#include "worker/task_runner.h"
#include "worker/thread_pool.h"
#include "worker/timer_queue.h"

namespace dagd {

// Thread-safe. Survives reconnects: attempts keep running while the stream
// to the coordinator is down, and report into `reporter`.
class TaskExecutor {
 public:
  // `registry`, `clock`, `reporter` and `observer` are not owned and must
  // outlive this; `observer` may be null.
  TaskExecutor(int slots, const FunctionRegistry* registry, Clock* clock,
               TaskReporter* reporter, AttemptObserver* observer = nullptr);
  // Cancels every attempt (reason: shutdown) and waits for their functions
  // to return.
  ~TaskExecutor();
  TaskExecutor(const TaskExecutor&) = delete;
  TaskExecutor& operator=(const TaskExecutor&) = delete;

  // Applies the batch's cancels, then takes its assignments. Returns how
  // many assignments it dropped because it no longer accepts work.
  size_t Handle(const v1::CoordinatorBatch& batch);
  void CancelAll(CancelReason reason);

  // From now on, assignments are dropped: not started and not reported
  // (the coordinator runs them elsewhere when this worker's stream closes).
  // Attempts already accepted run on; cancels still reach them.
  void StopAccepting();
  // Waits until no accepted attempt is queued or running; false if some
  // still are after `timeout`.
  bool WaitUntilIdle(absl::Duration timeout) const {
    return attempts_.WaitUntilEmpty(timeout);
  }

  uint32_t busy_slots() const { return attempts_.busy_slots(); }
  size_t attempts() const { return attempts_.size(); }

 private:
  void Assign(const v1::Assignment& assignment)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(accept_mu_);

  const FunctionRegistry* const registry_;
  TaskReporter* const reporter_;
  AttemptObserver* const observer_;
  // Held while taking assignments, so that once StopAccepting returns no
  // attempt is added any more.
  absl::Mutex accept_mu_;
  bool accepting_ ABSL_GUARDED_BY(accept_mu_) = true;
  AttemptTable attempts_;
  TimerQueue timers_;
  TaskRunner runner_;
  ThreadPool pool_;  // last: its threads use the members above
};

}  // namespace dagd

#endif  // DAGD_WORKER_TASK_EXECUTOR_H_
