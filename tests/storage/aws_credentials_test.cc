// The credentials chain against fakes on 127.0.0.1. Every test injects the
// environment and sets the IMDS endpoint (or turns IMDS off), so nothing
// here reads the real environment or reaches 169.254.x.
#include "storage/aws_credentials.h"

#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "storage/base/logging.h"
#include "tests/storage/fake_http_server.h"

namespace dagd {
namespace {

using ::dagd::testing::FakeHttpRequest;
using ::dagd::testing::FakeHttpResponse;
using ::dagd::testing::FakeHttpServer;
using ::dagd::testing::UnusedLocalPort;
using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::Not;

const absl::Time kStart = absl::FromUnixSeconds(1'700'000'000);

// What the ECS endpoint and IMDS serve.
std::string CredentialsJson(absl::string_view key, absl::Time expiration,
                            bool with_code = false) {
  return absl::StrCat(
      "{", with_code ? "\"Code\": \"Success\", \"Type\": \"AWS-HMAC\", " : "",
      "\"AccessKeyId\": \"", key, "\", \"SecretAccessKey\": \"secret-", key,
      "\", \"Token\": \"token-", key, "\", \"Expiration\": \"",
      absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", expiration, absl::UTCTimeZone()),
      "\"}");
}

class AwsCredentialsTest : public ::testing::Test {
 protected:
  // Sources that read env_ and now_, with IMDS off.
  AwsCredentialSources Sources() {
    AwsCredentialSources sources;
    sources.use_imds = false;
    sources.imds_endpoint =
        absl::StrCat("http://127.0.0.1:", UnusedLocalPort());
    sources.getenv = [this](const char* name) {
      auto it = env_.find(name);
      return it == env_.end() ? std::string() : it->second;
    };
    sources.now = [this] {
      ++now_reads_;
      return now_;
    };
    return sources;
  }

  std::map<std::string, std::string> env_;
  absl::Time now_ = kStart;  // written by the test thread only
  std::atomic<int> now_reads_{0};
};

TEST_F(AwsCredentialsTest, FromEnvironment) {
  env_ = {{"AWS_ACCESS_KEY_ID", "AKID"},
          {"AWS_SECRET_ACCESS_KEY", "SECRET"},
          {"AWS_SESSION_TOKEN", "TOKEN"}};
  absl::StatusOr<AwsCredentials> got =
      MakeDefaultCredentialsChain(Sources())->Get();
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->access_key_id, "AKID");
  EXPECT_EQ(got->secret_access_key, "SECRET");
  EXPECT_EQ(got->session_token, "TOKEN");
  EXPECT_EQ(got->expiration, absl::InfiniteFuture());
}

TEST_F(AwsCredentialsTest, HalfSetEnvironmentIsNamed) {
  env_ = {{"AWS_ACCESS_KEY_ID", "AKID"}};
  absl::StatusOr<AwsCredentials> got =
      MakeDefaultCredentialsChain(Sources())->Get();
  EXPECT_EQ(got.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_THAT(got.status().message(),
              HasSubstr("AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY "
                        "is not"));
}

TEST_F(AwsCredentialsTest, NoSourceNamesEverySourceTried) {
  absl::StatusOr<AwsCredentials> got =
      MakeDefaultCredentialsChain(Sources())->Get();
  EXPECT_EQ(got.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_THAT(got.status().message(),
              AllOf(HasSubstr("environment"), HasSubstr("ECS container"),
                    HasSubstr("EC2 instance metadata")));
}

TEST_F(AwsCredentialsTest, StaticProvider) {
  auto provider = MakeStaticCredentialsProvider({"A", "S", ""});
  EXPECT_EQ(provider->Get()->access_key_id, "A");
}

class ContainerTest : public AwsCredentialsTest {
 protected:
  // Serves credentials KEY<n> on the n-th request (expiring at
  // kStart + n hours) to requests carrying "Authorization: <token>", 401
  // otherwise; 500 while fail_ is set.
  void StartServer(std::string token) {
    auto server =
        FakeHttpServer::Start([this, token](const FakeHttpRequest& request) {
          if (stall_) {
            stalled_.Notify();
            // Bounded: a caller held up by it gets its answer late, and
            // fails, rather than hang the test.
            release_.WaitForNotificationWithTimeout(absl::Seconds(10));
          }
          if (fail_) return FakeHttpResponse{500, "{\"message\": \"broken\"}"};
          if (request.Header("authorization") != token) {
            return FakeHttpResponse{401, "{\"message\": \"bad token\"}"};
          }
          int n = ++served_;
          return FakeHttpResponse{
              200,
              CredentialsJson(absl::StrCat("KEY", n), kStart + absl::Hours(n))};
        });
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
    env_["AWS_CONTAINER_CREDENTIALS_FULL_URI"] =
        server_->url() + "/v2/credentials/task-1";
  }

  // Until `provider` answers `key` (a refresh on its own thread landed),
  // or 30 s.
  static bool GetsEventually(AwsCredentialsProvider& provider,
                             const std::string& key) {
    const absl::Time deadline = absl::Now() + absl::Seconds(30);
    while (absl::Now() < deadline) {
      absl::StatusOr<AwsCredentials> got = provider.Get();
      if (got.ok() && got->access_key_id == key) return true;
      absl::SleepFor(absl::Milliseconds(1));
    }
    return false;
  }
  // Until the server has answered `n` requests, or 30 s; with `provider`,
  // asking it again meanwhile (a refresh still in flight starts no other).
  bool ServedEventually(size_t n, AwsCredentialsProvider* provider = nullptr) {
    const absl::Time deadline = absl::Now() + absl::Seconds(30);
    while (absl::Now() < deadline) {
      if (server_->requests().size() >= n) return true;
      if (provider != nullptr) provider->Get().IgnoreError();
      absl::SleepFor(absl::Milliseconds(1));
    }
    return false;
  }

  std::unique_ptr<FakeHttpServer> server_;
  std::atomic<int> served_{0};
  std::atomic<bool> fail_{false};
  // When set, a request says so (stalled_), then waits for release_.
  std::atomic<bool> stall_{false};
  absl::Notification stalled_;
  absl::Notification release_;
};

TEST_F(ContainerTest, FullUriWithAuthorizationToken) {
  StartServer("secret-token");
  env_["AWS_CONTAINER_AUTHORIZATION_TOKEN"] = "secret-token";
  absl::StatusOr<AwsCredentials> got =
      MakeDefaultCredentialsChain(Sources())->Get();
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->access_key_id, "KEY1");
  EXPECT_EQ(got->secret_access_key, "secret-KEY1");
  EXPECT_EQ(got->session_token, "token-KEY1");
  EXPECT_EQ(got->expiration, kStart + absl::Hours(1));
  std::vector<FakeHttpRequest> requests = server_->requests();
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_EQ(requests[0].method, "GET");
  EXPECT_EQ(requests[0].target, "/v2/credentials/task-1");
  EXPECT_EQ(requests[0].Header("authorization"), "secret-token");
}

TEST_F(ContainerTest, AuthorizationTokenFromFile) {
  StartServer("file-token");
  std::string path =
      absl::StrCat(::testing::TempDir(), "/ecs-token-", getpid());
  std::ofstream(path) << "file-token\n";
  env_["AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"] = path;
  absl::StatusOr<AwsCredentials> got =
      MakeDefaultCredentialsChain(Sources())->Get();
  std::filesystem::remove(path);
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->access_key_id, "KEY1");
}

TEST_F(ContainerTest, ExplicitEndpointOption) {
  StartServer("");
  env_.erase("AWS_CONTAINER_CREDENTIALS_FULL_URI");
  AwsCredentialSources sources = Sources();
  sources.container_endpoint = server_->url() + "/creds";
  absl::StatusOr<AwsCredentials> got =
      MakeDefaultCredentialsChain(sources)->Get();
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(server_->requests().at(0).target, "/creds");
}

TEST_F(ContainerTest, EnvironmentComesFirst) {
  StartServer("");
  env_["AWS_ACCESS_KEY_ID"] = "ENVKEY";
  env_["AWS_SECRET_ACCESS_KEY"] = "ENVSECRET";
  EXPECT_EQ(MakeDefaultCredentialsChain(Sources())->Get()->access_key_id,
            "ENVKEY");
  EXPECT_TRUE(server_->requests().empty());
}

TEST_F(ContainerTest, RejectedTokenIsAnErrorThatDoesNotLeakIt) {
  StartServer("right-token");
  env_["AWS_CONTAINER_AUTHORIZATION_TOKEN"] = "wrong-token";
  absl::StatusOr<AwsCredentials> got =
      MakeDefaultCredentialsChain(Sources())->Get();
  EXPECT_EQ(got.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_THAT(got.status().message(),
              AllOf(HasSubstr("HTTP 401"), HasSubstr("/v2/credentials/task-1"),
                    Not(HasSubstr("wrong-token"))));
}

TEST_F(ContainerTest, CachedUntilFiveMinutesBeforeExpiry) {
  StartServer("");
  auto provider = MakeDefaultCredentialsChain(Sources());
  EXPECT_EQ(provider->Get()->access_key_id, "KEY1");  // expires kStart + 1h
  now_ = kStart + absl::Minutes(54);
  EXPECT_EQ(provider->Get()->access_key_id, "KEY1");
  EXPECT_EQ(server_->requests().size(), 1u);
  now_ = kStart + absl::Minutes(55) + absl::Seconds(1);
  // Still valid: answered at once, and refreshed on a thread of its own.
  EXPECT_EQ(provider->Get()->access_key_id, "KEY1");
  EXPECT_TRUE(GetsEventually(*provider, "KEY2"));  // expires kStart + 2h
  EXPECT_EQ(server_->requests().size(), 2u);
  now_ = kStart + absl::Minutes(100);
  EXPECT_EQ(provider->Get()->access_key_id, "KEY2");
  EXPECT_EQ(server_->requests().size(), 2u);
}

TEST_F(ContainerTest, FailedRefreshKeepsUnexpiredCredentials) {
  StartServer("");
  auto provider = MakeDefaultCredentialsChain(Sources());
  EXPECT_EQ(provider->Get()->access_key_id, "KEY1");
  fail_ = true;
  now_ = kStart + absl::Minutes(56);
  EXPECT_EQ(provider->Get()->access_key_id, "KEY1");  // refreshing
  ASSERT_TRUE(ServedEventually(2));                   // the refresh failed
  EXPECT_EQ(provider->Get()->access_key_id, "KEY1");  // not asked again yet
  EXPECT_EQ(server_->requests().size(), 2u);
  now_ += absl::Seconds(10);
  EXPECT_EQ(provider->Get()->access_key_id, "KEY1");
  ASSERT_TRUE(ServedEventually(3, provider.get()));
  now_ = kStart + absl::Hours(1) + absl::Seconds(1);  // expired
  absl::StatusOr<AwsCredentials> got = provider->Get();
  EXPECT_EQ(got.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_THAT(got.status().message(), HasSubstr("HTTP 500"));
  fail_ = false;
  now_ += absl::Seconds(10);
  EXPECT_EQ(provider->Get()->access_key_id, "KEY2");
}

// A caller with none valid waits for the walk already under way; that
// walk, begun while the cached ones were valid, fails and keeps them: they
// are expired for this caller, who walks again rather than get them.
TEST_F(ContainerTest, AGetAfterExpiryIsNotAnsweredWithTheExpiredOnes) {
  StartServer("");
  auto provider = MakeDefaultCredentialsChain(Sources());
  EXPECT_EQ(provider->Get()->access_key_id, "KEY1");
  stall_ = true;
  fail_ = true;
  now_ = kStart + absl::Minutes(56);
  EXPECT_EQ(provider->Get()->access_key_id, "KEY1");  // a refresh begins
  ASSERT_TRUE(stalled_.WaitForNotificationWithTimeout(absl::Seconds(30)));
  now_ = kStart + absl::Hours(1) + absl::Seconds(1);  // expired
  const int reads = now_reads_;
  absl::StatusOr<AwsCredentials> got;
  std::thread getter([&] { got = provider->Get(); });
  // It read the time under the provider's lock, which the stalled walk
  // needs to finish: the getter waits for that walk.
  while (now_reads_ == reads) absl::SleepFor(absl::Milliseconds(1));
  stall_ = false;
  release_.Notify();
  getter.join();
  EXPECT_EQ(got.status().code(), absl::StatusCode::kUnauthenticated)
      << (got.ok() ? got->access_key_id : "");
  EXPECT_EQ(server_->requests().size(), 3u) << "it walked again";
}

// While valid credentials are cached, a refresh that hangs (an endpoint
// that does not answer) holds up no caller: each gets the cached ones.
TEST_F(ContainerTest, AHangingRefreshHoldsUpNoCaller) {
  StartServer("");
  auto provider = MakeDefaultCredentialsChain(Sources());
  EXPECT_EQ(provider->Get()->access_key_id, "KEY1");
  stall_ = true;
  now_ = kStart + absl::Minutes(56);
  EXPECT_EQ(provider->Get()->access_key_id, "KEY1");
  ASSERT_TRUE(stalled_.WaitForNotificationWithTimeout(absl::Seconds(30)));
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(provider->Get()->access_key_id, "KEY1");
  }
  release_.Notify();
  EXPECT_TRUE(GetsEventually(*provider, "KEY2"));
  EXPECT_EQ(server_->requests().size(), 2u) << "one refresh at a time";
}

// With nothing cached, GetWithoutWaiting does not wait for an endpoint that
// does not answer: it fetches on a thread of its own and says so.
TEST_F(ContainerTest, GetWithoutWaitingFetchesOnAThreadOfItsOwn) {
  StartServer("");
  auto provider = MakeDefaultCredentialsChain(Sources());
  stall_ = true;
  absl::StatusOr<AwsCredentials> got = provider->GetWithoutWaiting();
  EXPECT_TRUE(absl::IsUnavailable(got.status())) << got.status();
  ASSERT_TRUE(stalled_.WaitForNotificationWithTimeout(absl::Seconds(30)));
  EXPECT_TRUE(absl::IsUnavailable(provider->GetWithoutWaiting().status()));
  release_.Notify();
  const absl::Time deadline = absl::Now() + absl::Seconds(30);
  while (!provider->GetWithoutWaiting().ok() && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(1));
  }
  EXPECT_EQ(provider->GetWithoutWaiting()->access_key_id, "KEY1");
  EXPECT_EQ(server_->requests().size(), 1u) << "one fetch at a time";
}

// A caller of Get waits for the endpoint with nothing cached; the Lambda
// dispatcher's GetWithoutWaiting meanwhile answers at once, not after it.
TEST_F(ContainerTest, GetWithoutWaitingDoesNotWaitBehindAGetInFlight) {
  StartServer("");
  auto provider = MakeDefaultCredentialsChain(Sources());
  stall_ = true;
  absl::StatusOr<AwsCredentials> waited;
  std::thread getter([&] { waited = provider->Get(); });
  ASSERT_TRUE(stalled_.WaitForNotificationWithTimeout(absl::Seconds(30)));
  absl::Notification answered;
  absl::StatusOr<AwsCredentials> at_once;
  std::thread other([&] {
    at_once = provider->GetWithoutWaiting();
    answered.Notify();
  });
  EXPECT_TRUE(answered.WaitForNotificationWithTimeout(absl::Seconds(30)))
      << "GetWithoutWaiting waited for the walk of the chain";
  release_.Notify();
  other.join();
  getter.join();
  EXPECT_TRUE(absl::IsUnavailable(at_once.status())) << at_once.status();
  ASSERT_TRUE(waited.ok()) << waited.status();
  EXPECT_EQ(waited->access_key_id, "KEY1");
  EXPECT_EQ(server_->requests().size(), 1u) << "one fetch at a time";
}

TEST_F(ContainerTest, ConcurrentCallersShareOneFetch) {
  StartServer("");
  auto provider = MakeDefaultCredentialsChain(Sources());
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&] {
      if (provider->Get().ok()) ++ok;
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(ok, 8);
  EXPECT_EQ(server_->requests().size(), 1u);
}

class ImdsTest : public AwsCredentialsTest {
 protected:
  // IMDSv2: a token from PUT /latest/api/token, then the role list and the
  // role's credentials, each asked with the token.
  void SetUp() override {
    auto server = FakeHttpServer::Start([](const FakeHttpRequest& request) {
      constexpr absl::string_view kRoles =
          "/latest/meta-data/iam/security-credentials/";
      if (request.method == "PUT" && request.target == "/latest/api/token") {
        if (request.Header("x-aws-ec2-metadata-token-ttl-seconds").empty()) {
          return FakeHttpResponse{400, "missing ttl", "text/plain"};
        }
        return FakeHttpResponse{200, "imds-token", "text/plain"};
      }
      if (request.Header("x-aws-ec2-metadata-token") != "imds-token") {
        return FakeHttpResponse{401, "", "text/plain"};
      }
      if (request.method == "GET" && request.target == kRoles) {
        return FakeHttpResponse{200, "dagd-role\n", "text/plain"};
      }
      if (request.method == "GET" &&
          request.target == absl::StrCat(kRoles, "dagd-role")) {
        return FakeHttpResponse{
            200, CredentialsJson("IMDSKEY", kStart + absl::Hours(6), true)};
      }
      return FakeHttpResponse{404, "", "text/plain"};
    });
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
  }

  AwsCredentialSources ImdsSources() {
    AwsCredentialSources sources = Sources();
    sources.use_imds = true;
    sources.imds_endpoint = server_->url();
    return sources;
  }

  std::unique_ptr<FakeHttpServer> server_;
};

TEST_F(ImdsTest, TokenThenRoleThenCredentials) {
  absl::StatusOr<AwsCredentials> got =
      MakeDefaultCredentialsChain(ImdsSources())->Get();
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->access_key_id, "IMDSKEY");
  EXPECT_EQ(got->session_token, "token-IMDSKEY");
  EXPECT_EQ(got->expiration, kStart + absl::Hours(6));
  std::vector<FakeHttpRequest> requests = server_->requests();
  ASSERT_EQ(requests.size(), 3u);
  EXPECT_EQ(requests[0].method, "PUT");
  EXPECT_EQ(requests[0].target, "/latest/api/token");
  EXPECT_EQ(requests[0].Header("x-aws-ec2-metadata-token-ttl-seconds"),
            "21600");
  EXPECT_EQ(requests[1].target, "/latest/meta-data/iam/security-credentials/");
  EXPECT_EQ(requests[2].target,
            "/latest/meta-data/iam/security-credentials/dagd-role");
}

TEST_F(ImdsTest, EndpointFromEnvironmentOverridesOption) {
  AwsCredentialSources sources = ImdsSources();
  sources.imds_endpoint = absl::StrCat("http://127.0.0.1:", UnusedLocalPort());
  env_["AWS_EC2_METADATA_SERVICE_ENDPOINT"] = server_->url() + "/";
  EXPECT_EQ(MakeDefaultCredentialsChain(sources)->Get()->access_key_id,
            "IMDSKEY");
}

TEST_F(ImdsTest, DisabledByEnvironment) {
  env_["AWS_EC2_METADATA_DISABLED"] = "true";
  absl::StatusOr<AwsCredentials> got =
      MakeDefaultCredentialsChain(ImdsSources())->Get();
  EXPECT_EQ(got.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_THAT(got.status().message(), HasSubstr("AWS_EC2_METADATA_DISABLED"));
  EXPECT_TRUE(server_->requests().empty());
}

TEST_F(ImdsTest, UnreachableEndpointFailsFast) {
  AwsCredentialSources sources = ImdsSources();
  sources.imds_endpoint = absl::StrCat("http://127.0.0.1:", UnusedLocalPort());
  absl::Time start = absl::Now();
  absl::StatusOr<AwsCredentials> got =
      MakeDefaultCredentialsChain(sources)->Get();
  EXPECT_EQ(got.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_THAT(got.status().message(), HasSubstr("EC2 instance metadata"));
  EXPECT_LT(absl::Now() - start, absl::Seconds(2));
}

// The endpoints' answers as ParseCredentialsJson reads them.
TEST(ParseCredentialsJsonTest, ReadsTheKeysAndExpiration) {
  absl::StatusOr<AwsCredentials> got = ParseCredentialsJson(
      "IMDS", CredentialsJson("AKID", kStart, /*with_code=*/true));
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->access_key_id, "AKID");
  EXPECT_EQ(got->secret_access_key, "secret-AKID");
  EXPECT_EQ(got->session_token, "token-AKID");
  EXPECT_EQ(got->expiration, kStart);
}

TEST(ParseCredentialsJsonTest, RefusalsNameTheSourceAndWhy) {
  absl::StatusOr<AwsCredentials> got = ParseCredentialsJson(
      "IMDS", R"({"Code": "AssumeRoleUnauthorizedAccess", "Message": "no"})");
  EXPECT_EQ(got.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(got.status().message(),
            "IMDS: Code AssumeRoleUnauthorizedAccess: no");
  got = ParseCredentialsJson("ECS", "<html>gateway</html>");
  EXPECT_EQ(got.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(got.status().message(),
              AllOf(HasSubstr("ECS: answer is not a JSON object"),
                    HasSubstr("<html>gateway</html>")));
}

// Found by tests/fuzz/s3_responses_fuzzer.cc: the messages quoted the
// answer's bytes as they were, and a task error (a protobuf string field)
// cannot carry bytes that are not UTF-8.
// A credentials document that does not parse still holds the secret: the
// message quotes none of it (it reaches task errors and logs).
TEST(ParseCredentialsJsonTest, ABrokenDocumentIsNotQuoted) {
  const std::vector<std::string> bodies = {
      R"({"AccessKeyId": "ASIAKEYID", "SecretAccessKey": "wJalrSECRET" )"
      R"("Token": "TOKEN"})",
      R"({"AccessKeyId": "ASIAKEYID", "SecretAccessKey": "wJalrSECRET)"};
  for (const std::string& body : bodies) {
    absl::StatusOr<AwsCredentials> got = ParseCredentialsJson("ECS", body);
    ASSERT_FALSE(got.ok()) << body;
    const std::string message(got.status().message());
    EXPECT_THAT(message, HasSubstr("ECS: answer is not a JSON object"));
    for (const char* secret : {"ASIAKEYID", "wJalrSECRET", "TOKEN"}) {
      EXPECT_THAT(message, Not(HasSubstr(secret))) << body;
    }
  }
}

TEST(ParseCredentialsJsonTest, MessagesAreValidUtf8WhateverTheAnswer) {
  for (std::string body :
       {std::string("{\"Code\": \"Bad\xff\", \"Message\": \"\xc3\"}"),
        std::string("\xfe<html>") + std::string(192, 'x') + "\xe2\x82\xac",
        std::string(R"({"AccessKeyId": "A", "SecretAccessKey": "s", )") +
            "\"Expiration\": \"\x80\"}"}) {
    absl::StatusOr<AwsCredentials> got = ParseCredentialsJson("IMDS", body);
    ASSERT_FALSE(got.ok());
    const std::string message(got.status().message());
    EXPECT_EQ(ValidUtf8(message), message);
  }
}

}  // namespace
}  // namespace dagd
