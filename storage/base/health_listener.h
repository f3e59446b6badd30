// A plain-HTTP listener that answers GET /healthz and nothing else, on one
// thread of its own that waits on no client: connections are read as their
// bytes arrive (poll), each gets at most kReadTimeout to send its request,
// and at most kMaxConnections are open at once (a new one closes the
// oldest). Slow or idle clients of the main HTTP port (civetweb, a thread
// per connection) can hold every one of its threads; they cannot keep this
// listener from answering an orchestrator's probe.
//
// Thread rules: `healthy` is called on the listener's thread and must be
// thread-safe. Stopped (and its thread joined) by the destructor.
#ifndef DAGD_STORAGE_BASE_HEALTH_LISTENER_H_
#define DAGD_STORAGE_BASE_HEALTH_LISTENER_H_

#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace dagd {

class HealthListener {
 public:
  static constexpr int kMaxConnections = 64;
  static constexpr absl::Duration kReadTimeout = absl::Seconds(2);

  // Listens on `listen` ("host:port"; port 0 picks a free port).
  // INVALID_ARGUMENT for an address that does not parse, UNAVAILABLE for
  // one that cannot be bound, naming it. GET /healthz answers 200 "ok"
  // while `healthy()`, else 503 "unavailable"; other paths 404.
  static absl::StatusOr<std::unique_ptr<HealthListener>> Start(
      const std::string& listen, std::function<bool()> healthy);

  ~HealthListener();
  HealthListener(const HealthListener&) = delete;
  HealthListener& operator=(const HealthListener&) = delete;

  int port() const { return port_; }

 private:
  HealthListener(int listen_fd, int wake_fd, int port,
                 std::function<bool()> healthy);
  void Run();

  const int listen_fd_;
  const int wake_fd_;  // an eventfd: written to stop
  const int port_;
  const std::function<bool()> healthy_;
  std::thread thread_;
};

}  // namespace dagd

#endif  // DAGD_STORAGE_BASE_HEALTH_LISTENER_H_
