#ifndef DAGD_SERVER_HTTP_STATUS_SERVER_H_
#define DAGD_SERVER_HTTP_STATUS_SERVER_H_

#include <functional>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "prometheus/registry.h"

class CivetServer;

namespace dagd {

// The HTTP side a process shows to operators: GET /metrics (the registry in
// Prometheus text format) and GET /healthz (200 "ok" while `healthy()` is
// true, else 503 "unavailable"), for platforms that only probe HTTP.
// Requests are served on the HTTP server's own threads; `healthy` must be
// thread-safe and must not block.
class HttpStatusServer {
 public:
  // `address` is host:port; port 0 picks a free one.
  static absl::StatusOr<std::unique_ptr<HttpStatusServer>> Start(
      const std::string& address,
      std::shared_ptr<prometheus::Registry> registry,
      std::function<bool()> healthy);
  ~HttpStatusServer();

  int port() const { return port_; }

 private:
  class MetricsHandler;
  class HealthHandler;

  HttpStatusServer();

  // Handlers outlive the server that calls them: declared first.
  std::unique_ptr<MetricsHandler> metrics_;
  std::unique_ptr<HealthHandler> health_;
  std::unique_ptr<CivetServer> server_;
  int port_ = 0;
};

}  // namespace dagd

#endif  // DAGD_SERVER_HTTP_STATUS_SERVER_H_
