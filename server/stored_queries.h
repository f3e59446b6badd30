#ifndef DAGD_SERVER_STORED_QUERIES_H_
#define DAGD_SERVER_STORED_QUERIES_H_

#include <cstdint>
#include <string>
#include <utility>
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

// One page of ListTasks: tasks from index `from`, at most `size` of them
// (0: all the rest). More than `max_unpaged` tasks asked for that way is
// FAILED_PRECONDITION (0: no such limit, for dagd's own
// callers): built whole, a million-task job's list is a message of 50 MB,
// and a few callers at once took gigabytes.
struct TasksPage {
  static constexpr uint32_t kMaxSize = 10'000;
  static constexpr uint32_t kMaxUnpaged = 100'000;
  uint32_t from = 0;
  uint32_t size = 0;
  uint32_t max_unpaged = 0;
};
// A ListTasks request's page, with the limits above. INVALID_ARGUMENT for
// a page token ListTasks did not hand out.
absl::StatusOr<TasksPage> ParseTasksPage(const v1::ListTasksRequest& request);
// The range [first, second) of task indexes of a job of `total` tasks that
// `page` asks for, or why it is refused.
absl::StatusOr<std::pair<uint32_t, uint32_t>> TaskPageRange(
    const TasksPage& page, uint32_t total, const std::string& job_id);
// The token of the page after one that ended before index `end`: empty
// when that was the last.
std::string NextTasksPageToken(uint32_t end, uint32_t total);

// The page's stored task statuses of the job (tasks that never got a
// status are left out), in one scan of its statuses and specs.
absl::StatusOr<v1::ListTasksResponse> StoredTaskStatuses(
    MetaReadView& view, uint64_t seq, const std::string& job_id,
    const TasksPage& page = {});

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
