#include "worker/fetch_budget.h"

namespace dagd {

bool FetchBudget::Acquire(uint64_t bytes, CancellationToken* token) {
  if (limit_ == 0 || bytes == 0) return true;
  // Registered before the wait: a cancel wakes it (the callback runs at
  // once, here, when the token is cancelled already).
  const int callback = token == nullptr ? -1 : token->AddCallback([this] {
    absl::MutexLock lock(&mu_);
    ++cancels_;
  });
  bool taken = false;
  {
    absl::MutexLock lock(&mu_);
    auto fits = [this, bytes]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return taken_ == 0 || taken_ + bytes <= limit_;
    };
    if (!fits()) ++waits_;
    const uint64_t cancels = cancels_;
    auto go_on = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return fits() ||
             (token != nullptr && (cancels_ != cancels || token->cancelled()));
    };
    mu_.Await(absl::Condition(&go_on));
    if (fits() && (token == nullptr || !token->cancelled())) {
      taken_ += bytes;
      taken = true;
    }
  }
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
