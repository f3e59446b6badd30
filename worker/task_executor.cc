#include "worker/task_executor.h"

#include <algorithm>
#include <memory>
#include <utility>
#include <vector>

#include "proto/object_location.h"

namespace dagd {
namespace {

// Puts a predecessor's output where the follower expects it: inline, or,
// when this worker holds it, as a reference the follower reads in place.
void PutOutput(const v1::TaskResult& result, v1::Assignment* follower) {
  const bool held = result.has_output_ref() && IsHeld(result.output_ref());
  for (uint32_t position : follower->local_input_positions()) {
    // A position past the list would be the coordinator's bug; the
    // function then sees its inputs as sent rather than the worker crash.
    if (position >= static_cast<uint32_t>(follower->inputs_size())) continue;
    if (held) {
      (*follower->mutable_input_refs())[position] = result.output_ref();
    } else {
      *follower->mutable_inputs(position) = result.output();
    }
  }
}

}  // namespace

TaskExecutor::TaskExecutor(int slots, const TaskRuntimes* runtimes,
                           Clock* clock, TaskReporter* reporter,
                           AttemptObserver* observer, TaskObjectStore* objects,
                           DataPlane* data)
    : runtimes_(runtimes),
      reporter_(reporter),
      observer_(observer),
      objects_(objects),
      runner_(runtimes, clock, &timers_, reporter, observer, objects, data),
      pool_(slots) {}

TaskExecutor::~TaskExecutor() { CancelAll(CancelReason::kShutdown); }

size_t TaskExecutor::Handle(v1::CoordinatorBatch batch) {
  // Cancels first: a batch may cancel an attempt and assign its successor.
  for (const v1::TaskRef& ref : batch.cancels()) {
    attempts_.Cancel(ref, CancelReason::kCoordinator);
  }
  absl::MutexLock lock(&accept_mu_);
  if (!accepting_) {
    // Given back, not failed: dagd runs each elsewhere without counting
    // the attempt (and places nothing more here).
    for (const v1::Assignment& assignment : batch.assignments()) {
      v1::TaskResult result;
      *result.mutable_task() = assignment.task();
      result.set_not_started(true);
      result.set_error("not started: this worker drains");
      reporter_->Finished(std::move(result));
    }
    return batch.assignments_size();
  }
  // Take the whole batch before starting any of it: a head may finish at
  // once, and its followers later in the batch must be registered by then.
  std::vector<Head> heads;
  for (v1::Assignment& assignment : *batch.mutable_assignments()) {
    if (std::optional<Head> head = Accept(assignment)) {
      heads.push_back(*std::move(head));
    }
  }
  for (const Head& head : heads) {
    pool_.Schedule([this, head] { RunChain(head); });
  }
  return 0;
}

void TaskExecutor::CancelAll(CancelReason reason) {
  // Waiting followers are in the table too: their chains end with their
  // cancelled heads.
  attempts_.CancelAll(reason);
}

absl::Status TaskExecutor::UseObjectStore(const v1::ObjectStoreConfig& config) {
  if (objects_ != nullptr) return objects_->Configure(config);
  if (config.bucket().empty()) return absl::OkStatus();
  return absl::UnimplementedError(
      "dagd keeps large results in an object store, and this worker has no "
      "client for one: tasks with inputs there will fail");
}

void TaskExecutor::StopAccepting() {
  absl::MutexLock lock(&accept_mu_);
  accepting_ = false;
}

std::optional<TaskExecutor::Head> TaskExecutor::Accept(
    v1::Assignment& assignment) {
  // Answer at once rather than occupy a slot: retrying here cannot help.
  if (runtimes_->Find(assignment) == nullptr) {
    v1::TaskResult result = runner_.UnknownFunctionResult(assignment);
    if (observer_ != nullptr) {
      observer_->AttemptFinished(assignment, result, absl::ZeroDuration());
    }
    reporter_->Finished(std::move(result));
    return std::nullopt;
  }
  if (assignment.has_after()) {
    AddFollower(assignment);
    return std::nullopt;
  }
  const uint32_t slots = std::max<uint32_t>(assignment.slots(), 1);
  auto token = attempts_.Add(assignment.task(), slots);
  // A duplicate (the coordinator resent after a reconnect) is already
  // queued or running; its one result is enough.
  if (token == nullptr) return std::nullopt;
  if (observer_ != nullptr) observer_->SlotsTaken(slots);
  return Head{std::make_shared<const v1::Assignment>(std::move(assignment)),
              std::move(token), slots};
}

void TaskExecutor::AddFollower(v1::Assignment& assignment) {
  absl::MutexLock lock(&chain_mu_);
  // Only a held predecessor will ever hand its slot on, and to one
  // follower. Otherwise drop it: the coordinator sees the predecessor's
  // outcome and runs the task again.
  AttemptTable::Key after = AttemptTable::KeyOf(assignment.after());
  if (!attempts_.Contains(assignment.after()) || followers_.count(after) > 0) {
    return;
  }
  auto token = attempts_.Add(assignment.task(), /*slots=*/0);
  if (token == nullptr) return;  // a duplicate, already held
  followers_.emplace(std::move(after),
                     Follower{std::move(assignment), std::move(token)});
}

void TaskExecutor::RunChain(const Head& head) {
  v1::TaskResult result = runner_.Run(*head.assignment, head.token);
  std::optional<Follower> next = Finish(result, head.slots);
  // A loop, not recursion: chains can be dozens long.
  while (next.has_value()) {
    // The follower has its copy of the output; a large one is not kept
    // twice while the follower runs.
    result.clear_output();
    result = runner_.Run(next->assignment, next->token);
    next = Finish(result, head.slots);
  }
}

std::optional<TaskExecutor::Follower> TaskExecutor::Finish(
    const v1::TaskResult& result, uint32_t slots) {
  absl::MutexLock lock(&chain_mu_);
  std::optional<Follower> next;
  if (auto node = followers_.extract(AttemptTable::KeyOf(result.task()));
      !node.empty()) {
    next = std::move(node.mapped());
  }
  // After a success the follower runs even if it was cancelled meanwhile:
  // the runner then reports it cancelled without calling its function, and
  // that report is what frees its slots on the coordinator, which may
  // already count them as the follower's.
  if (next.has_value() && result.ok()) {
    attempts_.PassSlots(result.task(), next->assignment.task());
    PutOutput(result, &next->assignment);
    return next;
  }
  if (next.has_value()) DropChain(next->assignment.task());
  // Before the removal, so that whoever waits for idle sees the slots freed.
  if (observer_ != nullptr) observer_->SlotsFreed(slots);
  attempts_.Remove(result.task());
  return std::nullopt;
}

std::vector<v1::TaskRef> TaskExecutor::AttemptsForRegister() {
  absl::MutexLock lock(&chain_mu_);
  for (auto& [after, follower] : followers_) {
    attempts_.Remove(follower.assignment.task());
  }
  followers_.clear();
  return attempts_.Refs();
}

void TaskExecutor::DropChain(v1::TaskRef first) {
  v1::TaskRef ref = std::move(first);
  while (true) {
    attempts_.Remove(ref);
    auto node = followers_.extract(AttemptTable::KeyOf(ref));
    if (node.empty()) return;
    ref = node.mapped().assignment.task();
  }
}

}  // namespace dagd
