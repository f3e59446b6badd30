// Carries out the coordinator's batches: queues each assignment on a pool of
// `slots` threads, answers unknown functions at once, and routes cancels to
// the matching attempt.
#ifndef DAGD_WORKER_TASK_EXECUTOR_H_
#define DAGD_WORKER_TASK_EXECUTOR_H_

#include <cstdint>

#include "dagd/v1/worker_service.pb.h"
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
  // `registry`, `clock` and `reporter` are not owned and must outlive this.
  TaskExecutor(int slots, const FunctionRegistry* registry, Clock* clock,
               TaskReporter* reporter);
  // Cancels every attempt (reason: shutdown) and waits for their functions
  // to return.
  ~TaskExecutor();
  TaskExecutor(const TaskExecutor&) = delete;
  TaskExecutor& operator=(const TaskExecutor&) = delete;

  void Handle(const v1::CoordinatorBatch& batch);
  void CancelAll(CancelReason reason);

  uint32_t busy_slots() const { return attempts_.busy_slots(); }
  size_t attempts() const { return attempts_.size(); }

 private:
  void Assign(const v1::Assignment& assignment);

  const FunctionRegistry* const registry_;
  TaskReporter* const reporter_;
  AttemptTable attempts_;
  TimerQueue timers_;
  TaskRunner runner_;
  ThreadPool pool_;  // last: its threads use the members above
};

}  // namespace dagd

#endif  // DAGD_WORKER_TASK_EXECUTOR_H_
