// The policy file (--policy_file): what each tenant may run and its quotas.
#include "server/auth/tenant_policy.h"

#include <fstream>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"
#include "tests/testutil/process.h"

namespace dagd {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;

CompiledJob Compile(const std::string& json) {
  v1::JobSpec spec;
  auto parsed = google::protobuf::util::JsonStringToMessage(json, &spec);
  EXPECT_TRUE(parsed.ok()) << parsed;
  JobLimits limits;
  limits.lambda = true;
  limits.lambda_functions = {"resize", "thumbs"};
  absl::StatusOr<CompiledJob> job = CompileJob(std::move(spec), limits);
  EXPECT_TRUE(job.ok()) << job.status();
  return *std::move(job);
}

TenantPolicies Policies(const std::string& text) {
  absl::StatusOr<TenantPolicies> policies = TenantPolicies::Parse(text, "f");
  EXPECT_TRUE(policies.ok()) << policies.status();
  return *std::move(policies);
}

absl::Status Allowed(const TenantPolicies& policies, const std::string& tenant,
                     const std::string& json) {
  return CheckJobAllowed(policies.For(tenant), tenant, Compile(json),
                         "dagd-default");
}

std::string ParseError(const std::string& text) {
  absl::StatusOr<TenantPolicies> policies = TenantPolicies::Parse(text, "f");
  EXPECT_FALSE(policies.ok());
  EXPECT_EQ(policies.status().code(), absl::StatusCode::kInvalidArgument);
  return std::string(policies.status().message());
}

TEST(TenantPolicyTest, ParsesEveryKey) {
  TenantPolicies policies = Policies(R"(
# analytics runs its own commands on the gpu pool
analytics weight=3 functions=sum,exec pools=gpu lambda=resize max_priority=5 max_jobs=2 max_tasks=100 max_spec_bytes=1M max_running_slots=8
* weight=1 max_jobs=10   # everyone else
)");
  const TenantPolicy& a = policies.For("analytics");
  EXPECT_EQ(a.share.weight, 3u);
  EXPECT_EQ(a.share.max_running_slots, 8u);
  EXPECT_TRUE(a.functions.Allows("exec"));
  EXPECT_FALSE(a.functions.Allows("mul"));
  EXPECT_TRUE(a.pools.Allows("gpu"));
  EXPECT_FALSE(a.pools.Allows("cpu"));
  EXPECT_TRUE(a.lambda.Allows("resize"));
  EXPECT_EQ(a.max_priority, 5);
  EXPECT_EQ(a.max_jobs, 2u);
  EXPECT_EQ(a.max_tasks, 100u);
  EXPECT_EQ(a.max_spec_bytes, 1u << 20);
  // Everyone else: the `*` line.
  EXPECT_EQ(policies.For("web").max_jobs, 10u);
  EXPECT_EQ(policies.For("web").share.weight, 1u);
}

TEST(TenantPolicyTest, RefusesWhatDoesNotParseNamingLineAndKey) {
  EXPECT_THAT(ParseError("a weight=0"),
              AllOf(HasSubstr("f line 1"), HasSubstr("tenant 'a'"),
                    HasSubstr("weight=0"), HasSubstr("1 to 10000")));
  EXPECT_THAT(ParseError("\n\na max_jobs=-1"),
              AllOf(HasSubstr("f line 3"), HasSubstr("max_jobs=-1")));
  EXPECT_THAT(ParseError("a max_spec_bytes=lots"),
              HasSubstr("max_spec_bytes=lots: expected a size"));
  EXPECT_THAT(ParseError("a colour=red"), HasSubstr("unknown key 'colour'"));
  EXPECT_THAT(ParseError("a\na"), HasSubstr("f line 2: tenant 'a' has a line"));
  EXPECT_THAT(ParseError("*\n*"), HasSubstr("tenant '*' has a line"));
  EXPECT_THAT(ParseError("a/b"), HasSubstr("tenant 'a/b' must be"));
}

TEST(TenantPolicyTest, WithoutAFileEveryoneMayDoEverything) {
  TenantPolicies open;
  EXPECT_TRUE(Allowed(open, "", R"({"priority": 1000, "tasks": [
      {"id": "a", "fn": "exec"}, {"id": "b", "fn": "python"},
      {"id": "c", "fn": "sum", "executor": "pool:gpu"},
      {"id": "d", "fn": "sum", "executor": "lambda:resize"}]})")
                  .ok());
}

TEST(TenantPolicyTest, StarDoesNotGrantExecOrPython) {
  // A tenant without a line, in a file without `*`, and one with
  // functions=*: any function but those that run the submitter's code.
  TenantPolicies policies = Policies("a functions=*\nb functions=*,exec");
  for (const std::string tenant : {"a", "nobody"}) {
    EXPECT_TRUE(
        Allowed(policies, tenant, R"({"tasks": [{"id": "x", "fn": "sum"}]})")
            .ok());
    absl::Status exec =
        Allowed(policies, tenant, R"({"tasks": [{"id": "x", "fn": "exec"}]})");
    EXPECT_EQ(exec.code(), absl::StatusCode::kPermissionDenied);
    EXPECT_THAT(exec.message(),
                AllOf(HasSubstr("task 'x' calls function 'exec'"),
                      HasSubstr(absl::StrCat("tenant '", tenant, "'"))));
    EXPECT_FALSE(
        Allowed(policies, tenant, R"({"tasks": [{"id": "x", "fn": "python"}]})")
            .ok());
  }
  EXPECT_TRUE(
      Allowed(policies, "b", R"({"tasks": [{"id": "x", "fn": "exec"}]})").ok());
  EXPECT_FALSE(
      Allowed(policies, "b", R"({"tasks": [{"id": "x", "fn": "python"}]})")
          .ok());
}

TEST(TenantPolicyTest, PoolsLambdaAndPriority) {
  TenantPolicies policies =
      Policies("a pools=gpu lambda=resize max_priority=5\nb lambda=none");
  EXPECT_TRUE(Allowed(policies, "a", R"({"priority": 5, "tasks": [
      {"id": "x", "fn": "sum", "executor": "pool:gpu"},
      {"id": "y", "fn": "sum", "executor": "lambda:resize"}]})")
                  .ok());
  EXPECT_THAT(Allowed(policies, "a", R"({"tasks": [
      {"id": "x", "fn": "sum", "executor": "pool:cpu"}]})")
                  .message(),
              HasSubstr("a task names pool 'cpu'"));
  // No executor: any worker, in any pool.
  EXPECT_THAT(
      Allowed(policies, "a", R"({"tasks": [{"id": "x", "fn": "sum"}]})")
          .message(),
      AllOf(HasSubstr("task 'x' has no executor"), HasSubstr("pools gpu")));
  EXPECT_THAT(Allowed(policies, "a", R"({"tasks": [
      {"id": "x", "fn": "sum", "executor": "lambda:thumbs"}]})")
                  .message(),
              HasSubstr("Lambda function 'thumbs'"));
  // Plain "lambda" is dagd's own --lambda_function.
  EXPECT_THAT(Allowed(policies, "a", R"({"tasks": [
      {"id": "x", "fn": "sum", "executor": "pool:gpu"},
      {"id": "y", "fn": "sum", "executor": "lambda"}]})")
                  .message(),
              HasSubstr("Lambda function 'dagd-default'"));
  EXPECT_THAT(Allowed(policies, "b", R"({"tasks": [
      {"id": "y", "fn": "sum", "executor": "lambda:resize"}]})")
                  .message(),
              HasSubstr("Lambda function 'resize'"));
  EXPECT_THAT(Allowed(policies, "a", R"({"priority": 6, "tasks": [
      {"id": "x", "fn": "sum", "executor": "pool:gpu"}]})")
                  .message(),
              HasSubstr("the job has priority 6, above 5"));
}

TEST(TenantPolicyTest, QuotasCountWhatUnfinishedJobsHold) {
  TenantPolicies policies =
      Policies("a max_jobs=2 max_tasks=5 max_spec_bytes=1K");
  const TenantPolicy& a = policies.For("a");
  CompiledJob two = Compile(R"({"tasks": [{"id": "x", "fn": "sum"},
                                          {"id": "y", "fn": "sum"}]})");
  EXPECT_TRUE(CheckQuota(a, "a", TenantLoad{1, 3, 100}, two).ok());
  absl::Status jobs = CheckQuota(a, "a", TenantLoad{2, 0, 0}, two);
  EXPECT_EQ(jobs.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(jobs.message(),
              AllOf(HasSubstr("tenant 'a'"), HasSubstr("count 2 jobs"),
                    HasSubstr("max_jobs")));
  EXPECT_THAT(CheckQuota(a, "a", TenantLoad{1, 4, 0}, two).message(),
              AllOf(HasSubstr("count 4 tasks; this job would add 2"),
                    HasSubstr("max_tasks")));
  EXPECT_THAT(CheckQuota(a, "a", TenantLoad{1, 0, 1020}, two).message(),
              HasSubstr("max_spec_bytes"));
  // No quotas: anything goes.
  EXPECT_TRUE(
      CheckQuota(TenantPolicy(), "b", TenantLoad{1000, 1u << 30, 1u << 30}, two)
          .ok());
}

// SIGHUP caught the file between its truncation and its writing: an empty
// file reread is refused (it would lift every tenant's restrictions); at
// start it is a file without lines. A directory is refused by name.
TEST(TenantPolicyTest, AnEmptyFileRereadAndADirectoryAreRefused) {
  absl::StatusOr<std::unique_ptr<testing::TempDir>> dir =
      testing::TempDir::Create();
  ASSERT_TRUE(dir.ok());
  const std::string path = (*dir)->path() + "/policies";
  std::ofstream(path) << "\n";
  EXPECT_TRUE(TenantPolicies::Read(path).ok());
  absl::StatusOr<TenantPolicies> reread = TenantPolicies::Reread(path);
  EXPECT_EQ(reread.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(reread.status().message(),
              AllOf(HasSubstr("--policy_file"), HasSubstr("is empty")));
  std::ofstream(path) << "# no tenant has a line\n";
  EXPECT_TRUE(TenantPolicies::Reread(path).ok());
  absl::StatusOr<TenantPolicies> folder = TenantPolicies::Read((*dir)->path());
  EXPECT_EQ(folder.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(folder.status().message(), HasSubstr("is a directory"));
}

}  // namespace
}  // namespace dagd
