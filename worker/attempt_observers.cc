#include "worker/attempt_observers.h"

#include "absl/strings/str_cat.h"

namespace dagd {

void ObserverFanOut::SlotsTaken(uint32_t slots) {
  for (AttemptObserver* observer : observers_) observer->SlotsTaken(slots);
}

void ObserverFanOut::SlotsFreed(uint32_t slots) {
  for (AttemptObserver* observer : observers_) observer->SlotsFreed(slots);
}

void ObserverFanOut::AttemptFinished(const v1::Assignment& assignment,
                                     const v1::TaskResult& result,
                                     absl::Duration run_time) {
  for (AttemptObserver* observer : observers_) {
    observer->AttemptFinished(assignment, result, run_time);
  }
}

void FailedAttemptLog::AttemptFinished(const v1::Assignment& assignment,
                                       const v1::TaskResult& result,
                                       absl::Duration run_time) {
  if (result.ok()) return;
  LogEntry entry;
  entry.level = LogLevel::kWarning;
  entry.job_id = assignment.task().job_id();
  entry.task_id = assignment.task_id().empty()
                      ? absl::StrCat("#", assignment.task().task_index())
                      : assignment.task_id();
  entry.message = absl::StrCat(
      "attempt ", assignment.task().attempt(), " of fn '", assignment.fn(),
      "' failed", result.permanent() ? " (permanent)" : "", " after ",
      absl::FormatDuration(run_time), ": ", result.error());
  log_(entry);
}

}  // namespace dagd
