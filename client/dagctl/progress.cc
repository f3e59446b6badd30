#include "client/dagctl/progress.h"

#include <algorithm>

#include "proto/states.h"

namespace dagd::dagctl {

std::optional<absl::Duration> EstimateRemaining(const Progress& progress,
                                                uint32_t done_at_start,
                                                absl::Time start,
                                                absl::Time now) {
  if (progress.done <= done_at_start) return std::nullopt;
  const uint32_t remaining =
      progress.total > progress.done ? progress.total - progress.done : 0;
  // The time per task so far; a clock that stepped back counts as no time.
  const absl::Duration per_task =
      std::max(now - start, absl::ZeroDuration()) /
      static_cast<int64_t>(progress.done - done_at_start);
  return per_task * static_cast<int64_t>(remaining);
}

bool ProgressTracker::Apply(const v1::JobEvent& event) {
  const Progress before = progress();
  switch (event.event_case()) {
    case v1::JobEvent::kSnapshot:
      Reset(event.snapshot());
      break;
    case v1::JobEvent::kFinished:
      Reset(event.finished());
      break;
    case v1::JobEvent::kTask:
      ApplyTaskEvent(event.task());
      break;
    case v1::JobEvent::EVENT_NOT_SET:
      break;
  }
  return progress() != before;
}

void ProgressTracker::Reset(const v1::JobStatus& status) {
  status_ = status;
  counts_.fill(0);
  for (const v1::TaskStateCount& count : status.counts()) {
    if (v1::TaskState_IsValid(count.state())) {
      counts_[count.state()] = count.count();
    }
  }
}

void ProgressTracker::ApplyTaskEvent(const v1::TaskEvent& event) {
  const v1::TaskState next = event.state();
  const v1::TaskState previous = event.previous_state();
  if (!v1::TaskState_IsValid(next) || !v1::TaskState_IsValid(previous)) return;
  if (counts_[previous] > 0) --counts_[previous];
  ++counts_[next];
  // A task event means the job has started, even if the snapshot predates it.
  if (status_.state() == v1::JOB_PENDING &&
      (next == v1::TASK_ASSIGNED || next == v1::TASK_RUNNING)) {
    status_.set_state(v1::JOB_RUNNING);
  }
}

Progress ProgressTracker::progress() const {
  Progress p;
  p.state = status_.state();
  p.total = status_.total_tasks();
  for (int state = 0; state < kStates; ++state) {
    if (IsFinal(static_cast<v1::TaskState>(state))) p.done += counts_[state];
  }
  p.running = counts_[v1::TASK_ASSIGNED] + counts_[v1::TASK_RUNNING];
  p.failed = counts_[v1::TASK_FAILED] + counts_[v1::TASK_UPSTREAM_FAILED];
  // Never show more done than there are tasks, whatever the guesses did.
  if (p.total > 0 && p.done > p.total) p.done = p.total;
  return p;
}

}  // namespace dagd::dagctl
