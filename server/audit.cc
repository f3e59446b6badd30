#include "server/audit.h"

#include "absl/strings/escaping.h"
#include "server/log.h"

namespace dagd {

void Audit(const Principal& caller, absl::string_view action,
           absl::string_view job_id, const absl::Status& status) {
  // The id as the caller wrote it (a URL's, decoded): escaped, so that a
  // newline in it cannot forge a line of the audit log.
  LOG(INFO).Job(absl::CHexEscape(job_id))
      << "audit: " << action << " by " << caller.name << " (tenant '"
      << caller.tenant << "'): " << (status.ok() ? "done" : status.ToString());
}

}  // namespace dagd
