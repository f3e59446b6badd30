// dagd's dashboard over HTTP: the pages at / (embedded assets), the JSON
// API under /api/ (DashboardApi) and the event streams (LiveHub), as one
// HttpHandler for the server that also serves /metrics and /healthz.
//
// Every request under /api/ (event streams too) is authenticated first,
// from its "Authorization: Bearer TOKEN" header or its `dagd_token` cookie
// (dashboard_auth.h): without a listed token it is a 401 with a JSON
// error (with --tokens_file; without one everyone is OpenAccess(), as over
// gRPC). The pages' static files need no token: they hold no data.
// GET /api/whoami answers who the caller is (WhoamiJson).
//
// Each open event stream holds one HTTP server thread for as long as it is
// open. The hub refuses streams past its limit (429 with a JSON error), and
// the server is sized with kReservedHttpThreads beyond that limit, so
// /healthz, /metrics and the API always have threads.
#ifndef DAGD_SERVER_DASHBOARD_DASHBOARD_HTTP_H_
#define DAGD_SERVER_DASHBOARD_DASHBOARD_HTTP_H_

#include <atomic>
#include <memory>

#include "server/auth/authenticator.h"
#include "server/dashboard/dashboard_api.h"
#include "server/dashboard/dashboard_auth.h"
#include "server/dashboard/dashboard_source.h"
#include "server/dashboard/live_hub.h"
#include "server/dashboard/task_cache.h"
#include "storage/base/clock.h"
#include "storage/base/http_status_server.h"

namespace dagd {

// Threads of the HTTP server that event streams never take.
inline constexpr int kReservedHttpThreads = 4;

struct DashboardOptions {
  LiveHub::Options live;
  TaskCache::Options tasks;
  DashboardApi::Options api;
  // How long a job stream waits for the coordinator's first answer before
  // it opens anyway (so that an unknown job is a 404, not an open stream).
  absl::Duration first_event_wait = absl::Seconds(5);
  // A comment line keeps idle streams (and proxies) from timing out, and
  // finds pages that went away.
  absl::Duration keepalive = absl::Seconds(15);
};

// Owns the dashboard's parts. Must outlive the HTTP server it is handed to
// (whose threads hold its streams): declare it first.
class Dashboard {
 public:
  // `source`, `authenticator` and `clock` are not owned and outlive the
  // dashboard.
  Dashboard(DashboardSource* source, const Authenticator* authenticator,
            Clock* clock, DashboardOptions options);

  // What the HTTP server runs for every path but /metrics and /healthz.
  HttpHandler Handler();
  // The server threads that serve the dashboard with its stream limit.
  int HttpThreads() const {
    return static_cast<int>(options_.live.max_streams) + kReservedHttpThreads;
  }

  void Serve(const HttpRequest& request, HttpExchange& exchange);
  // Ends the event streams, and answers every later API request 503 at
  // once: call before the source stops answering (a request posted to a
  // stopped coordinator would wait out its timeout, and hold dagd's exit).
  void Stop() {
    stopped_.store(true);
    live_.Stop();
  }

 private:
  void ServeApi(const HttpRequest& request, HttpExchange& exchange);
  void ServeJobEvents(const std::string& job_id, const Principal& caller,
                      const HttpRequest& request, HttpExchange& exchange);
  void ServeJobsEvents(const Principal& caller, const HttpRequest& request,
                       HttpExchange& exchange);
  // Writes the stream's messages until its last one, the page goes away,
  // the server stops, or the request's token no longer names `caller`
  // (taken off --tokens_file and SIGHUP: the page reconnects, and is
  // refused).
  void Pump(LiveStream& stream, const Principal& caller,
            const HttpRequest& request, HttpExchange& exchange);

  const DashboardOptions options_;
  const Authenticator* const authenticator_;
  Clock* const clock_;
  JobAccess access_;
  TaskCache tasks_;
  DashboardApi api_;
  LiveHub live_;
  std::atomic<bool> stopped_{false};
};

}  // namespace dagd

#endif  // DAGD_SERVER_DASHBOARD_DASHBOARD_HTTP_H_
