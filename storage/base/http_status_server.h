// A small HTTP server for operators: GET /metrics serves a Prometheus
// collectable in the text exposition format, GET /healthz answers 200 "ok"
// while a health callback says so and 503 "unavailable" otherwise. Nothing
// in it is specific to the worker, so the coordinator can serve the same
// pages the same way.
#ifndef DAGD_STORAGE_BASE_HTTP_STATUS_SERVER_H_
#define DAGD_STORAGE_BASE_HTTP_STATUS_SERVER_H_

#include <functional>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "prometheus/collectable.h"

struct mg_context;
struct mg_connection;

namespace dagd {

// Requests are served on civetweb's threads; `metrics` and `healthy` must
// be thread-safe. Stopped (and its threads joined) by the destructor.
class HttpStatusServer {
 public:
  // Listens on `listen` ("host:port"; port 0 picks a free port). A bad
  // address or a port in use is INVALID_ARGUMENT or UNAVAILABLE, naming
  // the address. `metrics` is held weakly: once it is gone, /metrics serves
  // an empty page.
  static absl::StatusOr<std::unique_ptr<HttpStatusServer>> Start(
      const std::string& listen, std::weak_ptr<prometheus::Collectable> metrics,
      std::function<bool()> healthy);

  ~HttpStatusServer();
  HttpStatusServer(const HttpStatusServer&) = delete;
  HttpStatusServer& operator=(const HttpStatusServer&) = delete;

  // The bound port (the chosen one when asked for port 0).
  int port() const { return port_; }

 private:
  HttpStatusServer(std::weak_ptr<prometheus::Collectable> metrics,
                   std::function<bool()> healthy);
  static int HandleMetrics(mg_connection* connection, void* self);
  static int HandleHealth(mg_connection* connection, void* self);

  // Constant after Start.
  const std::weak_ptr<prometheus::Collectable> metrics_;
  const std::function<bool()> healthy_;
  mg_context* context_ = nullptr;
  int port_ = 0;
};

// "host:port" to civetweb's listening_ports syntax ("[::1]:80" stays as
// is). INVALID_ARGUMENT when there is no port or it is not a number.
absl::StatusOr<std::string> CivetListeningPort(const std::string& listen);

}  // namespace dagd

#endif  // DAGD_STORAGE_BASE_HTTP_STATUS_SERVER_H_
