#ifndef DAGD_SERVER_AUDIT_H_
#define DAGD_SERVER_AUDIT_H_

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "server/auth/principal.h"

namespace dagd {

// The audit log's line for `action` (submit, cancel, delete) on job
// `job_id` by `caller`, refused or done: one per request, whichever way
// it came (JobService or the dashboard).
void Audit(const Principal& caller, absl::string_view action,
           absl::string_view job_id, const absl::Status& status);

}  // namespace dagd

#endif  // DAGD_SERVER_AUDIT_H_
