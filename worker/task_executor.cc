#include "worker/task_executor.h"

#include <algorithm>
#include <memory>

namespace dagd {

TaskExecutor::TaskExecutor(int slots, const FunctionRegistry* registry,
                           Clock* clock, TaskReporter* reporter,
                           AttemptObserver* observer)
    : registry_(registry),
      reporter_(reporter),
      observer_(observer),
      runner_(registry, clock, &timers_, reporter, observer),
      pool_(slots) {}

TaskExecutor::~TaskExecutor() { CancelAll(CancelReason::kShutdown); }

size_t TaskExecutor::Handle(const v1::CoordinatorBatch& batch) {
  // Cancels first: a batch may cancel an attempt and assign its successor.
  for (const v1::TaskRef& ref : batch.cancels()) {
    attempts_.Cancel(ref, CancelReason::kCoordinator);
  }
  absl::MutexLock lock(&accept_mu_);
  if (!accepting_) return batch.assignments_size();
  for (const v1::Assignment& assignment : batch.assignments()) {
    Assign(assignment);
  }
  return 0;
}

void TaskExecutor::CancelAll(CancelReason reason) {
  attempts_.CancelAll(reason);
}

void TaskExecutor::StopAccepting() {
  absl::MutexLock lock(&accept_mu_);
  accepting_ = false;
}

void TaskExecutor::Assign(const v1::Assignment& assignment) {
  // Answer at once rather than occupy a slot: retrying here cannot help.
  if (registry_->Find(assignment.fn()) == nullptr) {
    v1::TaskResult result = runner_.UnknownFunctionResult(assignment);
    if (observer_ != nullptr) {
      observer_->AttemptFinished(assignment, result, absl::ZeroDuration());
    }
    reporter_->Finished(std::move(result));
    return;
  }
  const uint32_t slots = std::max<uint32_t>(assignment.slots(), 1);
  auto token = attempts_.Add(assignment.task(), slots);
  // A duplicate (the coordinator resent after a reconnect) is already
  // queued or running; its one result is enough.
  if (token == nullptr) return;
  if (observer_ != nullptr) observer_->SlotsTaken(slots);
  auto shared = std::make_shared<const v1::Assignment>(assignment);
  pool_.Schedule([this, shared, token, slots] {
    runner_.Run(*shared, token);
    if (observer_ != nullptr) observer_->SlotsFreed(slots);
    attempts_.Remove(shared->task());
  });
}

}  // namespace dagd
