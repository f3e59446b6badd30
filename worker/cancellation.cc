#include "worker/cancellation.h"

#include <utility>
#include <vector>

namespace dagd {

bool CancellationToken::Cancel(CancelReason reason) {
  std::map<int, std::function<void()>> callbacks;
  {
    absl::MutexLock lock(&mu_);
    if (reason_ != CancelReason::kNone) return false;
    reason_ = reason == CancelReason::kNone ? CancelReason::kShutdown : reason;
    callbacks.swap(callbacks_);
    running_callbacks_ = true;
    cancelling_thread_ = std::this_thread::get_id();
  }
  for (auto& [handle, callback] : callbacks) callback();
  absl::MutexLock lock(&mu_);
  running_callbacks_ = false;
  return true;
}

bool CancellationToken::cancelled() const {
  absl::MutexLock lock(&mu_);
  return reason_ != CancelReason::kNone;
}

CancelReason CancellationToken::reason() const {
  absl::MutexLock lock(&mu_);
  return reason_;
}

bool CancellationToken::WaitFor(absl::Duration duration) {
  absl::MutexLock lock(&mu_);
  auto is_cancelled = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return reason_ != CancelReason::kNone;
  };
  return !mu_.AwaitWithTimeout(absl::Condition(&is_cancelled), duration);
}

int CancellationToken::AddCallback(std::function<void()> callback) {
  {
    absl::MutexLock lock(&mu_);
    if (reason_ == CancelReason::kNone) {
      int handle = next_handle_++;
      callbacks_.emplace(handle, std::move(callback));
      return handle;
    }
  }
  // Already cancelled: run now, outside the lock, as promised.
  callback();
  return -1;
}

void CancellationToken::RemoveCallback(int handle) {
  absl::MutexLock lock(&mu_);
  callbacks_.erase(handle);
  if (cancelling_thread_ == std::this_thread::get_id()) return;
  auto done = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return !running_callbacks_;
  };
  mu_.Await(absl::Condition(&done));
}

}  // namespace dagd
