// Tenant policies on the real dagd (--policy_file): quotas on unfinished
// jobs, tasks and spec bytes that hold across a restart, allowed functions
// (exec only where granted), and SIGHUP.
#include <signal.h>

#include <fstream>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "client/client.h"
#include "server/auth/token_table.h"
#include "tests/integration/integration_env.h"

namespace dagd {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;
using testing::PollUntil;

constexpr char kPolicy[] = R"(# tenants and what they may hold
alpha max_jobs=2 max_tasks=1000
beta functions=*,exec max_spec_bytes=4K
)";

// `n` tasks that stay ready: no worker is in pool "nowhere", so the job
// stays unfinished, as a big job waiting for workers does.
std::string WaitingJob(int n, const std::string& fn = "const",
                       const std::string& args = "{}") {
  std::string tasks;
  for (int i = 0; i < n; ++i) {
    absl::StrAppend(&tasks, i == 0 ? "" : ",", R"({"id": "t)", i,
                    R"(", "fn": ")", fn, R"(", "executor": "pool:nowhere",)",
                    R"( "args": )", args, "}");
  }
  return absl::StrCat(R"({"tasks": [)", tasks, "]}");
}

class QuotasTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = *testing::TempDir::Create("dagd-quotas-");
    policy_ = dir_->path() + "/policy";
    Write(policy_, kPolicy);
    Write(dir_->path() + "/tokens",
          absl::StrCat(TokenHash("alice-token"), " alpha submit alice\n",
                       TokenHash("bob-token"), " beta submit bob\n"));
    Start();
  }

  void Start(const std::string& data_dir = "") {
    testing::DagdOptions options;
    options.binaries = testing::BuiltBinaries();
    options.data_dir = data_dir;
    options.flags = {"--tokens_file=" + dir_->path() + "/tokens",
                     "--policy_file=" + policy_};
    options.client.token = "alice-token";
    absl::StatusOr<std::unique_ptr<testing::DagdProcess>> dagd =
        testing::DagdProcess::Start(std::move(options));
    ASSERT_TRUE(dagd.ok()) << dagd.status();
    dagd_ = *std::move(dagd);
  }

  static void Write(const std::string& path, const std::string& text) {
    std::ofstream out(path, std::ios::trunc);
    out << text;
  }

  std::unique_ptr<Client> As(const std::string& token) {
    ClientOptions options;
    options.token = token;
    options.call_timeout = absl::Seconds(20);
    return Client::Connect(dagd_->address(), options);
  }

  std::unique_ptr<testing::TempDir> dir_;
  std::string policy_;
  std::unique_ptr<testing::DagdProcess> dagd_;
};

TEST_F(QuotasTest, UnfinishedJobsAreCountedAcrossARestart) {
  std::unique_ptr<Client> alice = As("alice-token");
  absl::StatusOr<std::string> first =
      testing::SubmitJob(*alice, WaitingJob(10));
  ASSERT_TRUE(first.ok()) << first.status();
  ASSERT_TRUE(testing::SubmitJob(*alice, WaitingJob(10)).ok());
  absl::StatusOr<std::string> third =
      testing::SubmitJob(*alice, WaitingJob(10));
  EXPECT_EQ(third.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(third.status().message(),
              AllOf(HasSubstr("tenant 'alpha'"), HasSubstr("count 2 jobs"),
                    HasSubstr("max_jobs")));
  // Another tenant's quota is its own.
  EXPECT_TRUE(testing::SubmitJob(*As("bob-token"), WaitingJob(10)).ok());

  // The unfinished jobs come back with a restart, and so does the count.
  const std::string data_dir = dagd_->data_dir();
  ASSERT_EQ(dagd_->Stop(), absl::OkStatus());
  Start(data_dir);
  alice = As("alice-token");
  EXPECT_EQ(testing::SubmitJob(*alice, WaitingJob(10)).status().code(),
            absl::StatusCode::kResourceExhausted);
  // A cancelled job is finished: it no longer counts.
  ASSERT_TRUE(alice->Cancel(*first).ok());
  EXPECT_TRUE(testing::SubmitJob(*alice, WaitingJob(10)).ok());
}

TEST_F(QuotasTest, TasksAndSpecBytesHaveQuotas) {
  // Row 6 of the issue, at a small scale: one job may not take all of
  // dagd's memory for its tenant.
  absl::StatusOr<std::string> big =
      testing::SubmitJob(*As("alice-token"), WaitingJob(1001));
  EXPECT_EQ(big.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(
      big.status().message(),
      AllOf(HasSubstr("this job would add 1001"), HasSubstr("max_tasks")));
  const std::string padding =
      absl::StrCat(R"({"padding": ")", std::string(5000, 'x'), R"("})");
  absl::StatusOr<std::string> wide =
      testing::SubmitJob(*As("bob-token"), WaitingJob(1, "const", padding));
  EXPECT_EQ(wide.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(wide.status().message(), HasSubstr("max_spec_bytes"));
  // Nothing of a refused job was kept.
  absl::StatusOr<v1::ListJobsResponse> jobs = As("bob-token")->ListJobs();
  ASSERT_TRUE(jobs.ok()) << jobs.status();
  EXPECT_EQ(jobs->jobs_size(), 0);
}

TEST_F(QuotasTest, ExecOnlyWhereGrantedAndSighupRegrants) {
  absl::StatusOr<std::string> refused =
      testing::SubmitJob(*As("alice-token"), WaitingJob(1, "exec"));
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(refused.status().message(),
              AllOf(HasSubstr("task 't0' calls function 'exec'"),
                    HasSubstr("tenant 'alpha'")));
  EXPECT_TRUE(testing::SubmitJob(*As("bob-token"), WaitingJob(1, "exec")).ok());
  EXPECT_THAT(dagd_->Log(), HasSubstr("calls function 'exec'"));  // audited

  Write(policy_, absl::StrCat(kPolicy, "alpha functions=*,exec\n"));
  dagd_->Signal(SIGHUP);
  // The tenant now has two lines: the file is refused, the policy stays.
  ASSERT_EQ(dagd_->WaitForLog("kept the tenant policies in use",
                              "dagd to refuse the file", absl::Seconds(10)),
            absl::OkStatus());
  EXPECT_EQ(testing::SubmitJob(*As("alice-token"), WaitingJob(1, "exec"))
                .status()
                .code(),
            absl::StatusCode::kPermissionDenied);
  Write(policy_, "alpha max_jobs=2 functions=*,exec\n");
  dagd_->Signal(SIGHUP);
  ASSERT_EQ(PollUntil(
                [&] {
                  return testing::SubmitJob(*As("alice-token"),
                                            WaitingJob(1, "exec"))
                      .ok();
                },
                absl::Seconds(10), "exec to be granted to alpha"),
            absl::OkStatus());
}

}  // namespace
}  // namespace dagd
