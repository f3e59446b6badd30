#include "server/audit.h"

#include "server/log.h"

namespace dagd {

void Audit(const Principal& caller, absl::string_view action,
           absl::string_view job_id, const absl::Status& status) {
  LOG(INFO).Job(job_id) << "audit: " << action << " by " << caller.name
                        << " (tenant '" << caller.tenant
                        << "'): " << (status.ok() ? "done" : status.ToString());
}

}  // namespace dagd
