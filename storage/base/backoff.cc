#include "storage/base/backoff.h"

#include <algorithm>
#include <utility>

namespace dagd {

Backoff::Backoff(absl::Duration initial, absl::Duration max,
                 std::function<double()> uniform)
    : initial_(initial),
      max_(std::max(initial, max)),
      uniform_(std::move(uniform)),
      step_(initial) {}

absl::Duration Backoff::Next() {
  absl::Duration delay = step_ * (0.5 + 0.5 * uniform_());
  step_ = std::min(step_ * 2, max_);
  return delay;
}

void Backoff::Reset() { step_ = initial_; }

}  // namespace dagd
