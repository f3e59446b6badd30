// A small HTTP server for operators: GET /metrics serves a Prometheus
// collectable in the text exposition format, GET /healthz answers 200 "ok"
// while a health callback says so and 503 "unavailable" otherwise. Nothing
// in it is specific to the worker, so the coordinator can serve the same
// pages the same way. Every other path can go to one more handler (dagd's
// dashboard), which sees a plain request and answers through HttpExchange,
// so that it never touches civetweb.
#ifndef DAGD_STORAGE_BASE_HTTP_STATUS_SERVER_H_
#define DAGD_STORAGE_BASE_HTTP_STATUS_SERVER_H_

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "prometheus/collectable.h"

struct mg_context;
struct mg_connection;

namespace dagd {

// A request for a path other than /metrics and /healthz.
struct HttpRequest {
  std::string method;  // "GET", "POST", ...
  std::string path;    // decoded, without the query string
  std::string query;   // raw, after '?'; empty when there is none
  // The request's headers, names as the client spelled them.
  std::vector<std::pair<std::string, std::string>> headers;

  // The value of header `name` (any case), or empty.
  std::string Header(absl::string_view name) const;
};

// How a handler answers, on the server thread that called it. Either one
// Respond, or StartEventStream and then any number of Writes.
class HttpExchange {
 public:
  virtual ~HttpExchange() = default;
  virtual void Respond(int code, absl::string_view content_type,
                       absl::string_view body) = 0;
  // Sends the headers of a text/event-stream response (server-sent events,
  // kept open, never cached). False when the client is already gone.
  virtual bool StartEventStream() = 0;
  // False once the client is gone (or stopped reading for longer than the
  // server's write timeout): the handler returns.
  virtual bool Write(absl::string_view data) = 0;
  // False once the server is stopping: a handler that streams returns
  // within a moment of it, or the stop waits for it.
  virtual bool ServerRunning() const = 0;
};

// Runs on a server thread and may block it (an event stream holds it for
// as long as it is open), so `HttpServerOptions::threads` must leave
// threads free for /healthz beyond what long handlers may hold.
using HttpHandler = std::function<void(const HttpRequest&, HttpExchange&)>;

struct HttpServerOptions {
  // civetweb serves each connection on one of a fixed number of threads.
  int threads = 2;
  // Every path but /metrics and /healthz; null: 404.
  HttpHandler handler;
  // PEM files: the certificate chain the server presents and its private
  // key. Both set: the port serves HTTPS only (TLS 1.2 or later), plain
  // HTTP on it fails; both empty: plain HTTP.
  std::string tls_cert;
  std::string tls_key;
};

// Requests are served on civetweb's threads; `metrics` and `healthy` must
// be thread-safe. Stopped (and its threads joined) by the destructor.
class HttpStatusServer {
 public:
  // Listens on `listen` ("host:port"; port 0 picks a free port). A bad
  // address or a port in use is INVALID_ARGUMENT or UNAVAILABLE, naming
  // the address. With TLS files, a file that cannot be read or a key that
  // does not match its certificate is INVALID_ARGUMENT naming them, and a
  // civetweb built without TLS (or OpenSSL that cannot be loaded for it,
  // civetweb_tls.h) is UNAVAILABLE saying so. `metrics` is held weakly: once it
  // is gone, /metrics serves an empty page.
  static absl::StatusOr<std::unique_ptr<HttpStatusServer>> Start(
      const std::string& listen, std::weak_ptr<prometheus::Collectable> metrics,
      std::function<bool()> healthy);
  static absl::StatusOr<std::unique_ptr<HttpStatusServer>> Start(
      const std::string& listen, std::weak_ptr<prometheus::Collectable> metrics,
      std::function<bool()> healthy, HttpServerOptions options);

  ~HttpStatusServer();
  HttpStatusServer(const HttpStatusServer&) = delete;
  HttpStatusServer& operator=(const HttpStatusServer&) = delete;

  // The bound port (the chosen one when asked for port 0).
  int port() const { return port_; }

 private:
  HttpStatusServer(std::weak_ptr<prometheus::Collectable> metrics,
                   std::function<bool()> healthy, HttpHandler handler);
  static int HandleMetrics(mg_connection* connection, void* self);
  static int HandleHealth(mg_connection* connection, void* self);
  static int HandleOther(mg_connection* connection, void* self);
  // civetweb's init_ssl: loads the certificate and key into its SSL_CTX.
  static int InitTls(void* ssl_context, void* self);

  // Constant after Start.
  const std::weak_ptr<prometheus::Collectable> metrics_;
  const std::function<bool()> healthy_;
  const HttpHandler handler_;
  std::string tls_cert_;
  std::string tls_key_;
  std::string tls_error_;  // why InitTls failed, during Start
  mg_context* context_ = nullptr;
  int port_ = 0;
  // Set when the stop begins, before civetweb waits for its threads.
  std::atomic<bool> stopping_{false};
};

// "host:port" to civetweb's listening_ports syntax ("[::1]:80" stays as
// is). INVALID_ARGUMENT when there is no port or it is not a number.
absl::StatusOr<std::string> CivetListeningPort(const std::string& listen);

}  // namespace dagd

#endif  // DAGD_STORAGE_BASE_HTTP_STATUS_SERVER_H_
