#include "server/audit.h"

#include <string>

#include "absl/strings/escaping.h"
#include "server/control_chars.h"
#include "server/log.h"

namespace dagd {

void Audit(const Principal& caller, absl::string_view action,
           absl::string_view job_id, const absl::Status& status) {
  // The id as the caller wrote it (a URL's, decoded) is escaped, and so is
  // the outcome, which may quote it (a NOT_FOUND names the id): a newline
  // in either cannot forge a line of the audit log.
  LOG(INFO).Job(absl::CHexEscape(job_id))
      << "audit: " << action << " by " << caller.name << " (tenant '"
      << caller.tenant << "'): "
      << (status.ok() ? std::string("done")
                      : EscapedIfControl(status.ToString()));
}

}  // namespace dagd
