// Identities and tenants on the real dagd: --tokens_file, roles, tenant
// isolation on every JobService call, the audit log, SIGHUP, dagctl.
#include <signal.h>

#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "client/client.h"
#include "server/auth/token_table.h"
#include "tests/integration/integration_env.h"

namespace dagd {
namespace {

using ::testing::HasSubstr;
using testing::PollUntil;

// Tenants alpha (a submitter and a reader), beta (a submitter), and an
// admin.
std::string TokensFile(const std::string& extra = "") {
  return absl::StrCat("# dagd tokens\n", TokenHash("alice-token"),
                      " alpha submit alice\n", TokenHash("reader-token"),
                      " alpha read reader\n", TokenHash("bob-token"),
                      " beta submit bob\n", TokenHash("root-token"),
                      " ops admin root\n", extra);
}

class TenantsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = testing::TempDir::Create("dagd-tenants-")->release();
    tokens_ = dir_->path() + "/tokens";
    Write(TokensFile());
    testing::DagdOptions options;
    options.binaries = testing::BuiltBinaries();
    options.flags = {"--local_workers=1", "--local_worker_slots=2",
                     "--tokens_file=" + tokens_};
    options.client.token = "root-token";
    absl::StatusOr<std::unique_ptr<testing::DagdProcess>> dagd =
        testing::DagdProcess::Start(std::move(options));
    ASSERT_TRUE(dagd.ok()) << dagd.status();
    dagd_ = dagd->release();
    ASSERT_EQ(dagd_->WaitForWorkers(1), absl::OkStatus());
  }
  static void TearDownTestSuite() {
    delete dagd_;
    dagd_ = nullptr;
    delete dir_;
  }

  static void Write(const std::string& text) {
    std::ofstream out(tokens_, std::ios::trunc);
    out << text;
  }

  static std::unique_ptr<Client> As(const std::string& token) {
    ClientOptions options;
    options.token = token;
    options.call_timeout = absl::Seconds(20);
    return Client::Connect(dagd_->address(), options);
  }

  // A finished job of `client`'s tenant.
  static std::string FinishedJob(Client& client,
                                 const std::string& request_id = "") {
    absl::StatusOr<v1::JobSpec> spec = ParseJobSpecJson(testing::kAnswerJob);
    EXPECT_TRUE(spec.ok());
    absl::StatusOr<v1::SubmitJobResponse> done =
        client.SubmitAndWait(*spec, request_id);
    EXPECT_TRUE(done.ok()) << done.status();
    if (!done.ok()) return "";
    EXPECT_EQ(done->final_status().state(), v1::JOB_SUCCEEDED);
    return done->job_id();
  }

  static testing::TempDir* dir_;
  static std::string tokens_;
  static testing::DagdProcess* dagd_;
};

testing::TempDir* TenantsTest::dir_ = nullptr;
std::string TenantsTest::tokens_;
testing::DagdProcess* TenantsTest::dagd_ = nullptr;

// Every JobService call of `client` on `job_id`, with the code it got.
std::vector<std::pair<std::string, absl::StatusCode>> EveryCallOn(
    Client& client, const std::string& job_id) {
  std::vector<std::pair<std::string, absl::StatusCode>> codes;
  codes.emplace_back("GetJob", client.Get(job_id).status().code());
  codes.emplace_back("GetTask", client.Task(job_id, "a").status().code());
  codes.emplace_back("ListTasks", client.ListTasks(job_id).status().code());
  codes.emplace_back("GetResult", client.Result(job_id, "b").status().code());
  codes.emplace_back("ReadResult", client
                                       .ReadResult(job_id, "b",
                                                   [](const v1::ResultChunk&) {
                                                     return absl::OkStatus();
                                                   })
                                       .code());
  codes.emplace_back("WatchJob", client.Wait(job_id).status().code());
  codes.emplace_back("CancelJob", client.Cancel(job_id).status().code());
  codes.emplace_back("DeleteJob", client.DeleteJob(job_id).code());
  return codes;
}

TEST_F(TenantsTest, CallsWithoutAKnownTokenAreUnauthenticated) {
  const std::string job_id = FinishedJob(*As("alice-token"));
  for (const std::string& token : {std::string(), std::string("guess")}) {
    std::unique_ptr<Client> client = As(token);
    absl::StatusOr<v1::JobSpec> spec = ParseJobSpecJson(testing::kAnswerJob);
    ASSERT_TRUE(spec.ok());
    absl::StatusOr<std::string> submitted = client->Submit(*spec);
    EXPECT_EQ(submitted.status().code(), absl::StatusCode::kUnauthenticated);
    EXPECT_THAT(submitted.status().message(), HasSubstr("token"));
    EXPECT_EQ(client->ListJobs().status().code(),
              absl::StatusCode::kUnauthenticated);
    EXPECT_EQ(client->ListWorkers().status().code(),
              absl::StatusCode::kUnauthenticated);
    for (const auto& [call, code] : EveryCallOn(*client, job_id)) {
      EXPECT_EQ(code, absl::StatusCode::kUnauthenticated) << call;
    }
  }
  // Nothing the refused calls asked for happened.
  EXPECT_EQ(As("alice-token")->Get(job_id)->state(), v1::JOB_SUCCEEDED);
}

TEST_F(TenantsTest, AnotherTenantsJobDoesNotExistForItsCallers) {
  std::unique_ptr<Client> alice = As("alice-token");
  std::unique_ptr<Client> bob = As("bob-token");
  const std::string job_id = FinishedJob(*alice);
  absl::StatusOr<v1::JobStatus> own = alice->Get(job_id);
  ASSERT_TRUE(own.ok()) << own.status();
  EXPECT_EQ(own->tenant(), "alpha");

  // Bob is told exactly what a job that never existed gets.
  const absl::Status unknown = bob->Get("j999999").status();
  ASSERT_EQ(unknown.code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(bob->Get(job_id).status().message(),
            absl::StrCat("no job '", job_id, "'"));
  for (const auto& [call, code] : EveryCallOn(*bob, job_id)) {
    EXPECT_EQ(code, absl::StatusCode::kNotFound) << call;
  }
  absl::StatusOr<v1::ListJobsResponse> listed = bob->ListJobs(1000);
  ASSERT_TRUE(listed.ok()) << listed.status();
  for (const v1::JobStatus& job : listed->jobs()) {
    EXPECT_EQ(job.tenant(), "beta") << job.job_id();
  }
  // Bob's calls changed nothing: the job and its result are Alice's still.
  EXPECT_EQ(alice->Get(job_id)->state(), v1::JOB_SUCCEEDED);
  absl::StatusOr<v1::GetResultResponse> result = alice->Result(job_id, "b");
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->data(), "42");
}

TEST_F(TenantsTest, ListJobsShowsOnlyTheCallersTenantExceptToAdmins) {
  const std::string alphas = FinishedJob(*As("alice-token"));
  const std::string betas = FinishedJob(*As("bob-token"));
  auto ids = [](Client& client) {
    std::vector<std::string> out;
    absl::StatusOr<v1::ListJobsResponse> listed = client.ListJobs(1000);
    EXPECT_TRUE(listed.ok()) << listed.status();
    if (listed.ok()) {
      for (const v1::JobStatus& job : listed->jobs()) {
        out.push_back(job.job_id());
      }
    }
    return out;
  };
  EXPECT_THAT(ids(*As("reader-token")), ::testing::Contains(alphas));
  EXPECT_THAT(ids(*As("reader-token")),
              ::testing::Not(::testing::Contains(betas)));
  EXPECT_THAT(ids(*As("bob-token")), ::testing::Contains(betas));
  EXPECT_THAT(ids(*As("bob-token")),
              ::testing::Not(::testing::Contains(alphas)));
  EXPECT_THAT(ids(*As("root-token")), ::testing::IsSupersetOf({alphas, betas}));
  // Pages of one tenant's jobs hold only theirs, and continue.
  std::unique_ptr<Client> bob = As("bob-token");
  FinishedJob(*bob);
  absl::StatusOr<v1::ListJobsResponse> first = bob->ListJobs(1);
  ASSERT_TRUE(first.ok());
  ASSERT_EQ(first->jobs_size(), 1);
  ASSERT_FALSE(first->next_page_token().empty());
  absl::StatusOr<v1::ListJobsResponse> second =
      bob->ListJobs(1, first->next_page_token());
  ASSERT_TRUE(second.ok());
  ASSERT_EQ(second->jobs_size(), 1);
  EXPECT_EQ(second->jobs(0).tenant(), "beta");
}

TEST_F(TenantsTest, AdminsSeeAndActOnEveryTenantsJobs) {
  const std::string job_id = FinishedJob(*As("alice-token"));
  std::unique_ptr<Client> root = As("root-token");
  for (const auto& [call, code] : EveryCallOn(*root, job_id)) {
    EXPECT_EQ(code, absl::StatusCode::kOk) << call;
  }
  // The last call deleted it.
  EXPECT_EQ(As("alice-token")->Get(job_id).status().code(),
            absl::StatusCode::kNotFound);
}

TEST_F(TenantsTest, RolesLimitWhatACallerMayDo) {
  const std::string job_id = FinishedJob(*As("alice-token"));
  std::unique_ptr<Client> reader = As("reader-token");
  EXPECT_TRUE(reader->Get(job_id).ok());
  EXPECT_TRUE(reader->Result(job_id, "b").ok());
  absl::StatusOr<v1::JobSpec> spec = ParseJobSpecJson(testing::kAnswerJob);
  ASSERT_TRUE(spec.ok());
  absl::StatusOr<std::string> submitted = reader->Submit(*spec);
  EXPECT_EQ(submitted.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(submitted.status().message(),
              HasSubstr("has role read; SubmitJob needs submit"));
  EXPECT_EQ(reader->Cancel(job_id).status().code(),
            absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(reader->DeleteJob(job_id).code(),
            absl::StatusCode::kPermissionDenied);
  EXPECT_TRUE(reader->Get(job_id).ok()) << "a refused delete deleted it";
}

TEST_F(TenantsTest, RequestIdsAreEachTenantsOwn) {
  const std::string alphas = FinishedJob(*As("alice-token"), "nightly-1");
  // Bob's submission with the same request id makes his own job, and does
  // not learn Alice's.
  const std::string betas = FinishedJob(*As("bob-token"), "nightly-1");
  EXPECT_NE(alphas, betas);
  EXPECT_EQ(As("bob-token")->Get(betas)->tenant(), "beta");
  // Alice's retry still finds hers.
  absl::StatusOr<v1::JobSpec> spec = ParseJobSpecJson(testing::kAnswerJob);
  ASSERT_TRUE(spec.ok());
  absl::StatusOr<std::string> again =
      As("alice-token")->Submit(*spec, "nightly-1");
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(*again, alphas);
}

TEST_F(TenantsTest, SubmitsCancelsAndDeletesAreAudited) {
  std::unique_ptr<Client> alice = As("alice-token");
  const std::string job_id = FinishedJob(*alice);
  ASSERT_TRUE(alice->Cancel(job_id).ok());
  ASSERT_EQ(alice->DeleteJob(job_id), absl::OkStatus());
  EXPECT_EQ(As("bob-token")->DeleteJob(job_id).code(),
            absl::StatusCode::kNotFound);
  const std::string log = dagd_->Log();
  for (const char* action : {"submit", "cancel", "delete"}) {
    EXPECT_THAT(log, HasSubstr(absl::StrCat("audit: ", action,
                                            " by token alice (tenant "
                                            "'alpha'): done")))
        << action;
  }
  EXPECT_THAT(log, HasSubstr("audit: delete by token bob (tenant 'beta'): "
                             "NOT_FOUND"));
}

// Refused for the caller's role, over gRPC too (they were answered before
// the audit saw them); and a job id cannot forge a line through the
// NOT_FOUND that quotes it.
TEST_F(TenantsTest, RefusalsForTheRoleAreAuditedAndIdsForgeNoLines) {
  const std::string job_id = FinishedJob(*As("alice-token"));
  std::unique_ptr<Client> reader = As("reader-token");
  absl::StatusOr<v1::JobSpec> spec = ParseJobSpecJson(testing::kAnswerJob);
  ASSERT_TRUE(spec.ok());
  EXPECT_FALSE(reader->Submit(*spec).ok());
  EXPECT_FALSE(reader->Cancel(job_id).ok());
  EXPECT_NE(reader->DeleteJob(job_id), absl::OkStatus());
  EXPECT_FALSE(As("alice-token")
                   ->Cancel("j9\n2026-12-07T00:00:00.000Z dagd: audit: forged")
                   .ok());
  const std::string log = dagd_->Log();
  for (const char* action : {"submit", "cancel", "delete"}) {
    EXPECT_THAT(log, HasSubstr(absl::StrCat("audit: ", action,
                                            " by token reader (tenant "
                                            "'alpha'): PERMISSION_DENIED")))
        << action;
  }
  EXPECT_THAT(
      log, ::testing::Not(HasSubstr("\n2026-12-07T00:00:00.000Z dagd: audit")));
  EXPECT_THAT(log, HasSubstr("j9\\n2026"));
}

TEST_F(TenantsTest, DagctlTakesATokenAndExitsFiveWhenRefused) {
  const std::string job_id = FinishedJob(*As("alice-token"));
  testing::CommandResult refused = dagd_->RunDagctl({"status", job_id});
  EXPECT_EQ(refused.exit_code, 5) << refused.err;
  EXPECT_THAT(refused.err, HasSubstr("token"));
  testing::CommandResult denied =
      dagd_->RunDagctl({"--token=reader-token", "cancel", job_id});
  EXPECT_EQ(denied.exit_code, 5) << denied.err;
  testing::CommandResult ok =
      dagd_->RunDagctl({"--token", "alice-token", "status", job_id});
  EXPECT_EQ(ok.exit_code, 0) << ok.err;
  EXPECT_THAT(ok.out, HasSubstr("SUCCEEDED"));
  // A token read with its line break is bad usage, named; gRPC aborted
  // dagctl on it.
  testing::CommandResult crlf =
      dagd_->RunDagctl({"status", job_id}, "", absl::Seconds(60),
                       {{"DAGD_TOKEN", "alice-token\r"}});
  EXPECT_EQ(crlf.exit_code, 2) << crlf.err;
  EXPECT_THAT(crlf.err, HasSubstr("$DAGD_TOKEN: the token holds byte 0x0d"));
}

TEST_F(TenantsTest, SighupRereadsTheTokensFile) {
  Write(TokensFile(TokenHash("carol-token") + " gamma submit carol\n"));
  dagd_->Signal(SIGHUP);
  ASSERT_EQ(PollUntil([] { return As("carol-token")->ListJobs().ok(); },
                      absl::Seconds(10), "the new token to be accepted"),
            absl::OkStatus());
  // A broken file is refused and the tokens stay.
  Write("broken\n");
  dagd_->Signal(SIGHUP);
  ASSERT_EQ(
      dagd_->WaitForLog("SIGHUP: kept the tokens in use",
                        "dagd to refuse the broken file", absl::Seconds(10)),
      absl::OkStatus());
  EXPECT_TRUE(As("carol-token")->ListJobs().ok());
  Write(TokensFile());
}

// A token taken off the file ends the streams opened with it (WatchJob,
// ReadResult) before they send anything more: they went on for as long as
// the job or the result did.
TEST_F(TenantsTest, StreamsOfATokenTakenOffTheFileEnd) {
  const std::string dave = TokenHash("dave-token") + " alpha read dave\n";
  Write(TokensFile(dave));
  dagd_->Signal(SIGHUP);
  ASSERT_EQ(PollUntil([] { return As("dave-token")->ListJobs().ok(); },
                      absl::Seconds(10), "dave's token to be accepted"),
            absl::OkStatus());
  // A 40 MB result, and a job held at its gate.
  absl::StatusOr<v1::JobSpec> big = ParseJobSpecJson(R"json({"tasks": [
      {"id": "big", "fn": "exec", "args": {"argv": ["/bin/sh", "-c",
      "head -c 40000000 /dev/zero > \"$DAGD_OUTPUT\""]}}]})json");
  ASSERT_TRUE(big.ok()) << big.status();
  absl::StatusOr<v1::SubmitJobResponse> made =
      As("alice-token")->SubmitAndWait(*big, "");
  ASSERT_TRUE(made.ok()) << made.status();
  ASSERT_EQ(made->final_status().state(), v1::JOB_SUCCEEDED);
  const std::string gate = dir_->path() + "/gate";
  absl::StatusOr<v1::JobSpec> gated = ParseJobSpecJson(
      absl::StrCat(R"({"tasks": [{"id": "g", "fn": "exec", "args": {"argv": )",
                   R"(["/bin/sh", "-c", "while [ ! -e ')", gate,
                   R"(' ]; do sleep 0.05; done; echo 2"]}}]})"));
  ASSERT_TRUE(gated.ok()) << gated.status();
  absl::StatusOr<std::string> held = As("alice-token")->Submit(*gated, "");
  ASSERT_TRUE(held.ok()) << held.status();

  absl::Mutex mu;
  std::vector<v1::JobEvent::EventCase> seen;
  absl::StatusOr<v1::JobStatus> watched;
  std::unique_ptr<Client> watcher = As("dave-token");
  std::thread watching([&] {
    watched = watcher->Watch(*held, [&](const v1::JobEvent& event) {
      absl::MutexLock lock(&mu);
      seen.push_back(event.event_case());
    });
  });
  // However the test ends, the job ends and the watch with it.
  absl::Cleanup finish = [&] {
    std::ofstream(gate) << "go";
    watching.join();
  };
  ASSERT_EQ(PollUntil(
                [&] {
                  absl::MutexLock lock(&mu);
                  return !seen.empty();
                },
                absl::Seconds(20), "dave's watch to get its snapshot"),
            absl::OkStatus());

  auto revoke = [&] {
    Write(TokensFile());
    dagd_->Signal(SIGHUP);
    return PollUntil(
        [] {
          return absl::IsUnauthenticated(As("dave-token")->ListJobs().status());
        },
        absl::Seconds(10), "dave's token to be refused");
  };
  uint64_t received = 0;
  const absl::Status read =
      As("dave-token")
          ->ReadResult(
              made->job_id(), "big", [&](const v1::ResultChunk& chunk) {
                if (received == 0 && !revoke().ok()) {
                  return absl::InternalError("the token was not taken off");
                }
                received += chunk.data().size();
                return absl::OkStatus();
              });
  EXPECT_EQ(read.code(), absl::StatusCode::kUnauthenticated) << read;
  EXPECT_THAT(read.message(), HasSubstr("token dave"));
  EXPECT_LT(received, 40000000u);

  // The job goes on; dave's watch ends before it is told so.
  std::move(finish).Invoke();
  absl::StatusOr<v1::JobStatus> done = As("alice-token")->Wait(*held);
  ASSERT_TRUE(done.ok()) << done.status();
  EXPECT_EQ(done->state(), v1::JOB_SUCCEEDED);
  EXPECT_EQ(watched.status().code(), absl::StatusCode::kUnauthenticated)
      << watched.status();
  absl::MutexLock lock(&mu);
  EXPECT_THAT(seen,
              ::testing::Not(::testing::Contains(v1::JobEvent::kFinished)));
}

}  // namespace
}  // namespace dagd
