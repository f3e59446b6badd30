#include "worker/task_runner.h"

#include <stdexcept>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/worker/fakes.h"
#include "tests/worker/test_runtimes.h"
#include "worker/builtins.h"
#include "worker/json_util.h"
#include "worker/subprocess.h"
#include "worker/temp_dir.h"

namespace dagd {
namespace {

using ::testing::HasSubstr;

class TaskRunnerTest : public testing::Test {
 protected:
  TaskRunnerTest() : runner_(&runtimes_, &clock_, &timers_, &reporter_) {
    EXPECT_TRUE(RegisterBuiltins(&registry_).ok());
  }

  static v1::Assignment Assign(const std::string& fn, const std::string& args,
                               uint64_t timeout_ms = 0) {
    v1::Assignment assignment;
    assignment.mutable_task()->set_job_id("job-1");
    assignment.mutable_task()->set_task_index(4);
    assignment.mutable_task()->set_attempt(2);
    assignment.set_task_id("t4");
    assignment.set_fn(fn);
    *assignment.mutable_args() = *ParseJson(args);
    assignment.set_timeout_ms(timeout_ms);
    return assignment;
  }

  v1::TaskResult RunOne(const v1::Assignment& assignment,
                        std::shared_ptr<CancellationToken> token = nullptr) {
    if (token == nullptr) token = std::make_shared<CancellationToken>();
    runner_.Run(assignment, token);
    auto results = reporter_.results();
    EXPECT_FALSE(results.empty());
    return results.empty() ? v1::TaskResult() : results.back();
  }

  FunctionRegistry registry_;
  TaskRuntimes runtimes_ = BuiltinRuntimes(&registry_);
  FakeClock clock_;
  TimerQueue timers_;
  RecordingReporter reporter_;
  TaskRunner runner_;
};

TEST_F(TaskRunnerTest, ReportsStartedThenResult) {
  v1::Assignment assignment = Assign("const", R"({"value": 5})");
  assignment.add_inputs()->set_data("1");
  v1::TaskResult result = RunOne(assignment);
  ASSERT_EQ(reporter_.started().size(), 1u);
  EXPECT_EQ(reporter_.started()[0].task().task_index(), 4u);
  EXPECT_EQ(reporter_.started()[0].started_unix_ms(), 1700000000000);
  EXPECT_TRUE(result.ok());
  EXPECT_EQ(result.output().data(), "5");
  EXPECT_EQ(result.output().content_type(), "application/json");
  EXPECT_EQ(result.task().job_id(), "job-1");
  EXPECT_EQ(result.task().attempt(), 2u);
  EXPECT_EQ(result.finished_unix_ms(), 1700000000000);
}

TEST_F(TaskRunnerTest, ReturnsTheResultItReported) {
  auto token = std::make_shared<CancellationToken>();
  v1::TaskResult returned =
      runner_.Run(Assign("const", R"({"value": 7})"), token);
  ASSERT_EQ(reporter_.results().size(), 1u);
  EXPECT_EQ(returned.SerializeAsString(),
            reporter_.results()[0].SerializeAsString());
  EXPECT_EQ(returned.output().data(), "7");
}

TEST_F(TaskRunnerTest, PassesAttemptNumber) {
  v1::TaskResult result = RunOne(Assign("flaky", R"({"failures": 2})"));
  EXPECT_FALSE(result.ok());
  EXPECT_THAT(result.error(), HasSubstr("attempt 2"));
  EXPECT_FALSE(result.permanent());
}

TEST_F(TaskRunnerTest, PermanentErrorsArePermanent) {
  v1::TaskResult result = RunOne(Assign("exec", "{}"));
  EXPECT_FALSE(result.ok());
  EXPECT_TRUE(result.permanent());
  EXPECT_THAT(result.error(), HasSubstr("argv"));
}

TEST_F(TaskRunnerTest, ErrorsQuotingBinaryInputsStayValidUtf8) {
  // `add` quotes an input that is not a number; a pickled one is binary.
  v1::Assignment assignment = Assign("add", "null");
  assignment.add_inputs()->set_data("DPK5\x80\x05K\t.");
  v1::TaskResult result = RunOne(assignment);
  EXPECT_FALSE(result.ok());
  EXPECT_THAT(result.error(), HasSubstr("DPK5\xef\xbf\xbd\x05K"));
  std::string wire;
  EXPECT_TRUE(result.SerializeToString(&wire));
  v1::TaskResult back;
  EXPECT_TRUE(back.ParseFromString(wire));
}

TEST_F(TaskRunnerTest, UnknownFunctionFailsPermanently) {
  v1::TaskResult result = RunOne(Assign("nope", "null"));
  EXPECT_EQ(result.error(), "no function 'nope' on this worker");
  EXPECT_TRUE(result.permanent());
  EXPECT_TRUE(reporter_.started().empty());
}

TEST_F(TaskRunnerTest, TimeoutCancelsAndReportsTimedOut) {
  v1::TaskResult result =
      RunOne(Assign("sleep", R"({"ms": 3600000})", /*timeout_ms=*/50));
  EXPECT_FALSE(result.ok());
  EXPECT_EQ(result.error(), "timed out after 50 ms");
  EXPECT_FALSE(result.permanent());
}

TEST_F(TaskRunnerTest, ExecTimeoutKillsTheProcessGroup) {
  auto dir = TempDir::Create("dagd-runner-test-");
  ASSERT_TRUE(dir.ok());
  std::string pid_file = absl::StrCat((*dir)->path(), "/pid");
  google::protobuf::Value script;
  script.set_string_value(
      absl::StrCat("echo $$ > ", pid_file, "; sleep 30 & sleep 30"));
  v1::TaskResult result = RunOne(Assign(
      "exec",
      absl::StrCat(R"({"argv": ["sh", "-c", )", ValueToJson(script), "]}"),
      /*timeout_ms=*/500));
  EXPECT_EQ(result.error(), "timed out after 500 ms");
  auto text = ReadFile(pid_file);
  ASSERT_TRUE(text.ok());
  pid_t pgid = 0;
  ASSERT_TRUE(absl::SimpleAtoi(absl::StripAsciiWhitespace(*text), &pgid));
  EXPECT_THAT(LiveProcessGroupMembers(pgid), testing::IsEmpty());
}

TEST_F(TaskRunnerTest, CancelledBeforeStartDoesNotRun) {
  bool ran = false;
  ASSERT_TRUE(registry_
                  .Register("spy",
                            [&](TaskContext&) -> absl::StatusOr<Payload> {
                              ran = true;
                              return Payload{"1", kJsonContentType};
                            })
                  .ok());
  auto token = std::make_shared<CancellationToken>();
  token->Cancel(CancelReason::kCoordinator);
  v1::TaskResult result = RunOne(Assign("spy", "null"), token);
  EXPECT_FALSE(ran);
  EXPECT_EQ(result.error(), "cancelled by the coordinator");
}

TEST_F(TaskRunnerTest, ExceptionsBecomeFailures) {
  ASSERT_TRUE(registry_
                  .Register("thrower",
                            [](TaskContext&) -> absl::StatusOr<Payload> {
                              throw std::runtime_error("kaput");
                            })
                  .ok());
  v1::TaskResult result = RunOne(Assign("thrower", "null"));
  EXPECT_FALSE(result.ok());
  EXPECT_THAT(result.error(), HasSubstr("kaput"));
}

// The runner hands a runtime the attempt: the task, its args and inputs,
// and the deadline its timeout sets (none without one).
TEST_F(TaskRunnerTest, GivesTheRuntimeItsAttemptAndDeadline) {
  TaskRuntimes runtimes;
  auto python = std::make_unique<RecordingRuntime>("python", "py:");
  RecordingRuntime* seen = python.get();
  ASSERT_TRUE(runtimes.Add(std::move(python)).ok());
  TaskRunner runner(&runtimes, &clock_, &timers_, &reporter_);
  v1::Assignment timed = Assign("py:stats:mean", R"({"k": 1})", 5000);
  timed.add_inputs()->set_data("7");
  v1::TaskResult result =
      runner.Run(timed, std::make_shared<CancellationToken>());
  EXPECT_TRUE(result.ok()) << result.error();
  EXPECT_EQ(result.output().data(), "\"python ran\"");
  runner.Run(Assign("py:stats:sum", "null"),
             std::make_shared<CancellationToken>());
  std::vector<RecordingRuntime::Seen> attempts = seen->seen();
  ASSERT_EQ(attempts.size(), 2u);
  EXPECT_EQ(attempts[0].fn, "py:stats:mean");
  EXPECT_THAT(attempts[0].args, HasSubstr("\"k\""));
  ASSERT_EQ(attempts[0].inputs.size(), 1u);
  EXPECT_EQ(attempts[0].inputs[0].data, "7");
  EXPECT_EQ(attempts[0].deadline,
            absl::FromUnixMillis(1700000000000) + absl::Seconds(5));
  EXPECT_EQ(attempts[1].deadline, absl::InfiniteFuture());
}

// A task no runtime takes fails for good, with the same words as before
// workers had runtimes, and without starting.
TEST_F(TaskRunnerTest, NoRuntimeTakesAnUnknownFunction) {
  TaskRuntimes runtimes;
  ASSERT_TRUE(
      runtimes.Add(std::make_unique<RecordingRuntime>("python", "py:")).ok());
  TaskRunner runner(&runtimes, &clock_, &timers_, &reporter_);
  v1::TaskResult result =
      runner.Run(Assign("add", "null"), std::make_shared<CancellationToken>());
  EXPECT_FALSE(result.ok());
  EXPECT_EQ(result.error(), "no function 'add' on this worker");
  EXPECT_TRUE(result.permanent());
  EXPECT_TRUE(reporter_.started().empty());
}

}  // namespace
}  // namespace dagd
