#include "storage/meta_store.h"

#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "proto/states.h"

namespace dagd {
namespace {}  // namespace

absl::StatusOr<JobDeletion> MetaReadView::PlanJobDeletion(uint64_t seq) {
  const std::string job_id = JobIdFromSeq(seq);
  absl::StatusOr<v1::JobStatus> status = GetJobStatus(seq);
  if (absl::IsNotFound(status.status())) {
    return absl::NotFoundError(absl::StrCat("no job '", job_id, "'"));
  }
  if (!status.ok()) return status.status();
  if (!IsFinal(status->state())) {
    return absl::FailedPreconditionError(absl::StrCat(
        "job '", job_id, "' is ",
        absl::StripPrefix(v1::JobState_Name(status->state()), "JOB_"),
        ": only a finished job can be deleted"));
  }
  JobDeletion deletion;
  deletion.seq = seq;
  deletion.total_tasks = status->total_tasks();
  if (const std::string& request_id = status->request_id();
      !request_id.empty()) {
    absl::StatusOr<std::optional<uint64_t>> owner = FindRequest(request_id);
    if (!owner.ok()) return owner.status();
    // A later job may have taken the id over.
    if (*owner == seq) deletion.request_id = request_id;
  }
  return deletion;
}

}  // namespace dagd
