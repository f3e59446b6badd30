#include "storage/base/backoff.h"

#include <algorithm>
#include <cmath>
#include <utility>

namespace dagd {

absl::Duration BackoffDelay(const BackoffPolicy& policy, uint32_t retry,
                            double uniform) {
  const double factor =
      std::pow(policy.multiplier, static_cast<double>(std::max(retry, 1u) - 1));
  // Compared in seconds, as a double, so that a large `retry` saturates at
  // `max` instead of overflowing the Duration.
  const double step_s = absl::ToDoubleSeconds(policy.initial) * factor;
  const absl::Duration step =
      !std::isfinite(step_s) || step_s >= absl::ToDoubleSeconds(policy.max)
          ? policy.max
          : policy.initial * factor;
  return step * (0.5 + 0.5 * uniform);
}

Backoff::Backoff(absl::Duration initial, absl::Duration max,
                 std::function<double()> uniform)
    : policy_{initial, std::max(initial, max), 2.0},
      uniform_(std::move(uniform)) {}

absl::Duration Backoff::Next() {
  if (retries_ < UINT32_MAX) ++retries_;
  return BackoffDelay(policy_, retries_, uniform_());
}

void Backoff::Reset() { retries_ = 0; }

}  // namespace dagd
