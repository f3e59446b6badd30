#include "client/job_builder.h"

#include <google/protobuf/util/json_util.h>

#include "absl/strings/str_cat.h"
#include "client/json_syntax.h"
#include "client/proto_time.h"

namespace dagd {

v1::TaskSpec& TaskBuilder::Spec() { return *job_->spec_.mutable_tasks(index_); }

TaskBuilder& TaskBuilder::Args(absl::string_view json) {
  google::protobuf::Value value;
  const auto status = google::protobuf::util::JsonStringToMessage(
      google::protobuf::StringPiece(json.data(), json.size()), &value);
  if (status.ok()) return Args(value);
  // The same syntax locator as job files use; protobuf's message has no
  // position (see json_syntax.h).
  const auto syntax = FindJsonSyntaxError(json);
  job_->RecordError(index_,
                    absl::StrCat("args are not valid JSON: ",
                                 syntax ? FormatJsonSyntaxError(*syntax)
                                        : std::string(status.message())));
  return *this;
}

TaskBuilder& TaskBuilder::Args(const google::protobuf::Value& value) {
  *Spec().mutable_args() = value;
  return *this;
}

TaskBuilder& TaskBuilder::Arg(absl::string_view key,
                              const google::protobuf::Value& value) {
  google::protobuf::Value* args = Spec().mutable_args();
  if (args->kind_case() != google::protobuf::Value::KIND_NOT_SET &&
      !args->has_struct_value()) {
    job_->RecordError(index_, absl::StrCat("Arg(\"", key,
                                           "\") needs object args, but args "
                                           "were set to a non-object"));
    return *this;
  }
  (*args->mutable_struct_value()->mutable_fields())[std::string(key)] = value;
  return *this;
}

TaskBuilder& TaskBuilder::Arg(absl::string_view key, double number) {
  google::protobuf::Value value;
  value.set_number_value(number);
  return Arg(key, value);
}

TaskBuilder& TaskBuilder::Arg(absl::string_view key, int number) {
  return Arg(key, static_cast<double>(number));
}

TaskBuilder& TaskBuilder::Arg(absl::string_view key, int64_t number) {
  // JSON numbers are doubles: beyond 2^53 this rounds, as any JSON would.
  return Arg(key, static_cast<double>(number));
}

TaskBuilder& TaskBuilder::Arg(absl::string_view key, bool flag) {
  google::protobuf::Value value;
  value.set_bool_value(flag);
  return Arg(key, value);
}

TaskBuilder& TaskBuilder::Arg(absl::string_view key, absl::string_view text) {
  google::protobuf::Value value;
  value.set_string_value(std::string(text));
  return Arg(key, value);
}

TaskBuilder& TaskBuilder::Arg(absl::string_view key, const char* text) {
  return Arg(key, absl::string_view(text));
}

TaskBuilder& TaskBuilder::Inputs(const std::vector<std::string>& ids) {
  for (const std::string& id : ids) Spec().add_inputs(id);
  return *this;
}

TaskBuilder& TaskBuilder::After(const std::vector<std::string>& ids) {
  for (const std::string& id : ids) Spec().add_after(id);
  return *this;
}

TaskBuilder& TaskBuilder::Priority(int32_t priority) {
  Spec().set_priority(priority);
  return *this;
}

TaskBuilder& TaskBuilder::Slots(uint32_t slots) {
  Spec().mutable_resources()->set_slots(slots);
  return *this;
}

TaskBuilder& TaskBuilder::Timeout(absl::Duration timeout) {
  *Spec().mutable_timeout() = ToProtoDuration(timeout);
  return *this;
}

TaskBuilder& TaskBuilder::Retry(uint32_t max_attempts,
                                absl::Duration initial_backoff) {
  v1::RetryPolicy* retry = Spec().mutable_retry();
  retry->set_max_attempts(max_attempts);
  *retry->mutable_initial_backoff() = ToProtoDuration(initial_backoff);
  return *this;
}

TaskBuilder& TaskBuilder::Cost(double cost) {
  Spec().set_cost(cost);
  return *this;
}

TaskBuilder& TaskBuilder::ExclusiveGroup(absl::string_view group) {
  Spec().set_exclusive_group(std::string(group));
  return *this;
}

TaskBuilder& TaskBuilder::Executor(absl::string_view executor) {
  Spec().set_executor(std::string(executor));
  return *this;
}

JobBuilder::JobBuilder(absl::string_view name) {
  spec_.set_name(std::string(name));
}

JobBuilder& JobBuilder::Priority(int32_t priority) {
  spec_.set_priority(priority);
  return *this;
}

JobBuilder& JobBuilder::MaxParallelism(uint32_t max_parallelism) {
  spec_.set_max_parallelism(max_parallelism);
  return *this;
}

JobBuilder& JobBuilder::ContinueOnFailure(bool continue_on_failure) {
  spec_.set_continue_on_failure(continue_on_failure);
  return *this;
}

JobBuilder& JobBuilder::Deadline(absl::Duration deadline) {
  *spec_.mutable_deadline() = ToProtoDuration(deadline);
  return *this;
}

TaskBuilder JobBuilder::Task(absl::string_view id, absl::string_view fn) {
  v1::TaskSpec* task = spec_.add_tasks();
  task->set_id(std::string(id));
  task->set_fn(std::string(fn));
  return TaskBuilder(this, spec_.tasks_size() - 1);
}

absl::StatusOr<v1::JobSpec> JobBuilder::Build() const {
  if (!error_.ok()) return error_;
  return spec_;
}

void JobBuilder::RecordError(int task_index, absl::string_view message) {
  if (!error_.ok()) return;
  error_ = absl::InvalidArgumentError(
      absl::StrCat("task \"", spec_.tasks(task_index).id(), "\": ", message));
}

}  // namespace dagd
