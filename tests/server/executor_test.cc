#include "server/executor.h"

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/job_compiler.h"

namespace dagd {
namespace {

using ::testing::HasSubstr;

TEST(ExecutorTest, ParsesEverySpellingAndPrintsItBack) {
  for (const char* text : {"", "pool:gpu", "lambda", "lambda:thumbs:live"}) {
    absl::StatusOr<Executor> executor = Executor::Parse(text);
    ASSERT_TRUE(executor.ok()) << text << ": " << executor.status();
    EXPECT_EQ(executor->ToString(), text);
  }
  EXPECT_EQ(Executor::Parse("")->kind, Executor::Kind::kAnyWorker);
  EXPECT_EQ(Executor::Parse("pool:gpu")->kind, Executor::Kind::kPool);
  EXPECT_EQ(Executor::Parse("pool:gpu")->name, "gpu");
  EXPECT_EQ(Executor::Parse("lambda")->kind, Executor::Kind::kLambda);
  EXPECT_EQ(Executor::Parse("lambda")->name, "");
  EXPECT_EQ(Executor::Parse("lambda:thumbs:live")->name, "thumbs:live");
}

TEST(ExecutorTest, RefusesWhatItDoesNotKnowNamingTheProblem) {
  EXPECT_THAT(Executor::Parse("pool:").status().message(),
              HasSubstr("names no pool"));
  EXPECT_THAT(Executor::Parse("lambda:").status().message(),
              HasSubstr("names no function"));
  absl::StatusOr<Executor> odd = Executor::Parse("gpu");
  EXPECT_EQ(odd.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(odd.status().message(), HasSubstr("executor 'gpu' is not one"));
  // "lambdas" is not "lambda" nor "lambda:NAME".
  EXPECT_FALSE(Executor::Parse("lambdas").ok());
}

TEST(ExecutorTest, TheCompilerParsesEachTasksExecutorOnce) {
  v1::JobSpec spec;
  const char* executors[] = {"", "pool:gpu", "pool:gpu", "lambda:f"};
  for (int i = 0; i < 4; ++i) {
    v1::TaskSpec* task = spec.add_tasks();
    task->set_id(absl::StrCat("t", i));
    task->set_fn("const");
    task->set_executor(executors[i]);
  }
  JobLimits limits;
  limits.lambda = true;
  limits.lambda_functions = {"f"};
  absl::StatusOr<CompiledJob> job = CompileJob(spec, limits);
  ASSERT_TRUE(job.ok()) << job.status();
  EXPECT_EQ(job->executor(0).kind, Executor::Kind::kAnyWorker);
  EXPECT_EQ(job->executor(1).ToString(), "pool:gpu");
  EXPECT_EQ(job->executor(2).ToString(), "pool:gpu");
  EXPECT_EQ(job->executor(3).ToString(), "lambda:f");
  EXPECT_EQ(job->executors.size(), 3u);  // the distinct ones, any worker first
  EXPECT_EQ(job->kinds.size(), 3u);      // the two pool tasks share one
}

}  // namespace
}  // namespace dagd
