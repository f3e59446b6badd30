// The Lambda dispatcher on an injected clock, against a fake Lambda Invoke
// endpoint on 127.0.0.1: the times it reports and when it tries a throttled
// call again come from the clock it was given, not from the wall.
#include <atomic>
#include <memory>
#include <optional>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/lambda_dispatcher.h"
#include "storage/base/clock.h"
#include "tests/storage/fake_http_server.h"
#include "tests/testutil/fake_clock.h"

namespace dagd {
namespace {

constexpr absl::Duration kWait = absl::Seconds(30);

// Fixed credentials; while `fetching`, as a chain whose endpoint has not
// answered yet: Get waits (longer than a test does), GetWithoutWaiting
// says they are on their way.
class StaticCredentials : public AwsCredentialsProvider {
 public:
  absl::StatusOr<AwsCredentials> Get() override {
    if (fetching) fetched.WaitForNotificationWithTimeout(2 * kWait);
    AwsCredentials credentials;
    credentials.access_key_id = "AKIDEXAMPLE";
    credentials.secret_access_key = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
    return credentials;
  }
  absl::StatusOr<AwsCredentials> GetWithoutWaiting() override {
    ++asked;
    if (fetching && !fetched.HasBeenNotified()) {
      return absl::UnavailableError("being fetched");
    }
    if (missing) {
      return absl::UnauthenticatedError(
          "no AWS credentials found; tried EC2 instance metadata: timed out");
    }
    return Get();
  }

  std::atomic<bool> fetching{false};
  absl::Notification fetched;
  // As a chain whose last walk found none (an endpoint down a moment).
  std::atomic<bool> missing{false};
  std::atomic<int> asked{0};
};

// What the dispatcher reports, as the coordinator would get it.
class Reports {
 public:
  LambdaDispatcher::Report Callback() {
    return [this](v1::WorkerMessage message) {
      absl::MutexLock lock(&mu_);
      if (message.has_batch()) batches_.push_back(std::move(message));
    };
  }
  // The first task result, waiting for it.
  absl::StatusOr<v1::TaskResult> WaitForResult() {
    absl::MutexLock lock(&mu_);
    std::optional<v1::TaskResult> found;
    auto arrived = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      for (const v1::WorkerMessage& m : batches_) {
        if (m.batch().results_size() > 0) found = m.batch().results(0);
      }
      return found.has_value();
    };
    if (!mu_.AwaitWithTimeout(absl::Condition(&arrived), kWait)) {
      return absl::DeadlineExceededError("no result");
    }
    return *found;
  }
  void Clear() {
    absl::MutexLock lock(&mu_);
    batches_.clear();
  }
  std::vector<v1::TaskStarted> started() {
    absl::MutexLock lock(&mu_);
    std::vector<v1::TaskStarted> started;
    for (const v1::WorkerMessage& m : batches_) {
      for (const v1::TaskStarted& s : m.batch().started()) {
        started.push_back(s);
      }
    }
    return started;
  }

 private:
  absl::Mutex mu_;
  std::vector<v1::WorkerMessage> batches_ ABSL_GUARDED_BY(mu_);
};

class LambdaDispatcherTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto server = testing::FakeHttpServer::Start(
        [this](const testing::FakeHttpRequest&) { return Answer(); });
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
    LambdaOptions options;
    options.endpoint = server_->url();
    // Far beyond the test's deadline: only the fake clock gets there.
    options.retry_initial = absl::Hours(1);
    options.retry_max = absl::Hours(4);
    options.heartbeat_interval = absl::Hours(1);
    dispatcher_ = std::make_unique<LambdaDispatcher>(
        options, &credentials_, &clock_, [] { return 1.0; },
        reports_.Callback());
    dispatcher_->Start();
  }
  void TearDown() override {
    if (!credentials_.fetched.HasBeenNotified()) credentials_.fetched.Notify();
    if (dispatcher_ != nullptr) dispatcher_->Stop();
  }

  // The fake Invoke API: 429 while throttled, then the function's result.
  testing::FakeHttpResponse Answer() {
    absl::MutexLock lock(&mu_);
    ++requests_;
    if (throttled_ > 0) {
      --throttled_;
      return {429, R"({"message": "Rate exceeded"})"};
    }
    return {200, R"({"result": {"ok": true, "output": {"data": "Mw=="}}})"};
  }
  void Throttle(int calls) {
    absl::MutexLock lock(&mu_);
    throttled_ = calls;
  }
  bool WaitForRequests(int count, absl::Duration timeout) {
    absl::MutexLock lock(&mu_);
    auto enough = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return requests_ >= count;
    };
    return mu_.AwaitWithTimeout(absl::Condition(&enough), timeout);
  }

  void Assign() {
    v1::CoordinatorMessage message;
    v1::Assignment* a = message.mutable_batch()->add_assignments();
    a->mutable_task()->set_job_id("j1");
    a->mutable_task()->set_task_index(0);
    a->mutable_task()->set_attempt(1);
    a->set_task_id("sum");
    a->set_fn("add");
    a->set_lambda_function("dagd-fn");
    dispatcher_->Send(std::move(message));
  }
  void Cancel() {
    v1::CoordinatorMessage message;
    v1::TaskRef* ref = message.mutable_batch()->add_cancels();
    ref->set_job_id("j1");
    ref->set_task_index(0);
    ref->set_attempt(1);
    dispatcher_->Send(std::move(message));
  }
  // Any batch wakes the dispatcher's loop, which then reads the clock.
  void Wake() {
    v1::CoordinatorMessage message;
    message.mutable_batch();
    dispatcher_->Send(std::move(message));
  }

  FakeClock clock_;
  StaticCredentials credentials_;
  Reports reports_;
  absl::Mutex mu_;
  int requests_ ABSL_GUARDED_BY(mu_) = 0;
  int throttled_ ABSL_GUARDED_BY(mu_) = 0;
  std::unique_ptr<testing::FakeHttpServer> server_;
  std::unique_ptr<LambdaDispatcher> dispatcher_;
};

TEST_F(LambdaDispatcherTest, ReportsTimesFromTheInjectedClock) {
  const int64_t now_ms = UnixMillis(clock_.Now());
  Assign();
  absl::StatusOr<v1::TaskResult> result = reports_.WaitForResult();
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_TRUE(result->ok()) << result->error();
  EXPECT_EQ(result->output().data(), "3");
  EXPECT_EQ(result->started_unix_ms(), now_ms);
  EXPECT_EQ(result->finished_unix_ms(), now_ms);
  ASSERT_EQ(reports_.started().size(), 1u);
  EXPECT_EQ(reports_.started()[0].started_unix_ms(), now_ms);
}

TEST_F(LambdaDispatcherTest, RetriesAThrottledCallWhenTheClockSaysSo) {
  Throttle(1);
  const absl::Time start = clock_.Now();
  Assign();
  ASSERT_TRUE(WaitForRequests(1, kWait));
  // The retry is due an hour after the 429 (retry_initial, jitter 1.0) on
  // the fake clock. The dispatcher may read the 429 before or after an
  // advance, so the clock moves an hour at a time until the call is made.
  int hours = 0;
  do {
    clock_.Advance(absl::Hours(1));
    ++hours;
    Wake();
  } while (!WaitForRequests(2, absl::Milliseconds(200)) && hours < 50);
  ASSERT_TRUE(WaitForRequests(2, kWait));
  absl::StatusOr<v1::TaskResult> result = reports_.WaitForResult();
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_TRUE(result->ok()) << result->error();
  EXPECT_EQ(result->started_unix_ms(), UnixMillis(start));
  EXPECT_GE(result->finished_unix_ms(), UnixMillis(start + absl::Hours(1)));
  EXPECT_LE(result->finished_unix_ms(), UnixMillis(clock_.Now()));
}

// The last walk of the credentials chain found none (an endpoint down for
// a moment): a call waits for the next walk rather than fail its attempt,
// up to credentials_patience (on the injected clock) from its start.
TEST_F(LambdaDispatcherTest, CallsWaitForCredentialsAWalkDidNotFind) {
  credentials_.missing = true;
  Assign();
  const absl::Time give_up = absl::Now() + kWait;
  while (credentials_.asked < 3 && absl::Now() < give_up) {
    absl::SleepFor(absl::Milliseconds(1));
  }
  ASSERT_GE(credentials_.asked, 3) << "the call was not asked again";
  credentials_.missing = false;
  absl::StatusOr<v1::TaskResult> result = reports_.WaitForResult();
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_TRUE(result->ok()) << result->error();
  EXPECT_TRUE(WaitForRequests(1, kWait));

  reports_.Clear();
  credentials_.missing = true;
  const int before = credentials_.asked;
  Assign();
  // Started (and refused credentials) before the clock moves on.
  while (credentials_.asked == before && absl::Now() < give_up) {
    absl::SleepFor(absl::Milliseconds(1));
  }
  clock_.Advance(absl::Minutes(2));
  Wake();
  result = reports_.WaitForResult();
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_FALSE(result->ok());
  EXPECT_THAT(result->error(), ::testing::HasSubstr("no AWS credentials"));
}

// Credentials still being fetched (an ECS or IMDS endpoint, seconds per
// source) hold up nothing else the dispatcher does: the waiting call is
// cancelled at once, and the next one is made once they are in.
TEST_F(LambdaDispatcherTest, CredentialsBeingFetchedHoldUpNothingElse) {
  credentials_.fetching = true;
  Assign();
  Cancel();
  absl::StatusOr<v1::TaskResult> result = reports_.WaitForResult();
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->error(), "cancelled");
  EXPECT_FALSE(WaitForRequests(1, absl::ZeroDuration()));
  credentials_.fetched.Notify();
  reports_.Clear();
  Assign();
  result = reports_.WaitForResult();
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_TRUE(result->ok()) << result->error();
  EXPECT_TRUE(WaitForRequests(1, kWait));
}

}  // namespace
}  // namespace dagd
