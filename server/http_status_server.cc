#include "server/http_status_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <exception>
#include <thread>
#include <utility>

#include "CivetServer.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "prometheus/text_serializer.h"

namespace dagd {
namespace {

void Reply(mg_connection* conn, int code, const char* reason,
           const char* content_type, const std::string& body) {
  const std::string head = absl::StrCat(
      "HTTP/1.1 ", code, " ", reason, "\r\nContent-Type: ", content_type,
      "\r\nContent-Length: ", body.size(), "\r\nConnection: close\r\n\r\n");
  mg_write(conn, head.data(), head.size());
  mg_write(conn, body.data(), body.size());
}

// Opens and closes a connection to the local port.
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

}  // namespace

class HttpStatusServer::MetricsHandler : public CivetHandler {
 public:
  explicit MetricsHandler(std::shared_ptr<prometheus::Registry> registry)
      : registry_(std::move(registry)) {}
  bool handleGet(CivetServer*, mg_connection* conn) override {
    Reply(conn, 200, "OK", "text/plain; version=0.0.4; charset=utf-8",
          prometheus::TextSerializer().Serialize(registry_->Collect()));
    return true;
  }

 private:
  const std::shared_ptr<prometheus::Registry> registry_;
};

class HttpStatusServer::HealthHandler : public CivetHandler {
 public:
  explicit HealthHandler(std::function<bool()> healthy)
      : healthy_(std::move(healthy)) {}
  bool handleGet(CivetServer*, mg_connection* conn) override {
    if (healthy_()) {
      Reply(conn, 200, "OK", "text/plain", "ok\n");
    } else {
      Reply(conn, 503, "Service Unavailable", "text/plain", "unavailable\n");
    }
    return true;
  }

 private:
  const std::function<bool()> healthy_;
};

HttpStatusServer::HttpStatusServer() = default;

HttpStatusServer::~HttpStatusServer() {
  if (server_ == nullptr) return;
  // civetweb's accept loop polls in 2 s quanta and only then sees the stop
  // flag. Connecting to it while it stops ends the wait at once, so a
  // stopping process does not hang for up to 2 s.
  std::atomic<bool> stopped{false};
  std::thread stopper([&] {
    server_->close();
    stopped = true;
  });
  while (!stopped) {
    WakeAcceptLoop(port_);
    absl::SleepFor(absl::Milliseconds(20));
  }
  stopper.join();
  server_.reset();  // stops serving before the handlers go
}

absl::StatusOr<std::unique_ptr<HttpStatusServer>> HttpStatusServer::Start(
    const std::string& address, std::shared_ptr<prometheus::Registry> registry,
    std::function<bool()> healthy) {
  std::unique_ptr<HttpStatusServer> server(new HttpStatusServer());
  server->metrics_ = std::make_unique<MetricsHandler>(std::move(registry));
  server->health_ = std::make_unique<HealthHandler>(std::move(healthy));
  try {
    server->server_ = std::make_unique<CivetServer>(std::vector<std::string>{
        "listening_ports", address, "num_threads", "2"});
  } catch (const std::exception& e) {
    return absl::UnavailableError(
        absl::StrCat("cannot serve HTTP on '", address, "': ", e.what()));
  }
  server->server_->addHandler("/metrics", server->metrics_.get());
  server->server_->addHandler("/healthz", server->health_.get());
  std::vector<int> ports = server->server_->getListeningPorts();
  server->port_ = ports.empty() ? 0 : ports.front();
  return server;
}

}  // namespace dagd
