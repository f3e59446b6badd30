// The task lists of the jobs the dashboard shows, fetched from the
// coordinator (ListTasks) at most once per job per `max_age` however many
// pages ask, and kept with the job's layout, so that a page's graph, task
// stream and task table are cut from one list on the dashboard's threads
// rather than asked of the coordinator each time.
#ifndef DAGD_SERVER_DASHBOARD_TASK_CACHE_H_
#define DAGD_SERVER_DASHBOARD_TASK_CACHE_H_

#include <list>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/functional/function_ref.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "server/dashboard/dashboard_source.h"
#include "server/dashboard/job_layout.h"
#include "storage/base/clock.h"

namespace dagd {

// One fetch of a job's tasks. Immutable once published, but for the
// answers rendered from it (thread-safe).
struct TaskSnapshot {
  std::vector<v1::TaskStatus> tasks;
  // Shared by the snapshots of one job: its graph does not change.
  std::shared_ptr<const JobLayout> layout;
  absl::Time fetched;
  bool final = false;  // every task finished: it will not change again

  // An answer every page asks of this snapshot alike (its graph, its task
  // stream): rendered by the first asker, the others wait for it and share
  // it, so ten open pages cost one rendering per snapshot.
  enum Rendering { kGraph, kStream, kRenderings };
  const std::string& Rendered(Rendering kind,
                              absl::FunctionRef<std::string()> render) const {
    absl::MutexLock lock(&render_mu_);
    if (!rendered_[kind]) rendered_[kind] = render();
    return *rendered_[kind];
  }

 private:
  mutable absl::Mutex render_mu_;
  mutable std::optional<std::string> rendered_[kRenderings] ABSL_GUARDED_BY(
      render_mu_);
};

// Thread-safe. Get blocks its caller (a dashboard HTTP thread) while the
// list is fetched; callers asking for the same job meanwhile wait for that
// same fetch instead of starting their own.
class TaskCache {
 public:
  struct Options {
    // A snapshot of an unfinished job older than this is fetched again
    // (one of a finished job is not, but whether the job still exists, not
    // deleted since, is asked again once this old)...
    absl::Duration max_age = absl::Seconds(1);
    // ...or than this per task, if longer: listing a live job's tasks runs
    // on the scheduler thread (100,000 took 0.2-0.4 s here), so a page
    // left open on a 100,000-task job re-lists it every 10 s, not every
    // second. Its counts stay live through the LiveHub meanwhile.
    absl::Duration max_age_per_task = absl::Microseconds(100);
    // Tasks kept across jobs; the least recently used jobs go first (the
    // one just fetched always stays).
    size_t max_tasks = 400'000;
    absl::Duration timeout = absl::Seconds(30);
  };

  // `source` and `clock` are not owned and outlive the cache.
  TaskCache(DashboardSource* source, Clock* clock, Options options);

  absl::StatusOr<std::shared_ptr<const TaskSnapshot>> Get(
      const std::string& job_id);

  // How many ListTasks calls the cache has made (for tests and metrics).
  size_t fetches() const;

 private:
  using Result = absl::StatusOr<std::shared_ptr<const TaskSnapshot>>;
  // One ListTasks call in flight, shared by those waiting for it.
  struct Fetching {
    absl::Notification done;
    Result result = absl::UnknownError("not fetched");  // set before done
  };
  struct Entry {
    std::shared_ptr<const TaskSnapshot> snapshot;  // null until fetched
    std::shared_ptr<Fetching> fetching;            // set while a fetch runs
    std::list<std::string>::iterator lru;
    absl::Time seen;  // when the job was last known to exist
  };

  void Fetch(const std::string& job_id, Fetching& fetching);
  // A finished job's snapshot, once GetJob says the job is still there;
  // NOT_FOUND, and the entry dropped, once it was deleted.
  Result StillThere(const std::string& job_id,
                    std::shared_ptr<const TaskSnapshot> snapshot);
  void EvictLocked(const std::string& keep) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  DashboardSource* const source_;
  Clock* const clock_;
  const Options options_;

  mutable absl::Mutex mu_;
  absl::flat_hash_map<std::string, Entry> entries_ ABSL_GUARDED_BY(mu_);
  std::list<std::string> lru_ ABSL_GUARDED_BY(mu_);  // most recent first
  size_t cached_tasks_ ABSL_GUARDED_BY(mu_) = 0;
  size_t fetches_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace dagd

#endif  // DAGD_SERVER_DASHBOARD_TASK_CACHE_H_
