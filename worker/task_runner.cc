#include "worker/task_runner.h"

#include <algorithm>
#include <exception>
#include <optional>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"

namespace dagd {
namespace {

std::vector<Payload> InputsOf(const v1::Assignment& assignment) {
  std::vector<Payload> inputs;
  inputs.reserve(assignment.inputs_size());
  for (const v1::Payload& input : assignment.inputs()) {
    inputs.push_back(Payload{input.data(), input.content_type()});
  }
  return inputs;
}

AttemptInfo AttemptOf(const v1::Assignment& assignment) {
  return AttemptInfo{assignment.task().job_id(), assignment.task_id(),
                     assignment.task().task_index(),
                     std::max<uint32_t>(assignment.task().attempt(), 1)};
}

std::string CancelMessage(CancelReason reason, uint64_t timeout_ms) {
  switch (reason) {
    case CancelReason::kTimeout:
      return absl::StrCat("timed out after ", timeout_ms, " ms");
    case CancelReason::kCoordinator:
      return "cancelled by the coordinator";
    case CancelReason::kShutdown:
      return "cancelled: the worker is shutting down";
    case CancelReason::kNone:
      break;
  }
  return "";
}

}  // namespace

TaskRunner::TaskRunner(const FunctionRegistry* registry, Clock* clock,
                       TimerQueue* timers, TaskReporter* reporter,
                       AttemptObserver* observer)
    : registry_(registry),
      clock_(clock),
      timers_(timers),
      reporter_(reporter),
      observer_(observer) {}

v1::TaskResult TaskRunner::Run(const v1::Assignment& assignment,
                               std::shared_ptr<CancellationToken> token) {
  const TaskFunction* fn = registry_->Find(assignment.fn());
  if (fn == nullptr) {
    v1::TaskResult result = UnknownFunctionResult(assignment);
    reporter_->Finished(result);
    return result;
  }
  const absl::Time start = clock_->Now();
  int64_t started_ms = UnixMillis(start);
  v1::TaskStarted started;
  *started.mutable_task() = assignment.task();
  started.set_started_unix_ms(started_ms);
  reporter_->Started(std::move(started));

  std::optional<TimerQueue::Handle> timer;
  if (assignment.timeout_ms() > 0) {
    // The timer holds its own reference: it may fire while we finish.
    timer = timers_->ScheduleAfter(
        absl::Milliseconds(assignment.timeout_ms()),
        [token] { token->Cancel(CancelReason::kTimeout); });
  }
  TaskContext context(AttemptOf(assignment), assignment.args(),
                      InputsOf(assignment), token.get());
  absl::StatusOr<Payload> output =
      token->cancelled() ? absl::CancelledError("cancelled before start")
                         : Invoke(*fn, context);
  if (timer.has_value()) timers_->Cancel(*timer);
  v1::TaskResult result =
      MakeResult(assignment, output, token->reason(), started_ms);
  if (observer_ != nullptr) {
    observer_->AttemptFinished(assignment, result, clock_->Now() - start);
  }
  reporter_->Finished(result);
  return result;
}

v1::TaskResult TaskRunner::UnknownFunctionResult(
    const v1::Assignment& assignment) {
  int64_t now_ms = UnixMillis(clock_->Now());
  absl::Status error = PermanentError(
      absl::StrCat("no function '", assignment.fn(), "' on this worker"));
  return MakeResult(assignment, error, CancelReason::kNone, now_ms);
}

absl::StatusOr<Payload> TaskRunner::Invoke(const TaskFunction& fn,
                                           TaskContext& context) {
  // Plugin code may throw; one bad function must not take the worker down.
  try {
    return fn(context);
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat("function threw: ", e.what()));
  } catch (...) {
    return absl::InternalError("function threw a non-standard exception");
  }
}

v1::TaskResult TaskRunner::MakeResult(const v1::Assignment& assignment,
                                      const absl::StatusOr<Payload>& output,
                                      CancelReason cancel_reason,
                                      int64_t started_ms) {
  v1::TaskResult result;
  *result.mutable_task() = assignment.task();
  result.set_started_unix_ms(started_ms);
  result.set_finished_unix_ms(UnixMillis(clock_->Now()));
  // A cancelled attempt never reports success, even if its function
  // finished in the same instant: the deadline is the contract.
  if (cancel_reason != CancelReason::kNone) {
    result.set_error(CancelMessage(cancel_reason, assignment.timeout_ms()));
  } else if (output.ok()) {
    result.set_ok(true);
    result.mutable_output()->set_data(output->data);
    result.mutable_output()->set_content_type(output->content_type);
  } else {
    const absl::Status& status = output.status();
    result.set_error(status.message().empty() ? status.ToString()
                                              : std::string(status.message()));
    result.set_permanent(IsPermanent(status));
  }
  return result;
}

}  // namespace dagd
