#include "server/job_compiler.h"

#include <cmath>
#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"

namespace dagd {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

v1::JobSpec Parse(const std::string& json) {
  v1::JobSpec spec;
  auto status = google::protobuf::util::JsonStringToMessage(json, &spec);
  EXPECT_TRUE(status.ok()) << status;
  return spec;
}

absl::Status CompileError(const std::string& json, JobLimits limits = {}) {
  absl::StatusOr<CompiledJob> job = CompileJob(Parse(json), limits);
  EXPECT_FALSE(job.ok());
  EXPECT_EQ(job.status().code(), absl::StatusCode::kInvalidArgument);
  return job.status();
}

TEST(JobCompilerTest, CompilesTinyJob) {
  absl::StatusOr<CompiledJob> job = CompileJob(Parse(R"({"tasks": [
      {"id": "a", "fn": "const", "args": {"value": 1}},
      {"id": "b", "fn": "const", "args": {"value": 2}},
      {"id": "sum", "fn": "add", "inputs": ["a", "b"]}]})"),
                                               {});
  ASSERT_TRUE(job.ok()) << job.status();
  EXPECT_EQ(job->size(), 3u);
  EXPECT_EQ(job->dep_count, (std::vector<uint32_t>{0, 0, 2}));
  EXPECT_EQ(std::vector<uint32_t>(job->inputs.begin(), job->inputs.end()),
            (std::vector<uint32_t>{0, 1}));
  EXPECT_EQ(job->rank, (std::vector<double>{2, 2, 1}));
}

// Kinds as placement tells them apart: by fn, resources and executor; an
// exclusive group alone makes none.
TEST(JobCompilerTest, RejectsMoreDistinctKindsThanTheLimit) {
  JobLimits limits;
  limits.max_task_kinds_per_job = 2;
  const std::string two = R"({"tasks": [
      {"id": "a", "fn": "f"}, {"id": "b", "fn": "f", "exclusiveGroup": "g1"},
      {"id": "c", "fn": "f", "exclusiveGroup": "g2"},
      {"id": "d", "fn": "f", "resources": {"amounts": {"mem": 2}}},
      {"id": "e", "fn": "f", "resources": {"amounts": {"mem": 2}},
       "exclusiveGroup": "g3"})";
  EXPECT_TRUE(CompileJob(Parse(two + "]}"), limits).ok());
  EXPECT_THAT(
      CompileError(two + R"(, {"id": "x", "fn": "other"}]})", limits).message(),
      HasSubstr("task 'x': its fn, resources and executor make one kind of "
                "task more than the 2 a job may have "
                "(--max_task_kinds_per_job)"));
  EXPECT_THAT(
      CompileError(
          two + R"(, {"id": "y", "fn": "f", "resources": {"slots": 2}}]})",
          limits)
          .message(),
      HasSubstr("task 'y': its fn"));
}

TEST(JobCompilerTest, RejectsNoTasks) {
  EXPECT_THAT(CompileError(R"({"name": "x"})").message(),
              HasSubstr("has no tasks"));
}

TEST(JobCompilerTest, RejectsEmptyId) {
  EXPECT_THAT(CompileError(R"({"tasks": [{"id": "a", "fn": "const"},
                                         {"fn": "const"}]})")
                  .message(),
              HasSubstr("task #1 (no id): id is empty"));
}

TEST(JobCompilerTest, RejectsDuplicateId) {
  EXPECT_THAT(CompileError(R"({"tasks": [{"id": "a", "fn": "const"},
                                         {"id": "a", "fn": "const"}]})")
                  .message(),
              HasSubstr("task 'a': duplicate id"));
}

TEST(JobCompilerTest, RejectsUnknownInputAndAfter) {
  EXPECT_THAT(CompileError(R"({"tasks": [{"id": "a", "fn": "add",
                                          "inputs": ["nope"]}]})")
                  .message(),
              HasSubstr("task 'a': input 'nope' names no task"));
  EXPECT_THAT(CompileError(R"({"tasks": [{"id": "a", "fn": "add",
                                          "after": ["gone"]}]})")
                  .message(),
              HasSubstr("task 'a': after 'gone' names no task"));
}

// A name that is no task's goes into the message escaped: a newline in it
// would forge a line in dagd's log (the audit line of the refused
// submission) and on the client's terminal.
TEST(JobCompilerTest, AnUnknownInputsControlBytesAreEscaped) {
  for (const char* field : {"inputs", "after"}) {
    const std::string message(
        CompileError(absl::StrCat(R"({"tasks": [{"id": "a", "fn": "add", ")",
                                  field,
                                  R"(": ["x\n2026 audit: done\u001b[2J"]}]})"))
            .message());
    EXPECT_THAT(message,
                HasSubstr(R"('x\n2026 audit: done\x1b[2J' names no task)"))
        << field;
    EXPECT_THAT(message, Not(HasSubstr("\n"))) << field;
  }
}

TEST(JobCompilerTest, RejectsSelfDependency) {
  EXPECT_THAT(CompileError(R"({"tasks": [{"id": "a", "fn": "add",
                                          "inputs": ["a"]}]})")
                  .message(),
              HasSubstr("task 'a': depends on itself"));
}

TEST(JobCompilerTest, CycleNamesItsTasks) {
  absl::Status s = CompileError(R"({"tasks": [
      {"id": "start", "fn": "const"},
      {"id": "x", "fn": "add", "inputs": ["start", "z"]},
      {"id": "y", "fn": "add", "inputs": ["x"]},
      {"id": "z", "fn": "add", "after": ["y"]}]})");
  EXPECT_THAT(s.message(), HasSubstr("cycle"));
  EXPECT_THAT(s.message(), HasSubstr("'x'"));
  EXPECT_THAT(s.message(), HasSubstr("'y'"));
  EXPECT_THAT(s.message(), HasSubstr("'z'"));
  EXPECT_THAT(s.message(), ::testing::Not(HasSubstr("'start'")));
  // In edge order, closed: x feeds y, y comes before z, z feeds x.
  EXPECT_THAT(s.message(),
              ::testing::AnyOf(HasSubstr("'x' -> 'y' -> 'z' -> 'x'"),
                               HasSubstr("'y' -> 'z' -> 'x' -> 'y'"),
                               HasSubstr("'z' -> 'x' -> 'y' -> 'z'")));
}

TEST(JobCompilerTest, TwoTaskCycleIsClosed) {
  EXPECT_THAT(
      CompileError(R"({"tasks": [{"id": "a", "fn": "add", "inputs": ["b"]},
                                         {"id": "b", "fn": "add", "inputs": ["a"]}]})")
          .message(),
      ::testing::AnyOf(HasSubstr("cycle: 'a' -> 'b' -> 'a'"),
                       HasSubstr("cycle: 'b' -> 'a' -> 'b'")));
}

TEST(JobCompilerTest, RejectsExecutorsItCannotDispatchTo) {
  EXPECT_THAT(
      CompileError(R"({"tasks": [{"id": "a", "fn": "const",
                                          "executor": "lambda"}]})")
          .message(),
      HasSubstr("task 'a': executor 'lambda': this dagd does not "
                "dispatch to Lambda (start it with --lambda_function)"));
  JobLimits with_lambda;
  with_lambda.lambda = true;
  v1::JobSpec spec;
  spec.add_tasks()->set_id("a");
  spec.mutable_tasks(0)->set_fn("const");
  spec.mutable_tasks(0)->set_executor("lambda:resize");
  // dagd invokes it with its own credentials: only functions it is told.
  EXPECT_THAT(CompileJob(spec, with_lambda).status().message(),
              HasSubstr("task 'a': executor 'lambda:resize': Lambda function "
                        "'resize' is not one this dagd may invoke"));
  with_lambda.lambda_functions = {"resize"};
  EXPECT_TRUE(CompileJob(spec, with_lambda).ok());
  spec.mutable_tasks(0)->set_executor("lambda:");
  EXPECT_THAT(CompileJob(spec, with_lambda).status().message(),
              HasSubstr("task 'a': executor 'lambda:' names no function"));
  EXPECT_THAT(CompileError(R"({"tasks": [{"id": "a", "fn": "const",
                                          "executor": "gpu"}]})")
                  .message(),
              HasSubstr("task 'a': executor 'gpu' is not one of"));
  EXPECT_THAT(CompileError(R"({"tasks": [{"id": "a", "fn": "const",
                                          "executor": "pool:"}]})")
                  .message(),
              HasSubstr("task 'a': executor 'pool:' names no pool"));
}

TEST(JobCompilerTest, AcceptsEveryPlacementAndLimitField) {
  v1::JobSpec spec;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(
                  R"({"maxParallelism": 2, "deadline": "30s",
                      "tasks": [{"id": "a", "fn": "const",
                                 "executor": "pool:gpu",
                                 "exclusiveGroup": "db",
                                 "resources": {"slots": 2,
                                               "amounts": {"gpu": 1},
                                               "labels": {"zone": "a"}}}]})",
                  &spec)
                  .ok());
  absl::StatusOr<CompiledJob> job = CompileJob(spec, {});
  EXPECT_TRUE(job.ok()) << job.status();
}

TEST(JobCompilerTest, RejectsBadAmountsAndDeadlines) {
  EXPECT_THAT(CompileError(R"({"tasks": [{"id": "a", "fn": "const",
                               "resources": {"amounts": {"gpu": -1}}}]})")
                  .message(),
              HasSubstr("task 'a': resources.amounts 'gpu' must be a finite "
                        "number >= 0, not -1"));
  EXPECT_THAT(CompileError(R"({"tasks": [{"id": "a", "fn": "const",
                               "resources": {"amounts": {"": 1}}}]})")
                  .message(),
              HasSubstr("task 'a': resources.amounts has an empty name"));
  EXPECT_THAT(CompileError(R"({"deadline": "-1s",
                               "tasks": [{"id": "a", "fn": "const"}]})")
                  .message(),
              HasSubstr("job: deadline must not be negative"));
}

// Durations past any sensible bound (INT64_MAX seconds over raw gRPC once
// became "timed out after 384 ms") are refused, naming the field.
TEST(JobCompilerTest, RejectsDurationsOutOfRange) {
  v1::JobSpec spec = Parse(R"({"tasks": [{"id": "a", "fn": "const"}]})");
  spec.mutable_tasks(0)->mutable_timeout()->set_seconds(INT64_MAX);
  absl::StatusOr<CompiledJob> job = CompileJob(spec, {});
  ASSERT_FALSE(job.ok());
  EXPECT_EQ(job.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(job.status().message(),
              HasSubstr("task 'a': timeout is 9223372036854775807s, over the "
                        "limit of 3650 days"));
  spec = Parse(R"({"tasks": [{"id": "a", "fn": "const"}]})");
  spec.mutable_deadline()->set_seconds(int64_t{4000} * 24 * 3600);
  EXPECT_THAT(CompileJob(spec, {}).status().message(),
              HasSubstr("job: deadline is 345600000s"));
  EXPECT_THAT(CompileError(R"({"tasks": [{"id": "a", "fn": "const",
                               "retry": {"maxAttempts": 2,
                                         "maxBackoff": "-2s"}}]})")
                  .message(),
              HasSubstr("task 'a': retry.max_backoff must not be negative"));
  // Ten years less a day is fine.
  spec = Parse(R"({"tasks": [{"id": "a", "fn": "const"}]})");
  spec.mutable_tasks(0)->mutable_timeout()->set_seconds(int64_t{3649} * 86400);
  EXPECT_TRUE(CompileJob(spec, {}).ok());
}

// A newline in an id forged whole log lines; ESC and NUL reached terminals
// through dagctl. Control characters are refused, and shown escaped.
TEST(JobCompilerTest, RejectsControlCharactersInNames) {
  v1::JobSpec spec = Parse(R"({"tasks": [{"id": "a", "fn": "const"}]})");
  spec.mutable_tasks(0)->set_id("a\n2026-12-04 dagd: job j1 finished");
  absl::StatusOr<CompiledJob> job = CompileJob(spec, {});
  ASSERT_FALSE(job.ok());
  EXPECT_THAT(job.status().message(),
              HasSubstr("task #0 ('a\\n2026-12-04 dagd: job j1 finished'): "
                        "id '"));
  EXPECT_EQ(job.status().message().find('\n'), absl::string_view::npos);
  spec = Parse(R"({"tasks": [{"id": "a", "fn": "const"}]})");
  spec.mutable_tasks(0)->set_fn(std::string("co\x1b[2Jnst"));
  EXPECT_THAT(CompileJob(spec, {}).status().message(),
              HasSubstr("task 'a': fn 'co\\x1b[2Jnst' holds control"));
  // A label's value is named as the value, under its name.
  spec = Parse(R"({"tasks": [{"id": "a", "fn": "const",
      "resources": {"labels": {"zone": "eu\u0007"}}}]})");
  EXPECT_THAT(CompileJob(spec, {}).status().message(),
              HasSubstr("task 'a': resources.labels 'zone': the value "
                        "'eu\\x07' holds control characters"));
  spec = Parse(R"({"tasks": [{"id": "a", "fn": "const",
      "resources": {"labels": {"zo\u0007ne": "eu"}}}]})");
  EXPECT_THAT(CompileJob(spec, {}).status().message(),
              HasSubstr("task 'a': resources.labels: the name 'zo\\x07ne' "
                        "holds control characters"));
  spec = Parse(R"({"tasks": [{"id": "a", "fn": "const"}]})");
  spec.set_name(std::string("nightly\0", 8));
  EXPECT_THAT(CompileJob(spec, {}).status().message(),
              HasSubstr("job: name 'nightly\\x00' holds control"));
}

TEST(JobCompilerTest, RejectsArgsNestedTooDeep) {
  v1::JobSpec spec = Parse(R"({"tasks": [{"id": "a", "fn": "const"}]})");
  google::protobuf::Value* value = spec.mutable_tasks(0)->mutable_args();
  for (int i = 0; i < 40; ++i) {
    value = value->mutable_list_value()->add_values();
  }
  value->set_number_value(1);
  absl::StatusOr<CompiledJob> job = CompileJob(spec, {});
  ASSERT_FALSE(job.ok());
  EXPECT_THAT(job.status().message(),
              HasSubstr("task 'a': args nest more than 32 levels deep"));
  // 30 levels (a struct and a list each time round) are fine.
  spec = Parse(R"({"tasks": [{"id": "a", "fn": "const"}]})");
  value = spec.mutable_tasks(0)->mutable_args();
  for (int i = 0; i < 15; ++i) {
    value = (*value->mutable_struct_value()->mutable_fields())["k"]
                .mutable_list_value()
                ->add_values();
  }
  EXPECT_TRUE(CompileJob(spec, {}).ok());
}

// Found by tests/fuzz/lambda_responses_fuzzer.cc: a raw gRPC client's NaN
// reached Lambda functions and Python tasks as the string "NaN" (their args
// travel as JSON), and workers as a number.
TEST(JobCompilerTest, RejectsArgsThatJsonCannotCarry) {
  for (double number : {std::nan(""), HUGE_VAL, -HUGE_VAL}) {
    v1::JobSpec spec = Parse(
        R"({"tasks": [{"id": "a", "fn": "const", "args": {"x": [1, 2]}}]})");
    (*spec.mutable_tasks(0)
          ->mutable_args()
          ->mutable_struct_value()
          ->mutable_fields())["x"]
        .mutable_list_value()
        ->add_values()
        ->set_number_value(number);
    absl::StatusOr<CompiledJob> job = CompileJob(spec, {});
    ASSERT_FALSE(job.ok()) << number;
    EXPECT_EQ(job.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(job.status().message(),
                HasSubstr("task 'a': args hold the number"));
    EXPECT_THAT(job.status().message(), HasSubstr("which JSON cannot carry"));
  }
}

TEST(JobCompilerTest, RejectsJobOverTaskLimit) {
  JobLimits limits;
  limits.max_tasks_per_job = 2;
  EXPECT_THAT(CompileError(R"({"tasks": [{"id": "a", "fn": "const"},
                                         {"id": "b", "fn": "const"},
                                         {"id": "c", "fn": "const"}]})",
                           limits)
                  .message(),
              HasSubstr("3 tasks, over the limit of 2"));
}

TEST(JobCompilerTest, RejectsJobOverSizeLimit) {
  JobLimits limits;
  limits.max_job_bytes = 100;
  EXPECT_THAT(CompileError(absl::StrCat(R"({"tasks": [{"id": "a", "fn": "const",
          "args": {"value": ")",
                                        std::string(200, 'x'), R"("}}]})"),
                           limits)
                  .message(),
              HasSubstr("over the limit of 100"));
}

TEST(JobCompilerTest, MillionTaskChainDoesNotRecurse) {
  constexpr int kTasks = 1'000'000;
  v1::JobSpec spec;
  spec.mutable_tasks()->Reserve(kTasks);
  for (int i = 0; i < kTasks; ++i) {
    v1::TaskSpec* task = spec.add_tasks();
    task->set_id(absl::StrCat("t", i));
    task->set_fn("identity");
    if (i > 0) task->add_inputs(absl::StrCat("t", i - 1));
  }
  absl::StatusOr<CompiledJob> job = CompileJob(std::move(spec), {});
  ASSERT_TRUE(job.ok()) << job.status();
  EXPECT_EQ(job->rank[0], kTasks);
  EXPECT_EQ(job->rank[kTasks - 1], 1);
}

TEST(JobCompilerTest, MillionTaskCycleIsNamedWithoutRecursion) {
  constexpr int kTasks = 1'000'000;
  v1::JobSpec spec;
  for (int i = 0; i < kTasks; ++i) {
    v1::TaskSpec* task = spec.add_tasks();
    task->set_id(absl::StrCat("t", i));
    task->set_fn("identity");
    task->add_inputs(absl::StrCat("t", (i + kTasks - 1) % kTasks));
  }
  absl::StatusOr<CompiledJob> job = CompileJob(std::move(spec), {});
  ASSERT_FALSE(job.ok());
  EXPECT_THAT(job.status().message(), HasSubstr("cycle"));
}

}  // namespace
}  // namespace dagd

namespace dagd {
namespace {

TEST(JobCompilerTest, AStoredJobsEncodedTasksCompileAsTheSpecDoes) {
  v1::JobSpec spec = Parse(R"({"name": "stored", "tasks": [
      {"id": "a", "fn": "const", "args": {"value": 1}, "priority": 2},
      {"id": "b", "fn": "identity", "inputs": ["a"]}]})");
  JobTasks stored;
  for (const v1::TaskSpec& task : spec.tasks()) {
    stored.AddEncoded(task.SerializeAsString());
  }
  v1::JobSpec header = spec;
  header.clear_tasks();
  absl::StatusOr<CompiledJob> from_store = CompileJob(header, stored, {});
  absl::StatusOr<CompiledJob> from_spec = CompileJob(spec, {});
  ASSERT_TRUE(from_store.ok()) << from_store.status();
  ASSERT_TRUE(from_spec.ok()) << from_spec.status();
  ASSERT_EQ(from_store->size(), 2u);
  for (uint32_t i = 0; i < 2; ++i) {
    EXPECT_EQ(from_store->tasks->encoded(i), from_spec->tasks->encoded(i));
  }
  EXPECT_EQ(from_store->inputs, from_spec->inputs);
  EXPECT_EQ(from_store->priority, from_spec->priority);
  EXPECT_EQ(from_store->header->name(), "stored");

  // Bytes that are no task name the task by position.
  stored.AddEncoded(std::string("\xff\xff", 2));
  absl::StatusOr<CompiledJob> broken = CompileJob(header, stored, {});
  EXPECT_EQ(broken.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(broken.status().message(),
              HasSubstr("task #2: not an encoded TaskSpec"));
}

}  // namespace
}  // namespace dagd
