// Runs callbacks at deadlines on one background thread; used to cancel
// attempts when their timeout passes. Waits in real (monotonic-ish absl)
// time: a timeout is about elapsed time, not about reported timestamps.
#ifndef DAGD_WORKER_TIMER_QUEUE_H_
#define DAGD_WORKER_TIMER_QUEUE_H_

#include <cstdint>
#include <functional>
#include <map>
#include <thread>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace dagd {

// Thread-safe. Callbacks run on the queue's thread, one at a time, and must
// not block for long. The destructor drops pending timers and joins.
class TimerQueue {
 public:
  using Handle = std::pair<absl::Time, uint64_t>;

  TimerQueue();
  ~TimerQueue();
  TimerQueue(const TimerQueue&) = delete;
  TimerQueue& operator=(const TimerQueue&) = delete;

  Handle ScheduleAfter(absl::Duration delay, std::function<void()> callback);
  // Drops the timer if it has not fired; a callback already running is not
  // waited for, so callbacks should own (share) what they touch.
  void Cancel(const Handle& handle);

 private:
  void Loop();

  absl::Mutex mu_;
  std::map<Handle, std::function<void()>> timers_ ABSL_GUARDED_BY(mu_);
  uint64_t next_id_ ABSL_GUARDED_BY(mu_) = 0;
  bool changed_ ABSL_GUARDED_BY(mu_) = false;  // wakes the loop
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;  // last: starts after the fields it uses exist
};

}  // namespace dagd

#endif  // DAGD_WORKER_TIMER_QUEUE_H_
