// S3's error answers read into statuses (storage/s3_errors.h).
#include "storage/s3_errors.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "storage/base/logging.h"

namespace dagd {
namespace {

using ::testing::HasSubstr;

HttpResponse Answer(long status, std::string body) {  // NOLINT(runtime/int)
  HttpResponse response;
  response.status = status;
  response.body = std::move(body);
  return response;
}

TEST(S3XmlElementTest, FirstElementWithEntitiesDecoded) {
  EXPECT_EQ(S3XmlElement("<Error><Message>a &lt;b&gt; &amp;amp; &quot;c&apos;"
                         "</Message><Message>no</Message></Error>",
                         "Message"),
            "a <b> &amp; \"c'");
  EXPECT_EQ(S3XmlElement("<Code>NoSuchKey", "Code"), "");
  EXPECT_EQ(S3XmlElement("", "Code"), "");
}

TEST(S3ErrorStatusTest, CodeMapsToAStatusCallersActOn) {
  absl::Status status = S3ErrorStatus(
      "GET", "s3://b/k",
      Answer(404,
             "<Error><Code>NoSuchKey</Code><Message>The specified key "
             "does not exist.</Message></Error>"));
  EXPECT_EQ(status.code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(status.message(),
            "S3 GET s3://b/k: HTTP 404 NoSuchKey: The specified key does not "
            "exist.");
  EXPECT_EQ(S3ErrorStatus("PUT", "s3://b/k",
                          Answer(503, "<Error><Code>SlowDown</Code></Error>"))
                .code(),
            absl::StatusCode::kUnavailable);
  EXPECT_EQ(S3ErrorStatus("PUT", "s3://b/k", Answer(502, "<html>proxy</html>"))
                .code(),
            absl::StatusCode::kUnavailable);
}

TEST(S3ErrorStatusTest, HeadersHintsAndEndpoints) {
  HttpResponse head = Answer(404, "");
  head.headers.emplace_back("x-amz-error-code", "NoSuchBucket");
  absl::Status status = S3ErrorStatus("HEAD", "s3://b/k", head);
  EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(status.message(),
              HasSubstr("NoSuchBucket (create the bucket or fix its name)"));
  status = S3ErrorStatus(
      "GET", "s3://b/k",
      Answer(301,
             "<Error><Code>PermanentRedirect</Code><Endpoint>b.s3.eu-"
             "west-1.amazonaws.com</Endpoint></Error>"));
  EXPECT_THAT(status.message(),
              HasSubstr("[endpoint b.s3.eu-west-1.amazonaws.com] (the bucket "
                        "is in another region"));
}

// Found by tests/fuzz/s3_responses_fuzzer.cc: the message quoted the body's
// bytes as they were. It becomes a task's error (a protobuf string field,
// which takes only UTF-8): a worker's report carrying it could not be read
// by dagd, and was sent again on every reconnection.
TEST(S3ErrorStatusTest, MessageIsValidUtf8WhateverTheBody) {
  const absl::Status status = S3ErrorStatus(
      "PUT", "s3://b/k",
      Answer(400,
             "<Error><Code>Bad\xff</Code><Message>cut \xe2\x82</Message>"
             "</Error>"));
  const std::string message(status.message());
  EXPECT_EQ(ValidUtf8(message), message);
  EXPECT_THAT(message, HasSubstr("HTTP 400 Bad\xef\xbf\xbd: cut \xef\xbf\xbd"));
}

}  // namespace
}  // namespace dagd
