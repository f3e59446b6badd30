// Exponential backoff with jitter for reconnecting: many workers that lost
// the same coordinator must not all knock again at the same instant.
#ifndef DAGD_STORAGE_BASE_BACKOFF_H_
#define DAGD_STORAGE_BASE_BACKOFF_H_

#include <functional>

#include "absl/time/time.h"

namespace dagd {

// Not thread-safe; owned by the reconnect loop.
class Backoff {
 public:
  // `uniform` returns a random number in [0, 1); injected for tests.
  Backoff(absl::Duration initial, absl::Duration max,
          std::function<double()> uniform);

  // The next delay: the current step scaled by a random factor in
  // [0.5, 1.0), after which the step doubles, up to `max`.
  absl::Duration Next();
  // Back to `initial`, after a connection that worked.
  void Reset();

 private:
  const absl::Duration initial_;
  const absl::Duration max_;
  const std::function<double()> uniform_;
  absl::Duration step_;
};

}  // namespace dagd

#endif  // DAGD_STORAGE_BASE_BACKOFF_H_
