// The interface of a store's writer of a big job's task records, apart
// from the store (storage/meta_store.h) so that the scheduler core, which
// uses no storage engine, can name it.
#ifndef DAGD_STORAGE_TASK_RECORD_WRITER_H_
#define DAGD_STORAGE_TASK_RECORD_WRITER_H_

#include <cstdint>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace dagd {

// A job of more tasks than this is big: its task records are written ahead
// (by a TaskRecordWriter while its request is read, else in chunks at the
// commit) rather than in the turn's batch. One number for both: a job
// small enough for the turn's batch is never written ahead, and every job
// written ahead is one the commit would have written in chunks.
inline constexpr uint32_t kBigJobTasks = 10'000;

// A big new job's task records, written while its request is still being
// read (MetaStore::NewTaskRecordWriter) instead of by the commit that
// accepts the job: beside the reading, on another thread, and not by the
// coordinator's loop, which a ten-million-task job held for 15 s. The
// records belong to no job until a commit stores one with their sequence
// number (WriteSet::NewJob::tasks_written); should dagd stop before that,
// the next Open removes them.
//
// One thread at a time uses a writer (the one reading the request, then
// the coordinator's loop, handed over through its queue). A writer holds
// the store's database: it must not outlive the store.
class TaskRecordWriter {
 public:
  // Unless Keep was called, removes every record written: the job was
  // refused.
  virtual ~TaskRecordWriter() = default;

  // The sequence number of the job whose records these are.
  virtual uint64_t seq() const = 0;
  // Task `index`'s encoded TaskSpec and its id; tasks come in index order,
  // from 0, and none after Finish. The bytes are copied.
  virtual void Add(uint32_t index, absl::string_view encoded,
                   absl::string_view id) = 0;
  // Returns once every record added is written: UNAVAILABLE, naming the
  // job, if one could not be.
  virtual absl::Status Finish() = 0;
  // The commit accepting the job is in the turn's writes: the records stay.
  // Only after Finish returned OK.
  virtual void Keep() = 0;
};

}  // namespace dagd

#endif  // DAGD_STORAGE_TASK_RECORD_WRITER_H_
