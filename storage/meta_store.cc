#include "storage/meta_store.h"

#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "proto/states.h"

namespace dagd {
namespace {}  // namespace

absl::StatusOr<std::vector<v1::JobStatus>> MetaReadView::ListTenantJobStatuses(
    absl::string_view tenant, uint64_t before_seq, size_t limit) {
  constexpr size_t kBatch = 1000;
  std::vector<v1::JobStatus> out;
  uint64_t before = before_seq;
  while (out.size() < limit) {
    absl::StatusOr<std::vector<v1::JobStatus>> batch =
        ListJobStatuses(before, kBatch);
    if (!batch.ok()) return batch.status();
    for (v1::JobStatus& job : *batch) {
      if (job.tenant() == tenant && out.size() < limit) {
        out.push_back(std::move(job));
      }
    }
    if (batch->size() < kBatch) break;
    before = SeqFromJobId(batch->back().job_id()).value_or(0);
    if (before == 0) break;
  }
  return out;
}

absl::StatusOr<JobDeletion> MetaReadView::PlanJobDeletion(uint64_t seq) {
  const std::string job_id = JobIdFromSeq(seq);
  absl::StatusOr<v1::JobStatus> status = GetJobStatus(seq);
  if (absl::IsNotFound(status.status())) {
    return NoJobError(job_id);
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
  deletion.tenant = status->tenant();
  if (!status->request_id().empty()) {
    std::string key = RequestKey(status->tenant(), status->request_id());
    absl::StatusOr<std::optional<uint64_t>> owner = FindRequest(key);
    if (!owner.ok()) return owner.status();
    // A later job may have taken the id over.
    if (*owner == seq) deletion.request_id = std::move(key);
  }
  return deletion;
}

std::string RequestKey(absl::string_view tenant, absl::string_view request_id) {
  if (tenant.empty()) return std::string(request_id);
  return absl::StrCat(tenant, "\x1f", request_id);
}

}  // namespace dagd
