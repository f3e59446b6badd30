#ifndef DAGD_SERVER_RETENTION_H_
#define DAGD_SERVER_RETENTION_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "server/job_deleter.h"
#include "server/result_objects.h"
#include "storage/base/clock.h"
#include "storage/meta_store.h"

namespace dagd {

// Deletes finished jobs once they have been finished for longer than the
// retention period (dagd --retention), so the store holds recent history
// only. The sweep reads the store on a thread of its own, off the
// coordinator's loop; each deletion goes to a JobDeleter (the coordinator,
// which applies it in one of its turns), and the sweep waits for it.
//
// Jobs are keyed by submission order, so a sweep walks them oldest first
// and stops at the first job submitted after the cutoff: a job submitted
// later cannot have finished earlier. Jobs below the first one a sweep had
// to keep (unfinished, or finished too recently) were all deleted, so the
// next sweep starts there instead of walking their tombstones again.
//
// Deletions are not fsynced: one lost to a power failure is redone by the
// next sweep. A job's result objects are deleted after its records.
class RetentionSweeper {
 public:
  // Told how many jobs each sweep deleted (only when some were), on the
  // sweeping thread.
  using DeletedCallback = std::function<void(uint64_t)>;

  // `store`, `deleter` and `clock` are not owned and must outlive the
  // sweeper. `retention` must be positive.
  RetentionSweeper(absl::Duration retention, MetaStore* store,
                   JobDeleter* deleter, Clock* clock,
                   DeletedCallback on_deleted = nullptr);
  // Stops the thread if it runs.
  ~RetentionSweeper();
  RetentionSweeper(const RetentionSweeper&) = delete;
  RetentionSweeper& operator=(const RetentionSweeper&) = delete;

  // How often the thread sweeps: a tenth of the retention, at least every
  // 10 minutes and at most once a second.
  static absl::Duration IntervalFor(absl::Duration retention);

  // One sweep on the calling thread: deletes every finished job whose
  // finished_at is before Now() - retention and returns how many it
  // deleted. A store error ends the sweep (what it deleted stays deleted).
  // Not to be called concurrently with itself or while Start()'s thread
  // runs.
  absl::StatusOr<uint64_t> SweepOnce();

  // Where deleted jobs' result objects are deleted (before Start; not
  // owned). Without it they are left behind, with a warning.
  void SetResultObjects(ResultObjects* objects) { objects_ = objects; }

  // Starts a thread that sweeps at once, then every IntervalFor(retention),
  // until Stop(). A failed sweep is logged and tried again next time.
  void Start();
  // Ends the thread, waiting for a sweep in progress; a deletion it waits
  // for is abandoned (the sweep ends with UNAVAILABLE). Idempotent.
  void Stop();

 private:
  // One deletion the sweep waits for; shared with the deleter's callback,
  // which may come after the sweep gave up on it.
  struct Pending {
    absl::Mutex mu;
    std::optional<absl::Status> status ABSL_GUARDED_BY(mu);
    bool abandoned ABSL_GUARDED_BY(mu) = false;
  };

  void Run();
  // The job's records, then its result objects.
  absl::Status DeleteJob(uint64_t seq);
  // Asks the deleter for the job's records and waits for its answer.
  absl::Status DeleteRecords(uint64_t seq);

  // Constant after construction.
  const absl::Duration retention_;
  MetaStore* const store_;
  JobDeleter* const deleter_;
  Clock* const clock_;
  const DeletedCallback on_deleted_;
  ResultObjects* objects_ = nullptr;

  // Owned by whoever sweeps (the thread once started): every job below
  // this sequence number was deleted or never stored. Not quite always: a
  // big job's number is taken when dagd begins reading it
  // (Coordinator::NewTaskRecordWriter), so it may be stored after a higher
  // one was swept, with a --retention shorter than its reading; it is then
  // swept after dagd's next start.
  uint64_t first_kept_ = 1;

  absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::shared_ptr<Pending> pending_ ABSL_GUARDED_BY(mu_);
  std::thread thread_;
};

}  // namespace dagd

#endif  // DAGD_SERVER_RETENTION_H_
