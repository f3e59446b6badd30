#include "worker/worker_status.h"

#include <utility>

namespace dagd {

void WorkerStatus::AddListener(Listener listener) {
  absl::MutexLock lock(&mu_);
  listener(state_);
  listeners_.push_back(std::move(listener));
}

void WorkerStatus::SetRegistered(bool registered) {
  absl::MutexLock lock(&mu_);
  if (state_.registered == registered) return;
  state_.registered = registered;
  if (registered) {
    if (ever_registered_) ++state_.reconnects;
    ever_registered_ = true;
  }
  NotifyLocked();
}

void WorkerStatus::SetDraining() {
  absl::MutexLock lock(&mu_);
  if (state_.draining) return;
  state_.draining = true;
  NotifyLocked();
}

WorkerState WorkerStatus::state() const {
  absl::MutexLock lock(&mu_);
  return state_;
}

void WorkerStatus::NotifyLocked() {
  for (const Listener& listener : listeners_) listener(state_);
}

}  // namespace dagd
