#include "client/job_builder.h"

#include "absl/status/status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace dagd {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

const google::protobuf::Value& Field(const v1::TaskSpec& task,
                                     const std::string& key) {
  return task.args().struct_value().fields().at(key);
}

TEST(JobBuilderTest, BuildsTheTinyJob) {
  JobBuilder b("tiny");
  b.Priority(2).MaxParallelism(8);
  b.Task("a", "const").Arg("value", 1);
  b.Task("b", "const").Args(R"({"value": 2})");
  b.Task("sum", "add").Inputs({"a", "b"}).After({"x"}).Priority(5).Slots(2);
  absl::StatusOr<v1::JobSpec> job = b.Build();
  ASSERT_TRUE(job.ok()) << job.status();
  EXPECT_EQ(job->name(), "tiny");
  EXPECT_EQ(job->priority(), 2);
  EXPECT_EQ(job->max_parallelism(), 8);
  ASSERT_EQ(job->tasks_size(), 3);
  EXPECT_EQ(Field(job->tasks(0), "value").number_value(), 1);
  EXPECT_EQ(Field(job->tasks(1), "value").number_value(), 2);
  const v1::TaskSpec& sum = job->tasks(2);
  EXPECT_EQ(sum.fn(), "add");
  EXPECT_THAT(sum.inputs(), ElementsAre("a", "b"));
  EXPECT_THAT(sum.after(), ElementsAre("x"));
  EXPECT_EQ(sum.priority(), 5);
  EXPECT_EQ(sum.resources().slots(), 2);
}

TEST(JobBuilderTest, ArgHelpersKeepTheirTypes) {
  JobBuilder b("args");
  b.Task("t", "exec")
      .Arg("i", 3)
      .Arg("big", int64_t{1} << 40)
      .Arg("d", 0.5)
      .Arg("flag", true)
      .Arg("literal", "text")
      .Arg("string", std::string("s"));
  absl::StatusOr<v1::JobSpec> job = b.Build();
  ASSERT_TRUE(job.ok()) << job.status();
  const v1::TaskSpec& t = job->tasks(0);
  EXPECT_EQ(Field(t, "i").number_value(), 3);
  EXPECT_EQ(Field(t, "big").number_value(), 1099511627776.0);
  EXPECT_EQ(Field(t, "d").number_value(), 0.5);
  EXPECT_TRUE(Field(t, "flag").bool_value());
  EXPECT_EQ(Field(t, "literal").string_value(), "text");
  EXPECT_EQ(Field(t, "string").string_value(), "s");
}

TEST(JobBuilderTest, ArgsAcceptAnyJsonValueOrProto) {
  google::protobuf::Value list;
  list.mutable_list_value()->add_values()->set_string_value("/bin/true");
  JobBuilder b("args");
  b.Task("n", "const").Args("42");
  b.Task("v", "exec").Arg("argv", list);
  b.Task("p", "const").Args(list);
  absl::StatusOr<v1::JobSpec> job = b.Build();
  ASSERT_TRUE(job.ok()) << job.status();
  EXPECT_EQ(job->tasks(0).args().number_value(), 42);
  EXPECT_EQ(Field(job->tasks(1), "argv").list_value().values(0).string_value(),
            "/bin/true");
  EXPECT_TRUE(job->tasks(2).args().has_list_value());
}

TEST(JobBuilderTest, DurationsAndRetry) {
  JobBuilder b("times");
  b.Deadline(absl::Minutes(2));
  b.Task("t", "sleep")
      .Timeout(absl::Milliseconds(1500))
      .Retry(3, absl::Milliseconds(250))
      .Cost(4)
      .ExclusiveGroup("gpu")
      .Executor("lambda");
  absl::StatusOr<v1::JobSpec> job = b.Build();
  ASSERT_TRUE(job.ok()) << job.status();
  EXPECT_EQ(job->deadline().seconds(), 120);
  const v1::TaskSpec& t = job->tasks(0);
  EXPECT_EQ(t.timeout().seconds(), 1);
  EXPECT_EQ(t.timeout().nanos(), 500000000);
  EXPECT_EQ(t.retry().max_attempts(), 3);
  EXPECT_EQ(t.retry().initial_backoff().nanos(), 250000000);
  EXPECT_EQ(t.cost(), 4);
  EXPECT_EQ(t.exclusive_group(), "gpu");
  EXPECT_EQ(t.executor(), "lambda");
}

TEST(JobBuilderTest, SpecReachesFieldsWithoutASetter) {
  JobBuilder b("labels");
  (*b.Task("t", "const").Spec().mutable_resources()->mutable_labels())["zone"] =
      "a";
  absl::StatusOr<v1::JobSpec> job = b.Build();
  ASSERT_TRUE(job.ok());
  EXPECT_EQ(job->tasks(0).resources().labels().at("zone"), "a");
}

TEST(JobBuilderTest, MalformedArgsFailBuildNamingTaskAndPosition) {
  JobBuilder b("bad");
  b.Task("ok", "const").Arg("value", 1);
  b.Task("broken", "const").Args("{\"value\": }");
  b.Task("later", "const").Args("[");
  absl::StatusOr<v1::JobSpec> job = b.Build();
  ASSERT_EQ(job.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(job.status().message(),
              HasSubstr("task \"broken\": args are not valid JSON: line 1, "
                        "column 11"));
}

TEST(JobBuilderTest, ArgOnNonObjectArgsFailsBuild) {
  JobBuilder b("bad");
  b.Task("n", "const").Args("5").Arg("value", 1);
  EXPECT_THAT(b.Build().status().message(),
              HasSubstr("task \"n\": Arg(\"value\") needs object args"));
}

}  // namespace
}  // namespace dagd
