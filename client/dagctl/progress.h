// ProgressTracker: a job's task counts, kept current from its watch stream.
//
// The snapshot sets the counts per state; each task event moves one task
// from its previous_state to its new state; the `finished` event replaces
// every count with the server's.
//
// Single-threaded: fed from the Watch callback.
#ifndef DAGD_CLIENT_DAGCTL_PROGRESS_H_
#define DAGD_CLIENT_DAGCTL_PROGRESS_H_

#include <array>
#include <cstdint>
#include <optional>
#include <string>

#include "absl/time/time.h"
#include "dagd/v1/job_service.pb.h"

namespace dagd::dagctl {

struct Progress {
  v1::JobState state = v1::JOB_STATE_UNSPECIFIED;
  uint32_t total = 0;
  uint32_t done = 0;     // in a terminal state
  uint32_t running = 0;  // ASSIGNED or RUNNING
  uint32_t failed = 0;   // FAILED or UPSTREAM_FAILED

  bool operator==(const Progress& other) const {
    return state == other.state && total == other.total && done == other.done &&
           running == other.running && failed == other.failed;
  }
  bool operator!=(const Progress& other) const { return !(*this == other); }
};

// The time left until every task is done, from the rate at which tasks
// finished since the watch began: `done_at_start` tasks were done at
// `start`, `progress.done` are done at `now`. nullopt ("ETA -") while no
// task has finished since the start, since there is no rate to go on.
std::optional<absl::Duration> EstimateRemaining(const Progress& progress,
                                                uint32_t done_at_start,
                                                absl::Time start,
                                                absl::Time now);

class ProgressTracker {
 public:
  // Returns true when the event changed progress().
  bool Apply(const v1::JobEvent& event);

  Progress progress() const;
  // The latest snapshot or final status (times, name, failures).
  const v1::JobStatus& status() const { return status_; }

 private:
  static constexpr int kStates = v1::TaskState_ARRAYSIZE;
  using Counts = std::array<uint32_t, kStates>;

  void Reset(const v1::JobStatus& status);
  void ApplyTaskEvent(const v1::TaskEvent& event);

  v1::JobStatus status_;
  Counts counts_{};
};

}  // namespace dagd::dagctl

#endif  // DAGD_CLIENT_DAGCTL_PROGRESS_H_
