// AttemptObservers to compose: a fan-out, and one that logs failed attempts
// with their job and task.
#ifndef DAGD_WORKER_ATTEMPT_OBSERVERS_H_
#define DAGD_WORKER_ATTEMPT_OBSERVERS_H_

#include <utility>
#include <vector>

#include "storage/base/logging.h"
#include "worker/attempt_observer.h"

namespace dagd {

// Passes every call to each of `observers` (not owned), in order.
class ObserverFanOut : public AttemptObserver {
 public:
  explicit ObserverFanOut(std::vector<AttemptObserver*> observers)
      : observers_(std::move(observers)) {}

  void SlotsTaken(uint32_t slots) override;
  void SlotsFreed(uint32_t slots) override;
  void AttemptFinished(const v1::Assignment& assignment,
                       const v1::TaskResult& result,
                       absl::Duration run_time) override;

 private:
  const std::vector<AttemptObserver*> observers_;
};

// Logs a warning, naming the job and task, for each failed attempt; logs
// nothing for successes (there may be thousands a second).
class FailedAttemptLog : public AttemptObserver {
 public:
  explicit FailedAttemptLog(LogFn log) : log_(std::move(log)) {}

  void SlotsTaken(uint32_t) override {}
  void SlotsFreed(uint32_t) override {}
  void AttemptFinished(const v1::Assignment& assignment,
                       const v1::TaskResult& result,
                       absl::Duration run_time) override;

 private:
  const LogFn log_;
};

}  // namespace dagd

#endif  // DAGD_WORKER_ATTEMPT_OBSERVERS_H_
