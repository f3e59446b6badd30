// JobBuilder: builds a dagd.v1.JobSpec in code.
//
//   JobBuilder b("tree");
//   b.Priority(2);
//   b.Task("a", "const").Arg("value", 1);
//   b.Task("b", "const").Args(R"({"value": 2})");
//   b.Task("sum", "add").Inputs({"a", "b"}).Timeout(absl::Seconds(5));
//   absl::StatusOr<v1::JobSpec> job = b.Build();
//
// Setters never fail; the first error (JSON args that do not parse, Arg() on
// args that are not an object) is kept and returned by Build(), naming the
// task. Graph checks (unique ids, inputs that resolve, cycles) are the
// server's: it answers INVALID_ARGUMENT naming the task.
//
// Not thread-safe. A TaskBuilder is valid while its JobBuilder lives.
#ifndef DAGD_CLIENT_JOB_BUILDER_H_
#define DAGD_CLIENT_JOB_BUILDER_H_

#include <google/protobuf/struct.pb.h>

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "dagd/v1/types.pb.h"

namespace dagd {

class JobBuilder;

// Fluent setters for one task of a JobBuilder.
class TaskBuilder {
 public:
  // Replaces the args with a JSON text of any kind (object, number, ...).
  TaskBuilder& Args(absl::string_view json);
  TaskBuilder& Args(const google::protobuf::Value& value);
  // Sets one field of object args ({"value": 1}), making args an object if
  // they are unset. The overloads exist so that Arg("n", 1) and
  // Arg("s", "text") do not silently pick the bool one.
  TaskBuilder& Arg(absl::string_view key, const google::protobuf::Value& value);
  TaskBuilder& Arg(absl::string_view key, double number);
  TaskBuilder& Arg(absl::string_view key, int number);
  TaskBuilder& Arg(absl::string_view key, int64_t number);
  TaskBuilder& Arg(absl::string_view key, bool flag);
  TaskBuilder& Arg(absl::string_view key, absl::string_view text);
  TaskBuilder& Arg(absl::string_view key, const char* text);

  // Appends upstream ids: `inputs` pass their outputs in, `after` only order.
  TaskBuilder& Inputs(const std::vector<std::string>& ids);
  TaskBuilder& After(const std::vector<std::string>& ids);

  TaskBuilder& Priority(int32_t priority);
  TaskBuilder& Slots(uint32_t slots);
  // Per attempt; zero means none.
  TaskBuilder& Timeout(absl::Duration timeout);
  TaskBuilder& Retry(uint32_t max_attempts,
                     absl::Duration initial_backoff = absl::Seconds(1));
  TaskBuilder& Cost(double cost);
  TaskBuilder& ExclusiveGroup(absl::string_view group);
  TaskBuilder& Executor(absl::string_view executor);

  // For the fields without a setter (resource amounts, labels, ...).
  v1::TaskSpec& Spec();

 private:
  friend class JobBuilder;
  TaskBuilder(JobBuilder* job, int index) : job_(job), index_(index) {}

  JobBuilder* job_;  // not owned
  int index_;        // in job_->spec_.tasks(); stable, unlike a pointer
};

class JobBuilder {
 public:
  explicit JobBuilder(absl::string_view name);

  JobBuilder& Priority(int32_t priority);
  JobBuilder& MaxParallelism(uint32_t max_parallelism);
  JobBuilder& ContinueOnFailure(bool continue_on_failure = true);
  JobBuilder& Deadline(absl::Duration deadline);

  // Adds a task; the returned builder sets its other fields.
  TaskBuilder Task(absl::string_view id, absl::string_view fn);

  // The job, or the first error a setter recorded (INVALID_ARGUMENT).
  absl::StatusOr<v1::JobSpec> Build() const;

 private:
  friend class TaskBuilder;
  // Keeps the first error only: later ones are often its consequences.
  void RecordError(int task_index, absl::string_view message);

  v1::JobSpec spec_;
  absl::Status error_;
};

}  // namespace dagd

#endif  // DAGD_CLIENT_JOB_BUILDER_H_
