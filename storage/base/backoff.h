// Exponential backoff with jitter, written once for every retry in dagd:
// a worker reconnecting to its coordinator, the Lambda dispatcher retrying
// a throttled call, a task's retry policy. Many clients that failed together
// must not all try again at the same instant.
#ifndef DAGD_STORAGE_BASE_BACKOFF_H_
#define DAGD_STORAGE_BASE_BACKOFF_H_

#include <cstdint>
#include <functional>

#include "absl/time/time.h"

namespace dagd {

struct BackoffPolicy {
  absl::Duration initial = absl::Seconds(1);  // the step before try 1
  absl::Duration max = absl::Seconds(60);     // no step is longer
  double multiplier = 2.0;                    // each step is this many times
                                              // the one before
};

// The wait before retry number `retry` (1 for the first; 0 counts as 1):
// the step min(initial * multiplier^(retry - 1), max), scaled by
// 0.5 + 0.5 * `uniform`, where `uniform` is a random number in [0, 1) drawn
// by the caller (so that the delay is in [step / 2, step)). Never overflows:
// a step past `max` is `max`, however large `retry` is.
absl::Duration BackoffDelay(const BackoffPolicy& policy, uint32_t retry,
                            double uniform);

// BackoffDelay for a loop that retries until it succeeds: counts the tries
// itself. Not thread-safe; owned by the loop.
class Backoff {
 public:
  // `uniform` returns a random number in [0, 1); injected for tests. A
  // `max` below `initial` is taken as `initial`.
  Backoff(absl::Duration initial, absl::Duration max,
          std::function<double()> uniform);

  // The next delay: the current step scaled by a random factor in
  // [0.5, 1.0), after which the step doubles, up to `max`.
  absl::Duration Next();
  // Back to `initial`, after a try that worked.
  void Reset();

 private:
  const BackoffPolicy policy_;
  const std::function<double()> uniform_;
  uint32_t retries_ = 0;  // Next() calls since the last Reset()
};

}  // namespace dagd

#endif  // DAGD_STORAGE_BASE_BACKOFF_H_
