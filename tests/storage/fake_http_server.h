// A tiny HTTP/1.1 server on 127.0.0.1 for tests that stand in for an AWS
// endpoint (the ECS credentials endpoint, instance metadata) or capture
// what a client sends. One connection at a time, "Connection: close".
#ifndef DAGD_TESTS_STORAGE_FAKE_HTTP_SERVER_H_
#define DAGD_TESTS_STORAGE_FAKE_HTTP_SERVER_H_

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"

namespace dagd::testing {

struct FakeHttpRequest {
  std::string method;
  std::string target;                          // path and query, as sent
  std::map<std::string, std::string> headers;  // names lower-cased
  std::string body;

  // The header's value, or "" (name in lower case).
  std::string Header(const std::string& name) const {
    auto it = headers.find(name);
    return it == headers.end() ? "" : it->second;
  }
};

struct FakeHttpResponse {
  int status = 200;
  std::string body;
  std::string content_type = "application/json";
};

// A port on 127.0.0.1 that nothing listens on (bound, then closed), for
// "connection refused".
int UnusedLocalPort();

class FakeHttpServer {
 public:
  // Called on the server's thread, one request at a time.
  using Handler = std::function<FakeHttpResponse(const FakeHttpRequest&)>;

  // Listens on 127.0.0.1 on a free port and serves until destroyed.
  static absl::StatusOr<std::unique_ptr<FakeHttpServer>> Start(Handler handler);
  ~FakeHttpServer();
  FakeHttpServer(const FakeHttpServer&) = delete;
  FakeHttpServer& operator=(const FakeHttpServer&) = delete;

  int port() const { return port_; }
  std::string url() const;  // "http://127.0.0.1:PORT"
  // Every request served so far, in order.
  std::vector<FakeHttpRequest> requests() const;

 private:
  FakeHttpServer(int listen_fd, int stop_fd, int port, Handler handler);
  void Serve();
  void ServeConnection(int fd);

  const int listen_fd_;
  const int stop_fd_;  // an eventfd; written to stop Serve()
  const int port_;
  const Handler handler_;
  mutable absl::Mutex mu_;
  std::vector<FakeHttpRequest> requests_ ABSL_GUARDED_BY(mu_);
  std::thread thread_;  // runs Serve()
};

}  // namespace dagd::testing

#endif  // DAGD_TESTS_STORAGE_FAKE_HTTP_SERVER_H_
