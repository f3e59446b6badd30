// A gRPC server offering only the standard health service
// (grpc.health.v1.Health, service name ""), for platforms that probe over
// gRPC (Kubernetes' grpc probe). It starts NOT_SERVING.
#ifndef DAGD_WORKER_GRPC_HEALTH_SERVER_H_
#define DAGD_WORKER_GRPC_HEALTH_SERVER_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "grpcpp/generic/async_generic_service.h"
#include "grpcpp/server.h"

namespace dagd {

// Thread-safe. Shut down by the destructor.
class GrpcHealthServer {
 public:
  // Listens on `listen` ("host:port"; port 0 picks a free port).
  // UNAVAILABLE names the address when it cannot listen there.
  static absl::StatusOr<std::unique_ptr<GrpcHealthServer>> Start(
      const std::string& listen);
  ~GrpcHealthServer();
  GrpcHealthServer(const GrpcHealthServer&) = delete;
  GrpcHealthServer& operator=(const GrpcHealthServer&) = delete;

  void SetServing(bool serving);
  int port() const { return port_; }

 private:
  GrpcHealthServer(std::unique_ptr<grpc::CallbackGenericService> unknown,
                   std::unique_ptr<grpc::Server> server, int port);

  // Answers UNIMPLEMENTED to every other method; gRPC refuses to build a
  // server without one service of its own besides health.
  const std::unique_ptr<grpc::CallbackGenericService> unknown_;
  const std::unique_ptr<grpc::Server> server_;
  const int port_;
};

}  // namespace dagd

#endif  // DAGD_WORKER_GRPC_HEALTH_SERVER_H_
