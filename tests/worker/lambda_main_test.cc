// Runs the dagd-worker binary (DAGD_WORKER_BINARY) in Lambda mode against a
// fake Runtime API: a failed start goes to .../init/error, --lambda needs
// the Runtime API's address, and a started function serves invocations
// until the Runtime API goes away.
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"
#include "tests/worker/fake_lambda_runtime_api.h"
#include "tests/worker/run_worker.h"
#include "tests/worker/test_task.h"
#include "worker/lambda_runtime.h"
#include "worker/subprocess.h"
#include "worker/temp_dir.h"

namespace dagd {
namespace {

using ::testing::HasSubstr;

constexpr absl::Duration kWait = absl::Seconds(20);

// Runs dagd-worker with `flags` and the test's environment, with
// AWS_LAMBDA_RUNTIME_API set to `endpoint` unless it is empty, until it
// exits.
WorkerRun RunLambdaWorker(const std::string& endpoint,
                          std::vector<std::string> flags) {
  std::vector<std::string> add;
  if (!endpoint.empty()) {
    add.push_back(absl::StrCat("AWS_LAMBDA_RUNTIME_API=", endpoint));
  }
  return RunWorkerBinary(std::move(flags), {"AWS_LAMBDA_RUNTIME_API="},
                         std::move(add));
}

TEST(LambdaMainTest, ABadPluginIsAnInitError) {
  auto fake = FakeLambdaRuntimeApi::Start();
  ASSERT_NE(fake, nullptr);
  WorkerRun run =
      RunLambdaWorker(fake->endpoint(), {"--plugin=/nonexistent/libplug.so"});
  EXPECT_EQ(run.exit_code, 1) << run.err;
  std::vector<FakeLambdaRuntimeApi::Post> posts = fake->posts();
  ASSERT_EQ(posts.size(), 1u) << run.err;
  EXPECT_EQ(posts[0].path, "/init/error");
  EXPECT_EQ(posts[0].error_type, kInitFailed);
  v1::LambdaFunctionError error;
  ASSERT_TRUE(
      google::protobuf::util::JsonStringToMessage(posts[0].body, &error).ok());
  EXPECT_EQ(error.error_type(), kInitFailed);
  EXPECT_THAT(error.error_message(),
              HasSubstr("cannot load plugin /nonexistent/libplug.so"));
  EXPECT_THAT(run.err, HasSubstr("cannot load plugin /nonexistent/libplug.so"));
}

TEST(LambdaMainTest, ABadLogFormatIsAnInitError) {
  auto fake = FakeLambdaRuntimeApi::Start();
  ASSERT_NE(fake, nullptr);
  WorkerRun run = RunLambdaWorker(fake->endpoint(), {"--log_format=xml"});
  EXPECT_EQ(run.exit_code, 1) << run.err;
  std::vector<FakeLambdaRuntimeApi::Post> posts = fake->posts();
  ASSERT_EQ(posts.size(), 1u) << run.err;
  EXPECT_EQ(posts[0].path, "/init/error");
  EXPECT_THAT(posts[0].body, HasSubstr("--log_format"));
}

TEST(LambdaMainTest, LambdaFlagNeedsTheRuntimeApi) {
  WorkerRun run = RunLambdaWorker("", {"--lambda"});
  EXPECT_EQ(run.exit_code, 2);
  EXPECT_THAT(run.err, HasSubstr("--lambda needs AWS_LAMBDA_RUNTIME_API"));
}

TEST(LambdaMainTest, HelpMentionsLambda) {
  WorkerRun run = RunLambdaWorker("", {"--help"});
  EXPECT_THAT(run.out + run.err, HasSubstr("--lambda"));
  EXPECT_THAT(run.out + run.err, HasSubstr("AWS_LAMBDA_RUNTIME_API"));
}

// Started by the environment alone (as Lambda starts a runtime), it serves
// invocations, and exits 1 once the Runtime API fails.
TEST(LambdaMainTest, ServesInvocationsUntilTheRuntimeApiFails) {
  auto fake = FakeLambdaRuntimeApi::Start();
  ASSERT_NE(fake, nullptr);
  fake->Enqueue({"r1", 0,
                 R"({"assignment": {"task": {"jobId": "j", "attempt": 1},
                     "taskId": "t", "fn": "add", "args": {"value": 1},
                     "inputs": [{"data": "Mg==",
                                 "contentType": "application/json"}]}})"});
  fake->Enqueue({"r2", 0, R"({"assignment": {"fn": "fail"}})"});
  WorkerRun run;
  std::thread worker(
      [&] { run = RunLambdaWorker(fake->endpoint(), {"--log_format=json"}); });
  bool answered = fake->WaitForPosts(2, kWait);
  fake->Shutdown();
  worker.join();
  ASSERT_TRUE(answered) << run.err;
  std::vector<FakeLambdaRuntimeApi::Post> posts = fake->posts();
  ASSERT_EQ(posts.size(), 2u);
  EXPECT_EQ(posts[0].path, "/invocation/r1/response");
  v1::LambdaResult result;
  ASSERT_TRUE(
      google::protobuf::util::JsonStringToMessage(posts[0].body, &result).ok());
  EXPECT_EQ(result.result().output().data(), "3");
  EXPECT_EQ(posts[1].path, "/invocation/r2/error");
  EXPECT_EQ(posts[1].error_type, kTaskFailed);
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_THAT(run.err, HasSubstr(R"("msg":"invocation r1: attempt 1)"));
  EXPECT_THAT(run.err, HasSubstr("exiting: GET /invocation/next: HTTP 500"));
}

}  // namespace
}  // namespace dagd
