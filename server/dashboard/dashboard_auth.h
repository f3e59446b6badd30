// Who is asking the dashboard, and which jobs they may see: the dashboard's
// side of dagd's identities (server/auth), with JobService's rules.
//
//   - A request's token comes from its "Authorization: Bearer TOKEN"
//     header, else from the cookie `dagd_token` (a page cannot set headers
//     on an EventSource, so the page keeps its token in that cookie).
//   - Another tenant's job is NOT_FOUND, with the very answer an unknown
//     job gets; admins see every tenant's jobs.
//   - Changing a job (cancel) needs the submit role: PERMISSION_DENIED.
#ifndef DAGD_SERVER_DASHBOARD_DASHBOARD_AUTH_H_
#define DAGD_SERVER_DASHBOARD_DASHBOARD_AUTH_H_

#include <optional>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "server/auth/principal.h"
#include "server/dashboard/dashboard_source.h"
#include "storage/base/http_status_server.h"

namespace dagd {

// The cookie the page stores its token in.
inline constexpr absl::string_view kTokenCookie = "dagd_token";

// What Authenticator::Authenticate should read for `request`: its
// Authorization header when it is "Bearer ..."; else "Bearer " and the
// `dagd_token` cookie (percent-decoded); else the header of another scheme
// (a proxy's, which the cookie outranks); nullopt when it carries neither.
std::optional<std::string> RequestAuthorization(const HttpRequest& request);

// The value of cookie `name` in a Cookie header ("a=1; b=2"), undecoded;
// nullopt when it is not there.
std::optional<std::string> CookieValue(absl::string_view header,
                                       absl::string_view name);

// Whether a Host header names an address (an IP literal, or localhost,
// with or without a port) rather than a name: without tokens the API
// answers only those, for a web site whose own name a DNS server points
// at this port (DNS rebinding) is, to the browser, that site, and could
// read and cancel jobs. An empty header (HTTP/1.0) counts as one.
bool HostIsAnAddress(absl::string_view host);

// OK when `caller` has `needed`; else PERMISSION_DENIED saying who has
// which role and what `action` needs (as JobService words it).
absl::Status NeedRole(const Principal& caller, Role needed,
                      absl::string_view action);

// Whether a caller may see a job, asking the coordinator the job's tenant
// (GetJob) once and remembering it: a job's tenant never changes, so a page
// that reads a job's graph, stream and tasks every second costs the
// coordinator nothing more for it. At most `max_jobs` tenants are kept;
// when full, all are forgotten at once.
//
// Thread-safe; Check blocks its caller (a dashboard HTTP thread) while the
// coordinator answers.
class JobAccess {
 public:
  // `source` is not owned and outlives this.
  JobAccess(DashboardSource* source, absl::Duration timeout,
            size_t max_jobs = 20000);

  // OK when `caller` sees job `job_id`. Another tenant's job is
  // NoJobError(job_id), exactly what an unknown job is; an unknown job is
  // the coordinator's NOT_FOUND. Admins are not checked (what they ask
  // for next answers for an unknown job).
  absl::Status Check(const Principal& caller, const std::string& job_id);
  // Records a tenant read elsewhere (a GetJob the API made anyway).
  void Remember(const std::string& job_id, const std::string& tenant);

  // GetJob calls made to learn tenants (for tests).
  size_t lookups() const;

 private:
  DashboardSource* const source_;
  const absl::Duration timeout_;
  const size_t max_jobs_;
  mutable absl::Mutex mu_;
  absl::flat_hash_map<std::string, std::string> tenants_ ABSL_GUARDED_BY(mu_);
  size_t lookups_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace dagd

#endif  // DAGD_SERVER_DASHBOARD_DASHBOARD_AUTH_H_
