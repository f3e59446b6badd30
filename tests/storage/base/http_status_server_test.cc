#include "storage/base/http_status_server.h"

#include <atomic>
#include <memory>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "prometheus/counter.h"
#include "prometheus/registry.h"
#include "tests/testutil/http_get.h"

namespace dagd {
namespace {

using ::testing::HasSubstr;

class HttpStatusServerTest : public testing::Test {
 protected:
  void SetUp() override {
    prometheus::BuildCounter()
        .Name("test_things_total")
        .Help("things")
        .Register(*registry_)
        .Add({{"kind", "a"}})
        .Increment(3);
    auto server = HttpStatusServer::Start("127.0.0.1:0", registry_,
                                          [this] { return healthy_.load(); });
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
  }

  std::shared_ptr<prometheus::Registry> registry_ =
      std::make_shared<prometheus::Registry>();
  std::atomic<bool> healthy_{true};
  std::unique_ptr<HttpStatusServer> server_;
};

TEST_F(HttpStatusServerTest, PicksAPortAndServesMetrics) {
  ASSERT_GT(server_->port(), 0);
  HttpReply reply = HttpGet(server_->port(), "/metrics");
  EXPECT_EQ(reply.code, 200);
  EXPECT_THAT(reply.body, HasSubstr("# TYPE test_things_total counter"));
  EXPECT_THAT(reply.body, HasSubstr(R"(test_things_total{kind="a"} 3)"));
}

TEST_F(HttpStatusServerTest, HealthzFollowsTheCallback) {
  HttpReply healthy = HttpGet(server_->port(), "/healthz");
  EXPECT_EQ(healthy.code, 200);
  EXPECT_EQ(healthy.body, "ok");
  healthy_ = false;
  HttpReply unhealthy = HttpGet(server_->port(), "/healthz");
  EXPECT_EQ(unhealthy.code, 503);
  EXPECT_EQ(unhealthy.body, "unavailable");
}

TEST_F(HttpStatusServerTest, OtherPathsAreNotFound) {
  EXPECT_EQ(HttpGet(server_->port(), "/").code, 404);
  EXPECT_EQ(HttpGet(server_->port(), "/metricsx").code, 404);
}

TEST_F(HttpStatusServerTest, ServesEmptyMetricsOnceTheRegistryIsGone) {
  registry_.reset();
  HttpReply reply = HttpGet(server_->port(), "/metrics");
  EXPECT_EQ(reply.code, 200);
  EXPECT_EQ(reply.body, "");
}

TEST_F(HttpStatusServerTest, APortInUseNamesTheAddress) {
  std::string listen = absl::StrCat("127.0.0.1:", server_->port());
  auto second = HttpStatusServer::Start(listen, registry_, [] { return true; });
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(second.status().message(),
              HasSubstr(absl::StrCat("cannot serve HTTP on ", listen)));
}

// A server with one more handler: it echoes what it was asked, or holds an
// event stream open until the server stops.
class HandlerTest : public testing::Test {
 protected:
  void SetUp() override {
    HttpServerOptions options;
    options.threads = 2;
    options.handler = [this](const HttpRequest& request,
                             HttpExchange& exchange) {
      if (request.path == "/stream") {
        ASSERT_TRUE(exchange.StartEventStream());
        exchange.Write("event: hello\ndata: {}\n\n");
        streaming_.Notify();
        while (exchange.ServerRunning()) absl::SleepFor(absl::Milliseconds(5));
        stream_ended_ = true;
        return;
      }
      exchange.Respond(
          418, "text/plain",
          absl::StrCat(request.method, " ", request.path, " ", request.query));
    };
    auto server = HttpStatusServer::Start(
        "127.0.0.1:0", registry_, [] { return true; }, std::move(options));
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
  }

  std::shared_ptr<prometheus::Registry> registry_ =
      std::make_shared<prometheus::Registry>();
  std::unique_ptr<HttpStatusServer> server_;
  absl::Notification streaming_;
  std::atomic<bool> stream_ended_{false};
};

TEST_F(HandlerTest, OtherPathsGoToTheHandlerHealthzAndMetricsDoNot) {
  HttpReply reply = HttpGet(server_->port(), "/api/jobs?state=FAILED");
  EXPECT_EQ(reply.code, 418);
  EXPECT_EQ(reply.body, "GET /api/jobs state=FAILED");
  EXPECT_EQ(HttpGet(server_->port(), "/").body, "GET / ");
  EXPECT_EQ(HttpGet(server_->port(), "/healthz").body, "ok");
  EXPECT_EQ(HttpGet(server_->port(), "/metrics").code, 200);
}

// The dashboard's pages cannot be framed by another site (clickjacking its
// buttons).
TEST_F(HandlerTest, TheHandlersAnswersForbidFraming) {
  HttpReply reply = HttpGet(server_->port(), "/");
  EXPECT_THAT(reply.head, testing::HasSubstr("\r\nX-Frame-Options: DENY"));
  EXPECT_THAT(reply.head,
              testing::HasSubstr(
                  "\r\nContent-Security-Policy: frame-ancestors 'none'"));
}

TEST_F(HandlerTest, AStreamHoldsOneThreadAndEndsWhenTheServerStops) {
  std::thread client([port = server_->port()] {
    // Read until the server closes the stream.
    HttpGet(port, "/stream");
  });
  EXPECT_TRUE(streaming_.WaitForNotificationWithTimeout(absl::Seconds(10)));
  // The second of the two threads still answers.
  EXPECT_EQ(HttpGet(server_->port(), "/healthz").body, "ok");
  server_.reset();
  EXPECT_TRUE(stream_ended_);
  client.join();
}

TEST_F(HttpStatusServerTest, TlsFilesThatCannotServeAreRefusedNamingTheFlag) {
  HttpServerOptions half;
  half.tls_cert = "/nonexistent/cert.pem";
  auto refused = HttpStatusServer::Start(
      "127.0.0.1:0", registry_, [] { return true; }, half);
  EXPECT_TRUE(absl::IsInvalidArgument(refused.status())) << refused.status();
  EXPECT_THAT(std::string(refused.status().message()),
              ::testing::HasSubstr("--tls_key"));
  HttpServerOptions missing = half;
  missing.tls_key = "/nonexistent/key.pem";
  refused = HttpStatusServer::Start(
      "127.0.0.1:0", registry_, [] { return true; }, missing);
  EXPECT_TRUE(absl::IsInvalidArgument(refused.status())) << refused.status();
  EXPECT_THAT(std::string(refused.status().message()),
              ::testing::HasSubstr("--tls_cert '/nonexistent/cert.pem'"));
}

TEST(CivetListeningPortTest, AcceptsHostPortForms) {
  EXPECT_EQ(*CivetListeningPort("127.0.0.1:9471"), "127.0.0.1:9471");
  EXPECT_EQ(*CivetListeningPort(":9471"), "9471");
  EXPECT_EQ(*CivetListeningPort("[::1]:0"), "[::1]:0");
}

TEST(CivetListeningPortTest, RejectsAMissingOrBadPort) {
  for (const char* bad :
       {"localhost", "127.0.0.1:http", "127.0.0.1:70000", "127.0.0.1:-1", ""}) {
    auto port = CivetListeningPort(bad);
    ASSERT_FALSE(port.ok()) << bad;
    EXPECT_EQ(port.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(port.status().message(), HasSubstr("is not host:port"));
  }
}

}  // namespace
}  // namespace dagd
