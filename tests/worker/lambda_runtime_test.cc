// LambdaRuntime against a fake Runtime API on 127.0.0.1, through the real
// libcurl client: what each kind of invocation is answered with, the
// deadline, and inputs and outputs through a fake object store.
#include "worker/lambda_runtime.h"

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "dagd/v1/lambda.pb.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"
#include "storage/crc32c.h"
#include "tests/testutil/fake_object_store.h"
#include "tests/worker/fake_lambda_runtime_api.h"
#include "tests/worker/test_runtimes.h"
#include "worker/builtins.h"
#include "worker/json_util.h"
#include "worker/lambda_runtime_api.h"

namespace dagd {
namespace {

using ::testing::HasSubstr;

constexpr absl::Duration kWait = absl::Seconds(20);
constexpr char kBucket[] = "dagd-results";

v1::LambdaInvocation Invocation(const std::string& fn,
                                const std::string& args_json,
                                std::vector<std::string> json_inputs = {}) {
  v1::LambdaInvocation invocation;
  v1::Assignment& assignment = *invocation.mutable_assignment();
  assignment.mutable_task()->set_job_id("j1");
  assignment.mutable_task()->set_task_index(3);
  assignment.mutable_task()->set_attempt(2);
  assignment.set_task_id("t");
  assignment.set_fn(fn);
  auto args = ParseJson(args_json);
  EXPECT_TRUE(args.ok()) << args.status();
  *assignment.mutable_args() = *args;
  for (std::string& input : json_inputs) {
    v1::Payload& payload = *assignment.add_inputs();
    payload.set_data(std::move(input));
    payload.set_content_type(kJsonContentType);
  }
  return invocation;
}

std::string ToJson(const v1::LambdaInvocation& invocation) {
  std::string json;
  EXPECT_TRUE(
      google::protobuf::util::MessageToJsonString(invocation, &json).ok());
  return json;
}

v1::LambdaResult ParseResult(const std::string& json) {
  v1::LambdaResult result;
  auto status = google::protobuf::util::JsonStringToMessage(json, &result);
  EXPECT_TRUE(status.ok()) << status.ToString() << " in " << json;
  return result;
}

v1::LambdaFunctionError ParseError(const std::string& json) {
  v1::LambdaFunctionError error;
  auto status = google::protobuf::util::JsonStringToMessage(json, &error);
  EXPECT_TRUE(status.ok()) << status.ToString() << " in " << json;
  return error;
}

class LambdaRuntimeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    fake_ = FakeLambdaRuntimeApi::Start();
    ASSERT_NE(fake_, nullptr);
    api_ = MakeCurlLambdaRuntimeApi(fake_->endpoint());
    ASSERT_TRUE(RegisterBuiltins(&registry_).ok());
  }

  // Runs one invocation with `body` to completion; returns what was
  // posted for it.
  FakeLambdaRuntimeApi::Post Serve(const std::string& body,
                                   int64_t deadline_unix_ms = 0,
                                   ObjectStore* store = nullptr) {
    const std::string id = absl::StrCat("req-", ++invocations_);
    fake_->Enqueue({id, deadline_unix_ms, body});
    LambdaRuntime runtime(options_, api_.get(), &runtimes_, store, &clock_,
                          Logger());
    absl::Status served = runtime.RunOnce();
    EXPECT_TRUE(served.ok()) << served;
    std::vector<FakeLambdaRuntimeApi::Post> posts = fake_->posts();
    if (posts.empty()) return {};
    EXPECT_THAT(posts.back().path, HasSubstr(id));
    return posts.back();
  }
  FakeLambdaRuntimeApi::Post Serve(const v1::LambdaInvocation& invocation,
                                   ObjectStore* store = nullptr) {
    return Serve(ToJson(invocation), 0, store);
  }

  LogFn Logger() {
    return [this](const LogEntry& entry) {
      absl::MutexLock lock(&log_mu_);
      log_.push_back(entry.message);
    };
  }

  std::unique_ptr<FakeLambdaRuntimeApi> fake_;
  std::unique_ptr<LambdaRuntimeApi> api_;
  FunctionRegistry registry_;
  TaskRuntimes runtimes_ = BuiltinRuntimes(&registry_);
  SystemClock clock_;
  LambdaRuntimeOptions options_;
  int invocations_ = 0;
  absl::Mutex log_mu_;
  std::vector<std::string> log_ ABSL_GUARDED_BY(log_mu_);
};

TEST_F(LambdaRuntimeTest, SuccessPostsTheLambdaResult) {
  FakeLambdaRuntimeApi::Post post =
      Serve(Invocation("add", R"({"value": 1})", {"2", "3"}));
  EXPECT_EQ(post.path, "/invocation/req-1/response");
  EXPECT_EQ(post.error_type, "");
  v1::LambdaResult result = ParseResult(post.body);
  EXPECT_TRUE(result.result().ok());
  EXPECT_EQ(result.result().output().data(), "6");
  EXPECT_EQ(result.result().output().content_type(), kJsonContentType);
  EXPECT_EQ(result.result().task().job_id(), "j1");
  EXPECT_EQ(result.result().task().task_index(), 3u);
  EXPECT_EQ(result.result().task().attempt(), 2u);
  EXPECT_GT(result.result().finished_unix_ms(), 0);
  EXPECT_FALSE(result.has_output_ref());
}

TEST_F(LambdaRuntimeTest, FailingTaskPostsTaskFailed) {
  FakeLambdaRuntimeApi::Post post =
      Serve(Invocation("fail", R"({"message": "disk on fire"})"));
  EXPECT_EQ(post.path, "/invocation/req-1/error");
  EXPECT_EQ(post.error_type, kTaskFailed);
  v1::LambdaFunctionError error = ParseError(post.body);
  EXPECT_EQ(error.error_type(), kTaskFailed);
  EXPECT_EQ(error.error_message(), "disk on fire");
}

TEST_F(LambdaRuntimeTest, PermanentFailurePostsTaskFailedPermanently) {
  FakeLambdaRuntimeApi::Post post = Serve(Invocation("no_such_fn", "null"));
  EXPECT_EQ(post.path, "/invocation/req-1/error");
  EXPECT_EQ(post.error_type, kTaskFailedPermanently);
  EXPECT_EQ(ParseError(post.body).error_message(),
            "no function 'no_such_fn' on this worker");
}

TEST_F(LambdaRuntimeTest, MalformedInvocationsPostInvalidInvocation) {
  v1::LambdaInvocation out_of_range = Invocation("identity", "null", {"1"});
  (*out_of_range.mutable_input_refs())[1].set_key("k");
  struct Case {
    std::string body;
    std::string says;
  } cases[] = {
      {"this is not json", "not a dagd.v1.LambdaInvocation in proto3 JSON"},
      {R"({"assignment": {"task": {"jobId": 7}}})", "not a dagd.v1"},
      {"{}", "the invocation has no assignment"},
      {R"({"assignment": {"taskId": "t"}})", "names no function"},
      {ToJson(out_of_range), "names input #1 but the task has 1 inputs"},
  };
  for (const Case& c : cases) {
    FakeLambdaRuntimeApi::Post post = Serve(c.body);
    EXPECT_THAT(post.path, HasSubstr("/error")) << c.body;
    EXPECT_EQ(post.error_type, kInvalidInvocation) << c.body;
    v1::LambdaFunctionError error = ParseError(post.body);
    EXPECT_EQ(error.error_type(), kInvalidInvocation);
    EXPECT_THAT(error.error_message(), HasSubstr(c.says)) << c.body;
  }
}

TEST_F(LambdaRuntimeTest, UnknownFieldsAreIgnored) {
  std::string body = ToJson(Invocation("const", R"({"value": 5})"));
  body.insert(1, R"("fieldFromTheFuture": {"x": 1}, )");
  FakeLambdaRuntimeApi::Post post = Serve(body);
  EXPECT_EQ(ParseResult(post.body).result().output().data(), "5");
}

// The invocation's deadline cancels a task that would outlive it, early
// enough that the failure is reported before the deadline.
TEST_F(LambdaRuntimeTest, DeadlineCancelsTheTaskBeforeItPasses) {
  options_.deadline_margin = absl::Milliseconds(500);
  absl::Time start = absl::Now();
  absl::Time deadline = start + absl::Milliseconds(1500);
  FakeLambdaRuntimeApi::Post post =
      Serve(ToJson(Invocation("sleep", R"({"ms": 60000})")),
            absl::ToUnixMillis(deadline));
  EXPECT_EQ(post.error_type, kTaskFailed);
  EXPECT_THAT(ParseError(post.body).error_message(),
              HasSubstr("before the Lambda invocation's deadline"));
  EXPECT_LT(post.at, deadline);
  EXPECT_GE(post.at - start, absl::Milliseconds(900));
}

TEST_F(LambdaRuntimeTest, ADeadlineAlreadyTooCloseFailsAtOnce) {
  FakeLambdaRuntimeApi::Post post =
      Serve(ToJson(Invocation("const", R"({"value": 1})")),
            absl::ToUnixMillis(absl::Now() + absl::Milliseconds(200)));
  EXPECT_EQ(post.error_type, kTaskFailed);
  EXPECT_THAT(ParseError(post.body).error_message(), HasSubstr("deadline"));
}

TEST_F(LambdaRuntimeTest, TheTaskTimeoutStillApplies) {
  v1::LambdaInvocation invocation = Invocation("sleep", R"({"ms": 60000})");
  invocation.mutable_assignment()->set_timeout_ms(200);
  FakeLambdaRuntimeApi::Post post = Serve(
      ToJson(invocation), absl::ToUnixMillis(absl::Now() + absl::Seconds(60)));
  EXPECT_EQ(post.error_type, kTaskFailed);
  EXPECT_EQ(ParseError(post.body).error_message(), "timed out after 200 ms");
}

v1::ObjectRef Ref(const std::string& key, const std::string& data) {
  v1::ObjectRef ref;
  ref.set_bucket(kBucket);
  ref.set_key(key);
  ref.set_size(data.size());
  ref.set_crc32c(crc32c::Value(data));
  ref.set_content_type(kJsonContentType);
  return ref;
}

TEST_F(LambdaRuntimeTest, AnInputByReferenceComesFromTheStore) {
  FakeObjectStore store;
  ASSERT_TRUE(store.Put("in/a", "40", kJsonContentType).ok());
  v1::LambdaInvocation invocation = Invocation("add", "null", {"", "2"});
  (*invocation.mutable_input_refs())[0] = Ref("in/a", "40");
  options_.store_bucket = kBucket;
  FakeLambdaRuntimeApi::Post post = Serve(invocation, &store);
  EXPECT_EQ(post.error_type, "") << post.body;
  EXPECT_EQ(ParseResult(post.body).result().output().data(), "42");
}

TEST_F(LambdaRuntimeTest, AMissingInputFailsForGood) {
  FakeObjectStore store;
  v1::LambdaInvocation invocation = Invocation("identity", "null", {""});
  (*invocation.mutable_input_refs())[0] = Ref("in/gone", "1");
  FakeLambdaRuntimeApi::Post post = Serve(invocation, &store);
  EXPECT_EQ(post.error_type, kTaskFailedPermanently);
  EXPECT_THAT(ParseError(post.body).error_message(),
              HasSubstr("cannot read input #0 from mem://fake key 'in/gone'"));
}

TEST_F(LambdaRuntimeTest, ACorruptInputIsRetryable) {
  FakeObjectStore store;
  ASSERT_TRUE(store.Put("in/a", "41", kJsonContentType).ok());
  v1::LambdaInvocation invocation = Invocation("identity", "null", {""});
  (*invocation.mutable_input_refs())[0] = Ref("in/a", "40");
  FakeLambdaRuntimeApi::Post post = Serve(invocation, &store);
  EXPECT_EQ(post.error_type, kTaskFailed);
  EXPECT_THAT(ParseError(post.body).error_message(), HasSubstr("CRC-32C"));
}

TEST_F(LambdaRuntimeTest, AnUnavailableStoreIsRetryable) {
  FakeObjectStore store;
  store.FailNext(absl::UnavailableError("503 SlowDown"));
  v1::LambdaInvocation invocation = Invocation("identity", "null", {""});
  (*invocation.mutable_input_refs())[0] = Ref("in/a", "40");
  FakeLambdaRuntimeApi::Post post = Serve(invocation, &store);
  EXPECT_EQ(post.error_type, kTaskFailed);
  EXPECT_THAT(ParseError(post.body).error_message(), HasSubstr("503 SlowDown"));
}

TEST_F(LambdaRuntimeTest, AnInputByReferenceWithoutAStoreFailsForGood) {
  v1::LambdaInvocation invocation = Invocation("identity", "null", {""});
  (*invocation.mutable_input_refs())[0] = Ref("in/a", "40");
  FakeLambdaRuntimeApi::Post post = Serve(invocation);
  EXPECT_EQ(post.error_type, kTaskFailedPermanently);
  EXPECT_THAT(ParseError(post.body).error_message(),
              HasSubstr("has none: set DAGD_S3_BUCKET"));
}

// A const task whose output is `size` bytes of JSON.
v1::LambdaInvocation BigOutput(size_t size) {
  std::string text(size - 2, 'x');
  return Invocation("const", absl::StrCat(R"({"value": ")", text, R"("})"));
}

TEST_F(LambdaRuntimeTest, AnOversizeOutputGoesToTheStore) {
  FakeObjectStore store;
  v1::LambdaInvocation invocation = BigOutput(100);
  invocation.set_inline_max_bytes(99);
  invocation.mutable_output_ref()->set_bucket(kBucket);
  invocation.mutable_output_ref()->set_key("out/j1/3/2");
  options_.store_bucket = kBucket;
  FakeLambdaRuntimeApi::Post post = Serve(invocation, &store);
  ASSERT_EQ(post.error_type, "") << post.body;
  v1::LambdaResult result = ParseResult(post.body);
  EXPECT_TRUE(result.result().ok());
  EXPECT_EQ(result.result().output().data(), "");
  std::optional<StoredObject> stored = store.Find("out/j1/3/2");
  ASSERT_TRUE(stored.has_value());
  EXPECT_EQ(stored->data.size(), 100u);
  EXPECT_EQ(stored->content_type, kJsonContentType);
  EXPECT_EQ(result.output_ref().bucket(), kBucket);
  EXPECT_EQ(result.output_ref().key(), "out/j1/3/2");
  EXPECT_EQ(result.output_ref().size(), 100u);
  EXPECT_EQ(result.output_ref().crc32c(), crc32c::Value(stored->data));
  EXPECT_EQ(result.output_ref().content_type(), kJsonContentType);
}

TEST_F(LambdaRuntimeTest, AnOutputAtTheLimitStaysInline) {
  FakeObjectStore store;
  v1::LambdaInvocation invocation = BigOutput(100);
  invocation.set_inline_max_bytes(100);
  invocation.mutable_output_ref()->set_bucket(kBucket);
  invocation.mutable_output_ref()->set_key("out/k");
  FakeLambdaRuntimeApi::Post post = Serve(invocation, &store);
  EXPECT_EQ(ParseResult(post.body).result().output().data().size(), 100u);
  EXPECT_FALSE(store.Find("out/k").has_value());
}

TEST_F(LambdaRuntimeTest, AnOversizeOutputWithoutAStoreFailsForGood) {
  v1::LambdaInvocation invocation = BigOutput(100);
  invocation.set_inline_max_bytes(10);
  invocation.mutable_output_ref()->set_bucket(kBucket);
  invocation.mutable_output_ref()->set_key("out/k");
  FakeLambdaRuntimeApi::Post post = Serve(invocation);
  EXPECT_EQ(post.error_type, kTaskFailedPermanently);
  EXPECT_THAT(ParseError(post.body).error_message(),
              HasSubstr("the output (100 bytes, over the inline limit of 10 "
                        "bytes) goes through the object store"));

  // Nor when dagd itself has no store to name.
  FakeObjectStore store;
  invocation.clear_output_ref();
  post = Serve(invocation, &store);
  EXPECT_EQ(post.error_type, kTaskFailedPermanently);
  EXPECT_THAT(ParseError(post.body).error_message(),
              HasSubstr("output_ref is empty"));
}

TEST_F(LambdaRuntimeTest, ARefToAnotherBucketFailsForGood) {
  FakeObjectStore store;
  options_.store_bucket = "other-bucket";
  v1::LambdaInvocation invocation = BigOutput(100);
  invocation.set_inline_max_bytes(10);
  invocation.mutable_output_ref()->set_bucket(kBucket);
  invocation.mutable_output_ref()->set_key("out/k");
  FakeLambdaRuntimeApi::Post post = Serve(invocation, &store);
  EXPECT_EQ(post.error_type, kTaskFailedPermanently);
  EXPECT_THAT(ParseError(post.body).error_message(),
              HasSubstr("is in bucket 'dagd-results'"));
}

TEST_F(LambdaRuntimeTest, AFailedPutIsRetryableWhenTheStoreSaysSo) {
  FakeObjectStore store;
  store.FailNext(absl::UnavailableError("connection reset"));
  v1::LambdaInvocation invocation = BigOutput(100);
  invocation.set_inline_max_bytes(10);
  invocation.mutable_output_ref()->set_bucket(kBucket);
  invocation.mutable_output_ref()->set_key("out/k");
  FakeLambdaRuntimeApi::Post post = Serve(invocation, &store);
  EXPECT_EQ(post.error_type, kTaskFailed);
  EXPECT_THAT(ParseError(post.body).error_message(),
              HasSubstr("cannot write the output"));

  store.FailNext(absl::PermissionDeniedError("AccessDenied"));
  post = Serve(invocation, &store);
  EXPECT_EQ(post.error_type, kTaskFailedPermanently);
}

// Lambda answers 413 to a response over its payload limit; the invocation
// then gets an error saying why, instead of no answer.
TEST_F(LambdaRuntimeTest, AResponseLambdaRefusesAsTooLargeBecomesAnError) {
  fake_->set_max_response_bytes(50);
  FakeLambdaRuntimeApi::Post post = Serve(BigOutput(100));
  std::vector<FakeLambdaRuntimeApi::Post> posts = fake_->posts();
  ASSERT_EQ(posts.size(), 2u);
  EXPECT_EQ(posts[0].path, "/invocation/req-1/response");
  EXPECT_EQ(post.path, "/invocation/req-1/error");
  EXPECT_EQ(post.error_type, kTaskFailedPermanently);
  EXPECT_THAT(ParseError(post.body).error_message(),
              HasSubstr("more than Lambda accepts as a response"));
}

TEST_F(LambdaRuntimeTest, RunServesUntilTheRuntimeApiFails) {
  fake_->Enqueue({"a", 0, ToJson(Invocation("const", R"({"value": 1})"))});
  fake_->Enqueue({"b", 0, ToJson(Invocation("const", R"({"value": 2})"))});
  LambdaRuntime runtime(options_, api_.get(), &runtimes_, nullptr, &clock_,
                        Logger());
  std::thread stopper([&] {
    EXPECT_TRUE(fake_->WaitForPosts(2, kWait));
    fake_->Shutdown();
  });
  absl::Status status = runtime.Run();
  stopper.join();
  EXPECT_TRUE(absl::IsUnavailable(status)) << status;
  EXPECT_THAT(status.message(), HasSubstr("HTTP 500"));
  std::vector<FakeLambdaRuntimeApi::Post> posts = fake_->posts();
  ASSERT_EQ(posts.size(), 2u);
  EXPECT_EQ(posts[0].path, "/invocation/a/response");
  EXPECT_EQ(posts[1].path, "/invocation/b/response");
}

TEST_F(LambdaRuntimeTest, AnUnreachableRuntimeApiEndsRun) {
  fake_.reset();  // nothing listens there now
  LambdaRuntime runtime(options_, api_.get(), &runtimes_, nullptr, &clock_,
                        Logger());
  absl::Status status = runtime.Run();
  EXPECT_TRUE(absl::IsUnavailable(status)) << status;
  EXPECT_THAT(status.message(), HasSubstr("cannot reach the Lambda Runtime"));
}

TEST(LambdaErrorJsonTest, QuotesTheMessage) {
  EXPECT_EQ(LambdaErrorJson({"TaskFailed", "say \"hi\"\n"}),
            R"({"errorType":"TaskFailed","errorMessage":"say \"hi\"\n"})");
}

}  // namespace
}  // namespace dagd
