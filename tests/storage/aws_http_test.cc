#include "storage/aws_http.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/storage/fake_http_server.h"

namespace dagd {
namespace {

using ::dagd::testing::FakeHttpRequest;
using ::dagd::testing::FakeHttpResponse;
using ::dagd::testing::FakeHttpServer;
using ::testing::HasSubstr;

TEST(AwsHttpTest, ReturnsAnyStatusWithBodyAndHeaders) {
  auto server = FakeHttpServer::Start([](const FakeHttpRequest& r) {
    return FakeHttpResponse{404, "no " + r.target, "text/plain"};
  });
  ASSERT_TRUE(server.ok());
  HttpRequest request;
  request.url = (*server)->url() + "/x";
  request.headers = {"X-Test: yes"};
  absl::StatusOr<HttpResponse> response = SendHttpRequest(request);
  ASSERT_TRUE(response.ok()) << response.status();
  EXPECT_EQ(response->status, 404);
  EXPECT_EQ(response->body, "no /x");
  EXPECT_EQ(response->Header("Content-Type"), "text/plain");
  EXPECT_EQ((*server)->requests().at(0).Header("x-test"), "yes");
}

TEST(AwsHttpTest, PutSendsBodyWithDefaultContentType) {
  auto server = FakeHttpServer::Start(
      [](const FakeHttpRequest&) { return FakeHttpResponse{}; });
  ASSERT_TRUE(server.ok());
  std::string body(3 << 20, 'b');  // large enough for Expect: 100-continue
  HttpRequest request;
  request.method = "PUT";
  request.url = (*server)->url() + "/obj";
  request.body = body;
  ASSERT_TRUE(SendHttpRequest(request).ok());
  FakeHttpRequest got = (*server)->requests().at(0);
  EXPECT_EQ(got.method, "PUT");
  EXPECT_EQ(got.body, body);
  EXPECT_EQ(got.Header("content-type"), "application/octet-stream");
}

TEST(AwsHttpTest, UnreachableServerIsUnavailable) {
  HttpRequest request;
  request.url = absl::StrCat(
      "http://127.0.0.1:", ::dagd::testing::UnusedLocalPort(), "/");
  absl::Time start = absl::Now();
  absl::StatusOr<HttpResponse> response = SendHttpRequest(request);
  EXPECT_EQ(response.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(response.status().message(), HasSubstr("127.0.0.1"));
  EXPECT_LT(absl::Now() - start, absl::Seconds(2));
}

TEST(AwsHttpTest, RejectsBadRequests) {
  HttpRequest request;
  request.url = "ftp://127.0.0.1/";
  EXPECT_EQ(SendHttpRequest(request).status().code(),
            absl::StatusCode::kInvalidArgument);
  request.url = "http://127.0.0.1:1/";
  request.body = "body";
  EXPECT_EQ(SendHttpRequest(request).status().code(),
            absl::StatusCode::kInvalidArgument);  // GET with a body
}

}  // namespace
}  // namespace dagd
