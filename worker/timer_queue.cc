#include "worker/timer_queue.h"

#include "absl/time/clock.h"

namespace dagd {

TimerQueue::TimerQueue() : thread_([this] { Loop(); }) {}

TimerQueue::~TimerQueue() {
  {
    absl::MutexLock lock(&mu_);
    stop_ = true;
  }
  thread_.join();
}

TimerQueue::Handle TimerQueue::ScheduleAfter(absl::Duration delay,
                                             std::function<void()> callback) {
  absl::MutexLock lock(&mu_);
  Handle handle{absl::Now() + delay, next_id_++};
  timers_.emplace(handle, std::move(callback));
  changed_ = true;
  return handle;
}

void TimerQueue::Cancel(const Handle& handle) {
  absl::MutexLock lock(&mu_);
  timers_.erase(handle);
}

void TimerQueue::Loop() {
  absl::MutexLock lock(&mu_);
  auto woken = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return stop_ || changed_;
  };
  while (!stop_) {
    changed_ = false;
    if (timers_.empty()) {
      mu_.Await(absl::Condition(&woken));
      continue;
    }
    auto first = timers_.begin();
    if (absl::Now() < first->first.first) {
      mu_.AwaitWithDeadline(absl::Condition(&woken), first->first.first);
      continue;
    }
    std::function<void()> callback = std::move(first->second);
    timers_.erase(first);
    mu_.Unlock();
    callback();
    mu_.Lock();
  }
}

}  // namespace dagd
