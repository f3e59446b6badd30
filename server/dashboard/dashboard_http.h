// dagd's dashboard over HTTP: the pages at / (embedded assets), the JSON
// API under /api/ (DashboardApi) and the event streams (LiveHub), as one
// HttpHandler for the server that also serves /metrics and /healthz.
//
// Each open event stream holds one HTTP server thread for as long as it is
// open. The hub refuses streams past its limit (429 with a JSON error), and
// the server is sized with kReservedHttpThreads beyond that limit, so
// /healthz, /metrics and the API always have threads.
#ifndef DAGD_SERVER_DASHBOARD_DASHBOARD_HTTP_H_
#define DAGD_SERVER_DASHBOARD_DASHBOARD_HTTP_H_

#include <memory>

#include "server/dashboard/dashboard_api.h"
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
  // `source` and `clock` are not owned and outlive the dashboard.
  Dashboard(DashboardSource* source, Clock* clock, DashboardOptions options);

  // What the HTTP server runs for every path but /metrics and /healthz.
  HttpHandler Handler();
  // The server threads that serve the dashboard with its stream limit.
  int HttpThreads() const {
    return static_cast<int>(options_.live.max_streams) + kReservedHttpThreads;
  }

  void Serve(const HttpRequest& request, HttpExchange& exchange);
  // Ends the event streams; call before the source stops answering.
  void Stop() { live_.Stop(); }

 private:
  void ServeJobEvents(const std::string& job_id, HttpExchange& exchange);
  void ServeJobsEvents(HttpExchange& exchange);
  // Writes the stream's messages until its last one, the page goes away
  // or the server stops.
  void Pump(LiveStream& stream, HttpExchange& exchange);

  const DashboardOptions options_;
  Clock* const clock_;
  TaskCache tasks_;
  DashboardApi api_;
  LiveHub live_;
};

}  // namespace dagd

#endif  // DAGD_SERVER_DASHBOARD_DASHBOARD_HTTP_H_
