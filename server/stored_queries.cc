#include "server/stored_queries.h"

#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "server/placement_policy.h"
#include "server/scheduler.h"

namespace dagd {
namespace {

constexpr uint32_t kDefaultPageSize = 100;
constexpr uint32_t kMaxPageSize = 1000;

absl::StatusOr<uint32_t> FindStoredTask(MetaReadView& view, uint64_t seq,
                                        const std::string& task_id) {
  absl::StatusOr<uint32_t> index = view.FindTaskIndex(seq, task_id);
  if (!absl::IsNotFound(index.status())) return index;
  if (!view.GetJobStatus(seq).ok()) return NoJobError(JobIdFromSeq(seq));
  return absl::NotFoundError(absl::StrCat("job '", JobIdFromSeq(seq),
                                          "' has no task '", task_id, "'"));
}

}  // namespace

absl::StatusOr<v1::JobStatus> StoredJobStatus(MetaReadView& view, uint64_t seq,
                                              const std::string& job_id) {
  absl::StatusOr<v1::JobStatus> stored = view.GetJobStatus(seq);
  if (absl::IsNotFound(stored.status())) return NoJobError(job_id);
  return stored;
}

absl::StatusOr<v1::TaskStatus> StoredTaskStatus(MetaReadView& view,
                                                uint64_t seq,
                                                const std::string& task_id) {
  absl::StatusOr<uint32_t> index = FindStoredTask(view, seq, task_id);
  if (!index.ok()) return index.status();
  absl::StatusOr<v1::TaskStatus> status = view.GetTaskStatus(seq, *index);
  if (!status.ok()) return status;
  absl::StatusOr<v1::TaskSpec> spec = view.GetTaskSpec(seq, *index);
  if (!spec.ok()) return spec.status();
  CopyDependencies(*spec, &*status);
  for (v1::Attempt& attempt : *status->mutable_attempts()) {
    FillPlacementText(&attempt, [&view, seq](uint32_t after) {
      absl::StatusOr<v1::TaskSpec> before = view.GetTaskSpec(seq, after);
      return before.ok() ? before->id() : absl::StrCat("#", after);
    });
  }
  return status;
}

absl::StatusOr<TasksPage> ParseTasksPage(const v1::ListTasksRequest& request) {
  TasksPage page;
  if (!request.page_token().empty() &&
      !absl::SimpleAtoi(request.page_token(), &page.from)) {
    return absl::InvalidArgumentError(
        "page_token: not a token that ListTasks returned");
  }
  page.size = std::min(request.page_size(), TasksPage::kMaxSize);
  page.max_unpaged = TasksPage::kMaxUnpaged;
  return page;
}

absl::StatusOr<std::pair<uint32_t, uint32_t>> TaskPageRange(
    const TasksPage& page, uint32_t total, const std::string& job_id) {
  const uint32_t from = std::min(page.from, total);
  if (page.size == 0 && page.max_unpaged != 0 &&
      total - from > page.max_unpaged) {
    return absl::FailedPreconditionError(
        absl::StrCat("job ", job_id, " has ", total,
                     " tasks, more than ListTasks answers without paging (",
                     page.max_unpaged, "): give page_size"));
  }
  const uint32_t end =
      page.size == 0 ? total : from + std::min(page.size, total - from);
  return std::make_pair(from, end);
}

std::string NextTasksPageToken(uint32_t end, uint32_t total) {
  return end < total ? absl::StrCat(end) : "";
}

absl::StatusOr<v1::ListTasksResponse> StoredTaskStatuses(
    MetaReadView& view, uint64_t seq, const std::string& job_id,
    const TasksPage& page) {
  absl::StatusOr<v1::JobStatus> job = view.GetJobStatus(seq);
  if (!job.ok()) return NoJobError(job_id);
  absl::StatusOr<std::pair<uint32_t, uint32_t>> range =
      TaskPageRange(page, job->total_tasks(), job_id);
  if (!range.ok()) return range.status();
  // Plain names, not a structured binding: the lambdas below capture them.
  const uint32_t from = range->first;
  const uint32_t end = range->second;
  v1::ListTasksResponse response;
  response.mutable_tasks()->Reserve(end - from);
  // Task ids of the page by index, for the grants' texts ("after task
  // 'a'"); one outside the page is looked up.
  std::vector<std::string> ids(end - from);
  absl::Status scanned = view.ForEachStoredTask(
      seq, from, end,
      [&response, &ids, from](uint32_t index, v1::TaskStatus& status,
                              const v1::TaskSpec& spec) {
        v1::TaskStatus* task = response.add_tasks();
        *task = std::move(status);
        CopyDependencies(spec, task);
        if (index - from < ids.size()) ids[index - from] = spec.id();
      });
  if (!scanned.ok()) return scanned;
  auto id_of = [&](uint32_t after) -> std::string {
    if (after >= from && after - from < ids.size()) return ids[after - from];
    absl::StatusOr<v1::TaskSpec> spec = view.GetTaskSpec(seq, after);
    return spec.ok() ? spec->id() : absl::StrCat("#", after);
  };
  for (v1::TaskStatus& task : *response.mutable_tasks()) {
    for (v1::Attempt& attempt : *task.mutable_attempts()) {
      FillPlacementText(&attempt, id_of);
    }
  }
  response.set_next_page_token(NextTasksPageToken(end, job->total_tasks()));
  return response;
}

absl::StatusOr<StoredResult> StoredResultOf(MetaReadView& view, uint64_t seq,
                                            const std::string& task_id) {
  absl::StatusOr<uint32_t> index = FindStoredTask(view, seq, task_id);
  if (!index.ok()) return index.status();
  absl::StatusOr<StoredResult> result = view.GetResult(seq, *index);
  if (absl::IsNotFound(result.status())) {
    absl::StatusOr<v1::TaskStatus> task = view.GetTaskStatus(seq, *index);
    return absl::NotFoundError(absl::StrCat(
        "task '", task_id, "' has no result: it is ",
        task.ok() ? v1::TaskState_Name(task->state()) : "unknown"));
  }
  return result;
}

absl::StatusOr<v1::CancelJobResponse> StoredCancel(MetaReadView& view,
                                                   uint64_t seq,
                                                   const std::string& job_id) {
  absl::StatusOr<v1::JobStatus> stored = view.GetJobStatus(seq);
  if (!stored.ok()) return NoJobError(job_id);
  v1::CancelJobResponse response;
  response.set_state(stored->state());
  response.set_cancelled(false);
  return response;
}

absl::StatusOr<JobsPage> ParseJobsPage(const v1::ListJobsRequest& request) {
  JobsPage page;
  if (!request.page_token().empty() &&
      !absl::SimpleAtoi(request.page_token(), &page.before)) {
    return absl::InvalidArgumentError(
        "page_token: not a token that ListJobs returned");
  }
  page.size = request.page_size() == 0 ? kDefaultPageSize : request.page_size();
  page.size = std::min(page.size, kMaxPageSize);
  page.tenant = request.tenant();
  return page;
}

absl::StatusOr<std::vector<v1::JobStatus>> StoredJobsPage(
    MetaReadView& view, const JobsPage& page) {
  const size_t wanted = page.size + 1;
  if (page.tenant.empty()) return view.ListJobStatuses(page.before, wanted);
  return view.ListTenantJobStatuses(page.tenant, page.before, wanted);
}

absl::StatusOr<PlannedDeletion> PlanDeletion(MetaReadView& view, uint64_t seq,
                                             bool with_objects) {
  PlannedDeletion plan;
  absl::StatusOr<JobDeletion> job = view.PlanJobDeletion(seq);
  if (!job.ok()) return job.status();
  plan.job = *std::move(job);
  if (with_objects) {
    absl::StatusOr<std::vector<v1::ObjectRef>> objects =
        view.ListResultObjects(seq);
    if (!objects.ok()) return objects.status();
    plan.objects = *std::move(objects);
  }
  return plan;
}

}  // namespace dagd
