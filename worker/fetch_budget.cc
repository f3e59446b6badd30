#include "worker/fetch_budget.h"

namespace dagd {

bool FetchBudget::Acquire(uint64_t bytes, CancellationToken* token) {
  if (limit_ == 0 || bytes == 0) return true;
  // This call's own: another waiter's cancel is none of its business.
  // (A token cancelled already runs the callback at once, here.)
  bool cancelled = false;
  const int callback =
      token == nullptr ? -1 : token->AddCallback([this, &cancelled] {
        absl::MutexLock lock(&mu_);
        cancelled = true;
      });
  bool taken = false;
  {
    absl::MutexLock lock(&mu_);
    const uint64_t ticket = next_ticket_++;
    waiting_.insert(ticket);
    auto turn = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return *waiting_.begin() == ticket &&
             (taken_ == 0 || taken_ + bytes <= limit_);
    };
    if (!turn() && !cancelled) ++waits_;
    auto go_on = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return cancelled || turn();
    };
    mu_.Await(absl::Condition(&go_on));
    waiting_.erase(ticket);
    if (!cancelled) {
      taken_ += bytes;
      taken = true;
    }
  }
  // Waits for the callback if it is running, so `cancelled` outlives it.
  if (callback >= 0) token->RemoveCallback(callback);
  return taken;
}

void FetchBudget::Release(uint64_t bytes) {
  if (limit_ == 0 || bytes == 0) return;
  absl::MutexLock lock(&mu_);
  taken_ -= bytes;
}

uint64_t FetchBudget::taken() const {
  absl::MutexLock lock(&mu_);
  return taken_;
}

uint64_t FetchBudget::waits() const {
  absl::MutexLock lock(&mu_);
  return waits_;
}

}  // namespace dagd
