// Lambda's answers to Invoke read into an attempt's result or a retry
// (server/lambda_response.h).
#include "server/lambda_response.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace dagd {
namespace {

using ::testing::HasSubstr;

InvokeResponse Answer(long status, std::string body,  // NOLINT(runtime/int)
                      std::vector<std::string> headers = {}) {
  InvokeResponse response;
  response.status = status;
  response.body = std::move(body);
  for (const std::string& line : headers) ReadInvokeHeader(line, &response);
  return response;
}

// What dagd stores and sends: protobuf refuses to read back a string field
// that is not UTF-8.
bool SurvivesTheWire(const v1::TaskResult& result) {
  v1::TaskResult back;
  return back.ParseFromString(result.SerializeAsString());
}

TEST(ReadInvokeHeaderTest, TakesItsHeadersInAnyCase) {
  InvokeResponse response;
  for (const char* line :
       {"HTTP/1.1 200 OK\r\n", "x-AMZ-function-error:  Unhandled \r\n",
        "X-Amzn-ErrorType: TooManyRequestsException\r\n", "Retry-After: 3\r\n",
        "X-Other: 1\r\n", "no colon\r\n"}) {
    ReadInvokeHeader(line, &response);
  }
  EXPECT_EQ(response.function_error, "Unhandled");
  EXPECT_EQ(response.error_type, "TooManyRequestsException");
  EXPECT_EQ(response.retry_after, "3");
}

TEST(ReadInvokeResponseTest, ThrottlingAndServerErrorsAreRetried) {
  InvokeOutcome outcome = ReadInvokeResponse(
      Answer(429, "{}",
             {"X-Amzn-ErrorType: TooManyRequestsException", "Retry-After: 3"}),
      "fn");
  EXPECT_TRUE(outcome.retry);
  EXPECT_EQ(outcome.retry_after, absl::Seconds(3));
  EXPECT_EQ(outcome.retry_reason, "HTTP 429 TooManyRequestsException");
  outcome = ReadInvokeResponse(Answer(502, ""), "fn");
  EXPECT_TRUE(outcome.retry);
  EXPECT_EQ(outcome.retry_after, absl::ZeroDuration());
}

// Found by reading what tests/fuzz/lambda_responses_fuzzer.cc checks: a
// Retry-After of 2^63-1 seconds put the retry past the end of time, and
// the attempt never ended.
TEST(ReadInvokeResponseTest, RetryAfterIsBounded) {
  const InvokeOutcome outcome = ReadInvokeResponse(
      Answer(503, "", {"Retry-After: 9223372036854775807"}), "fn");
  EXPECT_TRUE(outcome.retry);
  EXPECT_EQ(outcome.retry_after, kMaxRetryAfter);
}

TEST(ReadInvokeResponseTest, RefusedCallsFailForGood) {
  const InvokeOutcome outcome = ReadInvokeResponse(
      Answer(404, R"({"message":"Function not found"})",
             {"X-Amzn-ErrorType: ResourceNotFoundException"}),
      "fn-x");
  EXPECT_FALSE(outcome.retry);
  EXPECT_TRUE(outcome.result.permanent());
  EXPECT_EQ(outcome.result.error(),
            "Lambda refused the invocation of 'fn-x': HTTP 404 "
            "ResourceNotFoundException: {\"message\":\"Function not found\"}");
}

TEST(ReadInvokeResponseTest, FunctionErrorsFailTheAttempt) {
  InvokeOutcome outcome = ReadInvokeResponse(
      Answer(200,
             R"({"errorType":"TaskFailedPermanently","errorMessage":"no"})",
             {"X-Amz-Function-Error: Handled"}),
      "fn");
  EXPECT_FALSE(outcome.result.ok());
  EXPECT_TRUE(outcome.result.permanent());
  EXPECT_EQ(outcome.result.error(), "TaskFailedPermanently: no");
  outcome = ReadInvokeResponse(
      Answer(200, "Runtime exited", {"X-Amz-Function-Error: Unhandled"}), "fn");
  EXPECT_FALSE(outcome.result.permanent());
  EXPECT_EQ(outcome.result.error(), "Unhandled: Runtime exited");
}

TEST(ReadInvokeResponseTest, TheFunctionsResultWithItsPayload) {
  const InvokeOutcome outcome = ReadInvokeResponse(
      Answer(200, R"({"result": {"ok": true, "output": {"data": "NDI=",
                      "contentType": "application/json"}}, "outputRef": null,
                      "newerField": 1})"),
      "fn");
  EXPECT_FALSE(outcome.retry);
  EXPECT_TRUE(outcome.result.ok());
  EXPECT_EQ(outcome.result.output().data(), "42");
  EXPECT_EQ(outcome.result.output().content_type(), "application/json");
  const InvokeOutcome other = ReadInvokeResponse(
      Answer(200, R"({"statusCode": 200, "body": "hi"})"), "fn");
  EXPECT_FALSE(other.result.ok());
  EXPECT_THAT(other.result.error(),
              HasSubstr("answered something that is not a dagd result"));
}

// Found by tests/fuzz/lambda_responses_fuzzer.cc: text of the answer went
// into the result as it was, and a result with a string that is not UTF-8
// does not survive the wire: the task's stored status and every answer
// about it could not be read back.
TEST(ReadInvokeResponseTest, EveryStringIsValidUtf8) {
  InvokeOutcome outcome = ReadInvokeResponse(
      Answer(200, "Traceback \xff\xfe", {"X-Amz-Function-Error: Unhandled"}),
      "fn");
  EXPECT_TRUE(SurvivesTheWire(outcome.result));
  EXPECT_EQ(outcome.result.error(),
            "Unhandled: Traceback \xef\xbf\xbd\xef\xbf\xbd");
  // Not UTF-8 inside the JSON: not a dagd result, quoted as text.
  outcome = ReadInvokeResponse(
      Answer(200, "{\"result\": {\"ok\": true, \"error\": \"\xe2\x82\"}}"),
      "fn");
  EXPECT_FALSE(outcome.result.ok());
  EXPECT_TRUE(SurvivesTheWire(outcome.result));
  outcome = ReadInvokeResponse(Answer(403, "\x80"), "fn");
  EXPECT_TRUE(SurvivesTheWire(outcome.result));
  outcome =
      ReadInvokeResponse(Answer(500, "", {"X-Amzn-ErrorType: Bad\xff"}), "fn");
  EXPECT_EQ(outcome.retry_reason, "HTTP 500 Bad\xef\xbf\xbd");
}

}  // namespace
}  // namespace dagd
