#include "worker/lambda_runtime.h"

#include <algorithm>
#include <atomic>
#include <memory>
#include <optional>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "google/protobuf/util/json_util.h"
#include "worker/cancellation.h"
#include "worker/task_objects.h"

namespace dagd {
namespace {

// The job and task a log line is about, and how people name the task.
LogEntry About(const v1::Assignment& assignment, LogEntry entry) {
  entry.job_id = assignment.task().job_id();
  entry.task_id = assignment.task_id().empty()
                      ? absl::StrCat("#", assignment.task().task_index())
                      : assignment.task_id();
  return entry;
}

// Parses and checks an invocation body; INVALID_ARGUMENT saying what is
// wrong with it.
absl::Status ParseInvocation(const std::string& body,
                             v1::LambdaInvocation* invocation) {
  google::protobuf::util::JsonParseOptions options;
  // A newer dagd may send fields this worker does not know yet.
  options.ignore_unknown_fields = true;
  auto parsed =
      google::protobuf::util::JsonStringToMessage(body, invocation, options);
  if (!parsed.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "the request body is not a dagd.v1.LambdaInvocation in proto3 JSON: ",
        parsed.message().as_string()));
  }
  if (!invocation->has_assignment()) {
    return absl::InvalidArgumentError("the invocation has no assignment");
  }
  const v1::Assignment& assignment = invocation->assignment();
  std::string task = absl::StrCat("job '", assignment.task().job_id(),
                                  "' task '", assignment.task_id(), "': ");
  if (assignment.fn().empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(task, "the assignment names no function (fn)"));
  }
  for (const auto& [position, ref] : invocation->input_refs()) {
    if (position >= static_cast<uint32_t>(assignment.inputs_size())) {
      return absl::InvalidArgumentError(absl::StrCat(
          task, "input_refs names input #", position, " but the task has ",
          assignment.inputs_size(), " inputs"));
    }
    if (ref.key().empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat(task, "input_refs[", position, "] has no key"));
    }
  }
  const v1::ObjectRef& output = invocation->output_ref();
  if (!output.bucket().empty() && output.key().empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        task, "output_ref names bucket '", output.bucket(), "' but no key"));
  }
  return absl::OkStatus();
}

// A failed result for an attempt that ends with `error` before or after
// its function ran.
v1::TaskResult FailedResult(const v1::Assignment& assignment,
                            const absl::Status& error, int64_t started_ms,
                            int64_t finished_ms) {
  v1::TaskResult result;
  *result.mutable_task() = assignment.task();
  result.set_error(std::string(error.message()));
  result.set_permanent(IsPermanent(error));
  result.set_started_unix_ms(started_ms);
  result.set_finished_unix_ms(finished_ms);
  return result;
}

}  // namespace

LambdaRuntime::LambdaRuntime(LambdaRuntimeOptions options,
                             LambdaRuntimeApi* api,
                             const TaskRuntimes* runtimes, ObjectStore* store,
                             Clock* clock, LogFn log, AttemptObserver* observer)
    : options_(std::move(options)),
      api_(api),
      store_(store),
      clock_(clock),
      log_(std::move(log)),
      observer_(observer),
      runner_(runtimes, clock, &timers_, &reporter_) {}

absl::Status LambdaRuntime::Run() {
  while (true) {
    if (absl::Status status = RunOnce(); !status.ok()) return status;
  }
}

absl::Status LambdaRuntime::RunOnce() {
  absl::StatusOr<LambdaInvocationEvent> event = api_->Next();
  if (!event.ok()) return event.status();
  return Post(event->request_id, Handle(*event));
}

LambdaAnswer LambdaRuntime::Handle(const LambdaInvocationEvent& event) {
  LambdaAnswer answer;
  v1::LambdaInvocation invocation;
  if (absl::Status valid = ParseInvocation(event.body, &invocation);
      !valid.ok()) {
    log_(Error(
        absl::StrCat("invocation ", event.request_id, ": ", valid.message())));
    answer.error = {kInvalidInvocation, std::string(valid.message())};
    return answer;
  }
  const v1::Assignment& assignment = invocation.assignment();
  log_(About(assignment,
             Info(absl::StrCat("invocation ", event.request_id, ": attempt ",
                               assignment.task().attempt(), " of fn '",
                               assignment.fn(), "'"))));
  v1::LambdaResult result = Execute(event, invocation);
  if (!result.result().ok()) {
    answer.error = {
        result.result().permanent() ? kTaskFailedPermanently : kTaskFailed,
        result.result().error()};
    return answer;
  }
  auto printed =
      google::protobuf::util::MessageToJsonString(result, &answer.body);
  if (!printed.ok()) {
    answer.error = {kTaskFailedPermanently,
                    absl::StrCat("cannot print the result as JSON: ",
                                 printed.message().as_string())};
    return answer;
  }
  answer.ok = true;
  return answer;
}

v1::LambdaResult LambdaRuntime::Execute(const LambdaInvocationEvent& event,
                                        v1::LambdaInvocation& invocation) {
  const v1::Assignment& assignment = invocation.assignment();
  const absl::Time start = clock_->Now();
  auto token = std::make_shared<CancellationToken>();
  Deadline deadline = ArmDeadline(event.deadline_unix_ms, start, token);
  v1::LambdaResult answer;
  if (absl::Status fetched = FetchInputs(invocation); !fetched.ok()) {
    int64_t now_ms = UnixMillis(clock_->Now());
    *answer.mutable_result() =
        FailedResult(assignment, fetched, UnixMillis(start), now_ms);
  } else {
    *answer.mutable_result() = runner_.Run(assignment, token);
  }
  if (deadline.timer.has_value()) timers_.Cancel(*deadline.timer);
  v1::TaskResult& result = *answer.mutable_result();
  if (*deadline.hit && !result.ok()) {
    result.set_error(absl::StrCat(
        "cancelled ", absl::FormatDuration(options_.deadline_margin),
        " before the Lambda invocation's deadline, after running ",
        absl::FormatDuration(
            absl::Trunc(clock_->Now() - start, absl::Milliseconds(1))),
        ": give the Lambda function a timeout longer than the task needs"));
  }
  if (result.ok()) {
    if (absl::Status stored = StoreOutput(invocation, answer); !stored.ok()) {
      result = FailedResult(assignment, stored, result.started_unix_ms(),
                            UnixMillis(clock_->Now()));
    }
  }
  absl::Duration run_time = clock_->Now() - start;
  if (observer_ != nullptr) {
    observer_->AttemptFinished(assignment, result, run_time);
  }
  if (result.ok()) LogSuccess(event, assignment, answer, run_time);
  return answer;
}

LambdaRuntime::Deadline LambdaRuntime::ArmDeadline(
    int64_t deadline_unix_ms, absl::Time now,
    std::shared_ptr<CancellationToken> token) {
  Deadline deadline;
  deadline.hit = std::make_shared<std::atomic<bool>>(false);
  if (deadline_unix_ms <= 0) return deadline;
  absl::Duration left =
      absl::FromUnixMillis(deadline_unix_ms) - options_.deadline_margin - now;
  // `hit` is set before the cancel wakes the task: the task's thread reads
  // it as soon as the function returns, which may be before Cancel does.
  auto cancel = [token = std::move(token), hit = deadline.hit] {
    if (token->cancelled()) return;
    *hit = true;
    token->Cancel(CancelReason::kTimeout);
  };
  if (left <= absl::ZeroDuration()) {
    cancel();
  } else {
    deadline.timer = timers_.ScheduleAfter(left, std::move(cancel));
  }
  return deadline;
}

void LambdaRuntime::LogSuccess(const LambdaInvocationEvent& event,
                               const v1::Assignment& assignment,
                               const v1::LambdaResult& answer,
                               absl::Duration run_time) {
  std::string stored;
  if (answer.has_output_ref()) {
    stored =
        absl::StrCat(", output (", answer.output_ref().size(),
                     " bytes) stored at key '", answer.output_ref().key(), "'");
  }
  log_(About(
      assignment,
      Info(absl::StrCat(
          "invocation ", event.request_id, ": succeeded after ",
          absl::FormatDuration(absl::Trunc(run_time, absl::Milliseconds(1))),
          stored))));
}

absl::Status LambdaRuntime::CheckStore(const v1::ObjectRef& ref,
                                       absl::string_view what) {
  if (store_ == nullptr) {
    return PermanentError(absl::StrCat(
        what, " goes through the object store (bucket '", ref.bucket(),
        "'), but this Lambda function has none: set DAGD_S3_BUCKET (and "
        "DAGD_S3_PREFIX) in its environment to the bucket dagd uses"));
  }
  if (!options_.store_bucket.empty() && !ref.bucket().empty() &&
      ref.bucket() != options_.store_bucket) {
    return PermanentError(
        absl::StrCat(what, " is in bucket '", ref.bucket(),
                     "', but this Lambda function's "
                     "object store is ",
                     store_->Describe(),
                     ": set its DAGD_S3_BUCKET to the bucket dagd uses"));
  }
  return absl::OkStatus();
}

absl::Status LambdaRuntime::FetchInputs(v1::LambdaInvocation& invocation) {
  for (uint32_t position : SortedPositions(invocation.input_refs())) {
    const v1::ObjectRef& ref = invocation.input_refs().at(position);
    std::string what = absl::StrCat("input #", position);
    if (absl::Status usable = CheckStore(ref, what); !usable.ok()) {
      return usable;
    }
    absl::StatusOr<StoredObject> object = FetchObject(*store_, ref, what);
    if (!object.ok()) return object.status();
    v1::Payload& input =
        *invocation.mutable_assignment()->mutable_inputs(position);
    input.set_data(std::move(object->data));
    input.set_content_type(ref.content_type().empty() ? object->content_type
                                                      : ref.content_type());
  }
  return absl::OkStatus();
}

absl::Status LambdaRuntime::StoreOutput(const v1::LambdaInvocation& invocation,
                                        v1::LambdaResult& answer) {
  const v1::Payload& output = answer.result().output();
  uint64_t limit = invocation.inline_max_bytes();
  if (limit == 0 || output.data().size() <= limit) return absl::OkStatus();
  std::string what =
      absl::StrCat("the output (", output.data().size(),
                   " bytes, over the inline limit of ", limit, " bytes)");
  const v1::ObjectRef& target = invocation.output_ref();
  if (target.bucket().empty()) {
    return PermanentError(absl::StrCat(
        what,
        " cannot be stored: dagd has no object store for it "
        "(output_ref is empty); give dagd an object store (S3) or make the "
        "output smaller"));
  }
  if (absl::Status usable = CheckStore(target, what); !usable.ok()) {
    return usable;
  }
  absl::StatusOr<v1::ObjectRef> ref =
      PutObject(*store_, target.bucket(), target.key(), output.data(),
                output.content_type(), what);
  if (!ref.ok()) return ref.status();
  *answer.mutable_output_ref() = *std::move(ref);
  answer.mutable_result()->clear_output();
  return absl::OkStatus();
}

absl::Status LambdaRuntime::Post(const std::string& request_id,
                                 const LambdaAnswer& answer) {
  absl::Status status = answer.ok ? api_->PostResponse(request_id, answer.body)
                                  : api_->PostError(request_id, answer.error);
  if (answer.ok && absl::IsResourceExhausted(status)) {
    // Lambda caps a response's size; dagd should have sent a lower inline
    // limit. The task ran, but its output cannot come back this way.
    LambdaError too_large{
        kTaskFailedPermanently,
        absl::StrCat("the result is ", answer.body.size(),
                     " bytes of JSON, more than Lambda accepts as a "
                     "response (",
                     status.message(),
                     "): lower dagd's inline limit so that larger outputs "
                     "go to the object store")};
    log_(Warning(
        absl::StrCat("invocation ", request_id, ": ", too_large.message)));
    status = api_->PostError(request_id, too_large);
  }
  if (status.ok()) return status;
  if (absl::IsUnavailable(status)) return status;
  log_(Warning(absl::StrCat(
      "invocation ", request_id,
      ": the Runtime API refused the answer: ", status.message())));
  return absl::OkStatus();
}

}  // namespace dagd
