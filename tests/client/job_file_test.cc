#include "client/job_file.h"

#include <fstream>
#include <sstream>
#include <string>

#include "absl/status/status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace dagd {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;

constexpr char kTiny[] = R"({
  "name": "tiny",
  "tasks": [
    {"id": "a", "fn": "const", "args": {"value": 1}},
    {"id": "b", "fn": "const", "args": {"value": 2}},
    {"id": "sum", "fn": "add", "inputs": ["a", "b"]}
  ]
})";

std::string ExamplePath(const std::string& name) {
  return std::string(DAGD_EXAMPLES_DIR) + "/" + name;
}

TEST(ParseJobSpecJsonTest, ParsesTheTinyExample) {
  absl::StatusOr<v1::JobSpec> job = ParseJobSpecJson(kTiny);
  ASSERT_TRUE(job.ok()) << job.status();
  EXPECT_EQ(job->name(), "tiny");
  ASSERT_EQ(job->tasks_size(), 3);
  EXPECT_EQ(job->tasks(0).id(), "a");
  EXPECT_EQ(job->tasks(0).fn(), "const");
  EXPECT_EQ(
      job->tasks(0).args().struct_value().fields().at("value").number_value(),
      1);
  EXPECT_THAT(job->tasks(2).inputs(), testing::ElementsAre("a", "b"));
}

TEST(ParseJobSpecJsonTest, ArgsTakeEveryJsonKind) {
  absl::StatusOr<v1::JobSpec> job = ParseJobSpecJson(R"({"tasks": [
    {"id": "object", "args": {"n": 1.5, "s": "x", "b": true, "z": null,
                              "l": [1, "two"], "o": {"k": {}}}},
    {"id": "number", "args": -3},
    {"id": "string", "args": "text"},
    {"id": "bool", "args": false},
    {"id": "null", "args": null},
    {"id": "list", "args": [1, [2]]}
  ]})");
  ASSERT_TRUE(job.ok()) << job.status();
  const auto& fields = job->tasks(0).args().struct_value().fields();
  EXPECT_EQ(fields.at("n").number_value(), 1.5);
  EXPECT_EQ(fields.at("s").string_value(), "x");
  EXPECT_TRUE(fields.at("b").bool_value());
  EXPECT_TRUE(fields.at("z").has_null_value());
  EXPECT_EQ(fields.at("l").list_value().values(1).string_value(), "two");
  EXPECT_TRUE(
      fields.at("o").struct_value().fields().at("k").has_struct_value());
  EXPECT_EQ(job->tasks(1).args().number_value(), -3);
  EXPECT_EQ(job->tasks(2).args().string_value(), "text");
  EXPECT_TRUE(job->tasks(3).args().has_bool_value());
  EXPECT_TRUE(job->tasks(4).args().has_null_value());
  EXPECT_EQ(job->tasks(5).args().list_value().values_size(), 2);
}

TEST(ParseJobSpecJsonTest, ParsesDurationsAndCamelOrSnakeNames) {
  absl::StatusOr<v1::JobSpec> job = ParseJobSpecJson(R"({
    "max_parallelism": 4, "continueOnFailure": true, "deadline": "1.5s",
    "tasks": [{"id": "a", "timeout": "5s",
               "retry": {"maxAttempts": 3, "initial_backoff": "0.25s"}}]})");
  ASSERT_TRUE(job.ok()) << job.status();
  EXPECT_EQ(job->max_parallelism(), 4);
  EXPECT_TRUE(job->continue_on_failure());
  EXPECT_EQ(job->deadline().seconds(), 1);
  EXPECT_EQ(job->deadline().nanos(), 500000000);
  EXPECT_EQ(job->tasks(0).timeout().seconds(), 5);
  EXPECT_EQ(job->tasks(0).retry().max_attempts(), 3);
  EXPECT_EQ(job->tasks(0).retry().initial_backoff().nanos(), 250000000);
}

TEST(ParseJobSpecJsonTest, MalformedJsonNamesLineAndColumn) {
  absl::StatusOr<v1::JobSpec> job = ParseJobSpecJson(
      "{\n  \"name\": \"x\",\n  \"tasks\": [\n    {\"id\": \"a\" \"fn\": "
      "\"const\"}\n  ]\n}");
  ASSERT_EQ(job.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(job.status().message(),
              AllOf(HasSubstr("malformed JSON"), HasSubstr("line 4, column 16"),
                    HasSubstr("expected ',' or '}'")));
}

// Protobuf took a field given twice silently, the last one: a task's
// second "inputs" dropped its first. Refused, saying where, whether
// protobuf accepts the text (a field) or not (a key of args, a map).
TEST(ParseJobSpecJsonTest, AKeyGivenTwiceIsRefusedSayingWhere) {
  absl::StatusOr<v1::JobSpec> job = ParseJobSpecJson(
      "{\"tasks\": [{\"id\": \"a\", \"fn\": \"const\"},\n"
      "  {\"id\": \"b\", \"fn\": \"add\", \"inputs\": [\"a\"], "
      "\"inputs\": []}]}");
  ASSERT_EQ(job.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(job.status().message(),
            "ambiguous JSON: line 2, column 45: key \"inputs\" given twice in "
            "one object (first at line 2, column 28)");
  job = ParseJobSpecJson(
      R"({"name": "x", "tasks": [{"id": "a", "fn": "const", "args": )"
      R"({"v": 1, "v": 2}}]})");
  EXPECT_THAT(job.status().message(),
              HasSubstr("ambiguous JSON: line 1, column 69: key \"v\""));
  // The same file without the second key is a job.
  EXPECT_TRUE(ParseJobSpecJson(R"({"tasks": [{"id": "a", "fn": "const", )"
                               R"("args": {"v": 1}}]})")
                  .ok());
}

TEST(ParseJobSpecJsonTest, UnknownFieldIsNamedWithItsTask) {
  absl::StatusOr<v1::JobSpec> job = ParseJobSpecJson(
      R"({"tasks": [{"id": "a"}, {"id": "sum", "fn": "add", "input": ["a"]}]})");
  ASSERT_EQ(job.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(job.status().message(),
              AllOf(HasSubstr("unknown field \"input\""),
                    HasSubstr("tasks[1] (task \"sum\")"),
                    HasSubstr("known fields: id, fn, args, inputs")));
}

TEST(ParseJobSpecJsonTest, UnknownTopLevelAndNestedFields) {
  EXPECT_THAT(ParseJobSpecJson(R"({"nmae": "x"})").status().message(),
              AllOf(HasSubstr("unknown field \"nmae\""),
                    HasSubstr("known fields: name, priority, tasks")));
  EXPECT_THAT(
      ParseJobSpecJson(R"({"tasks": [{"id": "a", "retry": {"max": 2}}]})")
          .status()
          .message(),
      AllOf(HasSubstr("unknown field \"max\" in tasks[0] (task \"a\").retry"),
            HasSubstr("known fields: max_attempts")));
}

TEST(ParseJobSpecJsonTest, WrongTypeNamesTheField) {
  absl::StatusOr<v1::JobSpec> job =
      ParseJobSpecJson(R"({"tasks": [{"id": "a", "timeout": "5 minutes"}]})");
  ASSERT_EQ(job.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(job.status().message(),
              HasSubstr("tasks[0] (task \"a\").timeout: "));
}

TEST(ParseJobSpecJsonTest, RejectsANonObject) {
  EXPECT_THAT(ParseJobSpecJson("[1]").status().message(),
              HasSubstr("must be a JSON object"));
  EXPECT_THAT(ParseJobSpecJson("").status().message(),
              HasSubstr("line 1, column 1"));
}

TEST(ReadJobFileTest, DashReadsTheGivenStdin) {
  std::istringstream in(kTiny);
  absl::StatusOr<v1::JobSpec> job = ReadJobFile("-", in);
  ASSERT_TRUE(job.ok()) << job.status();
  EXPECT_EQ(job->tasks_size(), 3);
}

TEST(ReadJobFileTest, ErrorsFromStdinSayStdin) {
  std::istringstream in("{\"name\": }");
  EXPECT_THAT(ReadJobFile("-", in).status().message(),
              HasSubstr("<stdin>: malformed JSON: line 1, column 10"));
}

TEST(ReadJobFileTest, MissingFileIsNotFoundAndNamed) {
  absl::StatusOr<v1::JobSpec> job = ReadJobFile("/no/such/job.json");
  EXPECT_EQ(job.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(job.status().message(), HasSubstr("/no/such/job.json"));
}

// A directory read as an empty file was "malformed JSON: line 1".
TEST(ReadJobFileTest, ADirectoryIsRefusedAsOne) {
  absl::StatusOr<v1::JobSpec> job = ReadJobFile(::testing::TempDir());
  EXPECT_EQ(job.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(job.status().message(), HasSubstr("is a directory"));
}

TEST(ReadJobFileTest, ParseErrorsNameTheFile) {
  const std::string path = ::testing::TempDir() + "/job_file_test_bad.json";
  std::ofstream(path) << "{\"name\": \"x\" \"tasks\": []}";
  EXPECT_THAT(ReadJobFile(path).status().message(),
              HasSubstr(path + ": malformed JSON: line 1, column 14"));
}

TEST(ExamplesTest, EveryExampleParses) {
  for (const char* name : {"tiny.json", "diamond.json", "exec.json",
                           "fail.json", "tree-reduction.json"}) {
    absl::StatusOr<v1::JobSpec> job = ReadJobFile(ExamplePath(name));
    EXPECT_TRUE(job.ok()) << name << ": " << job.status();
  }
}

TEST(ExamplesTest, TreeReductionHasTheAdvertisedShape) {
  absl::StatusOr<v1::JobSpec> job =
      ReadJobFile(ExamplePath("tree-reduction.json"));
  ASSERT_TRUE(job.ok()) << job.status();
  int leaves = 0, adds = 0;
  double leaf_sum = 0;
  for (const v1::TaskSpec& task : job->tasks()) {
    if (task.fn() == "const") {
      leaf_sum +=
          task.args().struct_value().fields().at("value").number_value();
      ++leaves;
    } else {
      EXPECT_EQ(task.fn(), "add");
      EXPECT_EQ(task.inputs_size(), 2) << task.id();
      ++adds;
    }
  }
  EXPECT_EQ(leaves, 1024);
  EXPECT_EQ(adds, 1023);
  EXPECT_EQ(leaf_sum, 523776);
  EXPECT_EQ(job->tasks(job->tasks_size() - 1).id(), "root");
}

}  // namespace
}  // namespace dagd
