#include "worker/task_runner.h"

#include <algorithm>
#include <exception>
#include <optional>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "storage/base/large_buffer.h"
#include "storage/base/logging.h"

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

// Turns an ok `result` into the failure `error`, dropping its output.
void Fail(v1::TaskResult& result, const absl::Status& error) {
  result.set_ok(false);
  result.clear_output();
  result.set_error(std::string(error.message()));
  result.set_permanent(IsPermanent(error));
  for (uint32_t position : LostInputsOf(error))
    result.add_lost_inputs(position);
}

// The result reported for `result` whose output is at `ref`.
v1::TaskResult ByReference(const v1::TaskResult& result, v1::ObjectRef ref) {
  v1::TaskResult reported;
  *reported.mutable_task() = result.task();
  reported.set_ok(true);
  reported.set_started_unix_ms(result.started_unix_ms());
  reported.set_finished_unix_ms(result.finished_unix_ms());
  *reported.mutable_output_ref() = std::move(ref);
  return reported;
}

}  // namespace

TaskRunner::TaskRunner(const TaskRuntimes* runtimes, Clock* clock,
                       TimerQueue* timers, TaskReporter* reporter,
                       AttemptObserver* observer, TaskObjectStore* objects,
                       DataPlane* data)
    : runtimes_(runtimes),
      clock_(clock),
      timers_(timers),
      reporter_(reporter),
      observer_(observer),
      objects_(objects),
      data_(data) {}

v1::TaskResult TaskRunner::Run(const v1::Assignment& assignment,
                               std::shared_ptr<CancellationToken> token) {
  TaskRuntime* runtime = runtimes_->Find(assignment);
  if (runtime == nullptr) {
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
  absl::Time deadline = absl::InfiniteFuture();
  if (assignment.timeout_ms() > 0) {
    const absl::Duration timeout = absl::Milliseconds(assignment.timeout_ms());
    deadline = start + timeout;
    // The timer holds its own reference: it may fire while we finish.
    timer = timers_->ScheduleAfter(
        timeout, [token] { token->Cancel(CancelReason::kTimeout); });
  }
  // Destroyed after the inputs (and the context holding them).
  FetchBudget::Lease lease;
  std::vector<Payload> inputs = InputsOf(assignment);
  const absl::Status fetched =
      FetchInputs(assignment, inputs, token.get(),
                  runtime->ReadsHeldInputsInPlace(), lease);
  TaskContext context(AttemptOf(assignment), assignment.args(),
                      std::move(inputs), token.get());
  absl::StatusOr<Payload> output =
      !fetched.ok()        ? absl::StatusOr<Payload>(fetched)
      : token->cancelled() ? absl::CancelledError("cancelled before start")
                           : Invoke(*runtime, {assignment, context, deadline});
  if (timer.has_value()) timers_->Cancel(*timer);
  v1::TaskResult result =
      MakeResult(assignment, std::move(output), token->reason(), started_ms);
  std::optional<v1::TaskResult> by_reference = StoreOutput(assignment, result);
  runtime->OutputStored(
      assignment, by_reference.has_value() && by_reference->has_output_ref()
                      ? &by_reference->output_ref()
                      : nullptr);
  if (observer_ != nullptr) {
    observer_->AttemptFinished(assignment, result, clock_->Now() - start);
  }
  reporter_->Finished(by_reference.has_value() ? *by_reference : result);
  return result;
}

absl::Status TaskRunner::FetchInputs(const v1::Assignment& assignment,
                                     std::vector<Payload>& inputs,
                                     CancellationToken* token, bool share_local,
                                     FetchBudget::Lease& lease) {
  bool held = false;
  bool stored = false;
  for (const auto& [position, ref] : assignment.input_refs()) {
    (IsHeld(ref) ? held : stored) = true;
  }
  if (stored) {
    if (absl::Status s = FetchStoredInputs(assignment, inputs); !s.ok()) {
      return s;
    }
  }
  if (!held) return absl::OkStatus();
  if (data_ == nullptr) {
    return absl::FailedPreconditionError(
        "inputs are held by workers, and this worker cannot fetch them");
  }
  return data_->FetchInputs(assignment, inputs, token, share_local, &lease);
}

absl::Status TaskRunner::FetchStoredInputs(const v1::Assignment& assignment,
                                           std::vector<Payload>& inputs) {
  std::shared_ptr<const TaskObjectStore::Current> objects;
  if (objects_ != nullptr) objects = objects_->Get();
  if (objects == nullptr || objects->config.bucket().empty()) {
    return absl::FailedPreconditionError(
        "inputs come through dagd's object store, but this worker was not "
        "given one at registration");
  }
  if (!objects->error.ok()) return objects->error;
  for (uint32_t position : SortedPositions(assignment.input_refs())) {
    const v1::ObjectRef& ref = assignment.input_refs().at(position);
    if (IsHeld(ref)) continue;
    if (position >= inputs.size()) {
      return PermanentError(absl::StrCat("input_refs names input #", position,
                                         " of ", inputs.size()));
    }
    absl::StatusOr<StoredObject> object =
        FetchObject(*objects->store, ref, absl::StrCat("input #", position));
    if (!object.ok()) return object.status();
    inputs[position] =
        Payload{std::move(object->data), std::move(object->content_type)};
  }
  return absl::OkStatus();
}

std::optional<v1::TaskResult> TaskRunner::StoreOutput(
    const v1::Assignment& assignment, v1::TaskResult& result) {
  if (!result.ok()) return std::nullopt;
  const ResultLimits limits =
      data_ != nullptr ? data_->limits() : ResultLimits{};
  const uint64_t size = result.output().data().size();
  if (limits.max_result_bytes > 0 && size > limits.max_result_bytes) {
    Fail(result, PermanentError(absl::StrCat(
                     "the output is ", size, " bytes, over dagd's limit of ",
                     limits.max_result_bytes,
                     " bytes (--max_result_bytes); the worker dropped it")));
    return std::nullopt;
  }
  if (objects_ != nullptr) {
    std::shared_ptr<const TaskObjectStore::Current> objects = objects_->Get();
    // The object store, when dagd names one, is the durable home.
    if (!objects->config.bucket().empty()) {
      return WriteOutput(assignment, *objects, result);
    }
  }
  if (data_ != nullptr && data_->holds_outputs() &&
      limits.inline_max_bytes > 0 && size > limits.inline_max_bytes) {
    return HoldOutput(assignment, result);
  }
  return std::nullopt;
}

std::optional<v1::TaskResult> TaskRunner::WriteOutput(
    const v1::Assignment& assignment, const TaskObjectStore::Current& objects,
    v1::TaskResult& result) {
  const uint64_t limit = objects.config.inline_max_bytes();
  const std::string& data = result.output().data();
  if (data.size() <= limit) return std::nullopt;
  const std::string what =
      absl::StrCat("the output (", data.size(),
                   " bytes, over the inline limit of ", limit, " bytes)");
  const v1::TaskRef& task = assignment.task();
  const std::string key =
      WrittenResultObjectKey(task.job_id(), task.task_index(), task.attempt(),
                             data_ != nullptr ? data_->instance() : "");
  absl::StatusOr<v1::ObjectRef> ref =
      objects.error.ok()
          ? PutObject(*objects.store, objects.config.bucket(), key, data,
                      result.output().content_type(), what)
          : absl::StatusOr<v1::ObjectRef>(objects.error);
  if (!ref.ok()) {
    Fail(result, ref.status());
    return std::nullopt;
  }
  return ByReference(result, *std::move(ref));
}

std::optional<v1::TaskResult> TaskRunner::HoldOutput(
    const v1::Assignment& assignment, v1::TaskResult& result) {
  // The output moves into the holder, no copy: from then on `result`
  // names it by reference, and a follower granted ahead reads it from the
  // holder like any other task of this worker that consumes it.
  const uint64_t size = result.output().data().size();
  absl::StatusOr<v1::ObjectRef> ref =
      data_->Hold(ResultObjectKey(assignment.task().job_id(),
                                  assignment.task().task_index(),
                                  assignment.task().attempt()),
                  std::move(*result.mutable_output()->mutable_data()),
                  result.output().content_type());
  if (!ref.ok()) {
    Fail(result, absl::Status(ref.status().code(),
                              absl::StrCat("cannot keep the output (", size,
                                           " bytes) on this worker: ",
                                           ref.status().message())));
    return std::nullopt;
  }
  result = ByReference(result, *std::move(ref));
  return result;
}

v1::TaskResult TaskRunner::UnknownFunctionResult(
    const v1::Assignment& assignment) {
  int64_t now_ms = UnixMillis(clock_->Now());
  absl::Status error = PermanentError(
      absl::StrCat("no function '", assignment.fn(), "' on this worker"));
  return MakeResult(assignment, error, CancelReason::kNone, now_ms);
}

absl::StatusOr<Payload> TaskRunner::Invoke(TaskRuntime& runtime,
                                           const RuntimeAttempt& attempt) {
  // Plugin code may throw; one bad function must not take the worker down.
  try {
    return runtime.Run(attempt);
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat("function threw: ", e.what()));
  } catch (...) {
    return absl::InternalError("function threw a non-standard exception");
  }
}

v1::TaskResult TaskRunner::MakeResult(const v1::Assignment& assignment,
                                      absl::StatusOr<Payload> output,
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
    if (output->held != nullptr) {
      // A runtime handed back an input it got in place: its bytes, copied.
      result.mutable_output()->set_data(std::string(output->bytes()));
    } else {
      result.mutable_output()->set_data(std::move(output->data));
    }
    result.mutable_output()->set_content_type(std::move(output->content_type));
  } else {
    const absl::Status& status = output.status();
    // Errors may quote input bytes; a string field must be valid UTF-8 or
    // the report cannot be sent, and would block the stream on each retry.
    result.set_error(ValidUtf8(status.message().empty() ? status.ToString()
                                                        : status.message()));
    result.set_permanent(IsPermanent(status));
    for (uint32_t position : LostInputsOf(status)) {
      result.add_lost_inputs(position);
    }
  }
  return result;
}

}  // namespace dagd
