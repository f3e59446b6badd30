// Jobs that run to the end on a real dagd with two local workers: results
// of builtins and exec, and how a failing task shows up.
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "client/job_builder.h"
#include "tests/integration/integration_env.h"

namespace dagd::testing {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;

class RunTest : public SharedDagdTest<RunTest> {
 public:
  static std::vector<std::string> Flags() {
    return {"--local_workers=2", "--local_worker_slots=2"};
  }
  static size_t Workers() { return 2; }

 protected:
  // Submits a JSON job through `dagctl submit - --wait`; returns the id.
  std::string SubmitAndWait(const std::string& json, int expected_exit) {
    CommandResult submit = dagd_->RunDagctl({"submit", "-", "--wait"}, json);
    EXPECT_EQ(submit.exit_code, expected_exit) << submit.ToString();
    return FirstLine(submit.out);
  }
};

TEST_F(RunTest, TreeReductionExampleSumsItsLeaves) {
  CommandResult submit = dagd_->RunDagctl(
      {"submit", ExamplePath("tree-reduction.json"), "--wait"});
  ASSERT_EQ(submit.exit_code, 0) << submit.ToString();
  const std::string job_id = FirstLine(submit.out);
  EXPECT_THAT(submit.out, HasSubstr("SUCCEEDED"));

  CommandResult result = dagd_->RunDagctl({"result", job_id, "root"});
  ASSERT_EQ(result.exit_code, 0) << result.ToString();
  // The sum of 0..1023, printed as the bytes with nothing added.
  EXPECT_EQ(result.out, "523776");
}

TEST_F(RunTest, DiamondBuiltWithJobBuilderThroughClient) {
  JobBuilder builder("diamond");
  builder.Task("a", "const").Arg("value", 1);
  builder.Task("b", "add").Inputs({"a"}).Arg("value", 10);
  builder.Task("c", "add").Inputs({"a"}).Arg("value", 100);
  builder.Task("d", "add").Inputs({"b", "c"});
  absl::StatusOr<v1::JobSpec> job = builder.Build();
  ASSERT_TRUE(job.ok()) << job.status();

  Client& client = dagd_->client();
  absl::StatusOr<std::string> job_id = client.Submit(*job);
  ASSERT_TRUE(job_id.ok()) << job_id.status();
  absl::StatusOr<v1::JobStatus> final_status = client.Wait(*job_id);
  ASSERT_TRUE(final_status.ok()) << final_status.status();
  EXPECT_EQ(final_status->state(), v1::JOB_SUCCEEDED);
  EXPECT_EQ(final_status->total_tasks(), 4u);

  absl::StatusOr<v1::GetResultResponse> result = client.Result(*job_id, "d");
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->data(), "112");
  EXPECT_EQ(result->content_type(), "application/json");

  absl::StatusOr<v1::ListTasksResponse> tasks = client.ListTasks(*job_id);
  ASSERT_TRUE(tasks.ok()) << tasks.status();
  ASSERT_EQ(tasks->tasks_size(), 4);
  for (const v1::TaskStatus& task : tasks->tasks()) {
    EXPECT_EQ(task.state(), v1::TASK_SUCCEEDED) << task.task_id();
    EXPECT_EQ(task.attempts_size(), 1) << task.task_id();
  }
}

TEST_F(RunTest, ExecReadsItsInputFileAndWritesItsOutputFile) {
  const std::string job = R"json({
    "name": "exec-files",
    "tasks": [
      {"id": "n", "fn": "const", "args": {"value": 41}},
      {"id": "inc", "fn": "exec", "inputs": ["n"], "args": {"argv": [
        "/bin/sh", "-c",
        "printf '%d' $(( $(cat \"$DAGD_INPUT_0\") + 1 )) > \"$DAGD_OUTPUT\"; echo ignored"
      ]}}
    ]
  })json";
  const std::string job_id = SubmitAndWait(job, 0);
  ASSERT_FALSE(job_id.empty());

  CommandResult result = dagd_->RunDagctl({"result", job_id, "inc"});
  ASSERT_EQ(result.exit_code, 0) << result.ToString();
  // The output file wins over stdout ("ignored").
  EXPECT_EQ(result.out, "42");
}

TEST_F(RunTest, ExecStdoutIsTheOutputWhenNoOutputFileIsWritten) {
  const std::string job = R"json({
    "tasks": [
      {"id": "hello", "fn": "exec",
       "args": {"argv": ["/bin/sh", "-c", "echo \"hi $GREETEE\""],
                "env": {"GREETEE": "there"}}}
    ]
  })json";
  const std::string job_id = SubmitAndWait(job, 0);
  ASSERT_FALSE(job_id.empty());

  absl::StatusOr<v1::GetResultResponse> result =
      dagd_->client().Result(job_id, "hello");
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->data(), "hi there\n");
}

TEST_F(RunTest, ExecNonZeroExitFailsTheTaskWithItsStderr) {
  const std::string job = R"json({
    "tasks": [
      {"id": "broken", "fn": "exec",
       "args": {"argv": ["/bin/sh", "-c", "echo 'disk on fire' >&2; exit 3"]}}
    ]
  })json";
  const std::string job_id = SubmitAndWait(job, 1);
  ASSERT_FALSE(job_id.empty());

  absl::StatusOr<v1::TaskStatus> task = dagd_->client().Task(job_id, "broken");
  ASSERT_TRUE(task.ok()) << task.status();
  EXPECT_EQ(task->state(), v1::TASK_FAILED);
  EXPECT_THAT(task->error(),
              AllOf(HasSubstr("exit status 3"), HasSubstr("disk on fire")));

  CommandResult status = dagd_->RunDagctl({"status", job_id});
  EXPECT_EQ(status.exit_code, 1) << status.ToString();
  EXPECT_THAT(status.out,
              AllOf(HasSubstr("FAILED"), HasSubstr("broken"),
                    HasSubstr("exit status 3"), HasSubstr("disk on fire")));
}

TEST_F(RunTest, FailingTaskFailsTheJobAndItsDependent) {
  const std::string job = R"json({
    "name": "boom",
    "tasks": [
      {"id": "ok", "fn": "const", "args": {"value": 1}},
      {"id": "bad", "fn": "fail", "inputs": ["ok"],
       "args": {"message": "kaboom"}},
      {"id": "after_bad", "fn": "add", "inputs": ["bad"]}
    ]
  })json";
  const std::string job_id = SubmitAndWait(job, 1);
  ASSERT_FALSE(job_id.empty());

  CommandResult status = dagd_->RunDagctl({"status", job_id});
  EXPECT_EQ(status.exit_code, 1) << status.ToString();
  EXPECT_THAT(status.out, AllOf(HasSubstr("FAILED"), HasSubstr("bad"),
                                HasSubstr("kaboom")));

  absl::StatusOr<v1::ListTasksResponse> tasks =
      dagd_->client().ListTasks(job_id);
  ASSERT_TRUE(tasks.ok()) << tasks.status();
  const std::map<std::string, v1::TaskState> expected = {
      {"ok", v1::TASK_SUCCEEDED},
      {"bad", v1::TASK_FAILED},
      {"after_bad", v1::TASK_UPSTREAM_FAILED}};
  EXPECT_EQ(TaskStates(*tasks), expected);

  CommandResult result = dagd_->RunDagctl({"result", job_id, "bad"});
  EXPECT_EQ(result.exit_code, 2) << result.ToString();
}

TEST_F(RunTest, GraphOfAFinishedJobShowsItsEdgesAndStates) {
  // A finished job is answered from the store: its dependencies must come
  // back from the stored specs.
  CommandResult submit =
      dagd_->RunDagctl({"submit", ExamplePath("diamond.json"), "--wait"});
  ASSERT_EQ(submit.exit_code, 0) << submit.ToString();
  CommandResult graph = dagd_->RunDagctl({"graph", FirstLine(submit.out)});
  ASSERT_EQ(graph.exit_code, 0) << graph.ToString();
  EXPECT_THAT(graph.out, HasSubstr("\"a\" -> \"b\";"));
  EXPECT_THAT(graph.out, HasSubstr("\"c\" -> \"d\";"));
  EXPECT_THAT(graph.out, HasSubstr("palegreen"));  // SUCCEEDED
}

}  // namespace
}  // namespace dagd::testing
