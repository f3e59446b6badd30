// The dashboard's JSON API: routes a request under /api/ to the
// coordinator (through a DashboardSource, in process) and the task cache,
// and answers JSON. Bad input (an unknown job, a bad page token, an
// unknown state or parameter) is a 4xx whose JSON names the field; the
// coordinator's errors keep their meaning (NOT_FOUND is 404, ...).
//
// Every request comes with its caller (Dashboard authenticated it), scoped
// as JobService scopes it: the jobs list holds the caller's tenant's jobs
// only (an admin's: every tenant's); another tenant's job, its graph,
// stream, tasks and cancel are 404 exactly as an unknown job; a cancel
// needs the submit role (403).
//
//   GET  /api/jobs?state=S&page_size=N&page_token=T   newest first
//   GET  /api/jobs/ID                                 one job's status
//   GET  /api/jobs/ID/graph                           nodes or groups
//   GET  /api/jobs/ID/stream                          attempts as bars
//   GET  /api/jobs/ID/tasks?state=S&page_size=N&page_token=T
//   POST /api/jobs/ID/cancel    with header X-Requested-By: dagd-dashboard
//   GET  /api/workers
// (The event streams, /api/events and /api/jobs/ID/events, are served by
// DashboardHttp from the LiveHub.)
#ifndef DAGD_SERVER_DASHBOARD_DASHBOARD_API_H_
#define DAGD_SERVER_DASHBOARD_DASHBOARD_API_H_

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "server/auth/principal.h"
#include "server/dashboard/dashboard_auth.h"
#include "server/dashboard/dashboard_source.h"
#include "server/dashboard/task_cache.h"
#include "storage/base/http_status_server.h"

namespace dagd {

// What a request that changes something must carry. A browser sends a
// custom header across origins only after a CORS preflight, which dagd
// never grants: so another site open in the same browser cannot cancel a
// job through the user's access to dagd's port.
inline constexpr absl::string_view kRequestedByHeader = "X-Requested-By";
inline constexpr absl::string_view kRequestedByDashboard = "dagd-dashboard";

struct ApiResponse {
  int code = 200;
  std::string body;  // JSON
};

// Decoded query parameters, in order. INVALID_ARGUMENT naming a parameter
// that is not in `known` or is given twice.
absl::StatusOr<std::vector<std::pair<std::string, std::string>>> ParseQuery(
    absl::string_view query, const std::vector<absl::string_view>& known);

// Thread-safe: Handle runs on the HTTP server's threads and blocks its
// caller while the coordinator answers (never the coordinator itself).
class DashboardApi {
 public:
  struct Options {
    absl::Duration timeout = absl::Seconds(30);
    uint32_t default_page_size = 100;
    uint32_t max_page_size = 1000;
    // A state filter on /api/jobs reads at most this many jobs per answer.
    uint32_t max_jobs_scanned = 5000;
    // The task stream shows at most this many attempts, the latest.
    size_t max_bars = 2000;
  };

  // Not owned; outlive the API.
  DashboardApi(DashboardSource* source, TaskCache* tasks, JobAccess* access,
               Options options);

  // `request` as `caller` asks it.
  ApiResponse Handle(const HttpRequest& request, const Principal& caller);

 private:
  ApiResponse ListJobs(absl::string_view query, const Principal& caller);
  ApiResponse GetJob(const std::string& job_id, const Principal& caller);
  ApiResponse Graph(const std::string& job_id);
  ApiResponse Stream(const std::string& job_id);
  ApiResponse Tasks(const std::string& job_id, absl::string_view query,
                    const Principal& caller);
  ApiResponse Cancel(const Principal& caller, const std::string& job_id);
  ApiResponse Workers();

  DashboardSource* const source_;
  TaskCache* const tasks_;
  JobAccess* const access_;
  const Options options_;
};

// An error answer: `status`'s HTTP code and a JSON body naming `field`.
ApiResponse ErrorResponse(const absl::Status& status, absl::string_view field);

// For a path that takes no query parameters: 400 naming the first one
// given (a mistyped parameter is refused, not ignored); nullopt for none.
std::optional<ApiResponse> RefuseParameters(absl::string_view query);

// 405: `request`'s method is not the one its path takes, `allowed`.
ApiResponse WrongMethod(const HttpRequest& request, absl::string_view allowed);

}  // namespace dagd

#endif  // DAGD_SERVER_DASHBOARD_DASHBOARD_API_H_
