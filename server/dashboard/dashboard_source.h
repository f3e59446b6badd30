// What the dashboard reads and does, as an interface: the Coordinator's
// client-facing calls (CoordinatorSource forwards to them, in process, so
// the dashboard takes the same paths as JobService: live jobs from the
// scheduler's memory, finished ones from the store on a query thread), and
// in tests a fake that answers at once.
#ifndef DAGD_SERVER_DASHBOARD_DASHBOARD_SOURCE_H_
#define DAGD_SERVER_DASHBOARD_DASHBOARD_SOURCE_H_

#include <memory>
#include <string>

#include "absl/functional/any_invocable.h"
#include "absl/status/statusor.h"
#include "dagd/v1/job_service.pb.h"
#include "server/coordinator.h"

namespace dagd {

// Every call is thread-safe and never blocks; answers come through the
// callback, on whatever thread the source answers on (for the Coordinator:
// its loop or a query thread), so a callback only hands the answer over.
class DashboardSource {
 public:
  template <typename T>
  using Reply = absl::AnyInvocable<void(absl::StatusOr<T>)>;

  virtual ~DashboardSource() = default;
  virtual void ListJobs(v1::ListJobsRequest request,
                        Reply<v1::ListJobsResponse> done) = 0;
  virtual void GetJob(std::string job_id, Reply<v1::JobStatus> done) = 0;
  virtual void ListTasks(std::string job_id,
                         Reply<v1::ListTasksResponse> done) = 0;
  virtual void ListWorkers(Reply<v1::ListWorkersResponse> done) = 0;
  virtual void Cancel(std::string job_id,
                      Reply<v1::CancelJobResponse> done) = 0;
  // As Coordinator::Watch: a snapshot, task events (unless `end_only`),
  // then the end.
  virtual void Watch(std::string job_id, bool end_only,
                     std::shared_ptr<WatchSink> sink) = 0;
  virtual void Unwatch(std::shared_ptr<WatchSink> sink) = 0;
};

// The Coordinator as a DashboardSource. Not owned; outlives this.
class CoordinatorSource : public DashboardSource {
 public:
  explicit CoordinatorSource(Coordinator* coordinator)
      : coordinator_(coordinator) {}

  void ListJobs(v1::ListJobsRequest request,
                Reply<v1::ListJobsResponse> done) override {
    coordinator_->ListJobs(std::move(request), std::move(done));
  }
  void GetJob(std::string job_id, Reply<v1::JobStatus> done) override {
    coordinator_->GetJob(std::move(job_id), std::move(done));
  }
  void ListTasks(std::string job_id,
                 Reply<v1::ListTasksResponse> done) override {
    coordinator_->ListTasks(std::move(job_id), std::move(done));
  }
  void ListWorkers(Reply<v1::ListWorkersResponse> done) override {
    coordinator_->ListWorkers(std::move(done));
  }
  void Cancel(std::string job_id, Reply<v1::CancelJobResponse> done) override {
    coordinator_->Cancel(std::move(job_id), std::move(done));
  }
  void Watch(std::string job_id, bool end_only,
             std::shared_ptr<WatchSink> sink) override {
    coordinator_->Watch(std::move(job_id), end_only, std::move(sink));
  }
  void Unwatch(std::shared_ptr<WatchSink> sink) override {
    coordinator_->Unwatch(std::move(sink));
  }

 private:
  Coordinator* const coordinator_;
};

// Calls `call` with a reply callback and waits up to `timeout` for the
// answer, on the calling thread (a dashboard HTTP thread, never the
// coordinator's). DEADLINE_EXCEEDED when no answer came in time; a late
// answer is dropped safely.
template <typename T, typename Call>
absl::StatusOr<T> AwaitReply(Call call, absl::Duration timeout);

}  // namespace dagd

#include "server/dashboard/await_reply_impl.h"  // IWYU pragma: export

#endif  // DAGD_SERVER_DASHBOARD_DASHBOARD_SOURCE_H_
