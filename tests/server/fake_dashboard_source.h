// A DashboardSource for the dashboard's unit tests: jobs and their tasks
// held in memory, answered at once on the calling thread (as the
// Coordinator answers from its loop), with every call counted, and the
// watch sinks kept so a test can play the coordinator's events into them.
#ifndef DAGD_TESTS_SERVER_FAKE_DASHBOARD_SOURCE_H_
#define DAGD_TESTS_SERVER_FAKE_DASHBOARD_SOURCE_H_

#include <algorithm>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "server/dashboard/dashboard_source.h"

namespace dagd {

class FakeDashboardSource : public DashboardSource {
 public:
  struct Job {
    v1::JobStatus status;
    std::vector<v1::TaskStatus> tasks;
  };

  // Adds job "j<seq>" with `tasks` (their job ids are set).
  v1::JobStatus& AddJob(uint64_t seq, v1::JobState state,
                        std::vector<v1::TaskStatus> tasks = {}) {
    absl::MutexLock lock(&mu_);
    Job& job = jobs_[seq];
    job.status.set_job_id(absl::StrCat("j", seq));
    job.status.set_state(state);
    job.status.set_total_tasks(tasks.size());
    for (auto& task : tasks) task.set_job_id(job.status.job_id());
    job.tasks = std::move(tasks);
    return job.status;
  }
  void SetState(uint64_t seq, v1::JobState state) {
    absl::MutexLock lock(&mu_);
    jobs_[seq].status.set_state(state);
  }
  // DeleteJob, or the retention sweep.
  void DeleteJob(uint64_t seq) {
    absl::MutexLock lock(&mu_);
    jobs_.erase(seq);
  }

  void ListJobs(v1::ListJobsRequest request,
                Reply<v1::ListJobsResponse> done) override {
    v1::ListJobsResponse response;
    {
      absl::MutexLock lock(&mu_);
      ++list_jobs_calls;
      list_jobs_tenants.push_back(request.tenant());
      uint64_t before = UINT64_MAX;
      if (!request.page_token().empty() &&
          !absl::SimpleAtoi(request.page_token(), &before)) {
        return done(absl::InvalidArgumentError("page_token: bad"));
      }
      const uint32_t size = request.page_size() ? request.page_size() : 100;
      uint64_t last_shown = 0;
      for (auto it = jobs_.rbegin(); it != jobs_.rend(); ++it) {
        if (it->first >= before) continue;
        // As the store: a tenant's list holds only its jobs.
        if (!request.tenant().empty() &&
            it->second.status.tenant() != request.tenant()) {
          continue;
        }
        if (static_cast<uint32_t>(response.jobs_size()) == size) {
          // As the Coordinator's: the next page is of jobs before it.
          response.set_next_page_token(absl::StrCat(last_shown));
          break;
        }
        *response.add_jobs() = it->second.status;
        last_shown = it->first;
      }
    }
    done(std::move(response));
  }
  void GetJob(std::string job_id, Reply<v1::JobStatus> done) override {
    absl::StatusOr<v1::JobStatus> answer =
        absl::NotFoundError(absl::StrCat("no job '", job_id, "'"));
    {
      absl::MutexLock lock(&mu_);
      ++get_job_calls;
      if (const Job* job = Find(job_id)) answer = job->status;
    }
    done(std::move(answer));
  }
  void ListTasks(std::string job_id,
                 Reply<v1::ListTasksResponse> done) override {
    absl::StatusOr<v1::ListTasksResponse> answer =
        absl::NotFoundError(absl::StrCat("no job '", job_id, "'"));
    {
      absl::MutexLock lock(&mu_);
      ++list_tasks_calls;
      if (const Job* job = Find(job_id)) {
        v1::ListTasksResponse response;
        for (const auto& task : job->tasks) *response.add_tasks() = task;
        answer = std::move(response);
      }
    }
    done(std::move(answer));
  }
  void ListWorkers(Reply<v1::ListWorkersResponse> done) override {
    v1::ListWorkersResponse response;
    {
      absl::MutexLock lock(&mu_);
      response = workers;
    }
    done(std::move(response));
  }
  void Cancel(std::string job_id, Reply<v1::CancelJobResponse> done) override {
    absl::StatusOr<v1::CancelJobResponse> answer =
        absl::NotFoundError(absl::StrCat("no job '", job_id, "'"));
    {
      absl::MutexLock lock(&mu_);
      cancelled.push_back(job_id);
      if (Job* job = Find(job_id)) {
        v1::CancelJobResponse response;
        response.set_cancelled(true);
        job->status.set_state(v1::JOB_CANCELLED);
        response.set_state(v1::JOB_CANCELLED);
        answer = response;
      }
    }
    done(std::move(answer));
  }
  // Keeps the sink; the snapshot (or NOT_FOUND) goes out at once.
  void Watch(std::string job_id, bool end_only,
             std::shared_ptr<WatchSink> sink) override {
    std::optional<v1::JobStatus> status;
    {
      absl::MutexLock lock(&mu_);
      watches[job_id].push_back(sink);
      if (!end_only) ++all_event_watches;
      if (const Job* job = Find(job_id)) status = job->status;
    }
    if (!status) {
      return sink->Fail(
          absl::NotFoundError(absl::StrCat("no job '", job_id, "'")));
    }
    v1::JobEvent event;
    *event.mutable_snapshot() = *status;
    sink->Send(std::move(event));
  }
  void Unwatch(std::shared_ptr<WatchSink> sink) override {
    absl::MutexLock lock(&mu_);
    ++unwatch_calls;
    for (auto& [job, sinks] : watches) {
      sinks.erase(std::remove(sinks.begin(), sinks.end(), sink), sinks.end());
    }
  }

  size_t WatchCount(const std::string& job_id) {
    absl::MutexLock lock(&mu_);
    return watches[job_id].size();
  }

  // Counters and records, read by tests after the calls.
  size_t list_jobs_calls = 0;
  std::vector<std::string> list_jobs_tenants;  // of each ListJobs call
  size_t get_job_calls = 0;
  size_t list_tasks_calls = 0;
  size_t unwatch_calls = 0;
  size_t all_event_watches = 0;  // watches that asked for every task event
  std::vector<std::string> cancelled;
  v1::ListWorkersResponse workers;
  std::map<std::string, std::vector<std::shared_ptr<WatchSink>>> watches;

 private:
  Job* Find(const std::string& job_id) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    uint64_t seq;
    if (job_id.size() < 2 || job_id[0] != 'j' ||
        !absl::SimpleAtoi(job_id.substr(1), &seq)) {
      return nullptr;
    }
    auto it = jobs_.find(seq);
    return it == jobs_.end() ? nullptr : &it->second;
  }

  absl::Mutex mu_;
  std::map<uint64_t, Job> jobs_ ABSL_GUARDED_BY(mu_);
};

// A task of `fn` with `inputs`, in `state`.
inline v1::TaskStatus MakeTask(const std::string& id, const std::string& fn,
                               std::vector<std::string> inputs = {},
                               v1::TaskState state = v1::TASK_SUCCEEDED) {
  v1::TaskStatus task;
  task.set_task_id(id);
  task.set_fn(fn);
  task.set_state(state);
  for (auto& input : inputs) task.add_inputs(input);
  return task;
}

}  // namespace dagd

#endif  // DAGD_TESTS_SERVER_FAKE_DASHBOARD_SOURCE_H_
