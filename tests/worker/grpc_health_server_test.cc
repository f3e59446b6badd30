#include "worker/grpc_health_server.h"

#include <memory>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "health.grpc.pb.h"

namespace dagd {
namespace {

using ::grpc::health::v1::HealthCheckResponse;
using ::testing::HasSubstr;

HealthCheckResponse::ServingStatus Check(int port) {
  auto channel = grpc::CreateChannel(absl::StrCat("127.0.0.1:", port),
                                     grpc::InsecureChannelCredentials());
  auto stub = grpc::health::v1::Health::NewStub(channel);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() +
                       std::chrono::seconds(10));
  grpc::health::v1::HealthCheckRequest request;
  HealthCheckResponse response;
  grpc::Status status = stub->Check(&context, request, &response);
  EXPECT_TRUE(status.ok()) << status.error_message();
  return response.status();
}

TEST(GrpcHealthServerTest, StartsNotServingAndFollowsSetServing) {
  auto server = GrpcHealthServer::Start("127.0.0.1:0");
  ASSERT_TRUE(server.ok()) << server.status();
  int port = (*server)->port();
  ASSERT_GT(port, 0);
  EXPECT_EQ(Check(port), HealthCheckResponse::NOT_SERVING);
  (*server)->SetServing(true);
  EXPECT_EQ(Check(port), HealthCheckResponse::SERVING);
  (*server)->SetServing(false);
  EXPECT_EQ(Check(port), HealthCheckResponse::NOT_SERVING);
}

TEST(GrpcHealthServerTest, ABadAddressNamesIt) {
  auto server = GrpcHealthServer::Start("127.0.0.1:notaport");
  ASSERT_FALSE(server.ok());
  EXPECT_EQ(server.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(server.status().message(), HasSubstr("'127.0.0.1:notaport'"));
}

}  // namespace
}  // namespace dagd
