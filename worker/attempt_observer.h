// Told what the worker's attempts do, for metrics and logs. Kept apart from
// TaskReporter (what the coordinator hears) so observing never changes what
// is reported.
#ifndef DAGD_WORKER_ATTEMPT_OBSERVER_H_
#define DAGD_WORKER_ATTEMPT_OBSERVER_H_

#include <cstdint>

#include "absl/time/time.h"
#include "dagd/v1/worker_service.pb.h"

namespace dagd {

// Implementations are thread-safe and quick: they are called from the
// coordinator's reader thread and from the pool's threads while they run
// attempts.
class AttemptObserver {
 public:
  virtual ~AttemptObserver() = default;
  // An accepted attempt now holds `slots` (queued or running).
  virtual void SlotsTaken(uint32_t slots) = 0;
  // An attempt ended and gave back its `slots`.
  virtual void SlotsFreed(uint32_t slots) = 0;
  // An attempt produced `result` after running for `run_time` (zero when
  // it never ran, e.g. its function is unknown here).
  virtual void AttemptFinished(const v1::Assignment& assignment,
                               const v1::TaskResult& result,
                               absl::Duration run_time) = 0;
};

}  // namespace dagd

#endif  // DAGD_WORKER_ATTEMPT_OBSERVER_H_
