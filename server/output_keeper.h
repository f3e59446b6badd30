// Copies jobs' outputs from the workers that hold them into dagd's own
// store, so that an output outlives its worker when no bucket is
// configured (--max_stored_result_bytes). The scheduler says what to copy
// (TurnOutput::keep); the copy runs here, off the coordinator's loop; the
// loop then records the result as stored and has the holder free it.
#ifndef DAGD_SERVER_OUTPUT_KEEPER_H_
#define DAGD_SERVER_OUTPUT_KEEPER_H_

#include <cstdint>
#include <deque>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/functional/any_invocable.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "dagd/v1/types.pb.h"
#include "server/background_queue.h"
#include "server/scheduler.h"
#include "storage/data_client.h"
#include "storage/meta_store.h"

namespace dagd {

// Thread-safe. Copies run on `threads` threads of its own, in order, and
// those of one task one after another: chunks are stored by job and task,
// and two copies of a task's output at once (a task run again while the
// copy from its first holder went on) would mix their chunks.
// Whether `status` is OutputKeeper's answer for a copy of a result replaced
// meanwhile (not an ABORTED that a holder's read returned).
bool IsStaleCopy(const absl::Status& status);

class OutputKeeper {
 public:
  // `held` is the output as its holder has it (key and holder; size,
  // CRC-32C and content type unless the output came with check_record).
  // `kept` is what to record, or why there is nothing: NOT_FOUND when no
  // stored record waits for this copy (with check_record: the record no
  // longer names that output held there, so its holder may free it),
  // FAILED_PRECONDITION when it is over the bound (it stays held),
  // ABORTED when, once copied, the record names another result (the task
  // ran again meanwhile: the copy is of an older attempt, which its holder
  // may free), otherwise the read's or the store's error.
  using Done = absl::AnyInvocable<void(const OutputToKeep& output,
                                       absl::StatusOr<KeptOutput> kept)>;

  // `store` and `holders` are not owned and must outlive this.
  // Destruction finishes the copy in progress; queued ones are answered
  // UNAVAILABLE (a restart copies them then: their records still say so).
  OutputKeeper(MetaStore* store, DataClient* holders, uint64_t max_bytes,
               int threads = 2);

  void Keep(OutputToKeep output, Done done);

 private:
  using TaskKey = std::pair<uint64_t, uint32_t>;  // job seq, task index
  struct Pending {
    OutputToKeep output;
    Done done;
  };
  // Posts the copy; when it is done, the next one of its task waiting.
  void Start(OutputToKeep output, Done done);
  absl::StatusOr<KeptOutput> Copy(const OutputToKeep& output);
  // The output's reference as its stored record has it, with the holder
  // the output names; NOT_FOUND when the record is no longer an
  // output waiting to be copied from that holder (the same instance under
  // the same name: a worker naming another's instance copies nothing).
  absl::StatusOr<v1::ObjectRef> Recorded(const OutputToKeep& output);
  // OK when the stored record still names `held` as the task's result;
  // else ABORTED, marked so (IsStaleCopy).
  absl::Status StillRecorded(const OutputToKeep& output,
                             const v1::ObjectRef& held);

  MetaStore* const store_;
  DataClient* const holders_;
  const uint64_t max_bytes_;
  absl::Mutex mu_;
  // Tasks with a copy posted, and the copies of each waiting for it.
  absl::flat_hash_map<TaskKey, std::deque<Pending>> copying_
      ABSL_GUARDED_BY(mu_);
  BackgroundQueue queue_;  // last: stopped first
};

}  // namespace dagd

#endif  // DAGD_SERVER_OUTPUT_KEEPER_H_
