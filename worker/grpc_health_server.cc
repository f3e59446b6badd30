#include "worker/grpc_health_server.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "grpcpp/health_check_service_interface.h"
#include "grpcpp/security/server_credentials.h"
#include "grpcpp/server_builder.h"

namespace dagd {

absl::StatusOr<std::unique_ptr<GrpcHealthServer>> GrpcHealthServer::Start(
    const std::string& listen) {
  // Process-wide, but only read by ServerBuilder::BuildAndStart: the
  // worker's only server is this one.
  grpc::EnableDefaultHealthCheckService(true);
  auto unknown = std::make_unique<grpc::CallbackGenericService>();
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort(listen, grpc::InsecureServerCredentials(), &port);
  builder.RegisterCallbackGenericService(unknown.get());
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (server == nullptr || port == 0) {
    return absl::UnavailableError(
        absl::StrCat("cannot serve gRPC health on '", listen,
                     "' (is it host:port, and is the port free?)"));
  }
  if (server->GetHealthCheckService() == nullptr) {
    return absl::InternalError("gRPC built no default health service");
  }
  auto health = std::unique_ptr<GrpcHealthServer>(
      new GrpcHealthServer(std::move(unknown), std::move(server), port));
  health->SetServing(false);
  return health;
}

GrpcHealthServer::GrpcHealthServer(
    std::unique_ptr<grpc::CallbackGenericService> unknown,
    std::unique_ptr<grpc::Server> server, int port)
    : unknown_(std::move(unknown)), server_(std::move(server)), port_(port) {}

GrpcHealthServer::~GrpcHealthServer() {
  server_->Shutdown(absl::ToChronoTime(absl::Now() + absl::Seconds(1)));
}

void GrpcHealthServer::SetServing(bool serving) {
  server_->GetHealthCheckService()->SetServingStatus(serving);
}

}  // namespace dagd
