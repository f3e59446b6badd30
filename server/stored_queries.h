#ifndef DAGD_SERVER_STORED_QUERIES_H_
#define DAGD_SERVER_STORED_QUERIES_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "dagd/v1/job_service.pb.h"
#include "storage/meta_store.h"

namespace dagd {

// Answers about jobs that are no longer in the scheduler's memory (finished
// ones), read from one view of the store. The coordinator runs them on its
// query threads, never on its loop: each is a function of the view alone.
// Their errors are what clients see: NOT_FOUND names the missing job or
// task.

absl::StatusOr<v1::JobStatus> StoredJobStatus(MetaReadView& view, uint64_t seq,
                                              const std::string& job_id);

// The task's stored status with its spec's inputs and after filled in.
absl::StatusOr<v1::TaskStatus> StoredTaskStatus(MetaReadView& view,
                                                uint64_t seq,
                                                const std::string& task_id);

// Every stored task status of the job, in one scan of its statuses and
// specs.
absl::StatusOr<v1::ListTasksResponse> StoredTaskStatuses(
    MetaReadView& view, uint64_t seq, const std::string& job_id);

// NOT_FOUND when the task has not succeeded (the message says its state).
absl::StatusOr<StoredResult> StoredResultOf(MetaReadView& view, uint64_t seq,
                                            const std::string& task_id);

// Cancelling a finished job changes nothing: its state, cancelled=false.
absl::StatusOr<v1::CancelJobResponse> StoredCancel(MetaReadView& view,
                                                   uint64_t seq,
                                                   const std::string& job_id);

// One page of ListJobs: jobs below `before`, newest first; only `tenant`'s
// when it is not empty.
struct JobsPage {
  uint64_t before = UINT64_MAX;
  uint32_t size = 0;
  std::string tenant;
};
// INVALID_ARGUMENT for a page token ListJobs did not hand out.
absl::StatusOr<JobsPage> ParseJobsPage(const v1::ListJobsRequest& request);
// The page's stored statuses, and one more when there are more (so the
// caller knows to hand out a next page token).
absl::StatusOr<std::vector<v1::JobStatus>> StoredJobsPage(MetaReadView& view,
                                                          const JobsPage& page);

// What deleting finished job `seq` removes: its records and, with
// `with_objects`, its result objects in the object store. Errors as
// MetaReadView::PlanJobDeletion's.
struct PlannedDeletion {
  JobDeletion job;
  std::vector<v1::ObjectRef> objects;
};
absl::StatusOr<PlannedDeletion> PlanDeletion(MetaReadView& view, uint64_t seq,
                                             bool with_objects);

}  // namespace dagd

#endif  // DAGD_SERVER_STORED_QUERIES_H_
