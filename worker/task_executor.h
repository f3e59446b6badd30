// Carries out the coordinator's batches: queues each assignment on a pool of
// `slots` threads, answers at once those no runtime takes (an unknown fn),
// and routes cancels to the matching attempt.
//
// Grant ahead: an assignment with `after` set is a follower. It waits, on no
// slot of its own, until its predecessor finishes on this worker; then it
// runs on the same pool thread and slot, with the predecessor's output among
// its inputs. Followers chain (X, then Y after X, then Z after Y, ...). If a
// predecessor fails or is cancelled, or a follower is cancelled before it
// starts, the rest of the chain is dropped without a report: none of it
// started, and the coordinator re-plans from the reported outcome.
#ifndef DAGD_WORKER_TASK_EXECUTOR_H_
#define DAGD_WORKER_TASK_EXECUTOR_H_

#include <cstdint>
#include <map>
#include <memory>
#include <optional>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "dagd/v1/worker_service.pb.h"
#include "storage/base/clock.h"
#include "worker/attempt_observer.h"
#include "worker/attempt_table.h"
#include "worker/outbox.h"
#include "worker/task_objects.h"
#include "worker/task_runner.h"
#include "worker/task_runtime.h"
#include "worker/thread_pool.h"
#include "worker/timer_queue.h"

namespace dagd {

// Thread-safe. Survives reconnects: attempts keep running while the stream
// to the coordinator is down, and report into `reporter`.
class TaskExecutor {
 public:
  // `runtimes`, `clock`, `reporter` and `observer` are not owned and must
  // outlive this; `observer` may be null.
  // `objects` (not owned, may be null) is the object store for inputs and
  // outputs too large to travel inline; `data` (not owned, may be null)
  // the data plane for those that workers hold (see TaskRunner).
  TaskExecutor(int slots, const TaskRuntimes* runtimes, Clock* clock,
               TaskReporter* reporter, AttemptObserver* observer = nullptr,
               TaskObjectStore* objects = nullptr, DataPlane* data = nullptr);
  // Cancels every attempt (reason: shutdown) and waits for their functions
  // to return.
  ~TaskExecutor();
  TaskExecutor(const TaskExecutor&) = delete;
  TaskExecutor& operator=(const TaskExecutor&) = delete;

  // Applies the batch's cancels, then takes its assignments. Returns how
  // many assignments it dropped because it no longer accepts work; each is
  // reported not started (TaskResult.not_started), so the coordinator
  // runs it elsewhere at once. A
  // follower is also dropped (not counted, not reported) when its
  // predecessor is not held here or already has a follower. Takes the
  // batch by value: its assignments are moved, not copied, into the
  // attempts.
  size_t Handle(v1::CoordinatorBatch batch);
  void CancelAll(CancelReason reason);

  // From now on, assignments are dropped: not started, and reported so.
  // Attempts already accepted run on; cancels still reach them.
  // The object store dagd named at registration (Registered.object_store).
  // An error says why it cannot be used; tasks that need it then fail.
  absl::Status UseObjectStore(const v1::ObjectStoreConfig& config);

  void StopAccepting();
  // Waits until no accepted attempt is queued, running or waiting as a
  // follower; false if some still are after `timeout`.
  bool WaitUntilIdle(absl::Duration timeout) const {
    return attempts_.WaitUntilEmpty(timeout);
  }

  uint32_t busy_slots() const { return attempts_.busy_slots(); }
  size_t attempts() const { return attempts_.size(); }
  // For Register.running: drops the followers still waiting for their
  // predecessors, then lists the attempts held. A reconnecting worker cannot
  // say what each follower waits for, and dagd, which has them waiting or
  // ready again, would otherwise take over one whose predecessor it then
  // cancels: the worker would drop it unreported and dagd wait for it for
  // ever. dagd places the dropped ones again.
  std::vector<v1::TaskRef> AttemptsForRegister() ABSL_LOCKS_EXCLUDED(chain_mu_);

 private:
  // An attempt ready for a pool thread: a head with its token and slots.
  struct Head {
    std::shared_ptr<const v1::Assignment> assignment;
    std::shared_ptr<CancellationToken> token;
    uint32_t slots;
  };
  // A follower waiting for its predecessor.
  struct Follower {
    v1::Assignment assignment;
    std::shared_ptr<CancellationToken> token;
  };

  // Adds `assignment` to the attempt table; returns it if it is a head to
  // schedule (not a follower, a duplicate or one no runtime takes).
  std::optional<Head> Accept(v1::Assignment& assignment)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(accept_mu_);
  void AddFollower(v1::Assignment& assignment) ABSL_LOCKS_EXCLUDED(chain_mu_);
  // Runs `head`, then its followers one after another, on this thread.
  void RunChain(const Head& head);
  // Ends the attempt that reported `result`, which held `slots`: returns
  // its follower, holding those slots now, if the follower should run; else
  // drops the follower's chain and frees the slots.
  std::optional<Follower> Finish(const v1::TaskResult& result, uint32_t slots)
      ABSL_LOCKS_EXCLUDED(chain_mu_);
  // Removes the waiting follower `first` and every follower after it.
  void DropChain(v1::TaskRef first) ABSL_EXCLUSIVE_LOCKS_REQUIRED(chain_mu_);

  const TaskRuntimes* const runtimes_;
  TaskReporter* const reporter_;
  AttemptObserver* const observer_;
  // Held while taking assignments, so that once StopAccepting returns no
  // attempt is added any more.
  absl::Mutex accept_mu_;
  bool accepting_ ABSL_GUARDED_BY(accept_mu_) = true;
  // Held while a follower is added or an attempt ends, so that the check
  // "predecessor still held" and the predecessor's removal cannot
  // interleave (which would strand the follower). Taken before attempts_'
  // own lock.
  absl::Mutex chain_mu_ ABSL_ACQUIRED_AFTER(accept_mu_);
  // Waiting followers by their predecessor's key. Every one is also in
  // attempts_ (with 0 slots), so cancels reach it.
  std::map<AttemptTable::Key, Follower> followers_ ABSL_GUARDED_BY(chain_mu_);
  AttemptTable attempts_;
  TimerQueue timers_;
  TaskObjectStore* const objects_;
  TaskRunner runner_;
  ThreadPool pool_;  // last: its threads use the members above
};

}  // namespace dagd

#endif  // DAGD_WORKER_TASK_EXECUTOR_H_
