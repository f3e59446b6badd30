#include "storage/base/http_status_server.h"

#include <arpa/inet.h>
#include <civetweb.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "prometheus/text_serializer.h"
#include "storage/base/civetweb_tls.h"
#include "storage/base/host_port.h"

namespace dagd {
namespace {

void Respond(mg_connection* connection, int code, const char* reason,
             const char* content_type, const std::string& body) {
  mg_printf(connection,
            "HTTP/1.1 %d %s\r\n"
            "Content-Type: %s\r\n"
            "Content-Length: %zu\r\n"
            "Cache-Control: no-store\r\n"
            "Connection: close\r\n\r\n",
            code, reason, content_type, body.size());
  const mg_request_info* request = mg_get_request_info(connection);
  bool head = request != nullptr && request->request_method != nullptr &&
              std::string(request->request_method) == "HEAD";
  if (!head) mg_write(connection, body.data(), body.size());
}

bool IsGetOrHead(mg_connection* connection) {
  const mg_request_info* request = mg_get_request_info(connection);
  if (request == nullptr || request->request_method == nullptr) return false;
  std::string method = request->request_method;
  return method == "GET" || method == "HEAD";
}

// Opens and closes a connection to the local port (a no-op when nothing
// listens on the loopback address).
void WakeAcceptLoop(int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  close(fd);
}

// HttpExchange on a civetweb connection.
class CivetExchange : public HttpExchange {
 public:
  CivetExchange(mg_connection* connection, const std::atomic<bool>& stopping)
      : connection_(connection), stopping_(stopping) {}

  void Respond(int code, absl::string_view content_type,
               absl::string_view body) override {
    code_ = code;
    mg_printf(connection_,
              "HTTP/1.1 %d %s\r\n"
              "Content-Type: %.*s\r\n"
              "Content-Length: %zu\r\n"
              "Cache-Control: no-store\r\n"
              "X-Content-Type-Options: nosniff\r\n"
              // No other site may frame the dashboard's pages, whose
              // buttons cancel jobs, and trick a signed-in user into them.
              "X-Frame-Options: DENY\r\n"
              "Content-Security-Policy: frame-ancestors 'none'\r\n"
              "Connection: close\r\n\r\n",
              code, mg_get_response_code_text(connection_, code),
              static_cast<int>(content_type.size()), content_type.data(),
              body.size());
    if (!IsHead()) mg_write(connection_, body.data(), body.size());
  }

  bool StartEventStream() override {
    code_ = 200;
    // No Content-Length: the body ends when either side closes.
    return mg_printf(connection_,
                     "HTTP/1.1 200 OK\r\n"
                     "Content-Type: text/event-stream\r\n"
                     "Cache-Control: no-store\r\n"
                     "X-Accel-Buffering: no\r\n"
                     "Connection: close\r\n\r\n") > 0;
  }

  bool Write(absl::string_view data) override {
    return mg_write(connection_, data.data(), data.size()) ==
           static_cast<int>(data.size());
  }

  bool ServerRunning() const override { return !stopping_.load(); }

  int code() const { return code_; }

 private:
  bool IsHead() const {
    const mg_request_info* request = mg_get_request_info(connection_);
    return request != nullptr && request->request_method != nullptr &&
           std::string(request->request_method) == "HEAD";
  }

  mg_connection* const connection_;
  const std::atomic<bool>& stopping_;
  int code_ = 500;
};

}  // namespace

std::string HttpRequest::Header(absl::string_view name) const {
  for (const auto& [key, value] : headers) {
    if (absl::EqualsIgnoreCase(key, name)) return value;
  }
  return "";
}

absl::StatusOr<std::string> CivetListeningPort(const std::string& listen) {
  const std::optional<int> port = ListenPort(listen);
  if (!port) {
    return absl::InvalidArgumentError(absl::StrCat(
        "'", listen, "' is not host:port (e.g. 127.0.0.1:9471 or 0.0.0.0:0)"));
  }
  // civetweb takes "1.2.3.4:80", "[::1]:80", or a bare port for every
  // address; "0.0.0.0:80" and ":80" mean every IPv4 address.
  if (listen.rfind(':') == 0) return std::to_string(*port);
  return listen;
}

HttpStatusServer::HttpStatusServer(
    std::weak_ptr<prometheus::Collectable> metrics,
    std::function<bool()> healthy, HttpHandler handler)
    : metrics_(std::move(metrics)),
      healthy_(std::move(healthy)),
      handler_(std::move(handler)) {}

absl::StatusOr<std::unique_ptr<HttpStatusServer>> HttpStatusServer::Start(
    const std::string& listen, std::weak_ptr<prometheus::Collectable> metrics,
    std::function<bool()> healthy) {
  return Start(listen, std::move(metrics), std::move(healthy),
               HttpServerOptions());
}

absl::StatusOr<std::unique_ptr<HttpStatusServer>> HttpStatusServer::Start(
    const std::string& listen, std::weak_ptr<prometheus::Collectable> metrics,
    std::function<bool()> healthy, HttpServerOptions http_options) {
  absl::StatusOr<std::string> ports = CivetListeningPort(listen);
  if (!ports.ok()) return ports.status();
  if (http_options.threads < 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        "the HTTP server needs at least 1 thread, not ", http_options.threads));
  }
  std::unique_ptr<HttpStatusServer> server(new HttpStatusServer(
      std::move(metrics), std::move(healthy), std::move(http_options.handler)));
  const bool tls = !http_options.tls_cert.empty();
  if (tls != !http_options.tls_key.empty()) {
    return absl::InvalidArgumentError(
        "HTTPS needs both a certificate and its key (--tls_cert and "
        "--tls_key)");
  }
  // Feature 2: HTTPS (civetweb built without NO_SSL).
  if (tls && mg_check_feature(2) == 0) {
    return absl::UnavailableError(
        absl::StrCat("cannot serve HTTPS on ", listen,
                     ": this civetweb was built without TLS (NO_SSL)"));
  }
  if (tls) {
    if (absl::Status s = PrepareCivetwebTls(); !s.ok()) {
      return absl::UnavailableError(
          absl::StrCat("cannot serve HTTPS on ", listen, ": ", s.message()));
    }
  }
  server->tls_cert_ = http_options.tls_cert;
  server->tls_key_ = http_options.tls_key;
  // A port with the suffix "s" is HTTPS only.
  const std::string listening = tls ? *ports + "s" : *ports;
  const std::string threads = std::to_string(http_options.threads);
  std::vector<const char*> options = {"listening_ports",    listening.c_str(),
                                      "num_threads",        threads.c_str(),
                                      "request_timeout_ms", "10000"};
  // 4: TLS 1.2 and later.
  if (tls) options.insert(options.end(), {"ssl_protocol_version", "4"});
  options.push_back(nullptr);
  mg_callbacks callbacks = {};
  // Keep civetweb's own messages off stderr: failures come back as status.
  callbacks.log_message = [](const mg_connection*, const char*) { return 1; };
  if (tls) callbacks.init_ssl = &HttpStatusServer::InitTls;
  mg_init_data init = {&callbacks, server.get(), options.data()};
  char error_text[256] = {};
  unsigned error_code = 0;
  mg_error_data error = {&error_code, error_text, sizeof(error_text)};
  server->context_ = mg_start2(&init, &error);
  if (server->context_ == nullptr) {
    if (!server->tls_error_.empty()) {
      return absl::InvalidArgumentError(server->tls_error_);
    }
    return absl::UnavailableError(absl::StrCat(
        "cannot serve ", tls ? "HTTPS" : "HTTP", " on ", listen, ": ",
        error_text[0] != '\0' ? error_text : "civetweb failed"));
  }
  mg_server_port bound[4] = {};
  if (mg_get_server_ports(server->context_, 4, bound) < 1) {
    return absl::InternalError(
        absl::StrCat("HTTP server on ", listen, " reports no bound port"));
  }
  server->port_ = bound[0].port;
  mg_set_request_handler(server->context_, "/metrics$", &HandleMetrics,
                         server.get());
  mg_set_request_handler(server->context_, "/healthz$", &HandleHealth,
                         server.get());
  if (server->handler_) {
    // Registered last: civetweb tries the more specific patterns above
    // before this prefix of every path.
    mg_set_request_handler(server->context_, "/", &HandleOther, server.get());
  }
  return server;
}

HttpStatusServer::~HttpStatusServer() {
  if (context_ == nullptr) return;
  stopping_ = true;
  // civetweb's accept loop polls in 2 s quanta and only then sees the stop
  // flag. Connecting to it while it stops ends the wait at once, so a
  // stopping process does not hang for up to 2 s.
  std::atomic<bool> stopped{false};
  std::thread stopper([&] {
    mg_stop(context_);
    stopped = true;
  });
  while (!stopped) {
    WakeAcceptLoop(port_);
    absl::SleepFor(absl::Milliseconds(20));
  }
  stopper.join();
}

int HttpStatusServer::InitTls(void* ssl_context, void* self) {
  auto* server = static_cast<HttpStatusServer*>(self);
  auto* context = static_cast<SSL_CTX*>(ssl_context);
  auto fail = [&](absl::string_view what) {
    char reason[256] = "no reason given";
    if (unsigned long code = ERR_get_error(); code != 0) {
      ERR_error_string_n(code, reason, sizeof(reason));
    }
    ERR_clear_error();
    server->tls_error_ = absl::StrCat(what, ": ", reason);
    return -1;
  };
  if (SSL_CTX_use_certificate_chain_file(context, server->tls_cert_.c_str()) !=
      1) {
    return fail(absl::StrCat("--tls_cert '", server->tls_cert_,
                             "' is not a readable PEM certificate chain"));
  }
  if (SSL_CTX_use_PrivateKey_file(context, server->tls_key_.c_str(),
                                  SSL_FILETYPE_PEM) != 1) {
    return fail(absl::StrCat("--tls_key '", server->tls_key_,
                             "' is not a readable PEM private key"));
  }
  if (SSL_CTX_check_private_key(context) != 1) {
    return fail(absl::StrCat("--tls_key '", server->tls_key_,
                             "' is not the key of --tls_cert '",
                             server->tls_cert_, "'"));
  }
  return 1;  // set up: civetweb loads no certificate of its own
}

int HttpStatusServer::HandleMetrics(mg_connection* connection, void* self) {
  auto* server = static_cast<HttpStatusServer*>(self);
  if (!IsGetOrHead(connection)) {
    Respond(connection, 405, "Method Not Allowed", "text/plain", "use GET\n");
    return 405;
  }
  std::string body;
  if (std::shared_ptr<prometheus::Collectable> metrics =
          server->metrics_.lock()) {
    body = prometheus::TextSerializer().Serialize(metrics->Collect());
  }
  Respond(connection, 200, "OK", "text/plain; version=0.0.4; charset=utf-8",
          body);
  return 200;
}

int HttpStatusServer::HandleHealth(mg_connection* connection, void* self) {
  auto* server = static_cast<HttpStatusServer*>(self);
  if (!IsGetOrHead(connection)) {
    Respond(connection, 405, "Method Not Allowed", "text/plain", "use GET\n");
    return 405;
  }
  if (server->healthy_()) {
    Respond(connection, 200, "OK", "text/plain", "ok");
    return 200;
  }
  Respond(connection, 503, "Service Unavailable", "text/plain", "unavailable");
  return 503;
}

int HttpStatusServer::HandleOther(mg_connection* connection, void* self) {
  auto* server = static_cast<HttpStatusServer*>(self);
  const mg_request_info* info = mg_get_request_info(connection);
  HttpRequest request;
  if (info != nullptr) {
    if (info->request_method != nullptr) request.method = info->request_method;
    if (info->local_uri != nullptr) request.path = info->local_uri;
    if (info->query_string != nullptr) request.query = info->query_string;
    for (int i = 0; i < info->num_headers; ++i) {
      const mg_header& header = info->http_headers[i];
      if (header.name == nullptr || header.value == nullptr) continue;
      request.headers.emplace_back(header.name, header.value);
    }
  }
  CivetExchange exchange(connection, server->stopping_);
  server->handler_(request, exchange);
  return exchange.code();
}

}  // namespace dagd
