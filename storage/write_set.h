// What the coordinator's store keeps, as plain values: what one scheduler
// turn writes (WriteSet), a stored result and a stored job as recovery reads
// them, and job ids. No storage engine here: the scheduler core builds these
// values and never touches the store (storage/meta_store.h applies them).
#ifndef DAGD_STORAGE_WRITE_SET_H_
#define DAGD_STORAGE_WRITE_SET_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "dagd/v1/job_service.pb.h"
#include "dagd/v1/types.pb.h"
#include "storage/job_tasks.h"

namespace dagd {

// Job ids are "j" followed by a decimal sequence number. The number orders
// jobs by submission and keys every record of a job in the store.
std::string JobIdFromSeq(uint64_t seq);
std::optional<uint64_t> SeqFromJobId(absl::string_view job_id);
// NOT_FOUND "no job 'ID'": for an unknown job, and for one the caller may
// not see (its existence is not revealed).
absl::Status NoJobError(absl::string_view job_id);

// A result as the store keeps it: its bytes, or where the object store
// keeps them (a result over the inline limit; `data` is then empty).
struct StoredResult {
  std::string data;
  std::string content_type;
  // Shared and immutable: results are copied into every turn's writes.
  std::shared_ptr<const v1::ObjectRef> ref;  // null: inline
};

// One finished job to remove from the store, every record of it. Planned
// from a view (MetaReadView::PlanJobDeletion), applied by a Commit.
struct JobDeletion {
  uint64_t seq = 0;
  uint32_t total_tasks = 0;
  // The job's request id when it still names this job (its mapping goes
  // too); empty otherwise.
  std::string request_id;
  // The job's tenant: its entry in the index of jobs by tenant goes too.
  std::string tenant;
};

// Everything one scheduler turn changes. MetaStore::Commit applies it
// atomically: all of it is stored or none of it.
struct WriteSet {
  struct NewJob {
    uint64_t seq = 0;
    // The job's fields, and its tasks, stored one record per task: encoded
    // in `tasks` (what dagd writes), or, when that is null, in `spec`. Both
    // shared with the scheduler's compiled job rather than copied.
    std::shared_ptr<const v1::JobSpec> spec;
    std::shared_ptr<const JobTasks> tasks;
    v1::JobStatus status;
    std::string request_id;  // empty: none
    // Its task records were written ahead, by the store's TaskRecordWriter
    // for `seq`: the commit stores the rest of the job only.
    bool tasks_written = false;
  };
  struct TaskWrite {
    uint64_t seq = 0;
    uint32_t index = 0;
    v1::TaskStatus status;
  };
  struct ResultWrite {
    uint64_t seq = 0;
    uint32_t index = 0;
    StoredResult result;
  };

  std::vector<NewJob> new_jobs;
  std::vector<std::pair<uint64_t, v1::JobStatus>> job_statuses;
  std::vector<TaskWrite> task_statuses;
  std::vector<ResultWrite> results;
  // Finished jobs deleted (DeleteJob, the retention sweep). A deleted job's
  // sequence number is never handed out again.
  std::vector<JobDeletion> deleted_jobs;

  // Changes to the roster of workers that may run or hold work of dagd's
  // jobs (MetaStore::StoredRoster), by worker key.
  struct RosterWrites {
    std::vector<std::pair<std::string, std::string>> added;  // key, name
    std::vector<std::string> removed;
    // Nonzero: the roster is whole (every worker that may run or hold work
    // is on it) as of this start (MetaStore::StartIncarnation).
    uint64_t whole_as_of = 0;

    bool empty() const {
      return added.empty() && removed.empty() && whole_as_of == 0;
    }
  };
  RosterWrites roster;

  // Nonzero: stored as the next job sequence number a start of dagd takes
  // (after the batch's deletions; the store takes the newest job's too).
  uint64_t next_job_seq = 0;

  bool empty() const {
    return new_jobs.empty() && job_statuses.empty() && task_statuses.empty() &&
           results.empty() && deleted_jobs.empty() && roster.empty() &&
           next_job_seq == 0;
  }
};

// The roster of workers as stored (MetaStore::LoadRoster).
struct StoredRoster {
  // The start that last said the roster is whole (RosterWrites); 0: none.
  uint64_t whole_as_of = 0;
  std::vector<std::pair<std::string, std::string>> workers;  // key, name
};

// Everything stored about one job, as recovery needs it.
struct StoredJob {
  uint64_t seq = 0;
  v1::JobSpec spec;  // the job's fields; its tasks are in `tasks`
  // Each task's stored encoding, in submission order: a ten-million-task
  // job read back as messages would be 2.7 GB.
  JobTasks tasks;
  v1::JobStatus status;
  // Task statuses that were written (terminal ones), by task index.
  std::vector<std::pair<uint32_t, v1::TaskStatus>> task_statuses;
};

}  // namespace dagd

#endif  // DAGD_STORAGE_WRITE_SET_H_
