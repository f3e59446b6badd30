#include "worker/task_executor.h"

#include <algorithm>
#include <memory>

namespace dagd {

TaskExecutor::TaskExecutor(int slots, const FunctionRegistry* registry,
                           Clock* clock, TaskReporter* reporter)
    : registry_(registry),
      reporter_(reporter),
      runner_(registry, clock, &timers_, reporter),
      pool_(slots) {}

TaskExecutor::~TaskExecutor() { CancelAll(CancelReason::kShutdown); }

void TaskExecutor::Handle(const v1::CoordinatorBatch& batch) {
  // Cancels first: a batch may cancel an attempt and assign its successor.
  for (const v1::TaskRef& ref : batch.cancels()) {
    attempts_.Cancel(ref, CancelReason::kCoordinator);
  }
  for (const v1::Assignment& assignment : batch.assignments()) {
    Assign(assignment);
  }
}

void TaskExecutor::CancelAll(CancelReason reason) {
  attempts_.CancelAll(reason);
}

void TaskExecutor::Assign(const v1::Assignment& assignment) {
  // Answer at once rather than occupy a slot: retrying here cannot help.
  if (registry_->Find(assignment.fn()) == nullptr) {
    reporter_->Finished(runner_.UnknownFunctionResult(assignment));
    return;
  }
  auto token = attempts_.Add(assignment.task(),
                             std::max<uint32_t>(assignment.slots(), 1));
  // A duplicate (the coordinator resent after a reconnect) is already
  // queued or running; its one result is enough.
  if (token == nullptr) return;
  auto shared = std::make_shared<const v1::Assignment>(assignment);
  pool_.Schedule([this, shared, token] {
    runner_.Run(*shared, token);
    attempts_.Remove(shared->task());
  });
}

}  // namespace dagd
