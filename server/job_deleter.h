#ifndef DAGD_SERVER_JOB_DELETER_H_
#define DAGD_SERVER_JOB_DELETER_H_

#include <cstdint>

#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"

namespace dagd {

// Removes finished jobs' records from the store. The coordinator is one:
// it applies each deletion in one of its turns, in that turn's commit, so
// nothing writes to the store outside a turn.
class JobDeleter {
 public:
  virtual ~JobDeleter() = default;

  // Removes every record of finished job `seq`, then calls `done` (on
  // another thread): OK once the removal is committed (not necessarily
  // fsynced), NOT_FOUND when there is no such job, FAILED_PRECONDITION
  // when it has not finished, or the store's error. Thread-safe; never
  // blocks. Leaves the job's stored result objects alone; those its
  // workers hold are released (they are told to free them).
  virtual void DeleteStoredJob(uint64_t seq,
                               absl::AnyInvocable<void(absl::Status)> done) = 0;
};

}  // namespace dagd

#endif  // DAGD_SERVER_JOB_DELETER_H_
